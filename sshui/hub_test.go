package sshui_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/syncnet/syncnet/node/api"
	. "github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// recorder is a Sender that records messages; blocked makes Send hang like
// a program whose terminal stopped reading.
type recorder struct {
	mu      sync.Mutex
	msgs    []tea.Msg
	n       atomic.Int64
	block   chan struct{}
	resyncs atomic.Int64
}

func (r *recorder) Send(m tea.Msg) {
	if r.block != nil {
		<-r.block
	}
	if _, ok := m.(ResyncMsg); ok {
		r.resyncs.Add(1)
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	r.n.Add(1)
}

func msgEvent(room string, i uint64) api.Event {
	return api.Event{Kind: api.EventMessage, Index: i, Message: api.Message{Index: i, Room: room, From: "bob", Text: "x"}}
}

func TestHubStalledSessionDoesNotSlowOthers(t *testing.T) {
	h := NewHub(sshuitest.New("node1", nil), HubConfig{Queue: 64})
	stalled := &recorder{block: make(chan struct{})}
	fine := &recorder{}
	cs := h.Register("slow", stalled)
	cf := h.Register("fast", fine)
	cs.SetRooms([]string{"general"})
	cf.SetRooms([]string{"general"})
	done := make(chan struct{})
	go func() {
		for i := range uint64(1000) {
			h.Deliver(msgEvent("general", i+1))
			for fine.n.Load() < int64(i+1)-32 { // a live reader keeps up
				time.Sleep(time.Millisecond)
			}
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Deliver blocked on a stalled session")
	}
	waitUntil(t, 10*time.Second, func() bool { return fine.n.Load() == 1000 },
		func() string { return "fast session did not get every event" })
	close(stalled.block)
	waitUntil(t, 10*time.Second, func() bool { return stalled.resyncs.Load() >= 1 },
		func() string { return "stalled session was never told to resync" })
	h.Unregister(cs)
	h.Unregister(cf)
	if h.Len() != 0 {
		t.Fatalf("len = %d", h.Len())
	}
}

func TestHubRoutesByInterest(t *testing.T) {
	h := NewHub(sshuitest.New("node1", nil), HubConfig{})
	a, b := &recorder{}, &recorder{}
	ca, cb := h.Register("alice", a), h.Register("bob", b)
	ca.SetRooms([]string{"general"})
	cb.SetRooms([]string{"dev"})
	h.Deliver(msgEvent("general", 1))
	h.Deliver(api.Event{Kind: api.EventMessage, Index: 2, Message: api.Message{Index: 2, Room: api.DMRoom("alice", "carol"), From: "carol", To: "alice"}})
	h.Deliver(api.Event{Kind: api.EventModeration, Index: 3, Mod: api.Moderation{Action: "kick", Target: "bob", By: "admin"}})
	// alice: general, the DM, and the "bob was kicked" notice; bob: the kick.
	waitUntil(t, 5*time.Second, func() bool { return a.n.Load() == 3 && b.n.Load() == 1 },
		func() string { return fmt.Sprintf("wrong routing: alice %d bob %d", a.n.Load(), b.n.Load()) })
	b.mu.Lock()
	_, kicked := b.msgs[0].(KickedMsg)
	b.mu.Unlock()
	if !kicked {
		t.Fatalf("bob got %T, want KickedMsg", b.msgs[0])
	}
	h.Unregister(ca)
	h.Unregister(cb)
}

// TestConnectStormIsNotQuadratic: every new session's join and presence
// went to every open session as its own event (a line and a members reload
// each), so 1,000 sessions connecting never settled (BENCHMARKS.txt). In a
// room above LargeRoom members the others now get one MembersMsg per tick
// with the count, presence is never sent one by one, and the joiner still
// sees its own join.
func TestConnectStormIsNotQuadratic(t *testing.T) {
	f := sshuitest.New("node1", nil)
	h := NewHub(f, HubConfig{LargeRoom: 3, StatusPoll: 20 * time.Millisecond})
	go h.Run()
	defer h.Stop()
	waitUntil(t, 5*time.Second, func() bool { return f.Subscribers() == 1 }, func() string { return "hub never subscribed" })
	const n = 12
	recs := make([]*recorder, n)
	for i := range recs {
		recs[i] = &recorder{}
		h.Register(fmt.Sprint("u", i), recs[i]).SetRooms([]string{"general"})
	}
	ctx := t.Context()
	for i := range n {
		if err := f.JoinRoom(ctx, fmt.Sprint("u", i), "general"); err != nil {
			t.Fatal(err)
		}
		if err := f.SetPresence(ctx, fmt.Sprint("u", i), "online"); err != nil {
			t.Fatal(err)
		}
	}
	count := func(r *recorder) (joins, own, presence, churn int) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, m := range r.msgs {
			switch m := m.(type) {
			case EventMsg:
				switch m.Event.Kind {
				case api.EventJoin:
					joins++
				case api.EventPresence:
					presence++
				}
			case MembersMsg:
				j, _ := ChurnOf(m, "general") // counts so far
				churn = max(churn, j)
			}
		}
		return
	}
	last := recs[0] // registered first: sees every later join
	waitUntil(t, 5*time.Second, func() bool {
		joins, _, _, churn := count(last)
		return joins+churn >= n
	}, func() string { j, _, _, c := count(last); return fmt.Sprintf("u0 saw %d joins + %d summarised", j, c) })
	for i, r := range recs {
		joins, _, presence, _ := count(r)
		if presence != 0 {
			t.Errorf("u%d got %d presence events, want 0 (MembersMsg instead)", i, presence)
		}
		if joins > 3+2 { // joins while the room was small, plus its own
			t.Errorf("u%d got %d join events one by one in a large room", i, joins)
		}
	}
}

// slowOffline is a backend whose "offline" presence writes take a while
// (a commit through a busy leader): it records the writes.
type slowOffline struct {
	*sshuitest.Fake
	mu      sync.Mutex
	writes  []string
	started chan struct{} // closed when an offline write begins
	once    sync.Once
}

func (b *slowOffline) SetPresence(ctx context.Context, user, status string) error {
	if status == "offline" {
		b.once.Do(func() { close(b.started) })
		time.Sleep(50 * time.Millisecond)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes = append(b.writes, status)
	return nil
}

func (b *slowOffline) written() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.writes...)
}

