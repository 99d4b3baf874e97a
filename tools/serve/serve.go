// Package serve runs one SyncNet node with its SSH front end: what `syncnet
// node` does. node builds and runs the replicated node and knows nothing of
// its front end; sshui serves the chat over SSH and knows the node only
// through node/api; this package puts the two together and starts and stops
// them in order.
package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/syncnet/syncnet/node"
	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/config"
	"github.com/syncnet/syncnet/node/metrics"
	"github.com/syncnet/syncnet/sshui"
)

// Options configure one node and its SSH server.
type Options struct {
	// Node configures the node itself (config, id, logger, pre-bound
	// sockets of the node).
	Node node.Options
	// SSH, when set, is used instead of binding the node's ssh_port.
	SSH net.Listener
	// ExtraAdminKeysFile names a file of admin keys (authorized_keys
	// format) besides the config's; `syncnet up` passes the user's keys.
	ExtraAdminKeysFile string
	// NoAdopt turns off the loopback convenience (LocalAdminKeys) for a
	// node given no ExtraAdminKeysFile.
	NoAdopt bool
	// ConfigPath is the file a reload (Reload, SIGHUP) reads again; ""
	// turns reloads off.
	ConfigPath string
	// Level is the logger's level, which a reload may change (log.level),
	// unless LevelFixed (the command line set it).
	Level      *slog.LevelVar
	LevelFixed bool
	// Reload asks for a reload: cluster.toml is read again and what can
	// change live is applied, all or nothing (Reloader).
	Reload <-chan struct{}
	// Metrics, when set, is served for /metrics, /healthz and /readyz
	// instead of binding metrics.host:metrics_port (which is done only when
	// the node's metrics_port is not 0).
	Metrics net.Listener
}

// Run runs a node and its SSH server until ctx ends, then shuts down in
// order: end every SSH session's program, stop the SSH server, stop the
// driver, close the WAL last. SSH serves only once the node has caught up
// (node.CaughtUp).
func Run(ctx context.Context, o Options) error {
	log := o.Node.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The host key first: a refused key file stops the node before it
	// opens its WAL or sockets.
	hostKey, err := loadHostKey(o, log)
	if err != nil {
		return err
	}
	// The peer credentials too (peertls.go); nil with tls.insecure.
	if o.Node.TLS, err = loadPeerTLS(o, log); err != nil {
		return err
	}
	ml, err := metricsListener(o)
	if err != nil {
		return err
	}
	n, err := node.New(o.Node)
	if err != nil {
		if ml != nil {
			ml.Close()
		}
		return err
	}
	var srv *sshui.Server
	be := &backend{Node: n}
	var met *metrics.Metrics
	if ml != nil {
		met = metrics.New(n, metrics.Options{
			Sessions: func() int { return srv.Sessions() },
			Front: func() metrics.FrontStats {
				f := srv.Stats()
				return metrics.FrontStats{Connects: f.Connects, Refusals: f.Refusals, Delivered: f.Delivered, Dropped: f.Dropped}
			},
		})
		be.met = met
		n.ObserveWALSync(met.ObserveFsync)
		n.ObservePeerRTT(met.ObservePeerRTT)
	}
	admin, err := adminKeys(o, o.Node.Config)
	if err != nil {
		n.Close()
		if ml != nil {
			ml.Close()
		}
		return err
	}
	srv, err = newSSH(o, be, admin, hostKey, log)
	if err != nil {
		if ml != nil {
			ml.Close()
		}
		n.Close()
		return err
	}
	reloader := &Reloader{Path: o.ConfigPath, Current: o.Node.Config, Admin: admin, Live: srv, Level: o.Level, LevelFixed: o.LevelFixed,
		Log: log, Adopt: func(c *config.Config) ([]string, error) { return adminKeys(o, c) }, Bots: n.SetBotAllowances,
		Limits: func(rate float64, burst int) {
			n.SetPostLimits(rate, burst)
			srv.SetRateLimit(rate, burst)
		}}
	var reloadMu sync.Mutex // SIGHUP and ssh reload, one at a time
	be.reload = func() ([]string, error) {
		reloadMu.Lock()
		defer reloadMu.Unlock()
		changed, err := reloader.Apply()
		return reloadPeerTLS(o.Node.TLS, log, changed, err) // peertls.go
	}
	n.SetClientCount(srv.Sessions)
	nodeCtx, stopNode := context.WithCancel(context.Background())
	defer stopNode()
	nodeErr := make(chan error, 1)
	go func() { nodeErr <- n.Serve(nodeCtx) }()
	if ml != nil {
		metricsDone := make(chan struct{})
		defer func() { stopNode(); <-metricsDone }()
		go func() {
			defer close(metricsDone)
			if err := metrics.Serve(nodeCtx, ml, met.Handler()); err != nil {
				log.Warn("metrics listener stopped", "err", err)
			}
		}()
		log.Info("serving metrics", "addr", ml.Addr().String(), "paths", "/metrics /healthz /readyz /status")
	}

	// SSH serves only once the node has re-applied everything its WAL says
	// is committed: before that, history would be stale and a ban not yet
	// re-applied. Connections wait in the listen backlog meanwhile.
	start := time.Now()
	select {
	case <-n.CaughtUp():
		log.Info("caught up; serving SSH", "applied", n.Applied(), "took", time.Since(start).Round(time.Millisecond))
	case <-ctx.Done():
		srv.Shutdown(context.Background())
		stopNode()
		return <-nodeErr
	case err = <-nodeErr:
		srv.Shutdown(context.Background())
		return err
	}
	sshErr := make(chan error, 1)
	go func() { sshErr <- srv.Serve() }()
	go n.ClearStalePresence(nodeCtx, srv.Sessions)

wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case err = <-sshErr:
			err = fmt.Errorf("ssh server: %w", err)
			break wait
		case err = <-nodeErr:
			srv.Shutdown(context.Background())
			return err
		case <-o.Reload:
			be.reload()
		}
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutCtx); serr != nil {
		log.Warn("ssh shutdown", "err", serr)
	}
	stopNode()
	if nerr := <-nodeErr; nerr != nil && err == nil {
		err = nerr
	}
	return err
}

