package serve

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node"
	"github.com/syncnet/syncnet/node/config"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// parseCluster writes a config in dir with one node per host:port (ids
// n1, n2, …) and extra TOML after [cluster], and loads it.
func parseCluster(t *testing.T, dir, extra string, hostPorts ...string) *config.Config {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "[cluster]\nname = \"test cluster\"\ndata_dir = \"data\"\nsecret = \"test-secret-0123456789\"\n%s\n", extra)
	for i, hp := range hostPorts {
		host, port, _ := net.SplitHostPort(hp)
		fmt.Fprintf(&b, "[[node]]\nid = \"n%d\"\nhost = %q\nssh_port = %s\npeer_port = %d\nheartbeat_port = %d\nelection_port = %d\nring = %d\n",
			i+1, host, port, 9000+i, 9100+i, 9200+i, i)
	}
	path := filepath.Join(dir, "c.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func samePub(a, b gossh.PublicKey) bool { return bytes.Equal(a.Marshal(), b.Marshal()) }

// TestLoadHostKeyCreatesOneKey: nodes of one machine starting together
// create the missing cluster host key exactly once and all load that one
// key; it is private (0600) and its public half is written beside it.
func TestLoadHostKeyCreatesOneKey(t *testing.T) {
	c := parseCluster(t, t.TempDir(), "", "127.0.0.1:2222", "127.0.0.1:2223")
	const n = 8
	keys := make([]*HostKey, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); keys[i], errs[i] = LoadHostKey(c, true) }()
	}
	wg.Wait()
	created := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if keys[i].Created {
			created++
		}
		if !samePub(keys[i].Signer.PublicKey(), keys[0].Signer.PublicKey()) {
			t.Fatalf("two different cluster host keys: %s and %s", keys[i].Fingerprint(), keys[0].Fingerprint())
		}
	}
	if created != 1 {
		t.Errorf("%d loads say they created the key, want 1", created)
	}
	fi, err := os.Stat(c.HostKeyPath())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %s: %v, mode %v; want 0600", c.HostKeyPath(), err, fi.Mode())
	}
	pub, err := os.ReadFile(c.HostKeyPath() + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if pk, _, _, _, err := gossh.ParseAuthorizedKey(pub); err != nil || !samePub(pk, keys[0].Signer.PublicKey()) {
		t.Errorf(".pub file %q does not hold the key (%v)", pub, err)
	}
	again, err := LoadHostKey(c, true)
	if err != nil || again.Created || !samePub(again.Signer.PublicKey(), keys[0].Signer.PublicKey()) {
		t.Errorf("a later start did not reuse the key: %+v %v", again, err)
	}
	if ents, _ := os.ReadDir(c.DataDir()); len(ents) != 2 {
		t.Errorf("data dir holds %d entries, want the key and its .pub (no temporary files left): %v", len(ents), ents)
	}
}

// TestLoadHostKeyRefusesLoosePermissions: a private key file that group or
// others may access is refused with its mode, the fix, and the line of
// ssh.host_key; so are a passphrase-protected key and a file that is no key.
func TestLoadHostKeyRefusesLoosePermissions(t *testing.T) {
	dir := t.TempDir()
	c := parseCluster(t, dir, "[ssh]\nhost_key = \"keys/host\"", "127.0.0.1:2222")
	path := filepath.Join(dir, "keys", "host")
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		writeKey(t, path, mode)
		_, err := LoadHostKey(c, true)
		want := fmt.Sprintf("c.toml: line 6: ssh.host_key %s is accessible by group or others (mode %04o)", path, mode)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("mode %04o: error %v, want it to contain %q and the chmod", mode, err, want)
		}
	}

	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	blk, err := gossh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path) // WriteFile keeps an existing file's mode
	os.WriteFile(path, pem.EncodeToMemory(blk), 0o600)
	if _, err := LoadHostKey(c, true); err == nil || !strings.Contains(err.Error(), "protected by a passphrase") {
		t.Errorf("passphrase-protected key: error %v", err)
	}
	os.WriteFile(path, []byte("ssh-ed25519 AAAA not a private key\n"), 0o600)
	if _, err := LoadHostKey(c, true); err == nil || !strings.Contains(err.Error(), "is not an SSH private key") {
		t.Errorf("not a key: error %v", err)
	}
}

