package sshui_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

type ack struct {
	ID         string `json:"id"`
	Index      uint64 `json:"index"`
	Line       int    `json:"line"`
	Error      string `json:"error"`
	Retry      bool   `json:"retry"`
	RetryAfter int64  `json:"retry_after_ms"`
}

func acks(t *testing.T, out string) []ack {
	t.Helper()
	var as []ack
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var a ack
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("ack line %q: %v", l, err)
		}
		as = append(as, a)
	}
	return as
}

// A stream posts every good line once, answers each line in input order,
// and a bad line mid-stream gets its own error without ending the stream.
func TestStreamPostsAndAnswersEveryLine(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	bob := newSigner(t)
	run(t, ts.addr, "bob", bob, "post general hi") // bob exists, for the DM
	k := newSigner(t)
	f.SetAllowance("bridge", 1000, 1000)
	in := `{"room":"general","text":"one","id":"a1"}
{"room":"#general","text":"two","id":"a2"}
this is not json
{"room":"general","text":"three","id":"a3","colour":"red"}

{"room":"@bob","text":"psst","id":"a4"}
{"to":"bob","text":"again","id":"a5"}
{"room":"general","text":"","id":"a6"}
{"room":"Bad Room","text":"x","id":"a7"}
{"room":"general","text":"four","id":"a8"}
`
	r := runIn(t, ts.addr, "bridge", k, "post --stream", in)
	as := acks(t, r.out)
	if r.code != 1 || len(as) != 9 {
		t.Fatalf("exit %d, %d acks (want 1, 9): %s %s", r.code, len(as), r.out, r.err)
	}
	wantErr := map[int]string{2: "not a JSON object", 3: "unknown field", 6: "empty message", 7: "room:"}
	var last uint64
	for i, a := range as {
		if w, bad := wantErr[i]; bad {
			if a.Index != 0 || !strings.Contains(a.Error, w) || a.Line == 0 || a.Retry {
				t.Errorf("ack %d = %+v, want an error with %q and its line", i, a, w)
			}
			continue
		}
		if a.Error != "" || a.Index <= last {
			t.Errorf("ack %d = %+v, want a growing index", i, a)
		}
		last = a.Index
	}
	if as[0].ID != "a1" || as[8].ID != "a8" || as[4].ID != "a4" || as[2].Line != 3 {
		t.Errorf("acks out of input order: %+v", as)
	}
	h := hist(t, f, "general", 0, 10)
	if got := len(h); got != 4 || h[1].Text != "one" || h[3].Text != "four" { // bob's hi, one, two, four
		t.Fatalf("general = %+v", h)
	}
	if dm := hist(t, f, "@bob,bridge", 0, 10); len(dm) != 2 {
		t.Fatalf("direct messages = %+v", dm)
	}

	// The same lines again (a client resending after a reconnect): the
	// same indexes, nothing new.
	posts := f.Posts()
	r2 := runIn(t, ts.addr, "bridge", k, "post --stream", in)
	as2 := acks(t, r2.out)
	for i := range as {
		if as[i].Index != as2[i].Index {
			t.Fatalf("resent line %d: index %d, first time %d", i, as2[i].Index, as[i].Index)
		}
	}
	if f.Posts() != posts {
		t.Fatalf("posts %d -> %d after resending the same ids", posts, f.Posts())
	}
}

func TestStreamUsage(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	for cmd, want := range map[string]string{
		"post --stream general hi":     "takes no ROOM",
		"post --stream --id x":         "each line has its own",
		"post --stream --nonsense":     "not defined",
		"post --id x --stream general": "each line has its own",
	} {
		if r := run(t, ts.addr, "alice", k, cmd); r.code != 2 || !strings.Contains(r.err, want) {
			t.Errorf("%s: %+v, want exit 2 with %q", cmd, r, want)
		}
	}
	if r := run(t, ts.addr, "alice", k, "post --help"); r.code != 0 || !strings.Contains(r.out, "--stream") {
		t.Errorf("post --help does not explain --stream: %+v", r)
	}
}

