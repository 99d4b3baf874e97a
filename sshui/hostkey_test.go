package sshui_test

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	. "github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
	gossh "golang.org/x/crypto/ssh"
)

// TestServerServesTheGivenHostKey: two servers given one host key (the
// cluster's) both present exactly that key, and no other key file is
// needed; the client checks the key during the handshake.
func TestServerServesTheGivenHostKey(t *testing.T) {
	cluster := newSigner(t)
	user := newSigner(t)
	for _, node := range []string{"node1", "node2"} {
		ts := startServer(t, sshuitest.New(node, nil), func(c *Config) {
			c.HostKey, c.HostKeyPath, c.NodeID = cluster, "", node
		})
		var got gossh.PublicKey
		c, err := gossh.Dial("tcp", ts.addr, &gossh.ClientConfig{User: "alice", Auth: []gossh.AuthMethod{gossh.PublicKeys(user)},
			HostKeyCallback: func(_ string, _ net.Addr, k gossh.PublicKey) error {
				got = k
				if !bytes.Equal(k.Marshal(), cluster.PublicKey().Marshal()) {
					return errors.New("not the cluster host key")
				}
				return nil
			}, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("%s: %v (served %s, want %s)", node, err, fp(got), fp(cluster.PublicKey()))
		}
		c.Close()
	}
}

func fp(k gossh.PublicKey) string {
	if k == nil {
		return "nothing"
	}
	return gossh.FingerprintSHA256(k)
}

// TestServerNeedsAHostKey: with neither a key nor a key file, New refuses
// (wish would otherwise write id_ed25519 into the working directory).
func TestServerNeedsAHostKey(t *testing.T) {
	_, err := New(Config{}, sshuitest.New("node1", nil))
	if err == nil {
		t.Fatal("New without a host key succeeded")
	}
}
