package serve

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/syncnet/syncnet/node"
	"github.com/syncnet/syncnet/node/config"
)

// A node started by hand on loopback with no admin keys adopts the public
// keys in ~/.ssh/*.pub of its user, as `syncnet up` does (issue 14: only up
// did); a file that holds no key is skipped. Never with admin keys
// configured, never off loopback, never with NoAdopt; --extra-admin-keys
// (what up passes) replaces the search.
func TestNodeByHandAdoptsLocalKeys(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519.pub"), []byte(keyA+"\n"), 0o600)
	os.WriteFile(filepath.Join(home, ".ssh", "notes.pub"), []byte("not a key\n"), 0o600)

	c := parseCluster(t, t.TempDir(), "", "127.0.0.1:7101", "127.0.0.1:7102")
	a, err := LocalAdminKeys(c)
	if err != nil || a.Count != 1 || a.Keys[0] != keyA || len(a.From) != 1 || filepath.Base(a.From[0]) != "id_ed25519.pub" {
		t.Fatalf("loopback, no admin keys: %+v %v", a, err)
	}
	o := Options{Node: node.Options{Config: c, ID: "n1"}}
	if keys, err := adminKeys(o, c); err != nil || !slices.Equal(keys, []string{keyA}) {
		t.Errorf("a node by hand serves admin keys %v (%v), want the adopted one", keys, err)
	}
	o.NoAdopt = true
	if keys, _ := adminKeys(o, c); len(keys) != 0 {
		t.Errorf("NoAdopt: admin keys %v", keys)
	}
	o.NoAdopt = false
	extra := filepath.Join(t.TempDir(), "extra")
	os.WriteFile(extra, []byte("# up's file\n"+keyB+"\n"), 0o600)
	o.ExtraAdminKeysFile = extra
	if keys, _ := adminKeys(o, c); !slices.Equal(keys, []string{keyB}) {
		t.Errorf("with --extra-admin-keys: admin keys %v, want only the file's", keys)
	}

	withAdmin := parseCluster(t, t.TempDir(), "[auth]\nadmin_keys = [\""+keyB+"\"]", "127.0.0.1:7101", "127.0.0.1:7102")
	if a, _ := LocalAdminKeys(withAdmin); a.Count != 0 || a.Skipped != "admin keys configured" {
		t.Errorf("admin keys configured: %+v", a)
	}
	remote := parseCluster(t, t.TempDir(), "[tls]\ninsecure = true", "10.0.0.1:7101", "10.0.0.2:7102")
	if a, _ := LocalAdminKeys(remote); a.Count != 0 || a.Skipped != "not every node is on loopback" {
		t.Errorf("nodes off loopback: %+v", a)
	}
}

// metrics_port 0 (or absent) serves no metrics listener; a port binds
// metrics.host on it (loopback by default).
func TestMetricsListenerOffWhenZero(t *testing.T) {
	c := parseCluster(t, t.TempDir(), "", "127.0.0.1:7101")
	l, err := metricsListener(Options{Node: node.Options{Config: c, ID: "n1"}})
	if err != nil || l != nil {
		t.Fatalf("no metrics_port: listener %v, err %v", l, err)
	}
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := free.Addr().(*net.TCPAddr).Port
	free.Close()
	dir := t.TempDir()
	text := "[cluster]\ndata_dir = \"data\"\nsecret = \"test-secret-0123456789\"\n[[node]]\nid = \"n1\"\nhost = \"127.0.0.1\"\nssh_port = 7101\npeer_port = 7102\n" +
		"heartbeat_port = 7103\nelection_port = 7104\nmetrics_port = " + strconv.Itoa(port) + "\nring = 0\n"
	os.WriteFile(filepath.Join(dir, "c.toml"), []byte(text), 0o600)
	c, err = config.Load(filepath.Join(dir, "c.toml"))
	if err != nil {
		t.Fatal(err)
	}
	l, err = metricsListener(Options{Node: node.Options{Config: c, ID: "n1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := l.Addr().String(); got != net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) {
		t.Errorf("metrics listener on %s, want loopback port %d", got, port)
	}
}