// A session that ends and another that starts at once leave the user
// online: the "offline" of the first must not land after the "online" of
// the second (each was written by a goroutine of its own, in any order).
func TestHubPresenceWritesInOrder(t *testing.T) {
	b := &slowOffline{Fake: sshuitest.New("node1", nil), started: make(chan struct{})}
	h := NewHub(b, HubConfig{})
	leave := h.Attend("carol")
	for deadline := time.Now().Add(5 * time.Second); len(b.written()) < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first presence was never written")
		}
	}
	leave() // offline: slow to write
	select {
	case <-b.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the offline presence was never written")
	}
	_ = h.Attend("carol") // online again while it is written
	var w []string
	for deadline := time.Now().Add(5 * time.Second); len(w) < 3; time.Sleep(time.Millisecond) {
		if w = b.written(); time.Now().After(deadline) {
			t.Fatalf("presence writes %q, want 3", w)
		}
	}
	if w[len(w)-1] != "online" {
		t.Fatalf("carol has a session, and her presence was written %q: the last is not online", w)
	}
}

// countingMembers counts Backend.Members calls.
type countingMembers struct {
	*sshuitest.Fake
	calls atomic.Int64
}

func (c *countingMembers) Members(room string) []api.Presence {
	c.calls.Add(1)
	return c.Fake.Members(room)
}

