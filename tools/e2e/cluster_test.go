package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Timing of cluster.toml: the figures users run with.
const timingTOML = `[timing]
heartbeat_interval = "100ms"
failure_timeout = "400ms"
election_timeout = "300ms"
connect_timeout = "1s"
post_timeout = "5s"
`

// failureTimeout mirrors timingTOML.
const failureTimeout = 400 * time.Millisecond

// cluster is n real `syncnet node` processes with their config, data and
// logs in one t.TempDir().
type cluster struct {
	t       testing.TB
	dir     string
	cfgPath string
	ids     []string
	nodes   map[string]*proc
	admin   ssh.Signer
	adminPK string // authorized_keys line

	unlaunched map[string][]*os.File // bound sockets of nodes not yet started

	keysMu sync.Mutex
	keys   map[string]ssh.Signer // chat user -> key (the first key binds a name)
}

// proc is one node process: running, stopped (SIGSTOP) or dead.
type proc struct {
	id      string
	host    string
	ports   [4]int   // ssh, peer, heartbeat, election
	wrap    []string // command prefix, e.g. ip netns exec NS
	cfg     string   // its cluster.toml when not the cluster's (a membership test's first members)
	extra   []string // more arguments of syncnet node (--join)
	logPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	stopped bool
}

func (p *proc) sshAddr() string {
	return net.JoinHostPort(p.host, fmt.Sprint(p.ports[0]))
}

// clusterOpts varies how nodes are placed; the zero value is loopback with
// sockets bound by the harness.
type clusterOpts struct {
	hosts []string             // per node; default 127.0.0.1 with harness-bound sockets
	ports [][4]int             // fixed ports, with hosts
	wrap  func(i int) []string // command prefix per node
	// noLaunch leaves the nodes unstarted (launchAll starts them), so a
	// test can prepare their data directories first.
	noLaunch bool
}

// start launches an n-node cluster on loopback and waits for a leader.
func start(t *testing.T, n int) *cluster {
	t.Helper()
	c := newCluster(t, n, clusterOpts{})
	c.waitLeader()
	return c
}

func newCluster(t *testing.T, n int, o clusterOpts) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), nodes: map[string]*proc{}, keys: map[string]ssh.Signer{}}
	c.cfgPath = filepath.Join(c.dir, "cluster.toml")
	c.admin, c.adminPK = newKey(t)
	files := map[string][]*os.File{}
	var b strings.Builder
	fmt.Fprintf(&b, "[cluster]\nname = \"e2e\"\ndata_dir = %q\nsecret = \"e2e-secret-0123456789abcdef\"\n",
		filepath.Join(c.dir, "data"))
	b.WriteString(timingTOML)
	fmt.Fprintf(&b, "[auth]\nadmin_keys = [%q]\n", c.adminPK)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("node%d", i+1)
		p := &proc{id: id, host: "127.0.0.1", logPath: filepath.Join(c.dir, id+".log")}
		if o.hosts != nil {
			p.host, p.ports = o.hosts[i], o.ports[i]
		} else {
			p.ports, files[id] = bindLoopback(t)
		}
		if o.wrap != nil {
			p.wrap = o.wrap(i)
		}
		fmt.Fprintf(&b, "[[node]]\nid = %q\nhost = %q\nssh_port = %d\npeer_port = %d\nheartbeat_port = %d\nelection_port = %d\nring = %d\n",
			id, p.host, p.ports[0], p.ports[1], p.ports[2], p.ports[3], i)
		c.ids = append(c.ids, id)
		c.nodes[id] = p
	}
	if err := os.WriteFile(c.cfgPath, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if o.hosts != nil {
		// Nodes on several hosts (network namespaces) create no host key:
		// the operator makes the cluster's one and copies it to every host,
		// as README says. Here every host reads the same file.
		if out, err := exec.Command(binPath, "hostkey", "--config", c.cfgPath, "--create").CombinedOutput(); err != nil {
			t.Fatalf("syncnet hostkey --create: %v\n%s", err, out)
		}
		makeCerts(t, c.cfgPath, c.ids) // and the peer TLS credentials likewise (certs_test.go)
	}
	t.Cleanup(c.cleanup)
	c.unlaunched = files
	if !o.noLaunch {
		c.launchAll()
	}
	return c
}

// launchAll starts every node on the sockets bound for it.
func (c *cluster) launchAll() {
	c.t.Helper()
	for _, id := range c.ids {
		c.launch(id, c.unlaunched[id])
	}
	c.unlaunched = nil
}

