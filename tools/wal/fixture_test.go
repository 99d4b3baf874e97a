package walcmd

import (
	"bufio"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
)

// base is the wall time of the fixtures' first entry: fixed, so that golden
// files are stable.
var base = time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC).UnixNano()

// builder writes a WAL with eventlog's own writer, stamping entries the way
// a node does: consecutive cluster indexes, the current term, growing
// Lamport times, and wall times one second apart.
type builder struct {
	t       testing.TB
	dir     string
	l       *eventlog.Log
	origin  string
	term    uint64
	next    uint64 // next cluster index
	lamport uint64
	tick    int64
	// step is how many seconds apart entries are (0: one).
	step  int64
	batch []eventlog.Event
	// batchMax is how many records one Append writes.
	batchMax int
}

func newBuilder(t testing.TB, dir string, segmentSize int) *builder {
	t.Helper()
	l, err := eventlog.Open(dir, eventlog.Options{NoSync: true, SegmentSize: segmentSize, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	return &builder{t: t, dir: dir, l: l, origin: "node1", term: 1, next: 1, batchMax: 64}
}

func (b *builder) now() int64 { return base + b.tick*int64(time.Second) }

// entry appends a replicated entry stamped by the current leader.
func (b *builder) entry(body eventlog.Body) *builder {
	b.lamport++
	b.tick += max(b.step, 1)
	return b.raw(eventlog.Header{Origin: b.origin, Term: b.term, Index: b.next, Lamport: b.lamport, Time: b.now()}, body)
}

// noop appends a leader's no-op as the node writes it: no origin, time or
// Lamport time.
func (b *builder) noop() *builder {
	return b.raw(eventlog.Header{Term: b.term, Index: b.next}, &eventlog.NoOp{})
}

// local appends a local-only record.
func (b *builder) local(body eventlog.Body) *builder {
	return b.raw(eventlog.Header{Origin: "node1", Term: b.term, Time: b.now()}, body)
}

func (b *builder) raw(h eventlog.Header, body eventlog.Body) *builder {
	b.batch = append(b.batch, eventlog.Event{Header: h, Body: body})
	if h.Index != 0 {
		b.next = h.Index + 1
	}
	if len(b.batch) >= b.batchMax {
		b.flush()
	}
	return b
}

func (b *builder) flush() {
	if len(b.batch) == 0 {
		return
	}
	if _, _, err := b.l.Append(context.Background(), b.batch...); err != nil {
		b.t.Fatal(err)
	}
	b.batch = b.batch[:0]
}

func (b *builder) msg(room, from, text, id string) *builder {
	return b.entry(&eventlog.MessagePosted{Room: room, From: from, Text: text, ClientMsgID: id})
}

func (b *builder) commit() *builder {
	return b.local(&eventlog.CommittedUpTo{Index: b.next - 1})
}

func (b *builder) newTerm(term uint64, leader string) *builder {
	b.term = term
	b.tick++
	b.local(&eventlog.TermStarted{Term: term, Candidate: leader})
	b.local(&eventlog.VoteCast{Term: term, Candidate: leader})
	b.local(&eventlog.LeaderElected{Term: term, Leader: leader})
	b.origin = leader
	return b.noop()
}

func (b *builder) discard(from uint64) *builder {
	b.local(&eventlog.SuffixDiscarded{FromIndex: from, Term: b.term})
	b.next = from
	return b
}

func (b *builder) close() string {
	b.flush()
	if err := b.l.Close(); err != nil {
		b.t.Fatal(err)
	}
	return b.dir
}

// naughty returns the message texts of testdata/naughty.txt.
func naughty(t testing.TB) []string {
	f, err := os.Open("testdata/naughty.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// chatLog builds the main fixture in <tmp>/node1/wal and returns the wal
// dir: two terms, users, rooms, naughty and hostile messages, a retried post,
// a direct message, presence, local records, and an uncommitted tail. Small
// segments make it span several files.
func chatLog(t testing.TB) string {
	dir := filepath.Join(t.TempDir(), "node1", "wal")
	b := newBuilder(t, dir, 1024)
	b.newTerm(1, "node1")
	for _, u := range []string{"alice", "bob", "carol"} {
		b.entry(&eventlog.UserRegistered{Name: u, KeyFingerprint: "SHA256:" + u})
	}
	b.entry(&eventlog.RoomCreated{Room: "ops", By: "alice"})
	b.entry(&eventlog.RoomTopicSet{Room: "ops", Topic: "deploys \x1b[5mblink", By: "alice"})
	b.entry(&eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: "general", User: "alice"}})
	b.entry(&eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: "general", User: "bob"}})
	b.entry(&eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: "ops", User: "alice"}})
	b.msg("general", "alice", "hello, world", "a-1")
	b.msg("general", "bob", "hi alice", "b-1")
	b.msg("general", "bob", "hi alice", "b-1") // a retry: one message in history (I5)
	b.entry(&eventlog.MessagePosted{Room: "general", From: "alice", Text: "waves", ClientMsgID: "a-2", Action: 1})
	b.entry(&eventlog.PresenceChanged{User: "alice", Node: "node1", Status: "online"})
	b.commit()
	b.local(&eventlog.NodeSuspected{NodeEvent: eventlog.NodeEvent{Node: "node3"}})
	b.newTerm(2, "node2")
	for i, text := range naughty(t) {
		from := []string{"alice", "bob", "carol"}[i%3]
		b.msg("general", from, text, "n-"+string(rune('a'+i)))
	}
	b.msg("ops", "alice", "\x1b[31mred\x1b[0m \u009b2J \u202egnp.exe\u202c\nsecond line\x7f", "a-3")
	b.msg("ops", "alice", "deploy done", "a-4")
	b.entry(&eventlog.DirectMessage{From: "carol", To: "bob", Text: "psst", ClientMsgID: "c-1"})
	b.commit()
	b.msg("general", "carol", "not yet committed", "c-2")
	return b.close()
}

// segments lists the segment files of a wal dir in order.
func segments(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, strings.Repeat("[0-9]", 20)))
	if err != nil || len(m) == 0 {
		t.Fatalf("no segments in %s: %v", dir, err)
	}
	return m
}

// entrySpans returns the byte ranges [start, end) of each record (without
// its length prefix) in a segment file's data, and each entry's full span.
func entrySpans(data []byte) (recs, full [][2]int) {
	for off := 0; off < len(data); {
		l, n := binary.Uvarint(data[off:])
		if n <= 0 {
			break
		}
		recs = append(recs, [2]int{off + n, off + n + int(l)})
		full = append(full, [2]int{off, off + n + int(l)})
		off += n + int(l)
	}
	return recs, full
}

// firstSeq returns the first sequence number of a segment, from its name.
func firstSeq(t testing.TB, path string) uint64 {
	var n uint64
	for _, c := range filepath.Base(path) {
		n = n*10 + uint64(c-'0')
	}
	return n
}
