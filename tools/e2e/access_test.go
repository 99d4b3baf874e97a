package e2e

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// refusedOn runs command as user on node id and fails unless it exits 1
// saying want.
func (c *cluster) refusedOn(id, user string, key ssh.Signer, command, want string) {
	c.t.Helper()
	_, err := c.run(id, user, key, postTimeout, command)
	var ce *cmdError
	if !errors.As(err, &ce) || ce.code != 1 || !strings.Contains(ce.stderr, want) {
		c.t.Fatalf("%s on %s as %s: %v; want exit 1 saying %q", command, id, user, err, want)
	}
}

// mustOn runs command as user on node id and fails unless it exits 0.
func (c *cluster) mustOn(id, user string, key ssh.Signer, command string) string {
	c.t.Helper()
	out, err := c.run(id, user, key, postTimeout, command)
	if err != nil {
		c.t.Fatalf("%s on %s as %s: %v", command, id, user, err)
	}
	return out
}

// following runs `tail --join ROOM` as user on node id until the returned
// func is called: the user is a member of the room from then on.
func (c *cluster) following(id, user, room string) (stop func()) {
	c.t.Helper()
	conn, err := ssh.Dial("tcp", c.nodes[id].sshAddr(), &ssh.ClientConfig{User: user,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(c.userKey(user))}, HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
	if err != nil {
		c.t.Fatal(err)
	}
	sess, err := conn.NewSession()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := sess.Start("tail --join --limit 0 " + room); err != nil {
		c.t.Fatal(err)
	}
	return func() { _ = sess.Close(); _ = conn.Close() }
}

// Private rooms and several keys per person on real nodes over SSH: two
// users on two nodes, the leader killed, the killed node restarted (its
// state rebuilt from its data directory): every node refuses the private
// room to those it does not let in, and a second key logs in as its name.
func TestPrivateRoomsAndKeys(t *testing.T) {
	c := start(t, 3)
	alice, bob := c.userKey("alice"), c.userKey("bob")
	n1, n2 := c.ids[0], c.ids[1]
	if _, err := c.post(n1, "alice", "general", "hello", "a0"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.post(n2, "bob", "general", "hi", "b0"); err != nil {
		t.Fatal(err)
	}
	stop := c.following(n1, "alice", "ops")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if out, _ := c.run(n1, "alice", alice, postTimeout, "who ops"); strings.Contains(out, "alice") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("alice never joined #ops")
		}
	}
	stop()
	c.mustOn(n1, "alice", alice, "room ops private")
	if _, err := c.post(n1, "alice", "ops", "the-plan", "a1"); err != nil {
		t.Fatal(err)
	}
	denied := "permission denied: #ops is private"
	for _, cmd := range []string{"history ops", "tail ops", "who ops", "tail --join ops"} {
		c.refusedOn(n2, "bob", bob, cmd, denied)
	}

	old := c.waitLeader()
	c.kill9(old)
	lead := c.waitLeader()
	live := c.liveIDs()
	other := live[0]
	if other == lead {
		other = live[1]
	}
	c.refusedOn(other, "bob", bob, "history ops", denied)
	c.mustOn(lead, "alice", alice, "room ops invite bob")
	if out := c.mustOn(other, "bob", bob, "history ops"); !strings.Contains(out, "the-plan") {
		t.Fatalf("bob invited reads #ops on %s:\n%s", other, out)
	}
	c.mustOn(other, "alice", alice, "room ops remove bob")
	for _, id := range live {
		c.refusedOn(id, "bob", bob, "history ops", denied)
	}

	// A second key for alice, added through one node, logs in through another.
	laptop, line := newKey(t)
	c.mustOn(other, "alice", alice, "keys add "+line+" laptop")
	c.mustOn(lead, "alice", laptop, "post general from-the-laptop")
	c.refusedOn(lead, "bob", bob, "keys add "+line, "belongs to another name")

	// The killed node comes back with the same state.
	c.restart(old)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, err := c.run(old, "alice", laptop, postTimeout, "history ops")
		if err == nil && strings.Contains(out, "the-plan") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted %s never served alice's second key and #ops: %v", old, err)
		}
	}
	c.refusedOn(old, "bob", bob, "history ops", denied)
	out := c.mustOn(old, "alice", laptop, "room ops --json")
	if !strings.Contains(out, `"private":true`) || strings.Contains(out, "bob") {
		t.Fatalf("room ops on the restarted %s: %s", old, out)
	}
	fmt.Fprintln(testLog{t}, "private room and keys held on", old, "after kill -9 and restart")
}

// testLog writes lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