// bindLoopback binds a node's four sockets on 127.0.0.1:0 and returns their
// ports and files (ssh, peer, heartbeat, election), to be inherited as fds 3-6.
func bindLoopback(t testing.TB) ([4]int, []*os.File) {
	t.Helper()
	var ports [4]int
	var files []*os.File
	for i := 0; i < 4; i++ {
		var f *os.File
		var err error
		if i < 2 {
			l, lerr := net.Listen("tcp", "127.0.0.1:0")
			if lerr != nil {
				t.Fatal(lerr)
			}
			ports[i] = l.Addr().(*net.TCPAddr).Port
			f, err = l.(*net.TCPListener).File()
			l.Close()
		} else {
			pc, perr := net.ListenPacket("udp", "127.0.0.1:0")
			if perr != nil {
				t.Fatal(perr)
			}
			ports[i] = pc.LocalAddr().(*net.UDPAddr).Port
			f, err = pc.(*net.UDPConn).File()
			pc.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return ports, files
}

func logLevel() string {
	if l := os.Getenv("SYNCNET_E2E_LOG"); l != "" {
		return l
	}
	return "info"
}

// launch starts node id; with files, on those inherited sockets, else on its
// configured ports (a restart).
func (c *cluster) launch(id string, files []*os.File) {
	c.t.Helper()
	p := c.nodes[id]
	cfg := c.cfgPath
	if p.cfg != "" {
		cfg = p.cfg
	}
	args := append(append([]string{}, p.wrap...), binPath, "node", "--config", cfg, "--id", id, "--log-level", logLevel())
	args = append(args, p.extra...)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== e2e: start %s at %s (inherited sockets: %v)\n", id, time.Now().Format("15:04:05.000"), files != nil)
	cmd.Stdout, cmd.Stderr = logf, logf
	if files != nil {
		cmd.ExtraFiles = files
		cmd.Env = append(os.Environ(), "SYNCNET_LISTEN_FDS=ssh=3,peer=4,heartbeat=5,election=6")
	}
	err = cmd.Start()
	logf.Close()
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		c.t.Fatalf("start %s: %v", id, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done, p.stopped = cmd, done, false
	p.mu.Unlock()
}

// signal sends sig to node id's process group.
func (c *cluster) signal(id string, sig syscall.Signal) error {
	p := c.nodes[id]
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return errors.New("not running")
	}
	return syscall.Kill(-p.cmd.Process.Pid, sig)
}

// kill9 kills node id with SIGKILL and waits until it has exited.
func (c *cluster) kill9(id string) {
	c.t.Helper()
	c.t.Logf("kill -9 %s", id)
	c.markLog(id, "kill -9")
	c.halt(id, syscall.SIGKILL)
}

// term stops node id with SIGTERM and waits until it has exited.
func (c *cluster) term(id string) {
	c.t.Helper()
	c.t.Logf("SIGTERM %s", id)
	c.markLog(id, "SIGTERM")
	c.halt(id, syscall.SIGTERM)
}

func (c *cluster) halt(id string, sig syscall.Signal) {
	c.t.Helper()
	p := c.nodes[id]
	if err := c.signal(id, sig); err != nil {
		c.t.Fatalf("%s %s: %v", sig, id, err)
	}
	if sig != syscall.SIGKILL {
		_ = c.signal(id, syscall.SIGCONT)
	}
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = c.signal(id, syscall.SIGKILL)
		<-done
		c.t.Errorf("%s did not exit within 20s of %s", id, sig)
	}
	p.mu.Lock()
	p.cmd, p.stopped = nil, false
	p.mu.Unlock()
}

// stop freezes node id (SIGSTOP); cont resumes it.
func (c *cluster) stop(id string) {
	c.t.Helper()
	c.t.Logf("SIGSTOP %s", id)
	c.markLog(id, "SIGSTOP")
	if err := c.signal(id, syscall.SIGSTOP); err != nil {
		c.t.Fatalf("SIGSTOP %s: %v", id, err)
	}
	p := c.nodes[id]
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
}

func (c *cluster) cont(id string) {
	c.t.Helper()
	c.t.Logf("SIGCONT %s", id)
	if err := c.signal(id, syscall.SIGCONT); err != nil {
		c.t.Fatalf("SIGCONT %s: %v", id, err)
	}
	c.markLog(id, "SIGCONT")
	p := c.nodes[id]
	p.mu.Lock()
	p.stopped = false
	p.mu.Unlock()
}

// restart starts a dead node again on its configured ports and waits until
// it answers status.
func (c *cluster) restart(id string) {
	c.t.Helper()
	c.t.Logf("restart %s", id)
	if c.running(id) {
		c.t.Fatalf("restart %s: still running", id)
	}
	c.launch(id, nil)
	// A restart replays a WAL tail and may rebuild its search index in the
	// background: seconds, but a minute and more on a machine others load.
	c.waitUpWithin(id, 90*time.Second)
}

// index is the position of node id in c.ids.
func (c *cluster) index(id string) int {
	for i, x := range c.ids {
		if x == id {
			return i
		}
	}
	c.t.Fatalf("no node %q", id)
	return -1
}

// running reports whether node id's process exists (stopped or not).
func (c *cluster) running(id string) bool {
	p := c.nodes[id]
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// live reports whether node id runs and is not stopped.
func (c *cluster) live(id string) bool {
	p := c.nodes[id]
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !p.stopped
}

func (c *cluster) liveIDs() []string {
	var out []string
	for _, id := range c.ids {
		if c.live(id) {
			out = append(out, id)
		}
	}
	return out
}

// waitUp polls node id's status until it answers.
func (c *cluster) waitUp(id string) {
	c.t.Helper()
	c.waitUpWithin(id, 30*time.Second)
}

// waitUpWithin is waitUp for a node with more to do before it serves (a
// whole WAL to replay): within bounds the wait, not what is measured.
func (c *cluster) waitUpWithin(id string, within time.Duration) {
	c.t.Helper()
	var err error
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err = c.status(id); err == nil {
			return
		}
	}
	c.t.Fatalf("%s not answering status after %s: %v", id, within, err)
}

// waitLeader polls every live node until all name the same live leader in
// the same term, and returns it.
func (c *cluster) waitLeader() string {
	c.t.Helper()
	leader, last := "", ""
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var term uint64
		leader, last = "", ""
		ok := true
		for _, id := range c.liveIDs() {
			st, err := c.status(id)
			if err != nil {
				ok, last = false, fmt.Sprintf("%s: %v", id, err)
				break
			}
			if st.Leader == "" || (leader != "" && (st.Leader != leader || st.Term != term)) {
				ok, last = false, fmt.Sprintf("%s sees leader %q term %d; others %q term %d", id, st.Leader, st.Term, leader, term)
				break
			}
			leader, term = st.Leader, st.Term
		}
		if ok && leader != "" && c.live(leader) {
			c.t.Logf("leader %s term %d", leader, term)
			return leader
		}
	}
	c.t.Fatalf("no agreed leader among %v after 30s: %s", c.liveIDs(), last)
	return ""
}