// loadHostKey loads the cluster host key that this node serves, creating
// it when every node runs on this machine (LoadHostKey), and logs what it
// did. A host key this node kept in its own directory before the cluster had
// one is no longer served: that is logged, with what users will see.
func loadHostKey(o Options, log *slog.Logger) (*HostKey, error) {
	c := o.Node.Config
	k, err := LoadHostKey(c, c.OneMachine())
	if err != nil {
		return nil, err
	}
	switch {
	case k.Created && k.AdoptedFrom != "":
		log.Info("created the cluster SSH host key from a node's former host key: clients that trusted that node see no change",
			"path", k.Path, "from", k.AdoptedFrom, "fingerprint", k.Fingerprint(), "known_hosts", KnownHostsLine(c, k.Signer.PublicKey()))
	case k.Created:
		log.Info("created the cluster SSH host key; every node serves it (syncnet hostkey prints the known_hosts line)",
			"path", k.Path, "fingerprint", k.Fingerprint(), "known_hosts", KnownHostsLine(c, k.Signer.PublicKey()))
	default:
		log.Info("cluster SSH host key", "path", k.Path, "fingerprint", k.Fingerprint())
	}
	own := filepath.Join(c.NodeDir(o.Node.ID), nodeHostKeyName)
	if old, err := readHostKey(own, own); err == nil && !bytes.Equal(old.Signer.PublicKey().Marshal(), k.Signer.PublicKey().Marshal()) {
		log.Warn("this node's own former host key is no longer served: clients that trusted it see a changed host key once; "+
			"they should trust the cluster key instead (syncnet hostkey), and the file can be deleted",
			"unused", own, "served", k.Path)
	}
	return k, nil
}

// metricsListener binds metrics.host:metrics_port, or returns the listener
// passed in; nil when this node serves no metrics (metrics_port 0).
func metricsListener(o Options) (net.Listener, error) {
	if o.Metrics != nil {
		return o.Metrics, nil
	}
	c, id := o.Node.Config, o.Node.ID
	self, err := c.Node(id)
	if err != nil {
		return nil, err
	}
	if self.MetricsPort == 0 {
		return nil, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(c.Metrics.Host, strconv.Itoa(self.MetricsPort)))
	if err != nil {
		return nil, fmt.Errorf("bind metrics_port (%s: line %d): %w", c.Path(), c.NodeLine(nodeIndex(c.Nodes, id), "metrics_port"), err)
	}
	return l, nil
}

func nodeIndex(nodes []config.Node, id string) int {
	for i, n := range nodes {
		if n.ID == id {
			return i
		}
	}
	return -1
}

// newSSH builds the SSH server in front of n from the cluster config: its
// address, host key, admin keys, limits and timeouts. It binds ssh_port
// unless a listener was passed in.
func newSSH(o Options, n api.Backend, admin []string, hostKey *HostKey, log *slog.Logger) (*sshui.Server, error) {
	c, id := o.Node.Config, o.Node.ID
	self, err := c.Node(id)
	if err != nil {
		return nil, err
	}
	if a, _ := LocalAdminKeys(c); o.ExtraAdminKeysFile == "" && !o.NoAdopt && a.Count > 0 {
		log.Info("no admin keys configured and every node on loopback: adopting the keys of the user running this node as admin keys",
			"keys", a.Count, "from", strings.Join(a.From, ","))
	}
	cfg := sshui.Config{
		Addr:              net.JoinHostPort(self.Host, strconv.Itoa(self.SSHPort)),
		HostKey:           hostKey.Signer,
		AdminKeys:         admin,
		NodeID:            id,
		IdleTimeout:       c.SSH.IdleTimeout.Duration,
		KeepaliveInterval: c.SSH.KeepaliveInterval.Duration,
		MaxSessions:       c.SSH.MaxSessions,
		MaxSessionsPerKey: c.SSH.MaxSessionsPerKey,
		PostTimeout:       c.Timing.PostTimeout.Duration,
		RateLimit:         c.Limits.PostRate,
		RateBurst:         c.Limits.PostBurst,
		Logger:            log.With("part", "ssh"),
	}
	if o.SSH != nil {
		cfg.Listener = o.SSH
	} else {
		l, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("bind ssh_port: %w", err)
		}
		cfg.Listener = l
	}
	srv, err := sshui.New(cfg, n)
	if err != nil {
		return nil, errors.Join(err, cfg.Listener.Close())
	}
	return srv, nil
}

// adminKeys are the admin keys a node serves for config c: the config's,
// the ExtraAdminKeysFile's, and, with neither, the loopback adoption
// (LocalAdminKeys) unless NoAdopt.
func adminKeys(o Options, c *config.Config) ([]string, error) {
	admin, err := c.AdminKeyLines()
	if err != nil {
		return nil, err
	}
	if f := o.ExtraAdminKeysFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read extra admin keys: %w", err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				admin = append(admin, l)
			}
		}
		return admin, nil
	}
	if o.NoAdopt {
		return admin, nil
	}
	a, err := LocalAdminKeys(c)
	if err != nil {
		return nil, err
	}
	return append(admin, a.Keys...), nil
}
