package serve

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node"
	"github.com/syncnet/syncnet/node/config"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// testCluster is n nodes of one cluster run in this process by Run, each on
// sockets bound to 127.0.0.1:0.
type testCluster struct {
	dir     string
	cfg     *config.Config
	ssh     []net.Listener
	ls      []*node.Listeners
	toml    string
	running []chan error
}

func portOf(a net.Addr) int {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.Port
	case *net.UDPAddr:
		return a.Port
	}
	return 0
}

// newTestCluster binds the sockets of n nodes and writes their config;
// extra is TOML added after [cluster] (a table of its own).
func newTestCluster(t *testing.T, n int, extra string) *testCluster {
	t.Helper()
	lo := net.IPv4(127, 0, 0, 1)
	tc := &testCluster{dir: t.TempDir()}
	var b strings.Builder
	fmt.Fprintf(&b, "[cluster]\ndata_dir = \"data\"\nsecret = \"test-secret-0123456789\"\n%s\n", extra)
	b.WriteString("[timing]\nheartbeat_interval = \"50ms\"\nfailure_timeout = \"250ms\"\nelection_timeout = \"150ms\"\npost_timeout = \"10s\"\n")
	for i := 0; i < n; i++ {
		sshL, err := net.ListenTCP("tcp", &net.TCPAddr{IP: lo})
		if err != nil {
			t.Fatal(err)
		}
		ls := &node.Listeners{}
		if ls.Peer, err = net.ListenTCP("tcp", &net.TCPAddr{IP: lo}); err != nil {
			t.Fatal(err)
		}
		if ls.Heartbeat, err = net.ListenUDP("udp", &net.UDPAddr{IP: lo}); err != nil {
			t.Fatal(err)
		}
		if ls.Election, err = net.ListenUDP("udp", &net.UDPAddr{IP: lo}); err != nil {
			t.Fatal(err)
		}
		tc.ssh, tc.ls = append(tc.ssh, sshL), append(tc.ls, ls)
		fmt.Fprintf(&b, "[[node]]\nid = \"n%d\"\nhost = \"127.0.0.1\"\nssh_port = %d\npeer_port = %d\nheartbeat_port = %d\nelection_port = %d\nring = %d\n",
			i+1, portOf(sshL.Addr()), portOf(ls.Peer.Addr()), portOf(ls.Heartbeat.LocalAddr()), portOf(ls.Election.LocalAddr()), i)
	}
	tc.toml = b.String()
	path := filepath.Join(tc.dir, "cluster.toml")
	if err := os.WriteFile(path, []byte(tc.toml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tc.cfg = cfg
	return tc
}

// start runs every node until the test ends.
func (tc *testCluster) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	for i := range tc.ssh {
		done := make(chan error, 1)
		tc.running = append(tc.running, done)
		id := fmt.Sprintf("n%d", i+1)
		log := slog.New(slog.NewTextHandler(tlogWriter{t}, nil)).With("node", id)
		go func() {
			done <- Run(ctx, Options{Node: node.Options{Config: tc.cfg, ID: id, Logger: log, Listeners: tc.ls[i]}, SSH: tc.ssh[i]})
		}()
	}
	t.Cleanup(func() {
		cancel()
		for _, d := range tc.running {
			select {
			case <-d:
			case <-time.After(15 * time.Second):
				t.Error("a node did not stop within 15 s")
			}
		}
	})
}

func (tc *testCluster) addr(i int) string { return tc.ssh[i].Addr().String() }

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// writeKey writes an ed25519 private key in OpenSSH format (as ssh-keygen
// does) with mode perm, and returns its signer.
func writeKey(t *testing.T, path string, perm os.FileMode) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := gossh.MarshalPrivateKey(priv, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // umask
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// documentedLine is the known_hosts line README documents for the local
// cluster: every node's [host]:port, then the cluster host key.
func documentedLine(tc *testCluster, key gossh.PublicKey) string {
	var hosts []string
	for i := range tc.ssh {
		_, port, _ := net.SplitHostPort(tc.addr(i))
		hosts = append(hosts, "[localhost]:"+port, "[127.0.0.1]:"+port)
	}
	return strings.Join(hosts, ",") + " " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(key)))
}

// dialUntil retries a dial while the cluster starts (SSH serves once the
// node has caught up); a host key error is final.
func dialUntil(t *testing.T, addr string, cfg *gossh.ClientConfig) error {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := gossh.Dial("tcp", addr, cfg)
		if err == nil {
			c.Close()
			return nil
		}
		if strings.Contains(err.Error(), "knownhosts") || strings.Contains(err.Error(), "host key") ||
			time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTwoNodesOneHostIdentity: a client that trusts only the documented
// known_hosts line (the cluster host key at its documented place,
// <data_dir>/ssh_host_ed25519_key) connects to two different nodes of one
// cluster with strict host key checking. Before the cluster host key, each
// node served its own key from <data_dir>/<id>/ and a user whose node died
// met a host key prompt on the next one.
func TestTwoNodesOneHostIdentity(t *testing.T) {
	tc := newTestCluster(t, 2, "")
	hostKey := writeKey(t, filepath.Join(tc.cfg.DataDir(), "ssh_host_ed25519_key"), 0o600)
	line := documentedLine(tc, hostKey.PublicKey())
	kh := filepath.Join(tc.dir, "known_hosts")
	if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tc.start(t)
	cb, err := knownhosts.New(kh)
	if err != nil {
		t.Fatal(err)
	}
	user := writeKey(t, filepath.Join(tc.dir, "id_ed25519"), 0o600)
	cfg := &gossh.ClientConfig{User: "alice", Auth: []gossh.AuthMethod{gossh.PublicKeys(user)},
		HostKeyCallback: cb, Timeout: 5 * time.Second}
	for i := range tc.ssh {
		if err := dialUntil(t, tc.addr(i), cfg); err != nil {
			t.Errorf("node n%d with known_hosts holding only %q: %v", i+1, line, err)
		}
	}

	// The check is real: a line with another key is refused.
	other := writeKey(t, filepath.Join(tc.dir, "other"), 0o600)
	bad := filepath.Join(tc.dir, "known_hosts_other")
	os.WriteFile(bad, []byte(documentedLine(tc, other.PublicKey())+"\n"), 0o600)
	badCB, _ := knownhosts.New(bad)
	cfg.HostKeyCallback = badCB
	if err := dialUntil(t, tc.addr(0), cfg); err == nil {
		t.Error("a known_hosts line with another key was accepted")
	}

	t.Run("OpenSSH", func(t *testing.T) {
		sshBin, err := exec.LookPath("ssh")
		if err != nil {
			t.Skip("no OpenSSH client (ssh) on PATH: not tested with OpenSSH")
		}
		// node1 as 127.0.0.1, node2 as localhost: both names are in the line.
		for i, host := range []string{"127.0.0.1", "localhost"} {
			_, port, _ := net.SplitHostPort(tc.addr(i))
			args := []string{"-F", "/dev/null", "-p", port, "-i", filepath.Join(tc.dir, "id_ed25519"),
				"-o", "UserKnownHostsFile=" + kh, "-o", "GlobalKnownHostsFile=/dev/null",
				"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
				"-o", "IdentityAgent=none", "-o", "ConnectTimeout=5", "alice@" + host, "rooms"}
			var out []byte
			deadline := time.Now().Add(20 * time.Second)
			for {
				out, err = exec.Command(sshBin, args...).CombinedOutput()
				if err == nil || strings.Contains(string(out), "Host key verification failed") || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				t.Errorf("ssh %s to n%d: %v\n%s", strings.Join(args, " "), i+1, err, out)
			}
		}
	})
}
