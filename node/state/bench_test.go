package state

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// BenchmarkChatApply folds chat messages into the chat plugin, as a node
// does for every committed entry and `wal replay` does for a whole log.
//
//	go test -run '^$' -bench ChatApply -benchmem ./node/state/
func BenchmarkChatApply(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchChatApply(b, New(time.Now)) })
	// With a message source (the node's setting): a bounded cache.
	b.Run("source", func(b *testing.B) { benchChatApply(b, NewWith(Options{Messages: &logSource{}})) })
}

func benchChatApply(b *testing.B, s *State) {
	evs := make([]eventlog.Event, 1000)
	for i := range evs {
		evs[i] = ev(&eventlog.MessagePosted{Room: "room" + strconv.Itoa(i%3), From: "user" + strconv.Itoa(i%50),
			Text: "a chat message of a typical length, about one line of text", ClientMsgID: "c" + strconv.Itoa(i)}, uint64(i))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := evs[i%len(evs)]
		body := *e.Body.(*eventlog.MessagePosted)
		body.ClientMsgID = strconv.Itoa(i)
		e.Body = &body
		s.Plugins.Apply(uint64(i+1), e)
	}
}

// benchLog makes entry i (from 1) of a log of messages spread uniformly
// over rooms rooms, one second apart, each with a request id when keyed.
type benchLog struct {
	rooms []string
	keyed bool
	seed  uint64
}

func newBenchLog(rooms int, keyed bool) *benchLog {
	l := &benchLog{keyed: keyed, seed: 1}
	for i := range rooms {
		l.rooms = append(l.rooms, "room"+strconv.Itoa(i))
	}
	return l
}

// room is the room of entry i: a fixed pseudo-random draw.
func (l *benchLog) room(i uint64) string {
	x := (i + l.seed) * 0x9E3779B97F4A7C15
	x ^= x >> 29
	return l.rooms[x%uint64(len(l.rooms))]
}

func (l *benchLog) event(i uint64) eventlog.Event {
	ev := eventlog.Event{Header: eventlog.Header{Origin: "n1", Index: i, Lamport: i, Time: t0.Add(time.Duration(i) * time.Second).UnixNano()},
		Body: &eventlog.MessagePosted{Room: l.room(i), From: "user" + strconv.Itoa(int(i%50)), Text: "a chat message of a typical length, about one line of text"}}
	if l.keyed {
		ev.Author, ev.RequestID = "user"+strconv.Itoa(int(i%50)), strconv.FormatUint(i*7919, 16)+"0123456789abcdef0123456789"
	}
	return ev
}

func (l *benchLog) Messages(indexes []uint64) ([]eventlog.Event, error) {
	out := make([]eventlog.Event, len(indexes))
	for i, x := range indexes {
		out[i] = l.event(x)
	}
	return out, nil
}

func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkMemory applies 1M messages over 1,000 rooms and reports the
// heap they leave: the message index alone (no cache, no request ids), the
// State with the default cache of recent messages, and the exactly-once
// window holding every one of 1M requests. See BENCHMARKS.txt.
//
//	go test -run '^$' -bench Memory -benchtime 1x ./node/state/
func BenchmarkMemory(b *testing.B) {
	const n = 1_000_000
	for _, c := range []struct {
		name   string
		keyed  bool
		window time.Duration
		cache  int
	}{
		{"index", false, 0, -1},
		{"index+cache", false, 0, 0},
		{"index+window", true, 1000 * time.Hour, -1},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				l := newBenchLog(1000, c.keyed)
				before := heapAfterGC()
				s := NewWith(Options{Messages: l, RecentPerRoom: c.cache, OnceWindow: c.window})
				for i := uint64(1); i <= n; i++ {
					s.Apply(i, l.event(i))
				}
				heap := heapAfterGC() - before
				b.ReportMetric(float64(heap)/n, "heap-B/msg")
				b.ReportMetric(float64(s.Chat.IndexBytes())/n, "index-B/msg")
				b.ReportMetric(float64(s.Chat.Cached()), "cached-msgs")
				runtime.KeepAlive(s)
			}
		})
	}
}

var (
	snapOnce  sync.Once
	snapState *State
	snapData  []byte
	snapLog   = newBenchLog(1000, true)
)

// snapFixture is a State of 1M messages in 1,000 rooms, one a second (11.6
// days), each its own request, with the default once window (24h: the
// newest 86,400 requests are remembered), and its encoding.
func snapFixture(b *testing.B) (*State, []byte) {
	snapOnce.Do(func() {
		snapState = NewWith(Options{Messages: snapLog})
		for i := uint64(1); i <= 1_000_000; i++ {
			snapState.Apply(i, snapLog.event(i))
		}
		snapData, _ = snapState.Capture().Encode()
	})
	return snapState, snapData
}

