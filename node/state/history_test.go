package state

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// logSource is a MessageSource backed by a log held in memory: entry i
// (from 1) is log[i-1]. It counts reads and can be told to fail.
type logSource struct {
	mu    sync.Mutex
	log   []eventlog.Event
	reads int
	fail  error
}

func (l *logSource) Messages(indexes []uint64) ([]eventlog.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return nil, l.fail
	}
	l.reads++
	out := make([]eventlog.Event, len(indexes))
	for i, x := range indexes {
		if x < 1 || x > uint64(len(l.log)) {
			return nil, fmt.Errorf("no entry %d", x)
		}
		out[i] = l.log[x-1]
		out[i].Index = x
	}
	return out, nil
}

// chatLog draws n entries: posts and DMs over many rooms and users, with
// some other entries between them, at increasing times.
func chatLog(rng *rand.Rand, n, rooms, users int) []eventlog.Event {
	log := make([]eventlog.Event, n)
	for i := range log {
		u := fmt.Sprint("u", rng.IntN(users))
		var b eventlog.Body
		switch k := rng.IntN(10); {
		case k < 6:
			b = &eventlog.MessagePosted{Room: fmt.Sprint("r", rng.IntN(rooms)), From: u, Text: fmt.Sprint("text ", i), Action: uint64(rng.IntN(2))}
		case k < 9:
			b = &eventlog.DirectMessage{From: u, To: fmt.Sprint("u", rng.IntN(users)), Text: fmt.Sprint("dm ", i), ClientMsgID: fmt.Sprint("c", i)}
		default:
			b = &eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: fmt.Sprint("r", rng.IntN(rooms)), User: u}}
		}
		log[i] = eventlog.Event{Header: eventlog.Header{Origin: "n1", Lamport: uint64(i + 1), Time: t0.Add(time.Duration(i) * time.Second).UnixNano(),
			Author: u, RequestID: fmt.Sprint("q", i)}, Body: b}
	}
	return log
}

// A chat that reads old messages through a source answers every History
// and HistoryAfter exactly as one that keeps every message, whatever its
// cache sizes, and reads the source only for what is not cached.
func TestHistoryFromSourceMatchesMemory(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		log := chatLog(rng, 300+rng.IntN(700), 1+rng.IntN(8), 2+rng.IntN(5))
		src := &logSource{log: log}
		mem := New(time.Now)
		disk := NewWith(Options{Messages: src, RecentPerRoom: rng.IntN(10) - 1, RecentTotal: rng.IntN(40)})
		rooms := map[string]bool{"nope": true}
		for i, ev := range log {
			x := uint64(i + 1)
			a, b := mem.Apply(x, ev), disk.Apply(x, ev)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("seed %d entry %d: events %+v vs %+v", seed, x, a, b)
			}
			if m, ok := messageOf(x, ev); ok {
				rooms[m.Room] = true
			}
			if rng.IntN(20) != 0 {
				continue
			}
			// Reads between applies, to move the caches about.
			for r := range rooms {
				checkSameHistory(t, rng, mem.Chat, disk.Chat, r, uint64(len(log)))
				break
			}
		}
		for r := range rooms {
			checkSameHistory(t, rng, mem.Chat, disk.Chat, r, uint64(len(log)))
		}
		if !reflect.DeepEqual(mem.Chat.Rooms(), disk.Chat.Rooms()) || mem.Chat.Count() != disk.Chat.Count() {
			t.Fatalf("seed %d: rooms or count differ", seed)
		}
		if disk.Chat.Cached() > disk.opts.RecentTotal {
			t.Fatalf("seed %d: %d messages cached, over %d", seed, disk.Chat.Cached(), disk.opts.RecentTotal)
		}
	}
}

func checkSameHistory(t *testing.T, rng *rand.Rand, mem, disk *Chat, room string, last uint64) {
	t.Helper()
	for range 6 {
		cursor := uint64(rng.IntN(int(last) + 3))
		if rng.IntN(5) == 0 {
			cursor = 0
		}
		limit := []int{-1, 0, 1, 2, 7, 50, 1 << 30}[rng.IntN(7)]
		want, err1 := mem.History(room, cursor, limit)
		got, err2 := disk.History(room, cursor, limit)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(want, got) {
			t.Fatalf("History(%q, %d, %d): %v %v\nwant %+v\n got %+v", room, cursor, limit, err1, err2, want, got)
		}
		want, err1 = mem.HistoryAfter(room, cursor, limit)
		got, err2 = disk.HistoryAfter(room, cursor, limit)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(want, got) {
			t.Fatalf("HistoryAfter(%q, %d, %d): %v %v\nwant %+v\n got %+v", room, cursor, limit, err1, err2, want, got)
		}
	}
}

