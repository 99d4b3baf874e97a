package e2e

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// newKey makes an ed25519 key and returns its signer and authorized_keys line.
func newKey(t testing.TB) (ssh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
}

// writeKeyFile makes an ed25519 key in OpenSSH format at path (for -i) and
// returns its signer.
func writeKeyFile(t testing.TB, path string) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// userKey is chat user's key, made on first use.
func (c *cluster) userKey(user string) ssh.Signer {
	c.keysMu.Lock()
	defer c.keysMu.Unlock()
	if s, ok := c.keys[user]; ok {
		return s
	}
	s, _ := newKey(c.t)
	c.keys[user] = s
	return s
}

// cmdError is a command that ran and exited non-zero.
type cmdError struct {
	node, cmd string
	code      int
	stderr    string
}

func (e *cmdError) Error() string {
	return fmt.Sprintf("%s: %q exited %d: %s", e.node, e.cmd, e.code, strings.TrimSpace(e.stderr))
}

// run executes one SSH exec command on node id as user, on a fresh
// connection that is abandoned after timeout (a stopped node never answers).
func (c *cluster) run(id, user string, key ssh.Signer, timeout time.Duration, command string) (string, error) {
	addr := c.nodes[id].sshAddr()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", fmt.Errorf("%s: dial: %w", id, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // host keys are not under test here
	})
	if err != nil {
		return "", fmt.Errorf("%s: ssh: %w", id, err)
	}
	client := ssh.NewClient(cc, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return "", fmt.Errorf("%s: session: %w", id, err)
	}
	defer sess.Close()
	var out, errOut bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errOut
	if err := sess.Run(command); err != nil {
		var ee *ssh.ExitError
		if errors.As(err, &ee) {
			return out.String(), &cmdError{node: id, cmd: command, code: ee.ExitStatus(), stderr: errOut.String() + out.String()}
		}
		return out.String(), fmt.Errorf("%s: %q: %w", id, command, err)
	}
	return out.String(), nil
}

// postTimeout bounds one post: the server's post_timeout plus slack.
const postTimeout = 8 * time.Second

// post sends text to room through node id as user with a client message id
// and returns the committed index.
func (c *cluster) post(id, user, room, text, clientID string) (uint64, error) {
	out, err := c.run(id, user, c.userKey(user), postTimeout, fmt.Sprintf("post --id %s %s %s", clientID, room, text))
	if err != nil {
		return 0, err
	}
	idx, err := strconv.ParseUint(strings.TrimSpace(out), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: post printed %q, not an index", id, out)
	}
	return idx, nil
}

// message is one line of history --json.
type message struct {
	Index   uint64 `json:"index"`
	ID      string `json:"id"`
	Room    string `json:"room"`
	From    string `json:"from"`
	Text    string `json:"text"`
	Lamport uint64 `json:"lamport"`
	Time    string `json:"time"`
}

// maxHistory is history's largest --limit; the workloads keep rooms below it.
const maxHistory = 10000

// history reads room's committed messages from node id.
func (c *cluster) history(id, room string) ([]message, error) {
	out, err := c.run(id, "reader", c.userKey("reader"), 10*time.Second,
		fmt.Sprintf("history %s --json --limit %d", room, maxHistory))
	if err != nil && strings.Contains(err.Error(), "exited 1: history: no room") {
		return nil, nil // nothing was ever committed to it (an unknown room is an error)
	}
	if err != nil {
		return nil, err
	}
	msgs, err := parseMessages(id, out)
	if err != nil {
		return nil, err
	}
	if len(msgs) >= maxHistory {
		return nil, fmt.Errorf("%s: room %s reached history's limit of %d lines; the check would be partial", id, room, maxHistory)
	}
	return msgs, nil
}

// parseMessages reads the JSON lines of history --json from node id.
func parseMessages(id, out string) ([]message, error) {
	var msgs []message
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("%s: history line %q: %w", id, sc.Text(), err)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// status is status --json.
type status struct {
	Node    string `json:"node"`
	Term    uint64 `json:"term"`
	Leader  string `json:"leader"`
	Healthy bool   `json:"healthy"`
	Members []struct {
		ID          string `json:"id"`
		Online      bool   `json:"online"`
		Leader      bool   `json:"leader"`
		LeaderID    string `json:"leader_id"`
		Term        uint64 `json:"term"`
		Messages    uint64 `json:"messages"`
		CommitIndex uint64 `json:"commit_index"`
	} `json:"members"`
}

func (c *cluster) status(id string) (status, error) {
	return c.statusWithin(id, 3*time.Second)
}

func (c *cluster) statusWithin(id string, timeout time.Duration) (status, error) {
	var st status
	out, err := c.run(id, "admin", c.admin, timeout, "status --json")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("%s: status --json: %w: %q", id, err, out)
	}
	return st, nil
}
