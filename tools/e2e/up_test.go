package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
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

func startUp(t *testing.T, cfg, logs, home string) *upRun {
	t.Helper()
	u := &upRun{done: make(chan error, 1)}
	u.cmd = exec.Command(binPath, "up", "--config", cfg, "--logs", logs)
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
		u.cmd.Process.Kill()
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
// kept, and exits non-zero when a node dies on its own.
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

	t.Log("second run: history is back; a node killed on its own stops the rest")
	u = startUp(t, cfg, logs, home)
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
	if !strings.Contains(u.output(), "node node2 exited unexpectedly") {
		t.Fatalf("up did not say which node died:\n%s", u.output())
	}
}
