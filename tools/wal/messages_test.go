package walcmd

import (
	"bufio"
	"bytes"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/state"
)

// refExport is export --format jsonl of room computed the way the tools did
// before they read messages back from the WAL: node/state.ReplicatedLog
// holding every entry, and a State that keeps every message in memory.
func refExport(t *testing.T, dir, room string, untilIndex uint64, uncommitted bool) string {
	t.Helper()
	var rl state.ReplicatedLog
	if _, err := eventlog.Scan(dir, func(seq uint64, ev eventlog.Event, _ eventlog.Hash) error {
		return rl.Add(seq, ev)
	}); err != nil {
		t.Fatal(err)
	}
	st := state.New(time.Now)
	entries := rl.Entries[:rl.Commit]
	if uncommitted {
		entries = rl.Entries
	}
	for _, en := range entries {
		if untilIndex != 0 && en.Event.Index > untilIndex {
			break
		}
		st.Apply(en.Event.Index, en.Event)
	}
	var buf bytes.Buffer
	e := &env{stdout: bufio.NewWriter(&buf)}
	r := &rebuilt{st: st}
	if _, err := exportJSONL(e, func(fn func(m api.Message) error) error { return r.eachMessage(room, fn) }, exportOpts{}); err != nil {
		t.Fatal(err)
	}
	e.stdout.Flush()
	return buf.String()
}

// Replay and export read old messages back from the WAL (walMessages)
// instead of keeping them: on a log with discarded and rewritten entries,
// small segments and rooms far larger than the chat's cache, every export
// (committed, with the uncommitted tail, up to a point) is byte for byte
// what the in-memory fold gives.
func TestMessagesFromDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n1", "wal")
	trafficLog(t, dir, 20_000, true)
	for _, room := range []string{"general", "ops", "random"} {
		for _, c := range []struct {
			until       uint64
			uncommitted bool
		}{{0, false}, {0, true}, {7_777, false}, {15, true}} {
			args := []string{"export", "--room", room}
			if c.until != 0 {
				args = append(args, "--until", strconv.FormatUint(c.until, 10))
			}
			if c.uncommitted {
				args = append(args, "--include-uncommitted")
			}
			got := wal(t, append(args, dir)...)
			want := refExport(t, dir, room, c.until, c.uncommitted)
			if got.code != 0 || got.stdout != want {
				t.Errorf("%q: exit %d %s, %d bytes; the in-memory fold gives %d bytes", args, got.code, got.msg, len(got.stdout), len(want))
			}
			if c.until == 0 && !c.uncommitted && len(want) < 100_000 {
				t.Errorf("%q: only %d bytes: the room should hold far more than the chat's cache", args, len(want))
			}
		}
	}
}

// walMessages finds entries by index: the last record with the index
// between the samples around it, across discards that rewrite indexes in
// the same sample window, and refuses indexes it was not given.
func TestWalMessagesIndex(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n1", "wal")
	b := newBuilder(t, dir, 4<<10)
	b.newTerm(1, "node1")
	for i := range 40 {
		b.msg("general", "alice", "first "+strconv.Itoa(i), "a-"+strconv.Itoa(i))
	}
	b.commit()
	from := b.next
	for i := range 20 {
		b.msg("general", "alice", "void "+strconv.Itoa(i), "v-"+strconv.Itoa(i))
	}
	b.discard(from)
	b.newTerm(2, "node2")
	for i := range 40 {
		b.msg("general", "bob", "second "+strconv.Itoa(i), "b-"+strconv.Itoa(i))
	}
	b.commit()
	b.close()

	var rl state.ReplicatedLog
	var m walMessages
	_, r, err := eventlog.ScanReader(dir, func(seq uint64, ev eventlog.Event, _ eventlog.Hash) error {
		return rl.Add(seq, ev)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range rl.Entries {
		m.add(en.Event.Index, en.Seq)
	}
	m.flush()
	m.setReader(r)
	defer m.close()
	var all []uint64
	for i := range rl.Entries {
		all = append(all, uint64(i+1))
	}
	for _, idx := range [][]uint64{all, {1}, {uint64(len(all))}, {from, from + 1, from + 19}, {3, 40, 41, 70, 82}} {
		evs, err := m.Messages(idx)
		if err != nil || len(evs) != len(idx) {
			t.Fatalf("Messages(%v): %d events, %v", idx, len(evs), err)
		}
		for k, ev := range evs {
			if want := rl.Entries[idx[k]-1].Event; ev.Index != idx[k] || ev.Kind() != want.Kind() ||
				textOf(ev) != textOf(want) {
				t.Errorf("Messages: index %d is %d %q, want %q", idx[k], ev.Index, textOf(ev), textOf(want))
			}
		}
	}
	if _, err := m.Messages([]uint64{uint64(len(all) + 1)}); err == nil {
		t.Errorf("Messages beyond the applied entries: no error")
	}
}

func textOf(ev eventlog.Event) string {
	if p, ok := ev.Body.(*eventlog.MessagePosted); ok {
		return p.Text
	}
	return ""
}