// BenchmarkSnapshot times Capture (on the apply goroutine), Encode and
// Restore of the 1M-message State, and reports the snapshot's size.
//
//	go test -run '^$' -bench Snapshot ./node/state/
func BenchmarkSnapshot(b *testing.B) {
	s, data := snapFixture(b)
	b.Run("Capture", func(b *testing.B) {
		for range b.N {
			s.Capture()
		}
	})
	b.Run("Encode", func(b *testing.B) {
		im := s.Capture()
		b.ReportMetric(float64(len(data)), "bytes")
		for range b.N {
			im.Encode()
		}
	})
	b.Run("Restore", func(b *testing.B) {
		for range b.N {
			if _, err := Restore(data, Options{Messages: snapLog}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("RestoredHistory", func(b *testing.B) {
		// A page of 50 from a restored State: from the source at first,
		// then from the cache.
		r, _ := Restore(data, Options{Messages: snapLog})
		for i := range b.N {
			if _, err := r.Chat.History(snapLog.rooms[i%1000], 0, 50); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// replayLog is a history like `syncnet fill`'s (1,000 rooms, 100 users,
// texts of 100 to 200 bytes, every entry its own request with a random
// 32-hex id, 10M messages spread over a year: one every 3.15 s, so the 24h
// once window holds about 27,000 requests), as events to apply. It holds
// replayRing distinct events and hands entry i the event i mod replayRing
// with its own index, Lamport time and entry time: an id comes back only
// after about 2.4 days of entry time, long after the window forgot it.
type replayLog struct{ evs []eventlog.Event }

const (
	replayRing = 1 << 16
	replayStep = 3153600 * time.Microsecond // a year / 10M
)

func newReplayLog() *replayLog {
	rng := rand.New(rand.NewPCG(1, 2))
	const letters = "abcdefghijklmnopqrstuvwxyz      "
	l := &replayLog{evs: make([]eventlog.Event, replayRing)}
	for i := range l.evs {
		user := fmt.Sprintf("user%03d", rng.IntN(100))
		var id [16]byte
		for j := range id {
			id[j] = byte(rng.Uint32())
		}
		text := make([]byte, 100+rng.IntN(101))
		for j := range text {
			text[j] = letters[rng.IntN(len(letters))]
		}
		hexID := hex.EncodeToString(id[:])
		l.evs[i] = eventlog.Event{Header: eventlog.Header{Origin: "node1", Term: 1, Author: user, RequestID: hexID},
			Body: &eventlog.MessagePosted{Room: fmt.Sprintf("room%04d", rng.IntN(1000)), From: user, Text: string(text),
				ClientMsgID: hexID, ReplyLamport: uint64(rng.IntN(1000))}}
	}
	return l
}

func (l *replayLog) event(i uint64) eventlog.Event {
	ev := l.evs[i%replayRing]
	ev.Index, ev.Lamport, ev.Time = i, i, t0.Add(time.Duration(i)*replayStep).UnixNano()
	return ev
}

func (l *replayLog) Messages(indexes []uint64) ([]eventlog.Event, error) {
	out := make([]eventlog.Event, len(indexes))
	for i, x := range indexes {
		out[i] = l.event(x)
	}
	return out, nil
}

// BenchmarkApplyReplay is State.Apply over a fill-like history (replayLog),
// with a message source and an index chunk file as `wal replay` and the
// node have them, per entry: one entry at a time (apply, as the node), and
// in runs of 256 prepared ahead (run: Prepare, then ApplyRun, as `wal
// replay` does on two goroutines). cpu-ns/op is the process's CPU time.
//
//	go test -run '^$' -bench ApplyReplay -benchtime 2000000x ./node/state/
func BenchmarkApplyReplay(b *testing.B) {
	for _, run := range []bool{false, true} {
		name := map[bool]string{false: "apply", true: "run"}[run]
		b.Run(name, func(b *testing.B) {
			l := newReplayLog()
			cf, err := OpenChunkFile(filepath.Join(b.TempDir(), "chunks"), true)
			if err != nil {
				b.Fatal(err)
			}
			defer cf.Close()
			s := NewWith(Options{Messages: l, Chunks: cf, RecentPerRoom: map[bool]int{false: 0, true: -1}[run]})
			var prep Preparer
			evs := make([]eventlog.Event, 256)
			ps := make([]Prepared, 256)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := uint64(0); i < uint64(b.N); {
				if !run {
					s.Apply(i+1, l.event(i+1))
					i++
					continue
				}
				n := min(uint64(len(evs)), uint64(b.N)-i)
				for k := range n {
					evs[k] = l.event(i + k + 1)
					ps[k] = prep.Prepare(evs[k])
				}
				s.ApplyRun(int(n), func(k int) (uint64, eventlog.Event, Prepared) {
					return i + uint64(k) + 1, evs[k], ps[k]
				}, func(int, []api.Event) {})
				i += n
			}
			// CPU time, not wall time, is what a shared machine does not distort.
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSnapshotBusyWindow times Capture and Encode with a full
// exactly-once window: a million requests of the last 24 hours (one every
// 40 µs of entry time, as a minute of 25k posts/s leaves). Capture runs on
// the node's driver between batches, so it must not copy the window.
//
//	go test -run '^$' -bench SnapshotBusyWindow -benchtime 5x ./node/state/
func BenchmarkSnapshotBusyWindow(b *testing.B) {
	l := newReplayLog()
	s := NewWith(Options{Messages: l})
	for i := uint64(1); i <= 1_000_000; i++ {
		ev := l.event(i)
		ev.Time = t0.Add(time.Duration(i) * 40 * time.Microsecond).UnixNano()
		ev.Header.RequestID = fmt.Sprintf("%s-%d", ev.Header.RequestID, i) // every entry its own request
		s.Apply(i, ev)
	}
	b.Run("Capture", func(b *testing.B) {
		for range b.N {
			s.Capture()
		}
	})
	b.Run("Encode", func(b *testing.B) {
		im := s.Capture()
		var n int
		for range b.N {
			data, err := im.Encode()
			if err != nil {
				b.Fatal(err)
			}
			n = len(data)
		}
		b.ReportMetric(float64(n), "bytes")
	})
}
