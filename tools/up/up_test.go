package up

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/config"
	"github.com/syncnet/syncnet/tools/serve"
	gossh "golang.org/x/crypto/ssh"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// setup writes a two-node loopback config and a stand-in for the syncnet
// binary that records that it ran and sleeps (up only starts and stops it).
func setup(t *testing.T) (cfgPath, bin, ran string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", filepath.Join(dir, "home")) // no keys to adopt
	cfgPath = filepath.Join(dir, "cluster.toml")
	var b strings.Builder
	b.WriteString("[cluster]\nname = \"local\"\ndata_dir = \"data\"\nsecret = \"test-secret-0123456789\"\n")
	for i := 0; i < 2; i++ {
		fmt.Fprintf(&b, "[[node]]\nid = \"node%d\"\nhost = \"127.0.0.1\"\nssh_port = %d\npeer_port = %d\nheartbeat_port = %d\nelection_port = %d\nring = %d\n",
			i+1, 6422+i, 9600+i, 9620+i, 9630+i, i)
	}
	if err := os.WriteFile(cfgPath, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ran = filepath.Join(dir, "ran")
	bin = filepath.Join(dir, "fake-syncnet")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho \"$@\" >> "+ran+"\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return cfgPath, bin, ran
}

// TestUpCreatesTheHostKeyAndPrintsTheKnownHostsLine: on a fresh machine
// `syncnet up` creates the cluster host key before starting the nodes,
// says so, and prints the one known_hosts line that trusts every node.
func TestUpCreatesTheHostKeyAndPrintsTheKnownHostsLine(t *testing.T) {
	cfgPath, bin, _ := setup(t)
	var out lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done, stopped := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(stopped)
		done <- Run(ctx, Options{ConfigPath: cfgPath, Binary: bin, LogsDir: filepath.Join(t.TempDir(), "logs"),
			LogLevel: "info", Out: &out, StopTimeout: 5 * time.Second})
	}()
	t.Cleanup(func() { cancel(); <-stopped }) // stops the children on failure too
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "known_hosts") {
		if time.Now().After(deadline) {
			t.Fatalf("no known_hosts line; output:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	k, err := serve.LoadHostKey(cfg, false)
	if err != nil {
		t.Fatalf("no cluster host key after up: %v", err)
	}
	for _, want := range []string{
		"created the cluster SSH host key " + cfg.HostKeyPath(),
		"\n  " + serve.KnownHostsLine(cfg, k.Signer.PublicKey()) + "\n",
		"[localhost]:6422,[127.0.0.1]:6422,[localhost]:6423,[127.0.0.1]:6423 ssh-ed25519 ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestUpRefusesALooseHostKey: a cluster host key that others can read stops
// `syncnet up` with the reason before any node is started.
func TestUpRefusesALooseHostKey(t *testing.T) {
	cfgPath, bin, ran := setup(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	blk, _ := gossh.MarshalPrivateKey(priv, "")
	key := filepath.Join(filepath.Dir(cfgPath), "data", "ssh_host_ed25519_key")
	os.MkdirAll(filepath.Dir(key), 0o700)
	if err := os.WriteFile(key, pem.EncodeToMemory(blk), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(key, 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // bounds a regression that starts the nodes
	defer cancel()
	err := Run(ctx, Options{ConfigPath: cfgPath, Binary: bin, LogsDir: filepath.Join(t.TempDir(), "logs"),
		LogLevel: "info", Out: &lockedBuffer{}, StopTimeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "(mode 0644)") || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("up with a 0644 host key: %v", err)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("a node was started despite the refused host key")
	}
}

// flaky writes a stand-in binary that exits with code on its first runs
// (per node id) and then stays up.
func flaky(t *testing.T, dir string, failures, code int) string {
	t.Helper()
	bin := filepath.Join(dir, "flaky-syncnet")
	script := fmt.Sprintf(`#!/bin/sh
id=""
while [ $# -gt 0 ]; do [ "$1" = "--id" ] && id="$2"; shift; done
n=$(cat %[1]s/runs.$id 2>/dev/null || echo 0)
n=$((n+1)); echo $n > %[1]s/runs.$id
if [ $n -le %[2]d ]; then exit %[3]d; fi
exec sleep 30
`, dir, failures, code)
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestUpRestartsANodeThatExits: a node that exits is restarted with a line
// that says how it ended and when it comes back, the wait doubling while it
// keeps failing; the others are left alone.
func TestUpRestartsANodeThatExits(t *testing.T) {
	cfgPath, _, _ := setup(t)
	dir := t.TempDir()
	bin := flaky(t, dir, 2, 3)
	var out lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigPath: cfgPath, Binary: bin, LogsDir: filepath.Join(dir, "logs"),
			Out: &out, StopTimeout: 5 * time.Second, Backoff: 10 * time.Millisecond, HealthTimeout: time.Millisecond})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b1, _ := os.ReadFile(filepath.Join(dir, "runs.node1"))
		b2, _ := os.ReadFile(filepath.Join(dir, "runs.node2"))
		if strings.TrimSpace(string(b1)) == "3" && strings.TrimSpace(string(b2)) == "3" {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("nodes were not restarted twice each; output:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"syncnet up: node1 exited (exit status 3); restarting in 10ms\n",
		"syncnet up: node1 exited (exit status 3); restarting in 20ms\n",
		"syncnet up: node2 exited (exit status 3); restarting in 10ms\n",
		"syncnet up: stopping all nodes (asked to stop)\n",
		"syncnet up: all nodes stopped\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "unexpected") {
		t.Errorf("output:\n%s", out.String())
	}
}

// TestUpNoRestart: with NoRestart a node's exit stops everything; a clean
// exit (status 0) is said as such and is no error, a failure is an error
// naming the node and its log.
func TestUpNoRestart(t *testing.T) {
	for _, code := range []int{0, 2} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			cfgPath, _, _ := setup(t)
			dir := t.TempDir()
			bin := flaky(t, dir, 1, code)
			var out lockedBuffer
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := Run(ctx, Options{ConfigPath: cfgPath, Binary: bin, LogsDir: filepath.Join(dir, "logs"),
				Out: &out, StopTimeout: 5 * time.Second, NoRestart: true, HealthTimeout: time.Millisecond})
			if ctx.Err() != nil {
				t.Fatalf("Run did not return when a node exited; output:\n%s", out.String())
			}
			switch code {
			case 0:
				if err != nil || !strings.Contains(out.String(), "stopped (exit status 0); stopping the others (--no-restart)") {
					t.Errorf("clean exit: err %v; output:\n%s", err, out.String())
				}
			default:
				if err == nil || !strings.Contains(err.Error(), "exited (exit status 2)") || !strings.Contains(err.Error(), ".log") {
					t.Errorf("failed node: err %v; output:\n%s", err, out.String())
				}
			}
			if strings.Contains(out.String(), "restarting") {
				t.Errorf("NoRestart restarted a node:\n%s", out.String())
			}
		})
	}
}

// TestUpDoesNotRestartARemovedNode: a node that exits with the status of a
// node removed from the cluster (serve.ExitRemoved) is not started again,
// and up says why; the others run on.
func TestUpDoesNotRestartARemovedNode(t *testing.T) {
	cfgPath, _, _ := setup(t)
	dir := t.TempDir()
	bin := flaky(t, dir, 1, serve.ExitRemoved)
	var out lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigPath: cfgPath, Binary: bin, LogsDir: filepath.Join(dir, "logs"),
			Out: &out, StopTimeout: 5 * time.Second, Backoff: 10 * time.Millisecond, HealthTimeout: time.Millisecond})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "node2 was removed from the cluster") {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("no removal line; output:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // twenty backoffs: time enough for a wrong restart
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	for _, id := range []string{"node1", "node2"} {
		if b, _ := os.ReadFile(filepath.Join(dir, "runs."+id)); strings.TrimSpace(string(b)) != "1" {
			t.Errorf("%s started %s times, want once:\n%s", id, strings.TrimSpace(string(b)), out.String())
		}
	}
	if strings.Contains(out.String(), "; restarting in") {
		t.Errorf("a removed node was restarted:\n%s", out.String())
	}
}

// TestUpNamesANodeSlowToStopAndKillsItWhenAskedAgain: a node still
// stopping after StopNotice is named with how to cut it short, and a second
// request (Hurry) kills it instead of waiting out the stop timeout.
func TestUpNamesANodeSlowToStopAndKillsItWhenAskedAgain(t *testing.T) {
	cfgPath, _, _ := setup(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "slow-syncnet")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\ntrap '' TERM\necho up > "+dir+"/started.$5\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	hurry := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigPath: cfgPath, Binary: bin, LogsDir: filepath.Join(dir, "logs"), Out: &out,
			StopTimeout: time.Hour, StopNotice: 10 * time.Millisecond, Hurry: hurry, HealthTimeout: time.Millisecond})
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s; output:\n%s", what, out.String())
			}
		}
	}
	waitFor("nodes did not start", func() bool {
		_, e1 := os.Stat(filepath.Join(dir, "started.node1"))
		_, e2 := os.Stat(filepath.Join(dir, "started.node2"))
		return e1 == nil && e2 == nil
	})
	cancel()
	waitFor("no line named the nodes still stopping", func() bool {
		return strings.Contains(out.String(), "waiting for node1 to stop") && strings.Contains(out.String(), "waiting for node2 to stop")
	})
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) while its nodes ignored SIGTERM and the stop timeout is an hour", err)
	default:
	}
	close(hurry)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("Run did not return after Hurry; output:\n%s", out.String())
	}
	for _, want := range []string{"Ctrl-C again kills it now", "killing node1 (asked again to stop)", "killing node2 (asked again to stop)", "all nodes stopped"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
