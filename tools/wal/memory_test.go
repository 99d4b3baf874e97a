package walcmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/state"
)

// trafficLog writes a log of about n records to dir as a node's WAL holds
// them under load: entries in three rooms from eight users, a commit record
// every 500 entries covering all but the last 100 (so the fold always has
// uncommitted entries in hand, and an uncommitted tail is left), and four
// elections, each after a follower wrote 50 entries that the new leader's
// discard record then voids. Segments are small (256 KiB) so that eventlog.Scan's segment buffer does
// not grow with n either, as it does not with the node's 20 MiB segments
// once a log is larger than one.
//
// With unique, every post has its own client message id, as real traffic
// does, and node/state's chat plugin and exactly-once table grow with every
// one. Without, the posts are retries of 64 requests and the other entries
// (presence, topics, joins and leaves) overwrite what they set: node/state
// stays the same size however long the log, so whatever grows is the
// tool's own.
func trafficLog(t testing.TB, dir string, n int, unique bool) {
	trafficLogStep(t, dir, n, unique, 1)
}

// trafficLogStep is trafficLog with entries step seconds apart: with step
// 10, a log of more than 8,640 entries spans more than node/state's once
// window (24h), which then bounds the exactly-once table.
func trafficLogStep(t testing.TB, dir string, n int, unique bool, step int64) {
	b := newBuilder(t, dir, 256<<10)
	b.step = step
	b.batchMax = 256
	rooms := []string{"general", "ops", "random"}
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	b.newTerm(1, "node1")
	records, entries := 4, 0
	lastCommit, election := uint64(0), n/5
	for records < n {
		k := records
		switch {
		case records >= election && b.term < 5:
			election += n / 5
			// A new leader voids this node's last 50 uncommitted entries.
			b.commit()
			from := b.next
			for i := range 50 {
				b.msg("general", "alice", "lost", fmt.Sprintf("lost-%d-%d", b.term, i))
			}
			b.discard(from)
			records += 52
			b.newTerm(b.term+1, fmt.Sprintf("node%d", b.term%3+1))
			records += 4
			lastCommit = b.next - 1
		case entries%500 == 499 && b.next-1 > lastCommit+100:
			lastCommit = b.next - 101
			b.local(&eventlog.CommittedUpTo{Index: lastCommit})
			records++
			entries++
		default:
			u, r := users[k%len(users)], rooms[k%len(rooms)]
			switch {
			case unique || k%5 == 0:
				id := fmt.Sprintf("r-%d", k%64)
				if unique {
					id = fmt.Sprint(k)
				}
				b.msg(r, u, fmt.Sprintf("message number %d, about the deploy", k), id)
			case k%5 == 1:
				b.entry(&eventlog.PresenceChanged{User: u, Node: "node1", Status: []string{"online", "away"}[k%2]})
			case k%5 == 2:
				b.entry(&eventlog.RoomTopicSet{Room: r, Topic: fmt.Sprintf("topic %d", k%7), By: u})
			case k%5 == 3:
				b.entry(&eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: r, User: u}})
			default:
				b.entry(&eventlog.MemberLeftRoom{RoomMember: eventlog.RoomMember{Room: r, User: u}})
			}
			records++
			entries++
		}
	}
	b.close() // the last entries stay uncommitted
}