// TestRunRefusesLooseHostKey: a node whose cluster host key is readable by
// others does not start; it says why before opening its WAL.
func TestRunRefusesLooseHostKey(t *testing.T) {
	tc := newTestCluster(t, 1, "")
	writeKey(t, tc.cfg.HostKeyPath(), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // bounds a regression that serves
	defer cancel()
	err := Run(ctx, Options{Node: node.Options{Config: tc.cfg, ID: "n1", Listeners: tc.ls[0]}, SSH: tc.ssh[0]})
	if err == nil || !strings.Contains(err.Error(), "(mode 0644)") {
		t.Fatalf("Run with a 0644 host key: %v", err)
	}
	if _, err := os.Stat(tc.cfg.WALDir("n1")); err == nil {
		t.Error("the node opened its WAL before refusing the host key")
	}
}

// TestLoadHostKeyOnSeveralHosts: nodes on several hosts never create the
// key (each host would make a different one); the error says how to make it
// once and that it must be copied to every host.
func TestLoadHostKeyOnSeveralHosts(t *testing.T) {
	c := parseCluster(t, t.TempDir(), "", "10.0.0.1:2222", "10.0.0.2:2222")
	_, err := LoadHostKey(c, c.OneMachine())
	if err == nil || !strings.Contains(err.Error(), "syncnet hostkey --config "+c.Path()+" --create") ||
		!strings.Contains(err.Error(), "copy it to every host") {
		t.Fatalf("missing key on several hosts: %v", err)
	}
	if _, err := os.Stat(c.HostKeyPath()); err == nil {
		t.Error("a node on one of several hosts created the cluster host key")
	}
	k, err := LoadHostKey(c, true) // syncnet hostkey --create
	if err != nil || !k.Created {
		t.Fatalf("create on request: %+v %v", k, err)
	}
}

// TestLoadHostKeyAdoptsAFormerNodeKey is the migration of a data directory
// from before the cluster host key: the first node (config order) that has
// a host key of its own gives the cluster its key, so its users see no
// change; the node files stay where they are.
func TestLoadHostKeyAdoptsAFormerNodeKey(t *testing.T) {
	c := parseCluster(t, t.TempDir(), "", "127.0.0.1:2222", "127.0.0.1:2223", "127.0.0.1:2224")
	n2 := writeKey(t, filepath.Join(c.NodeDir("n2"), "ssh_host_ed25519_key"), 0o600)
	writeKey(t, filepath.Join(c.NodeDir("n3"), "ssh_host_ed25519_key"), 0o600)
	k, err := LoadHostKey(c, true)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Created || k.AdoptedFrom != filepath.Join(c.NodeDir("n2"), "ssh_host_ed25519_key") || !samePub(k.Signer.PublicKey(), n2.PublicKey()) {
		t.Errorf("adopted %q (%s), want n2's key %s", k.AdoptedFrom, k.Fingerprint(), gossh.FingerprintSHA256(n2.PublicKey()))
	}
	if _, err := os.Stat(filepath.Join(c.NodeDir("n3"), "ssh_host_ed25519_key")); err != nil {
		t.Errorf("a node's former key was removed: %v", err)
	}
}

// TestKnownHostsLine: one line names every node as clients dial it (a
// loopback node also as localhost; port 22 without brackets), and
// knownhosts accepts the key for each of those names.
func TestKnownHostsLine(t *testing.T) {
	c := parseCluster(t, t.TempDir(), "", "127.0.0.1:2222", "localhost:2223", "10.0.0.5:22", "0.0.0.0:2225")
	key := writeKey(t, filepath.Join(t.TempDir(), "k"), 0o600).PublicKey()
	line := KnownHostsLine(c, key)
	want := "[localhost]:2222,[127.0.0.1]:2222,[localhost]:2223,[127.0.0.1]:2223,10.0.0.5,[localhost]:2225,[127.0.0.1]:2225 " +
		strings.TrimSpace(string(gossh.MarshalAuthorizedKey(key))) + " test-cluster"
	if line != want {
		t.Fatalf("KnownHostsLine:\n got %s\nwant %s", line, want)
	}
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte(line+"\n"), 0o600)
	cb, err := knownhosts.New(kh)
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"localhost:2222", "127.0.0.1:2223", "10.0.0.5:22", "127.0.0.1:2225"} {
		tcp, _ := net.ResolveTCPAddr("tcp", addr)
		if err := cb(addr, tcp, key); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
}
