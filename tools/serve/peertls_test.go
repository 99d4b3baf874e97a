package serve

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node"
	"github.com/syncnet/syncnet/node/certs"
	"github.com/syncnet/syncnet/node/config"
)

func peerTLSOf(t *testing.T, c *config.Config) (*certs.Store, string, error) {
	t.Helper()
	var log bytes.Buffer
	st, err := loadPeerTLS(Options{Node: node.Options{Config: c, ID: "n1"}}, slog.New(slog.NewTextHandler(&log, nil)))
	return st, log.String(), err
}

// Nodes on several hosts create nothing: without their files they refuse
// to start, naming the file and the commands that make it; with them
// they load; tls.insecure runs without, loudly.
func TestPeerTLSAcrossHosts(t *testing.T) {
	dir := t.TempDir()
	c := parseCluster(t, dir, "", "10.0.0.1:22", "10.0.0.2:22")
	_, _, err := peerTLSOf(t, c)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "data", "certs", "ca.crt")) || !strings.Contains(err.Error(), "syncnet certs init") {
		t.Fatalf("no TLS files on a LAN: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "certs", "ca.key")); err == nil {
		t.Fatal("a node on several hosts created a CA")
	}
	ca, err := certs.InitDir(c.TLSDir(), "t", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ca.IssueFiles(c.TLSDir(), "n1", time.Now(), time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	st, log, err := peerTLSOf(t, c)
	if err != nil || st == nil || !strings.Contains(log, "expires soon") {
		t.Fatalf("with its files: %v (log %s)", err, log)
	}
	os.Chmod(p.Key, 0o640)
	if _, _, err := peerTLSOf(t, c); err == nil || !strings.Contains(err.Error(), p.Key+" is accessible by group or others") {
		t.Fatalf("a key readable by its group: %v", err)
	}

	ins := parseCluster(t, t.TempDir(), "[tls]\ninsecure = true\n", "10.0.0.1:22", "10.0.0.2:22")
	st, log, err = peerTLSOf(t, ins)
	if err != nil || st != nil || !strings.Contains(log, "INSECURE") {
		t.Fatalf("insecure: %v %v %s", st, err, log)
	}
}

// The example secret in a secret_file is refused off loopback too.
func TestPeerTLSExampleSecretFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "secret"), []byte(config.ExampleSecret+"\n"), 0o600)
	text := "[cluster]\ndata_dir = \"data\"\nsecret_file = \"secret\"\n" +
		"[[node]]\nid = \"n1\"\nhost = \"10.0.0.1\"\nssh_port = 1\npeer_port = 2\nheartbeat_port = 3\nelection_port = 4\nring = 0\n"
	c, err := config.Parse(filepath.Join(dir, "c.toml"), text)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := peerTLSOf(t, c); err == nil || !strings.Contains(err.Error(), "example secret") {
		t.Fatalf("example secret file on a LAN: %v", err)
	}
}

// A cluster on one machine makes what it needs on first start.
func TestPeerTLSLoopbackCreates(t *testing.T) {
	dir := t.TempDir()
	c := parseCluster(t, dir, "", "127.0.0.1:22", "127.0.0.1:23")
	st, log, err := peerTLSOf(t, c)
	if err != nil || st == nil || !strings.Contains(log, "created peer TLS credentials") {
		t.Fatalf("%v %s", err, log)
	}
	if _, err := certs.Load(certs.DirPaths(c.TLSDir(), "n2"), "n2", time.Now()); err != nil {
		t.Fatalf("n2's credentials: %v", err)
	}
}