// A join in a large room reads no member list: each join of a connect storm
// reread all N members to decide whether the room was large (N² in all).
// The count stays right from the cached list and the joins and leaves since.
func TestJoinsDoNotRereadTheRoom(t *testing.T) {
	b := &countingMembers{Fake: sshuitest.New("node1", nil)}
	h := NewHub(b, HubConfig{LargeRoom: 3})
	ctx := t.Context()
	for i := range 5 {
		if err := b.JoinRoom(ctx, fmt.Sprint("u", i), "general"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(h.Members("general")); n != 5 {
		t.Fatalf("%d members, want 5", n)
	}
	before := b.calls.Load()
	for i := range 300 {
		h.Deliver(api.Event{Kind: api.EventJoin, Room: "general", User: fmt.Sprint("n", i)})
	}
	for i := range 20 {
		h.Deliver(api.Event{Kind: api.EventLeave, Room: "general", User: fmt.Sprint("n", i)})
	}
	if got := b.calls.Load() - before; got != 0 {
		t.Errorf("320 joins and leaves read the member list %d times, want 0", got)
	}
	if n := RoomSize(h, "general"); n != 5+300-20 {
		t.Errorf("room size %d, want %d", n, 5+300-20)
	}
	// Sessions asking for the large room's list get it as it was, read
	// again once, at the next poll.
	for range 100 {
		h.Members("general")
	}
	if got := b.calls.Load() - before; got != 0 {
		t.Errorf("sessions asking for a stale large room read it %d times before the poll, want 0", got)
	}
	FlushMembers(h)
	if got := b.calls.Load() - before; got != 1 {
		t.Errorf("the poll read the room %d times, want 1", got)
	}
	if n := RoomSize(h, "general"); n != 5 {
		t.Errorf("room size after a reload %d, want 5 (the fake's own members)", n)
	}
}

// Membership news redraws every session it reaches, so a poll sends it to
// 200 sessions at most, in turn: every session has the latest after
// ceil(sessions/200) polls, and a session that has it gets it no more.
func TestMembersNewsGoesOutInTurns(t *testing.T) {
	f := sshuitest.New("node1", nil)
	for i := range 3 {
		if err := f.JoinRoom(t.Context(), fmt.Sprint("m", i), "general"); err != nil {
			t.Fatal(err)
		}
	}
	h := NewHub(f, HubConfig{LargeRoom: 2})
	recs := make([]*recorder, 500)
	for i := range recs {
		recs[i] = &recorder{}
		c := h.Register(fmt.Sprint("u", i), recs[i])
		defer h.Unregister(c)
	}
	news := func() (got, presence int) {
		for _, r := range recs {
			r.mu.Lock()
			for _, m := range r.msgs {
				if m, ok := m.(MembersMsg); ok {
					got++
					presence = max(presence, int(m.Presence))
				}
			}
			r.mu.Unlock()
		}
		return got, presence
	}
	wait := func(want int) {
		t.Helper()
		waitUntil(t, 5*time.Second, func() bool { n, _ := news(); return n == want },
			func() string { n, _ := news(); return fmt.Sprintf("%d sessions had news, want %d", n, want) })
	}
	FlushMembers(h) // nothing happened: nothing sent
	h.Deliver(api.Event{Kind: api.EventPresence, User: "x"})
	for _, want := range []int{200, 400, 500, 500} {
		FlushMembers(h)
		wait(want)
	}
	h.Deliver(api.Event{Kind: api.EventPresence, User: "y"})
	FlushMembers(h)
	wait(700)
	if _, p := news(); p != 2 {
		t.Errorf("latest news counts %d presence changes, want 2", p)
	}
	// A user who joins a large room hears of it at the next poll, turn or
	// not: u250's turn is far (the next turn is u300 to u499).
	for range 300 {
		FlushMembers(h)
	}
	wait(1000)
	h.Deliver(api.Event{Kind: api.EventJoin, Room: "general", User: "u250"}) // large: the fake's 3 members
	FlushMembers(h)
	waitUntil(t, 5*time.Second, func() bool {
		recs[250].mu.Lock()
		defer recs[250].mu.Unlock()
		for _, m := range recs[250].msgs {
			if m, ok := m.(MembersMsg); ok && m.Rooms["general"] > 0 {
				return true
			}
		}
		return false
	}, func() string { return "u250 did not hear of its own join at the next poll" })
}
