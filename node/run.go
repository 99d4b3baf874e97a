package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/syncnet/syncnet/sshui"
)

// Run runs a node and its SSH server until ctx ends, then shuts down in
// order: end every SSH session's program, stop the SSH server, stop the
// driver, close the WAL last.
func Run(ctx context.Context, o Options) error {
	n, err := New(o)
	if err != nil {
		return err
	}
	srv, err := n.newSSH()
	if err != nil {
		n.Close()
		return err
	}
	n.clientCount = srv.Sessions
	nodeCtx, stopNode := context.WithCancel(context.Background())
	defer stopNode()
	nodeErr := make(chan error, 1)
	go func() { nodeErr <- n.Serve(nodeCtx) }()

	// SSH serves only once the node has re-applied everything its WAL says
	// is committed: before that, history would be stale and a ban not yet
	// re-applied. Connections wait in the listen backlog meanwhile.
	start := time.Now()
	select {
	case <-n.caughtUp:
		n.log.Info("caught up; serving SSH", "applied", n.applied.Load(), "took", time.Since(start).Round(time.Millisecond))
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
	go n.clearStalePresence(nodeCtx, srv)

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
		n.log.Warn("ssh shutdown", "err", serr)
	}
	stopNode()
	if nerr := <-nodeErr; nerr != nil && err == nil {
		err = nerr
	}
	return err
}

func (n *Node) newSSH() (*sshui.Server, error) {
	admin, err := n.cfg.AdminKeyLines()
	if err != nil {
		return nil, err
	}
	if f := n.opts.ExtraAdminKeysFile; f != "" {
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
		Addr:              net.JoinHostPort(n.self.Host, fmt.Sprint(n.self.SSHPort)),
		HostKeyPath:       filepath.Join(n.cfg.NodeDir(n.id), "ssh_host_ed25519_key"),
		AdminKeys:         admin,
		NodeID:            n.id,
		IdleTimeout:       n.cfg.SSH.IdleTimeout.Duration,
		KeepaliveInterval: n.cfg.SSH.KeepaliveInterval.Duration,
		MaxSessions:       n.cfg.SSH.MaxSessions,
		MaxSessionsPerKey: n.cfg.SSH.MaxSessionsPerKey,
		PostTimeout:       n.cfg.Timing.PostTimeout.Duration,
		Logger:            n.log.With("part", "ssh"),
	}
	if n.opts.Listeners != nil && n.opts.Listeners.SSH != nil {
		cfg.Listener = n.opts.Listeners.SSH
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

// clearStalePresence marks offline the users this node still shows as
// present from before a crash: their sessions died with the old process.
// It waits for a quorum so the cleanup is itself replicated.
func (n *Node) clearStalePresence(ctx context.Context, srv *sshui.Server) {
	for !n.Status().Quorum {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	if srv.Sessions() > 0 {
		return // people are back already; their sessions keep presence right
	}
	for _, u := range n.st.Presence.OnNode(n.id) {
		pctx, cancel := context.WithTimeout(ctx, n.cfg.Timing.PostTimeout.Duration)
		if err := n.SetPresence(pctx, u, "offline"); err != nil {
			n.log.Debug("clear stale presence", "user", u, "err", err)
		}
		cancel()
	}
}