// The newest messages of a room come from the cache; older ones from the
// source, once, after which a read of the same page is served from memory
// if it joins the cached ones. A failed read is an error, not a short page.
func TestHistoryCacheAndErrors(t *testing.T) {
	var log []eventlog.Event
	for i := range 100 {
		log = append(log, at(time.Duration(i)*time.Second, "ann", fmt.Sprint("m", i), post("r", "ann", fmt.Sprint(i))))
	}
	src := &logSource{log: log}
	s := NewWith(Options{Messages: src, RecentPerRoom: 10, RecentTotal: 10})
	for i, ev := range log {
		s.Apply(uint64(i+1), ev)
	}
	if h := msgs(s.Chat.History("r", 0, 10)); len(h) != 10 || h[9].Index != 100 || src.reads != 0 {
		t.Fatalf("newest 10: %d messages, %d reads", len(h), src.reads)
	}
	if h := msgs(s.Chat.History("r", 0, 11)); len(h) != 11 || h[0].Index != 90 || h[0].Text != "89" || src.reads != 1 {
		t.Fatalf("newest 11: %d messages, %d reads", len(h), src.reads)
	}
	if h := msgs(s.Chat.HistoryAfter("r", 0, 3)); len(h) != 3 || h[0].ID != "m0" || src.reads != 2 {
		t.Fatalf("oldest 3: %+v, %d reads", h, src.reads)
	}
	src.fail = errors.New("disk on fire")
	if h, err := s.Chat.History("r", 50, 5); !errors.Is(err, src.fail) || h != nil {
		t.Fatalf("failed read: %v %v", h, err)
	}
	// A chat without a source keeps everything it applied.
	if _, err := New(time.Now).Chat.History("r", 0, 5); err != nil {
		t.Fatal(err)
	}
}

// DMs between many pairs do not grow the cache beyond its total: the rooms
// used least recently lose their cached messages.
func TestCacheBoundedAcrossConversations(t *testing.T) {
	src := &logSource{}
	s := NewWith(Options{Messages: src, RecentPerRoom: 4, RecentTotal: 100})
	x := uint64(0)
	for a := range 30 {
		for b := range 30 {
			for range 3 {
				ev := at(time.Duration(x), fmt.Sprint("u", a), fmt.Sprint("d", x), &eventlog.DirectMessage{From: fmt.Sprint("u", a), To: fmt.Sprint("u", b), Text: "hi"})
				src.log = append(src.log, ev)
				x++
				s.Apply(x, ev)
			}
		}
	}
	if n := s.Chat.Cached(); n > 100 || n < 90 {
		t.Fatalf("cached %d", n)
	}
	h := msgs(s.Chat.History(api.DMRoom("u0", "u1"), 0, 10))
	if len(h) != 6 || src.reads != 1 {
		t.Fatalf("history %+v, %d reads", h, src.reads)
	}
}

// Sessions read history (through the cache, which they move and refill,
// and through the source) while the apply goroutine posts: every page
// they get is the room's messages as applied, in order, whatever the
// apply did meanwhile. Run with -race: Apply moves the caches under the
// chat's write lock alone, readers under its read lock and cmu.
func TestHistoryWhileApplying(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	log := chatLog(rng, 6000, 8, 12)
	src := &logSource{log: log}
	s := NewWith(Options{Messages: src, RecentPerRoom: 5, RecentTotal: 20})
	want := map[uint64]api.Message{}
	for i, ev := range log {
		if m, ok := messageOf(uint64(i+1), ev); ok {
			want[m.Index] = m
		}
	}
	rooms := []string{"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", api.DMRoom("u0", "u1"), api.DMRoom("u2", "u3")}
	done := make(chan struct{})
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for {
				select {
				case <-done:
					return
				default:
				}
				room := rooms[rng.IntN(len(rooms))]
				var h []api.Message
				var err error
				if rng.IntN(2) == 0 {
					h, err = s.Chat.History(room, uint64(rng.IntN(len(log)+1)), 1+rng.IntN(12))
				} else {
					h, err = s.Chat.HistoryAfter(room, uint64(rng.IntN(len(log)+1)), 1+rng.IntN(12))
				}
				s.Chat.Cached()
				if err == nil {
					for i, m := range h {
						if !reflect.DeepEqual(m, want[m.Index]) || m.Room != room || i > 0 && m.Index <= h[i-1].Index {
							err = fmt.Errorf("room %s: got %+v at %d of the page", room, m, i)
							break
						}
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i, ev := range log {
		s.Apply(uint64(i+1), ev)
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := s.Chat.Cached(); n > 20 {
		t.Fatalf("cached %d", n)
	}
}