// markLog writes a harness line into node id's log, so the tails printed on
// failure show what the test did when.
func (c *cluster) markLog(id, what string) {
	f, err := os.OpenFile(c.nodes[id].logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return
	}
	fmt.Fprintf(f, "=== e2e: %s %s at %s\n", what, id, time.Now().Format("15:04:05.000"))
	f.Close()
}

// cleanup kills every node and, if the test failed, prints the log tails.
func (c *cluster) cleanup() {
	for _, id := range c.ids {
		if c.running(id) {
			_ = c.signal(id, syscall.SIGKILL)
			p := c.nodes[id]
			p.mu.Lock()
			done := p.done
			p.mu.Unlock()
			<-done
		}
	}
	if !c.t.Failed() {
		return
	}
	keep := c.keepLogs()
	for _, id := range c.ids {
		c.t.Logf("---- last %d lines of %s (without the harness's status polls; full logs and WALs kept in %s) ----\n%s",
			logTailLines, id, keep, tail(c.nodes[id].logPath, logTailLines))
	}
}

const logTailLines = 60

// keepLogs copies the node logs of a failed test out of its TempDir, which
// is removed, and returns the directory.
func (c *cluster) keepLogs() string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(c.t.Name())
	dir, err := os.MkdirTemp("", "syncnet-e2e-"+name+"-")
	if err != nil {
		return err.Error()
	}
	for _, id := range c.ids {
		if b, err := os.ReadFile(c.nodes[id].logPath); err == nil {
			_ = os.WriteFile(filepath.Join(dir, id+".log"), b, 0o644)
		}
	}
	// The WALs too, for syncnet wal dump/diff.
	if out, err := exec.Command("cp", "-a", filepath.Join(c.dir, "data"), dir).CombinedOutput(); err != nil {
		c.t.Logf("keep data: %v: %s", err, out)
	}
	return dir
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "part=ssh user=admin ") {
			continue // status --json polls of the harness
		}
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
