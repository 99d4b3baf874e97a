package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node"
	"github.com/syncnet/syncnet/node/config"
	"github.com/syncnet/syncnet/sshui/sshuitest"
	gossh "golang.org/x/crypto/ssh"
)

func newSigner(t testing.TB) gossh.Signer { return sshuitest.NewSigner(t) }

// runSSH runs one exec command as user with key and returns its stdout.
func runSSH(addr, user string, key gossh.Signer, cmd string) (string, error) {
	c, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{User: user, Auth: []gossh.AuthMethod{gossh.PublicKeys(key)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
	if err != nil {
		return "", err
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	var out, serr bytes.Buffer
	s.Stdout, s.Stderr = &out, &serr
	if err := s.Run(cmd); err != nil {
		return out.String(), fmt.Errorf("%q: %w (stderr %q)", cmd, err, serr.String())
	}
	return out.String(), nil
}

// TestRunServesAndStops runs a one-node cluster with its SSH server the way
// `syncnet node` does: SSH answers once the node has caught up, the node
// counts the SSH sessions as its clients, the extra admin keys file is read,
// the cluster host key is created in the data directory (the node keeps no
// host key of its own: one identity for the cluster), and a cancelled context stops
// everything with no error and closes the SSH listener.
func TestRunServesAndStops(t *testing.T) {
	lo := net.IPv4(127, 0, 0, 1)
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
	port := func(a net.Addr) int {
		switch a := a.(type) {
		case *net.TCPAddr:
			return a.Port
		case *net.UDPAddr:
			return a.Port
		}
		return 0
	}
	dir := t.TempDir()
	cfg, err := config.Parse("test.toml", fmt.Sprintf(`[cluster]
name = "test"
data_dir = %q
secret = "test-secret-0123456789"
[timing]
heartbeat_interval = "50ms"
failure_timeout = "250ms"
election_timeout = "150ms"
post_timeout = "10s"
[[node]]
id = "n1"
host = "127.0.0.1"
ssh_port = %d
peer_port = %d
heartbeat_port = %d
election_port = %d
ring = 0
`, dir, port(sshL.Addr()), port(ls.Peer.Addr()), port(ls.Heartbeat.LocalAddr()), port(ls.Election.LocalAddr())))
	if err != nil {
		t.Fatal(err)
	}
	admin, other := newSigner(t), newSigner(t)
	keys := filepath.Join(dir, "extra_admin_keys")
	if err := os.WriteFile(keys, append([]byte("# extra\n"), gossh.MarshalAuthorizedKey(admin.PublicKey())...), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Node:               node.Options{Config: cfg, ID: "n1", Logger: slog.New(slog.DiscardHandler), Listeners: ls},
			SSH:                sshL,
			ExtraAdminKeysFile: keys,
		})
	}()

	addr := sshL.Addr().String()
	var st struct {
		Leader  string `json:"leader"`
		Members []struct {
			ID      string `json:"id"`
			Clients int    `json:"clients"`
		} `json:"members"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := runSSH(addr, "admin", admin, "status --json")
		if err == nil {
			if err = json.Unmarshal([]byte(out), &st); err == nil && st.Leader == "n1" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader over SSH: %v (last status %+v)", err, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(st.Members) != 1 || st.Members[0].Clients != 1 {
		t.Errorf("status during one SSH session: %+v, want n1 with 1 client", st.Members)
	}
	if _, err := runSSH(addr, "admin", other, "status"); err == nil {
		t.Error("a key that is not an admin key logged in as admin")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not stop within 15 s of cancel")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("the SSH listener still accepts after Run returned")
	}
	if fi, err := os.Stat(filepath.Join(dir, "ssh_host_ed25519_key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("cluster host key not created in the data directory with mode 0600: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.NodeDir("n1"), "ssh_host_ed25519_key")); err == nil {
		t.Error("the node made a host key of its own besides the cluster's")
	}
}
