package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
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

// upRun is one `syncnet up` process and its captured output.
type upRun struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

func (u *upRun) output() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.out.String()
}

func (u *upRun) waitOutput(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(u.output(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("syncnet up never printed %q; output:\n%s", want, u.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startUp(t *testing.T, cfg, logs, home string, flags ...string) *upRun {
	t.Helper()
	u := &upRun{done: make(chan error, 1)}
	u.cmd = exec.Command(binPath, append([]string{"up", "--config", cfg, "--logs", logs}, flags...)...)
	u.cmd.Env = append(os.Environ(), "HOME="+home)
	pr, pw := io.Pipe()
	u.cmd.Stdout, u.cmd.Stderr = pw, pw
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			u.mu.Lock()
			u.out.WriteString(sc.Text() + "\n")
			u.mu.Unlock()
		}
	}()
	go func() { err := u.cmd.Wait(); pw.Close(); u.done <- err }()
	t.Cleanup(func() {
		// A clean stop: up returns once every node has stopped, so no node
		// still writes (its final snapshot) while the test's directory is
		// removed. SIGKILL only if that hangs.
		u.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-u.done:
			u.done <- err
		case <-time.After(30 * time.Second):
			u.cmd.Process.Kill()
		}
		<-u.done
	})
	return u
}

func (u *upRun) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-u.done:
		u.done <- err // for Cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("syncnet up did not exit; output:\n%s", u.output())
		return nil
	}
}

// childPID finds the `syncnet node` child of up for a node id.
func childPID(t *testing.T, cfg, id string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 5 && args[1] == "node" && strings.Contains(string(b), cfg) && strings.Contains(string(b), "\x00"+id+"\x00") {
			var pid int
			fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
			return pid
		}
	}
	t.Fatalf("no node process for %s", id)
	return 0
}

// TestUpRunsTheClusterAndStopsIt is `make run` end to end: `syncnet up`
// starts every node of a config, adopts the local user's key as the admin
// key on a loopback cluster (so `status` works without editing files),
// writes logs/<id>.log, stops every node cleanly on SIGINT with its history
// kept, and with --no-restart exits non-zero when a node dies on its own.
//
// up binds the configured ports itself, like a person's `make run`, so this
// test reserves them by binding 127.0.0.1:0 and releasing them just before.
func TestUpRunsTheClusterAndStopsIt(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	admin, adminPK := newKey(t)
	os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519.pub"), []byte(adminPK+" me@host\n"), 0o600)
	var b strings.Builder
	fmt.Fprintf(&b, "[cluster]\ndata_dir = %q\nsecret = \"e2e-secret-0123456789abcdef\"\n", filepath.Join(dir, "data"))
	b.WriteString(timingTOML)
	c := &cluster{t: t, dir: dir, nodes: map[string]*proc{}, keys: map[string]ssh.Signer{}}
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("node%d", i+1)
		ports, files := bindLoopback(t)
		for _, f := range files {
			f.Close()
		}
		fmt.Fprintf(&b, "[[node]]\nid = %q\nhost = \"127.0.0.1\"\nssh_port = %d\npeer_port = %d\nheartbeat_port = %d\nelection_port = %d\nring = %d\n",
			id, ports[0], ports[1], ports[2], ports[3], i)
		c.nodes[id] = &proc{id: id, host: "127.0.0.1", ports: ports}
		c.ids = append(c.ids, id)
	}
	cfg := filepath.Join(dir, "cluster.toml")
	os.WriteFile(cfg, []byte(b.String()), 0o600)
	logs := filepath.Join(dir, "logs")

	t.Log("first run: up adopts the key, elects, commits")
	u := startUp(t, cfg, logs, home)
	u.waitOutput(t, "adopting 1 key(s)")
	u.waitOutput(t, "3 nodes of")
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.run("node2", "admin", admin, 5*time.Second, "status --json")
		if err == nil && strings.Contains(out, `"healthy":true`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no healthy status through the adopted admin key: %v %s\n%s", err, out, u.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := c.post("node1", "alice", "general", "kept", "up-1"); err != nil {
		t.Fatal(err)
	}

	t.Log("SIGINT stops every node cleanly")
	u.cmd.Process.Signal(syscall.SIGINT)
	if err := u.wait(t); err != nil {
		t.Fatalf("up exited with %v after SIGINT; output:\n%s", err, u.output())
	}
	for _, id := range c.ids {
		log, err := os.ReadFile(filepath.Join(logs, id+".log"))
		if err != nil || !strings.Contains(string(log), "node stopped") {
			t.Fatalf("%s.log lacks a clean stop (%v):\n%s", id, err, tail(filepath.Join(logs, id+".log"), 20))
		}
	}

	t.Log("second run, --no-restart: history is back; a node killed on its own stops the rest")
	u = startUp(t, cfg, logs, home, "--no-restart")
	u.waitOutput(t, "3 nodes of")
	deadline = time.Now().Add(30 * time.Second)
	for {
		msgs, err := c.history("node3", "general")
		if err == nil && len(msgs) == 1 && msgs[0].Text == "kept" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("history after restart: %+v %v\n%s", msgs, err, u.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	syscall.Kill(childPID(t, cfg, "node2"), syscall.SIGKILL)
	if err := u.wait(t); err == nil {
		t.Fatalf("up exited 0 after a node died; output:\n%s", u.output())
	}
	if !strings.Contains(u.output(), "node2 exited (signal: killed); stopping the others (--no-restart)") {
		t.Fatalf("up did not say which node died:\n%s", u.output())
	}
}

// upCluster writes a three-node loopback config whose nodes serve metrics,
// with ports reserved by binding 127.0.0.1:0 and releasing them (up binds
// them itself, like a person's make run), and a home with one key to adopt.
func upCluster(t *testing.T) (c *cluster, cfg, logs, home string, admin ssh.Signer, metricsPorts []int) {
	t.Helper()
	dir := t.TempDir()
	home = filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	admin, adminPK := newKey(t)
	os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519.pub"), []byte(adminPK+" me@host\n"), 0o600)
	var b strings.Builder
	fmt.Fprintf(&b, "[cluster]\ndata_dir = %q\nsecret = \"e2e-secret-0123456789abcdef\"\n", filepath.Join(dir, "data"))
	b.WriteString(timingTOML)
	c = &cluster{t: t, dir: dir, nodes: map[string]*proc{}, keys: map[string]ssh.Signer{}}
	// Every port stays bound until all three nodes have theirs: closed at
	// once, the kernel may hand one out again to the next node (two nodes
	// then clash on a port and up refuses the config).
	var held []io.Closer
	defer func() {
		for _, h := range held {
			h.Close()
		}
	}()
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("node%d", i+1)
		ports, files := bindLoopback(t)
		for _, f := range files {
			held = append(held, f)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		mp := l.Addr().(*net.TCPAddr).Port
		held = append(held, l)
		metricsPorts = append(metricsPorts, mp)
		fmt.Fprintf(&b, "[[node]]\nid = %q\nhost = \"127.0.0.1\"\nssh_port = %d\npeer_port = %d\nheartbeat_port = %d\nelection_port = %d\nmetrics_port = %d\nring = %d\n",
			id, ports[0], ports[1], ports[2], ports[3], mp, i)
		c.nodes[id] = &proc{id: id, host: "127.0.0.1", ports: ports}
		c.ids = append(c.ids, id)
	}
	cfg = filepath.Join(dir, "cluster.toml")
	os.WriteFile(cfg, []byte(b.String()), 0o600)
	return c, cfg, filepath.Join(dir, "logs"), home, admin, metricsPorts
}

// alive reports whether process pid exists (and is not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(after, "Z")
}

