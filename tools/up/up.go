// Package up runs every node of a cluster config as child processes of one
// command, for local use (`make run`). It supervises them: a node that
// exits is restarted with backoff (or, with NoRestart, everything stops: for
// scripts and CI); Ctrl-C, SIGTERM and SIGHUP stop them all in order; and
// no child outlives it (each is in its own process group and gets SIGTERM
// from the kernel if `up` dies: Pdeathsig). Each node writes its own log
// file (logs/<id>.log), so a node keeps logging when the terminal is gone;
// `up` shows the lines prefixed with the node id.
package up

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/syncnet/syncnet/node/config"
	"github.com/syncnet/syncnet/tools/serve"
)

// Options say what to run and where to log.
type Options struct {
	ConfigPath string
	Binary     string // the syncnet binary to start for each node
	LogsDir    string
	LogLevel   string
	Out        io.Writer // the terminal: prefixed lines of every node
	// StopTimeout bounds a graceful stop before children are killed
	// (default 2m: a node stops by writing a snapshot of its state, which
	// takes seconds on a loaded machine with a long history, and a node
	// killed in the middle only restarts from an older snapshot). A node
	// still stopping after StopNotice (default 5s) is named, with how to
	// cut it short.
	StopTimeout, StopNotice time.Duration
	// Hurry, when it closes (a second Ctrl-C), kills the nodes still
	// stopping at once.
	Hurry <-chan struct{}
	// NoRestart: a node that exits stops every node and Run returns
	// (an error unless it exited cleanly): the fail-fast mode for scripts.
	NoRestart bool
	// Backoff is the first wait before a restart (default 1s); it doubles
	// for a node that keeps exiting, up to MaxBackoff (default 30s), and
	// starts over once the node ran StableAfter (default 30s).
	Backoff, MaxBackoff, StableAfter time.Duration
	// HealthTimeout bounds the wait for a healthy cluster before the status
	// table is printed (default 60s; it is printed anyway, as it stands).
	HealthTimeout time.Duration
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.StopTimeout, 2*time.Minute)
	def(&o.StopNotice, 5*time.Second)
	def(&o.Backoff, time.Second)
	def(&o.MaxBackoff, 30*time.Second)
	def(&o.StableAfter, 30*time.Second)
	def(&o.HealthTimeout, 60*time.Second)
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
}

// terminal serialises whole lines from every writer of Out.
type terminal struct {
	mu  sync.Mutex
	out io.Writer
}

func (t *terminal) printf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.out, format, args...)
}

// Run starts the nodes and supervises them until ctx ends (a clean stop,
// nil error) or, with NoRestart, a node exits (an error naming it unless
// it exited cleanly).
func Run(ctx context.Context, o Options) error {
	o.defaults()
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.LogsDir, 0o755); err != nil {
		return fmt.Errorf("create logs dir: %w", err)
	}
	term := &terminal{out: o.Out}
	adopted, err := adoptAdminKeys(cfg, term)
	if err != nil {
		return err
	}
	// The cluster host key, made here once if missing (every child runs on
	// this machine and reads the same file), or refused if not private.
	hostKey, err := ensureHostKey(cfg, term)
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	exits := make(chan exit, len(cfg.Nodes))
	var wg sync.WaitGroup
	sups := make([]*supervisor, 0, len(cfg.Nodes))
	for _, n := range cfg.Nodes {
		s := &supervisor{o: o, id: n.ID, extra: adopted.file, term: term, exits: exits}
		sups = append(sups, s)
	}
	// Start every node before supervising any: a node that cannot start at
	// all (the binary is missing) is a setup error, not something to retry.
	for i, s := range sups {
		if err := s.start(); err != nil {
			for _, started := range sups[:i] {
				started.stopNow()
			}
			return err
		}
	}
	for _, s := range sups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.supervise(runCtx)
		}()
	}
	term.printf("syncnet up: %d nodes of %s running; each logs to %s/<id>.log; Ctrl-C stops them\n",
		len(sups), o.ConfigPath, o.LogsDir)
	term.printf("syncnet up: every node has the same SSH host key (%s); to trust the cluster once, "+
		"add this line to ~/.ssh/known_hosts (syncnet hostkey prints it):\n  %s\n",
		hostKey.Fingerprint(), serve.KnownHostsLine(cfg, hostKey.Signer.PublicKey()))
	announced := make(chan struct{})
	go func() {
		defer close(announced)
		announceHealthy(runCtx, cfg, o, term, adopted, func(id string) int {
			for _, s := range sups {
				if s.id == id {
					return s.pid()
				}
			}
			return 0
		})
	}()

	var result error
	select {
	case <-ctx.Done():
		term.printf("syncnet up: stopping all nodes (%s)\n", stopReason(ctx))
	case e := <-exits: // only with NoRestart
		if e.clean {
			term.printf("syncnet up: %s stopped (%s); stopping the others (--no-restart)\n", e.id, e.status)
		} else {
			term.printf("syncnet up: %s exited (%s); stopping the others (--no-restart)\n", e.id, e.status)
			result = fmt.Errorf("node %s exited (%s); see %s", e.id, e.status, filepath.Join(o.LogsDir, e.id+".log"))
		}
	}
	stop()
	<-announced // no health line about nodes we are stopping
	var sw sync.WaitGroup
	for _, s := range sups {
		sw.Add(1)
		go func() {
			defer sw.Done()
			s.stopNow()
		}()
	}
	sw.Wait()
	wg.Wait()
	term.printf("syncnet up: all nodes stopped\n")
	return result
}

