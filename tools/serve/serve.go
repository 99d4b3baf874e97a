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
	"time"

	"github.com/syncnet/syncnet/node"
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
	n, err := node.New(o.Node)
	if err != nil {
		return err
	}
	srv, err := newSSH(o, n, hostKey, log)
	if err != nil {
		n.Close()
		return err
	}
	n.SetClientCount(srv.Sessions)
	nodeCtx, stopNode := context.WithCancel(context.Background())
	defer stopNode()
	nodeErr := make(chan error, 1)
	go func() { nodeErr <- n.Serve(nodeCtx) }()

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

	select {
	case <-ctx.Done():
	case err = <-sshErr:
		err = fmt.Errorf("ssh server: %w", err)
	case err = <-nodeErr:
		srv.Shutdown(context.Background())
		return err
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

// newSSH builds the SSH server in front of n from the cluster config: its
// address, host key, admin keys, limits and timeouts. It binds ssh_port
// unless a listener was passed in.
func newSSH(o Options, n *node.Node, hostKey *HostKey, log *slog.Logger) (*sshui.Server, error) {
	c, id := o.Node.Config, o.Node.ID
	self, err := c.Node(id)
	if err != nil {
		return nil, err
	}
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
