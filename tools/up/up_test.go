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
