// Package up runs every node of a cluster config as child processes of one
// command, for local use (`make run`). It prefixes each child's log lines with
// the node id, copies them to logs/<id>.log, stops all children on Ctrl-C, and
// fails loudly if one of them dies on its own.
package up

import (
	"bufio"
	"context"
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
	// StopTimeout bounds a graceful stop before children are killed.
	StopTimeout time.Duration
}

// Run starts the nodes and blocks until ctx ends (a clean stop, nil error) or
// a node exits on its own (an error naming it).
func Run(ctx context.Context, o Options) error {
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		return err
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = 10 * time.Second
	}
	if err := os.MkdirAll(o.LogsDir, 0o755); err != nil {
		return fmt.Errorf("create logs dir: %w", err)
	}
	extra, err := adoptAdminKeys(cfg, o.Out)
	if err != nil {
		return err
	}
	// The cluster host key, made here once if missing (every child runs on
	// this machine and reads the same file), or refused if not private.
	hostKey, err := ensureHostKey(cfg, o.Out)
	if err != nil {
		return err
	}
	var out sync.Mutex // serialises whole lines from all children on the terminal
	died := make(chan string, len(cfg.Nodes))
	var children []*child
	for _, n := range cfg.Nodes {
		c, err := start(o, n.ID, extra, &out, died)
		if err != nil {
			stopAll(children, o.StopTimeout)
			return err
		}
		children = append(children, c)
	}
	fmt.Fprintf(o.Out, "syncnet up: %d nodes of %s running; logs in %s/; Ctrl-C stops them\n",
		len(children), o.ConfigPath, o.LogsDir)
	for _, n := range cfg.Nodes {
		fmt.Fprintf(o.Out, "  ssh -p %d <you>@%s        (chat on %s)\n", n.SSHPort, n.Host, n.ID)
	}
	fmt.Fprintf(o.Out, "syncnet up: every node has the same SSH host key (%s); to trust the cluster once, "+
		"add this line to ~/.ssh/known_hosts (syncnet hostkey prints it):\n  %s\n",
		hostKey.Fingerprint(), serve.KnownHostsLine(cfg, hostKey.Signer.PublicKey()))
	select {
	case <-ctx.Done():
		fmt.Fprintln(o.Out, "syncnet up: stopping all nodes")
		stopAll(children, o.StopTimeout)
		return nil
	case id := <-died:
		fmt.Fprintf(o.Out, "syncnet up: node %s exited; stopping the others\n", id)
		stopAll(children, o.StopTimeout)
		return fmt.Errorf("node %s exited unexpectedly (see %s)", id, filepath.Join(o.LogsDir, id+".log"))
	}
}

type child struct {
	id   string
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	stop bool // set before we signal it, so its exit is not reported as a death
}

func start(o Options, id, extraAdmin string, out *sync.Mutex, died chan<- string) (*child, error) {
	logFile, err := os.OpenFile(filepath.Join(o.LogsDir, id+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log for %s: %w", id, err)
	}
	args := []string{"node", "--config", o.ConfigPath, "--id", id, "--log-level", o.LogLevel}
	if extraAdmin != "" {
		args = append(args, "--extra-admin-keys", extraAdmin)
	}
	cmd := exec.Command(o.Binary, args...)
	// Own process group: a terminal Ctrl-C reaches only us, and we stop the
	// children in order instead of racing them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start node %s: %w", id, err)
	}
	c := &child{id: id, cmd: cmd, done: make(chan struct{})}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		prefixLines(pr, id, logFile, o.Out, out)
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		<-copied
		logFile.Close()
		c.mu.Lock()
		expected := c.stop
		c.mu.Unlock()
		if !expected {
			out.Lock()
			fmt.Fprintf(o.Out, "[%s] exited: %v\n", id, errOrStatus(err))
			out.Unlock()
			died <- id
		}
		close(c.done)
	}()
	return c, nil
}

func errOrStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func prefixLines(r io.Reader, id string, file io.Writer, term io.Writer, mu *sync.Mutex) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(file, line)
		mu.Lock()
		fmt.Fprintf(term, "[%s] %s\n", id, line)
		mu.Unlock()
	}
	io.Copy(io.Discard, r) // an over-long line: keep draining so the child never blocks
}

func stopAll(children []*child, timeout time.Duration) {
	for _, c := range children {
		c.mu.Lock()
		c.stop = true
		c.mu.Unlock()
		c.cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.After(timeout)
	for _, c := range children {
		select {
		case <-c.done:
		case <-deadline:
			for _, k := range children {
				k.cmd.Process.Kill()
			}
			<-c.done
		}
	}
}

// adoptAdminKeys implements the loopback convenience: with no admin keys
// configured and every node on loopback, the keys of the user running `up`
// become admin keys, so `ssh -p 2223 admin@localhost status` works after
// `make run` without editing files. It is never done for a cluster reachable
// from other machines. It returns the file the nodes should read, or "".
func adoptAdminKeys(cfg *config.Config, out io.Writer) (string, error) {
	lines, err := cfg.AdminKeyLines()
	if err != nil {
		return "", err
	}
	if len(lines) > 0 || !cfg.Loopback() {
		return "", nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", nil
	}
	pubs, _ := filepath.Glob(filepath.Join(home, ".ssh", "*.pub"))
	var keys []string
	for _, p := range pubs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				keys = append(keys, l)
			}
		}
	}
	if len(keys) == 0 {
		fmt.Fprintf(out, "syncnet up: no admin keys configured and none in %s/.ssh/*.pub; "+
			"`status` needs one (ssh-keygen -t ed25519, then run again)\n", home)
		return "", nil
	}
	if err := os.MkdirAll(cfg.DataDir(), 0o700); err != nil {
		return "", fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(cfg.DataDir(), "adopted_admin_keys")
	if err := os.WriteFile(path, []byte(strings.Join(keys, "\n")+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	abs, _ := filepath.Abs(path)
	fmt.Fprintf(out, "syncnet up: no admin keys in %s and all nodes on loopback: adopting %d key(s) from %s/.ssh/*.pub as admin keys\n",
		cfg.Path(), len(keys), home)
	return abs, nil
}

// ensureHostKey loads the cluster host key, creating it if missing, and
// says so when it did.
func ensureHostKey(cfg *config.Config, out io.Writer) (*serve.HostKey, error) {
	k, err := serve.LoadHostKey(cfg, true)
	if err != nil {
		return nil, err
	}
	switch {
	case k.Created && k.AdoptedFrom != "":
		fmt.Fprintf(out, "syncnet up: created the cluster SSH host key %s from %s, which a node served before: "+
			"clients that trusted that node see no change; those that trusted another node's own key see a changed key for it once\n",
			k.Path, k.AdoptedFrom)
	case k.Created:
		fmt.Fprintf(out, "syncnet up: created the cluster SSH host key %s; every node serves it\n", k.Path)
	}
	return k, nil
}
