package chat

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/api"
	"golang.org/x/crypto/ssh"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The command line end to end (in process): --nodes, -i, --known-hosts,
// --batch; node1 dies between two groups of stdin lines.
func TestMainBatchFailover(t *testing.T) {
	f, nodes := startCluster(t, 2)
	dir := t.TempDir()
	t.Setenv("HOME", dir) // no ~/.ssh keys, no agent: only -i
	t.Setenv("SSH_AUTH_SOCK", "")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "key")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer inR.Close()
	var out, errOut syncBuffer
	args := []string{"--nodes", nodes[0].addr + "," + nodes[1].addr, "-i", keyPath, "--user", "alice",
		"--known-hosts", filepath.Join(dir, "kh"), "--batch", "--trace", "--linger", "50ms"}
	done := make(chan error, 1)
	go func() { done <- Main(context.Background(), args, Stdio{In: inR, Out: &out, Err: &errOut}) }()

	fmt.Fprintln(inW, "one")
	fmt.Fprintln(inW, "two \x1b[31mred\u202e")
	waitUntil(t, 10*time.Second, "two lines echoed", func() bool { return strings.Count(out.String(), "\n") == 2 })
	nodes[0].setUp(false)
	waitUntil(t, 10*time.Second, "disconnect line", func() bool { return strings.Contains(errOut.String(), "disconnected node1") })
	fmt.Fprintln(inW, "three")
	f.Append(api.Message{Room: "general", From: "mallory", Text: "raw \x1b[2J\u009b\u202e"}) // not cleaned by a post
	_ = inW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Main: %v\nstderr:\n%s", err, errOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("Main did not exit after stdin closed; stderr:\n%s", errOut.String())
	}
	for _, want := range []string{"connected node1", "disconnected node1", "reconnected node2", "first-message node2", "acked"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	if strings.ContainsAny(out.String(), "\x1b\u202e") {
		t.Errorf("stdout carries raw control runes: %q", out.String())
	}
	var got []batchDoc
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var d batchDoc
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		got = append(got, d)
	}
	room := historyAfter(t, f, 100)
	var msgs []Message
	for _, d := range got {
		msgs = append(msgs, d.Message)
	}
	checkExactly(t, msgs, room)
	byText := map[string]batchDoc{}
	for _, d := range got {
		byText[d.Text] = d
	}
	if _, ok := byText["raw \x1b[2J\u009b\u202e"]; !ok {
		t.Errorf("JSON must keep the exact text: %+v", got)
	}
	if d := byText["three"]; d.Via != "node2" || d.From != "alice" {
		t.Errorf("line typed after the failover: %+v", d)
	}
}

func TestUIModelShowsStateQueueAndCleanText(t *testing.T) {
	m := newUIModel("alice", "general", asciiRenderer())
	var sent []string
	m.send = func(s string) string { sent = append(sent, s); return fmt.Sprintf("id%d", len(sent)) }
	m.Update(windowSize(60, 10))
	n2 := Node{Name: "node2", Addr: "127.0.0.1:2223"}
	m.Update(stateMsg{State{Kind: StateConnected, Node: n2}})
	m.Update(recvMsg{Message{Index: 1, From: "bob", Text: "hi \x1b]0;pwned\x07there \u009b2J\u202eevil", Time: "2026-01-02T15:04:05Z"}})
	view := m.View()
	if !strings.Contains(view, "connected to node2 (127.0.0.1:2223)") || !strings.Contains(view, "bob: hi there") {
		t.Fatalf("view:\n%s", view)
	}
	if strings.ContainsAny(view, "\x1b\u009b\u202e\x07") {
		t.Fatalf("control runes reached the screen: %q", view)
	}
	m.Update(stateMsg{State{Kind: StateDisconnected, Node: n2}})
	typeText(m, "queued line")
	if len(sent) != 1 || sent[0] != "queued line" {
		t.Fatalf("sent = %q", sent)
	}
	view = m.View()
	if !strings.Contains(view, "reconnecting…") || !strings.Contains(view, "queued: 1") || !strings.Contains(view, "(queued) queued line") {
		t.Fatalf("view:\n%s", view)
	}
	m.Update(ackMsg{"id1"})
	if strings.Contains(m.View(), "queued: 1") {
		t.Fatalf("acked line still queued:\n%s", m.View())
	}
	for i, line := range strings.Split(m.View(), "\n") {
		if w := len([]rune(line)); w > 60 {
			t.Errorf("line %d is %d columns wide", i, w)
		}
	}
}

// The chat app says NO QUORUM when nothing can commit; syncnet chat used
// to say "connected … │ queued: 2" meanwhile. It says NO QUORUM too, from
// the node that could not commit until a line is acknowledged again.
func TestUIModelSaysNoQuorum(t *testing.T) {
	m := newUIModel("alice", "general", asciiRenderer())
	m.send = func(string) string { return "id1" }
	m.Update(windowSize(80, 10))
	n1 := Node{Name: "node1", Addr: "127.0.0.1:2222"}
	m.Update(stateMsg{State{Kind: StateConnected, Node: n1}})
	typeText(m, "hello")
	m.Update(stateMsg{State{Kind: StateDisconnected, Node: n1,
		Err: fmt.Errorf("%w: post: not committed: the cluster has no quorum (waited up to 5s); retry with --id x", errNodeUnfit)}})
	m.Update(stateMsg{State{Kind: StateConnected, Node: Node{Name: "node2", Addr: "127.0.0.1:2223"}}})
	if v := m.View(); !strings.Contains(v, "NO QUORUM") || !strings.Contains(v, "queued: 1") {
		t.Fatalf("no quorum not said:\n%s", v)
	}
	m.Update(ackMsg{"id1"})
	if v := m.View(); strings.Contains(v, "NO QUORUM") {
		t.Fatalf("NO QUORUM still shown after an ack:\n%s", v)
	}
}

// A message of several lines was shown on one line; its lines stay, the
// later ones indented under the text.
func TestUIModelKeepsLines(t *testing.T) {
	m := newUIModel("alice", "general", asciiRenderer())
	m.Update(windowSize(60, 10))
	m.Update(recvMsg{Message{Index: 1, From: "bob", Text: "first line\nsecond line", Time: "2026-01-02T15:04:05Z"}})
	v := m.View()
	r1, i1 := rowOf(v, "bob: first line")
	r2, i2 := rowOf(v, "second line")
	if i1 < 0 || i2 != i1+1 || !strings.HasPrefix(r2, "       second") {
		t.Fatalf("rows %d %q and %d %q in\n%s", i1, r1, i2, r2, v)
	}
}

func rowOf(v, s string) (string, int) {
	for i, r := range strings.Split(v, "\n") {
		if strings.Contains(r, s) {
			return r, i
		}
	}
	return "", -1
}