// Cause names what stopped `up`; the command sets it from the signal.
type Cause struct{ Signal os.Signal }

func (c Cause) Error() string { return "signal " + c.Signal.String() }

func stopReason(ctx context.Context) string {
	var c Cause
	if errors.As(context.Cause(ctx), &c) {
		return c.Signal.String()
	}
	return "asked to stop"
}

// exit is a node that exited while NoRestart.
type exit struct {
	id, status string
	clean      bool
}

// supervisor runs one node, restarting it when it exits.
type supervisor struct {
	o     Options
	id    string
	extra string // adopted admin keys file
	term  *terminal
	exits chan<- exit

	mu      sync.Mutex
	cur     *child
	stopped bool // stopNow was called: no more restarts
}

type child struct {
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed once waited for and its output drained
	err     error         // Wait's result, set before done closes
}

func (s *supervisor) start() error {
	args := []string{"node", "--config", s.o.ConfigPath, "--id", s.id, "--log-level", s.o.LogLevel,
		"--log-file", filepath.Join(s.o.LogsDir, s.id+".log")}
	if s.extra != "" {
		args = append(args, "--extra-admin-keys", s.extra)
	}
	cmd := exec.Command(s.o.Binary, args...)
	// Own process group: a terminal's Ctrl-C or hang-up reaches only us,
	// and we stop the children in order instead of racing them. Pdeathsig:
	// if we die without stopping them (kill -9), the kernel sends each
	// SIGTERM, so no node outlives us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		pr.Close()
		pw.Close()
		return errors.New("stopped")
	}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return fmt.Errorf("start node %s: %w", s.id, err)
	}
	pw.Close() // the child holds its own copy
	c := &child{cmd: cmd, started: time.Now(), done: make(chan struct{})}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		s.relay(pr)
	}()
	go func() {
		c.err = cmd.Wait()
		<-copied
		pr.Close()
		close(c.done)
	}()
	s.cur = c
	return nil
}

// relay shows the child's lines on the terminal with its id. The node
// writes its log file itself; this is only the terminal's copy. A write
// error (the terminal is gone) is ignored: the node keeps running.
func (s *supervisor) relay(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		s.term.printf("[%s] %s\n", s.id, sc.Text())
	}
	io.Copy(io.Discard, r) // an over-long line: keep draining so the child never blocks
}

// supervise waits for the node to exit and restarts it with backoff, until
// ctx ends.
func (s *supervisor) supervise(ctx context.Context) {
	backoff := s.o.Backoff
	for {
		s.mu.Lock()
		c := s.cur
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-c.done:
		}
		s.mu.Lock()
		stopped := s.stopped
		s.mu.Unlock()
		if stopped || ctx.Err() != nil {
			return
		}
		status, clean := describeExit(c.err)
		if removedExit(c.err) {
			// Removed from the cluster through the log: restarting it
			// would only stop it again (docs/OPERATIONS.md, membership).
			s.term.printf("syncnet up: %s was removed from the cluster (%s); not restarting it\n", s.id, status)
			return
		}
		if s.o.NoRestart {
			s.exits <- exit{id: s.id, status: status, clean: clean}
			return
		}
		if time.Since(c.started) >= s.o.StableAfter {
			backoff = s.o.Backoff
		}
		verb := "exited"
		if clean {
			verb = "stopped"
		}
		s.term.printf("syncnet up: %s %s (%s); restarting in %s\n", s.id, verb, status, backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, s.o.MaxBackoff)
		if err := s.start(); err != nil {
			if ctx.Err() != nil {
				return
			}
			// A finished child as current: the loop says why and waits
			// the (longer) backoff again rather than spinning.
			s.mu.Lock()
			s.cur = &child{started: time.Now(), done: closedChan, err: err}
			s.mu.Unlock()
		}
	}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// describeExit says how a child ended: "exit status 0" is clean (it was