// copyDir copies the files of src into a new directory dst.
func copyDir(t testing.TB, src, dst string) {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range ents {
		data, err := os.ReadFile(filepath.Join(src, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, de.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// peakHeap runs `syncnet wal args` and returns the most heap it held live
// at once beyond what was live before: the scan calls memProbe every 4096
// records and when a fold is over, which collects garbage and reads the
// heap.
func peakHeap(t testing.TB, args ...string) uint64 {
	peak, _ := heapUse(t, args...)
	return peak
}

// heapUse runs `syncnet wal args` and returns the most heap it held live at
// any memProbe, and what it held at the last one (when its fold was over),
// beyond what was live before.
func heapUse(t testing.TB, args ...string) (peak, last uint64) {
	t.Helper()
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	var mu sync.Mutex
	memProbe = func() {
		h := heap()
		h -= min(h, before)
		mu.Lock()
		peak, last = max(peak, h), h
		mu.Unlock()
	}
	defer func() { memProbe = nil }()
	if err := run(context.Background(), args, io.Discard, io.Discard, false, false); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	mu.Lock()
	defer mu.Unlock()
	return peak, last
}

// The audit holds the same memory for a log four times as long: verify,
// replay, export, stats and diff stream the log. A log whose entries do not
// grow node/state shows the tool's own memory (about 4 MiB: the per-kind
// counters, a segment buffer, the batches in flight). A log of unique posts
// shows it for verify and diff, which keep no state. Replay, export and
// stats fold node/state with the WAL as its MessageSource: the chat keeps
// only where each message is (a few bytes) and a bounded cache, so on a log
// of unique posts that spans more than the once window (which bounds the
// exactly-once table) their memory does not grow with the log either
// (beyond those few bytes a message: 3 bytes x 60,000 more entries here).
// Within one window the table grows with every request by design:
// TestMemoryOnTopOfState checks that the tool adds nothing on top.
func TestConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 200k records")
	}
	const n = 20_000
	type logs struct{ small, large, small2, large2 string }
	write := func(unique bool, step int64) logs {
		tmp := t.TempDir()
		var l logs
		l.small, l.large = filepath.Join(tmp, "n1", "wal"), filepath.Join(tmp, "n4", "wal")
		trafficLogStep(t, l.small, n, unique, step)
		trafficLogStep(t, l.large, 4*n, unique, step)
		l.small2, l.large2 = filepath.Join(tmp, "n1b", "wal"), filepath.Join(tmp, "n4b", "wal")
		copyDir(t, l.small, l.small2)
		copyDir(t, l.large, l.large2)
		return l
	}
	neutral, unique, spread := write(false, 1), write(true, 1), write(true, 10)
	type check struct {
		name string
		logs logs
		args func(dir, dir2 string) []string
	}
	var checks []check
	for _, c := range []struct {
		kind string
		logs logs
	}{{"neutral", neutral}, {"unique", unique}, {"spread unique", spread}} {
		if c.kind != "spread unique" {
			checks = append(checks,
				check{c.kind + " verify", c.logs, func(d, _ string) []string { return []string{"verify", d} }},
				check{c.kind + " diff", c.logs, func(d, d2 string) []string { return []string{"diff", d, d2} }})
		}
		if c.kind != "unique" {
			checks = append(checks,
				check{c.kind + " replay", c.logs, func(d, _ string) []string { return []string{"replay", "--room", "general", d} }},
				check{c.kind + " replay uncommitted", c.logs, func(d, _ string) []string { return []string{"replay", "--include-uncommitted", d} }},
				check{c.kind + " export", c.logs, func(d, _ string) []string { return []string{"export", "--room", "general", d} }},
				check{c.kind + " stats", c.logs, func(d, _ string) []string { return []string{"stats", d} }})
		}
	}
	for _, c := range checks {
		small := peakHeap(t, c.args(c.logs.small, c.logs.small2)...)
		large := peakHeap(t, c.args(c.logs.large, c.logs.large2)...)
		t.Logf("%-28s %d records: %6d KiB, %d records: %6d KiB", c.name, n, small>>10, 4*n, large>>10)
		if large > small*3/2+1<<20 {
			t.Errorf("%s: %d KiB for %d records, %d KiB for %d: memory grows with the log", c.name, small>>10, n, large>>10, 4*n)
		}
	}
}

// noSource is a MessageSource that never finds anything: with it the chat
// keeps what it keeps with the WAL as its source.
type noSource struct{}

func (noSource) Messages([]uint64) ([]eventlog.Event, error) { return nil, io.EOF }

// stateHeap returns the heap node/state's plugins hold once they have
// applied the committed entries of the log in dir, with a MessageSource as
// the tools give them: what replay, export and stats must hold whatever
// they do (the message index, the exactly-once table, the recent cache).
func stateHeap(t testing.TB, dir string) uint64 {
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	st := state.NewWith(state.Options{Messages: noSource{}})
	var rl state.ReplicatedLog
	if _, err := eventlog.Scan(dir, func(seq uint64, ev eventlog.Event, _ eventlog.Hash) error {
		return rl.Add(seq, ev)
	}); err != nil {
		t.Fatal(err)
	}
	for _, en := range rl.Entries[:rl.Commit] {
		st.Apply(en.Event.Index, en.Event)
	}
	rl = state.ReplicatedLog{}
	after := heap()
	runtime.KeepAlive(st)
	if after < before {
		return 0
	}
	return after - before
}

// On a log of unique posts within one once window, replay, export and
// stats hold node/state's plugins, whose exactly-once table grows with every
// post (and the message index by a few bytes a post); what they hold beyond
// that must not grow with the log. Measured when the fold is over: while it
// runs, a probe also catches node/state's maps mid-growth (old and new
// arrays both live), which is node/state's and grows with it.
func TestMemoryOnTopOfState(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100k records")
	}
	const n = 20_000
	tmp := t.TempDir()
	small, large := filepath.Join(tmp, "n1", "wal"), filepath.Join(tmp, "n4", "wal")
	trafficLog(t, small, n, true)
	trafficLog(t, large, 4*n, true)
	refSmall, refLarge := stateHeap(t, small), stateHeap(t, large)
	t.Logf("node/state alone: %d records: %d KiB, %d records: %d KiB", n, refSmall>>10, 4*n, refLarge>>10)
	for _, args := range [][]string{
		{"replay", "--room", "general"}, {"export", "--room", "general"}, {"stats"},
	} {
		_, gotSmall := heapUse(t, append(args, small)...)
		_, gotLarge := heapUse(t, append(args, large)...)
		overSmall, overLarge := int64(gotSmall)-int64(refSmall), int64(gotLarge)-int64(refLarge)
		t.Logf("%-16s %d records: %6d KiB (%+d KiB on node/state), %d records: %6d KiB (%+d KiB)",
			args[0], n, gotSmall>>10, overSmall>>10, 4*n, gotLarge>>10, overLarge>>10)
		if overLarge > max(overSmall, 0)*3/2+1<<20 {
			t.Errorf("%s: %+d KiB beyond node/state for %d records, %+d KiB for %d: the tool's memory grows with the log",
				args[0], overSmall>>10, n, overLarge>>10, 4*n)
		}
	}
}