// TestUpRestartsAKilledNodeAndTheClusterServesThroughout is the README's
// demo under make run: kill -9 a node (the leader) while posts go on
// through the others; up says so, restarts it, says when the cluster is
// healthy again, and no post fails.
func TestUpRestartsAKilledNodeAndTheClusterServesThroughout(t *testing.T) {
	c, cfg, logs, home, _, mports := upCluster(t)
	u := startUp(t, cfg, logs, home)
	u.waitOutput(t, "syncnet up: the cluster is healthy")
	u.waitOutput(t, "ssh -p ")
	leader := metricsLeader(t, mports[0])
	var others []string
	for _, id := range c.ids {
		if id != leader {
			others = append(others, id)
		}
	}
	stop := make(chan struct{})
	type result struct {
		n    int
		errs []string
	}
	res := make(chan result)
	go func() {
		var r result
		for i := 0; ; i++ {
			select {
			case <-stop:
				res <- r
				return
			default:
			}
			id := others[i%2]
			if _, err := c.post(id, "alice", "general", fmt.Sprintf("during-%d", i), fmt.Sprintf("up-during-%d", i)); err != nil {
				r.errs = append(r.errs, fmt.Sprintf("post %d via %s: %v", i, id, err))
			}
			r.n++
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	old := childPID(t, cfg, leader)
	t.Logf("kill -9 %s (the leader, pid %d)", leader, old)
	syscall.Kill(old, syscall.SIGKILL)
	u.waitOutput(t, "syncnet up: "+leader+" exited (signal: killed); restarting in 1s")
	u.waitOutput(t, "syncnet up: cluster HEALTHY again")
	time.Sleep(300 * time.Millisecond)
	close(stop)
	r := <-res
	if len(r.errs) > 0 {
		t.Errorf("%d of %d posts failed while %s was killed and restarted:\n%s", len(r.errs), r.n, leader, strings.Join(r.errs, "\n"))
	}
	if r.n < 10 {
		t.Errorf("only %d posts were made", r.n)
	}
	if now := childPID(t, cfg, leader); now == old || !alive(now) {
		t.Errorf("%s was not restarted: pid %d, was %d", leader, now, old)
	}
	// The restarted node serves, with every post.
	deadline := time.Now().Add(20 * time.Second)
	for {
		msgs, err := c.history(leader, "general")
		if err == nil && len(msgs) == r.n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("history on the restarted %s: %d messages (%v), want %d", leader, len(msgs), err, r.n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Contains(u.output(), "unexpected") {
		t.Errorf("up called something unexpected:\n%s", u.output())
	}
}

// TestUpLeavesNoNodeBehind: when the terminal goes away (SIGHUP) up stops
// every node and exits 0; when up itself is killed (SIGKILL, no chance to
// clean up), the kernel stops its nodes (Pdeathsig). Either way no node
// outlives it, and a clean stop is not reported as a death.
func TestUpLeavesNoNodeBehind(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			c, cfg, logs, home, _, _ := upCluster(t)
			u := startUp(t, cfg, logs, home)
			u.waitOutput(t, "syncnet up: the cluster is healthy")
			var pids []int
			for _, id := range c.ids {
				pids = append(pids, childPID(t, cfg, id))
			}
			u.cmd.Process.Signal(sig)
			err := u.wait(t)
			if sig == syscall.SIGHUP {
				if err != nil {
					t.Fatalf("up exited with %v after SIGHUP:\n%s", err, u.output())
				}
				for _, want := range []string{"stopping all nodes (hangup)", "all nodes stopped"} {
					if !strings.Contains(u.output(), want) {
						t.Errorf("output lacks %q:\n%s", want, u.output())
					}
				}
				if strings.Contains(u.output(), "restarting") {
					t.Errorf("a node stopped by up was restarted or called dead:\n%s", u.output())
				}
			}
			deadline := time.Now().Add(20 * time.Second)
			for i, pid := range pids {
				for alive(pid) {
					if time.Now().After(deadline) {
						syscall.Kill(pid, syscall.SIGKILL)
						t.Fatalf("%s (pid %d) outlived up after %s", c.ids[i], pid, sig)
					}
					time.Sleep(20 * time.Millisecond)
				}
				log, _ := os.ReadFile(filepath.Join(logs, c.ids[i]+".log"))
				if !strings.Contains(string(log), "node stopped") {
					t.Errorf("%s.log (%d bytes) lacks a clean stop after up got %s:\n%s", c.ids[i], len(log), sig, log)
				}
			}
		})
	}
}

// TestNodeKeepsServingWhenItsStdoutIsGone: the reader of a node's stdout and
// stderr goes away (the terminal closed, `make run | tee` interrupted); the
// node neither dies of SIGPIPE nor stops logging: its --log-file goes on,
// and it keeps serving.
func TestNodeKeepsServingWhenItsStdoutIsGone(t *testing.T) {
	c := newCluster(t, 3, clusterOpts{noLaunch: true})
	for _, id := range c.ids[:2] {
		c.launch(id, c.unlaunched[id])
	}
	id := c.ids[2]
	logFile := filepath.Join(c.dir, "node3-own.log")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath, "node", "--config", c.cfgPath, "--id", id, "--log-file", logFile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.ExtraFiles = c.unlaunched[id]
	cmd.Env = append(os.Environ(), "SYNCNET_LISTEN_FDS=ssh=3,peer=4,heartbeat=5,election=6")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	for _, f := range c.unlaunched[id] {
		f.Close()
	}
	done := make(chan error, 1)
	exited := make(chan struct{})
	go func() { done <- cmd.Wait(); close(exited) }()
	p := c.nodes[id]
	p.mu.Lock()
	p.cmd, p.done, p.logPath = cmd, exited, logFile // the cluster's helpers (and cleanup) know it
	p.mu.Unlock()
	c.waitLeader()
	if _, err := c.post(id, "alice", "general", "before", "pipe-1"); err != nil {
		t.Fatal(err)
	}
	pr.Close() // the terminal is gone
	for i := 0; i < 5; i++ {
		// Each connection logs lines: every one a write to the dead pipe.
		if _, err := c.post(id, "alice", "general", fmt.Sprintf("after-%d", i), fmt.Sprintf("pipe-after-%d", i)); err != nil {
			t.Fatalf("post %d through %s after its stdout closed: %v", i, id, err)
		}
	}
	select {
	case err := <-done:
		done <- err
		t.Fatalf("%s exited after its stdout closed: %v", id, err)
	default:
	}
	msgs, err := c.history(id, "general")
	if err != nil || len(msgs) != 6 {
		t.Fatalf("history through %s: %d messages, %v", id, len(msgs), err)
	}
	log, _ := os.ReadFile(logFile)
	if n := strings.Count(string(log), "ssh connect"); n < 6 {
		t.Errorf("%s logged %d ssh connects to its --log-file, want every one (at least 6):\n%s", id, n, log)
	}
}

// metricsLeader is the leader a node's /status names.
func metricsLeader(t *testing.T, port int) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/status", port))
		if err == nil {
			var st struct {
				Leader string `json:"leader"`
			}
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if err == nil && st.Leader != "" {
				return st.Leader
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader in /status on port %d: %v", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