// stopped with SIGTERM by someone, or stopped itself in order).
func describeExit(err error) (string, bool) {
	if err == nil {
		return "exit status 0", true
	}
	return err.Error(), false
}

// removedExit: the node exited because it was removed from the cluster
// (exit status serve.ExitRemoved).
func removedExit(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() == serve.ExitRemoved
}

// pid is the running node's process id (0: none running).
func (s *supervisor) pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil || s.cur.cmd == nil {
		return 0
	}
	select {
	case <-s.cur.done:
		return 0
	default:
		return s.cur.cmd.Process.Pid
	}
}

// stopNow stops the node: SIGTERM, then SIGKILL after the stop timeout or
// once Hurry closes. No restart follows.
func (s *supervisor) stopNow() {
	s.mu.Lock()
	s.stopped = true
	c := s.cur
	s.mu.Unlock()
	if c == nil || c.cmd == nil {
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	timeout, notice := time.NewTimer(s.o.StopTimeout), time.NewTimer(s.o.StopNotice)
	defer timeout.Stop()
	defer notice.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-notice.C:
			s.term.printf("syncnet up: waiting for %s to stop (it writes a snapshot of its state first; "+
				"Ctrl-C again kills it now, which is safe: it then restarts from its previous snapshot)\n", s.id)
			continue
		case <-timeout.C:
			s.term.printf("syncnet up: %s did not stop within %s; killing it\n", s.id, s.o.StopTimeout)
		case <-s.o.Hurry:
			s.term.printf("syncnet up: killing %s (asked again to stop)\n", s.id)
		}
		c.cmd.Process.Kill()
		<-c.done
		return
	}
}

// adopted is what adoptAdminKeys did.
type adopted struct {
	file  string   // the file the nodes read ("" if none)
	from  []string // the .pub files the keys came from
	count int
}

// adoptAdminKeys implements the loopback convenience: with no admin keys
// configured and every node on loopback, the keys of the user running `up`
// become admin keys, so `ssh -p 2223 admin@localhost status` works after
// `make run` without editing files. It is never done for a cluster reachable
// from other machines.
func adoptAdminKeys(cfg *config.Config, term *terminal) (adopted, error) {
	a, err := serve.AdoptLocalAdminKeys(cfg)
	if err != nil {
		return adopted{}, err
	}
	switch {
	case a.Skipped != "":
		// Keys configured, or not all on loopback: nothing to say.
	case a.Count == 0:
		term.printf("syncnet up: no admin keys configured and none in %s; "+
			"`status` needs one (ssh-keygen -t ed25519, then run again)\n", a.Searched)
	default:
		term.printf("syncnet up: no admin keys in %s and all nodes on loopback: adopting %d key(s) from %s as admin keys\n",
			cfg.Path(), a.Count, strings.Join(a.From, ", "))
	}
	return adopted{file: a.File, from: a.From, count: a.Count}, nil
}

// ensureHostKey loads the cluster host key, creating it if missing, and
// says so when it did.
func ensureHostKey(cfg *config.Config, term *terminal) (*serve.HostKey, error) {
	k, err := serve.LoadHostKey(cfg, true)
	if err != nil {
		return nil, err
	}
	switch {
	case k.Created && k.AdoptedFrom != "":
		term.printf("syncnet up: created the cluster SSH host key %s from %s, which a node served before: "+
			"clients that trusted that node see no change; those that trusted another node's own key see a changed key for it once\n",
			k.Path, k.AdoptedFrom)
	case k.Created:
		term.printf("syncnet up: created the cluster SSH host key %s; every node serves it\n", k.Path)
	}
	return k, nil
}