// The user's allowance applies per message: a stream waits for it rather
// than refusing lines. With a burst of 2 and next to no rate, two lines
// are posted and the third waits (it is never submitted, never refused).
func TestStreamIsPacedByTheRateLimit(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	f.SetAllowance("slowbot", 1e-6, 2)
	c := dial(t, ts.addr, "slowbot", k)
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	sess.Stdin = strings.NewReader(`{"room":"general","text":"1","id":"s1"}
{"room":"general","text":"2","id":"s2"}
{"room":"general","text":"3","id":"s3"}
`)
	stdout, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("post --stream"); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for i := range 2 {
		if !sc.Scan() {
			t.Fatalf("ack %d missing", i)
		}
		if as := acks(t, sc.Text()); as[0].Error != "" {
			t.Fatalf("ack %d: %+v", i, as[0])
		}
	}
	waitUntil(t, 5*time.Second, func() bool { return f.Posts() == 2 }, func() string { return fmt.Sprint(f.Posts()) })
	if f.Submitted() != 2 {
		t.Fatalf("%d submitted: the third line was not held for the allowance", f.Submitted())
	}
	// A single post of the same user shares the bucket on this node.
	if r := run(t, ts.addr, "slowbot", k, "post general now"); r.code != 1 || !strings.Contains(r.err, "rate limited") {
		t.Fatalf("post while the stream waits for the allowance: %+v", r)
	}
}

// Without quorum, a stream holds at most StreamInFlight posts and stops
// reading its input (the client's writes block), so memory stays flat;
// once the quorum is back, every line is answered, in order.
func TestStreamBackPressureWithoutQuorum(t *testing.T) {
	f := sshuitest.New("node1", nil)
	const inflight = 16
	ts := startServer(t, f, func(c *Config) { c.StreamInFlight, c.PostTimeout = inflight, time.Minute })
	f.SetAllowance("bot", 1e6, 1e6)
	k := newSigner(t)
	gate := make(chan struct{})
	f.SetSubmitGate(gate)

	c := dial(t, ts.addr, "bot", k)
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	stdin, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("post --stream"); err != nil {
		t.Fatal(err)
	}
	const lines = 50000 // far more than SSH's window and the server's buffers hold
	var written atomic.Int64
	go func() {
		w := bufio.NewWriter(stdin)
		for i := range lines {
			fmt.Fprintf(w, `{"room":"general","text":"message number %d with some padding to fill windows","id":"b%d"}`+"\n", i, i)
			if w.Buffered() > 4096 {
				if w.Flush() != nil {
					return
				}
				written.Store(int64(i))
			}
		}
		_ = w.Flush()
		written.Store(lines)
		stdin.Close()
	}()
	// Wait until the writer is stuck: no progress across several checks.
	var stuck int
	prev := int64(-1)
	waitUntil(t, 20*time.Second, func() bool {
		time.Sleep(50 * time.Millisecond)
		w := written.Load()
		if w == prev && f.Submitted() >= inflight {
			stuck++
		} else {
			stuck = 0
		}
		prev = w
		return stuck >= 10
	}, func() string {
		return fmt.Sprintf("writer never blocked: %d lines written, %d submitted", written.Load(), f.Submitted())
	})
	if s := f.Submitted(); s > inflight {
		t.Fatalf("%d posts submitted without quorum, cap %d", s, inflight)
	}
	if w := written.Load(); w >= lines {
		t.Fatalf("all %d lines were taken in without quorum", w)
	}

	close(gate) // the quorum is back
	sc := bufio.NewScanner(stdout)
	n := 0
	var last uint64
	for sc.Scan() {
		var a ack
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil || a.Error != "" || a.ID != fmt.Sprintf("b%d", n) || a.Index <= last {
			t.Fatalf("ack %d: %s (%v)", n, sc.Text(), err)
		}
		last = a.Index
		n++
	}
	if n != lines {
		t.Fatalf("%d acks, want %d", n, lines)
	}
	if err := sess.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	_ = io.Discard
}
