package state

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// randomChange turns entry i of log into an edit, deletion, reaction or
// reply that names an earlier message of log (often a real one, so most
// are admitted, and some not: by another user, of a message gone from
// the once window, with a wrong conversation or id). It returns false when
// there is no earlier message.
func randomChange(rng *rand.Rand, log []eventlog.Event, i int) bool {
	type msg struct {
		index      uint64
		conv, from string
		id         string
	}
	var earlier []msg
	for j, ev := range log[:i] {
		if m, ok := messageOf(uint64(j+1), ev); ok {
			earlier = append(earlier, msg{uint64(j + 1), m.Room, m.From, m.ID})
		}
	}
	if len(earlier) == 0 {
		return false
	}
	m := earlier[rng.IntN(len(earlier))]
	if rng.IntN(8) == 0 { // an index that may be no message at all
		m.index = uint64(rng.IntN(i) + 1)
	}
	by := m.from
	if rng.IntN(4) == 0 {
		by = simUsers[rng.IntN(len(simUsers))]
	}
	conv := m.conv
	if rng.IntN(10) == 0 {
		conv = simRooms[rng.IntN(len(simRooms))]
	}
	id := m.id
	if rng.IntN(10) == 0 {
		id = fmt.Sprint("q", rng.IntN(40))
	}
	h := &log[i].Header
	h.Author = by
	if h.RequestID == "" {
		h.RequestID = fmt.Sprint("c", i)
	}
	emojis := []string{"👍", "🎉", "x", "🇩🇪"}
	switch rng.IntN(6) {
	case 0, 1:
		log[i].Body = &eventlog.MessageEdited{Conv: conv, Target: m.index, TargetID: id, By: by, Text: fmt.Sprint("edit", rng.IntN(100))}
	case 2:
		d := &eventlog.MessageDeleted{Conv: conv, Target: m.index, TargetID: id, By: by, Reason: fmt.Sprint("r", rng.IntN(3))}
		if rng.IntN(3) == 0 {
			d.Admin = 1
		}
		log[i].Body = d
	case 3, 4:
		r := &eventlog.ReactionSet{Conv: conv, Target: m.index, By: by, Emoji: emojis[rng.IntN(len(emojis))]}
		if rng.IntN(3) == 0 {
			r.Remove = 1
		}
		log[i].Body = r
	default: // a reply
		if api.IsDMRoom(m.conv) {
			parties := strings.Split(m.conv[1:], ",")
			log[i].Body = &eventlog.DirectMessage{From: by, To: parties[rng.IntN(2)], Text: "re", ReplyTo: m.index}
		} else {
			log[i].Body = &eventlog.MessagePosted{Room: conv, From: by, Text: "re", ReplyTo: m.index}
		}
	}
	return true
}

// dumpEdits is what the reads of this package's overlays answer for log:
// every room's history as shown (overlays laid over it), and for each
// message something happened to, the message as MessageAt reads it, its
// versions and its thread.
func dumpEdits(t testing.TB, s *State, log []eventlog.Event) map[string]any {
	t.Helper()
	out := map[string]any{"changed": s.Edits.Changed()}
	rooms := map[string]bool{"nope": true}
	for _, r := range simRooms {
		rooms[r] = true
	}
	for _, u := range simUsers {
		for _, v := range simUsers {
			rooms[api.DMRoom(u, v)] = true
		}
	}
	for r := range rooms {
		h, err := s.History(r, 0, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		out["history "+r] = h
		for _, m := range h {
			if m.Extra == nil {
				continue
			}
			x := m.Index
			at, ok, err := s.MessageAt(x)
			if err != nil || !ok {
				t.Fatalf("MessageAt(%d) = %v, %v", x, ok, err)
			}
			out[fmt.Sprint("msg ", x)] = at
			vs, err := s.Versions(at)
			if err != nil && !errors.Is(err, api.ErrDeleted) {
				t.Fatalf("Versions(%d): %v", x, err)
			}
			out[fmt.Sprint("versions ", x)] = vs
			if m.Extra.Replies > 0 {
				th, err := s.Thread(m.Room, x, 1<<30)
				if err != nil {
					t.Fatalf("Thread(%d): %v", x, err)
				}
				out[fmt.Sprint("thread ", x)] = th
			}
		}
	}
	if len(log) > 0 { // an index that is no message, and one beyond the log
		for _, x := range []uint64{1, uint64(len(log)) + 7} {
			m, ok, err := s.MessageAt(x)
			if err != nil {
				t.Fatalf("MessageAt(%d): %v", x, err)
			}
			out[fmt.Sprint("at ", x)] = []any{m, ok}
		}
	}
	return out
}

// editsLog is a hand-made log: posts by ann and bob, a DM, then changes.
type editsLog struct {
	t   *testing.T
	s   *State
	n   uint64
	now time.Duration
	evs []api.Event // of the last apply (copied)
}

func newEditsLog(t *testing.T) *editsLog {
	return &editsLog{t: t, s: NewWith(Options{OnceWindow: time.Hour})}
}

// apply applies b by author with request id id, a second after the last
// entry, and returns its index.
func (l *editsLog) apply(author, id string, b eventlog.Body) uint64 {
	l.n++
	l.now += time.Second
	ev := at(l.now, author, id, b)
	ev.Index = l.n
	l.evs = append([]api.Event(nil), l.s.Apply(l.n, ev)...)
	return l.n
}

// refusal is what became of the request (author, id).
func (l *editsLog) refusal(author, id string) *api.Refusal {
	o, ok := l.s.Lookup(author, id)
	if !ok {
		l.t.Fatalf("request %s/%s unknown", author, id)
	}
	return o.Refusal
}

func (l *editsLog) msg(index uint64) api.Message {
	m, ok, err := l.s.MessageAt(index)
	if err != nil || !ok {
		l.t.Fatalf("MessageAt(%d) = %v, %v", index, ok, err)
	}
	return m
}

func mustRefuse(t *testing.T, r *api.Refusal, want string) {
	t.Helper()
	if r == nil {
		t.Fatalf("admitted; want refused with %q", want)
	}
	if !strings.Contains(r.Error(), want) {
		t.Fatalf("refused with %q; want %q", r.Error(), want)
	}
}

func mustAdmit(t *testing.T, r *api.Refusal) {
	t.Helper()
	if r != nil {
		t.Fatalf("refused: %v", r)
	}
}

func TestEditByAuthorOnly(t *testing.T) {
	l := newEditsLog(t)
	a := l.apply("ann", "a1", post("general", "ann", "helo"))
	b := l.apply("bob", "b1", post("general", "bob", "hi"))

	e := l.apply("ann", "e1", &eventlog.MessageEdited{Conv: "general", Target: a, TargetID: "a1", By: "ann", Text: "hello"})
	mustAdmit(t, l.refusal("ann", "e1"))
	if len(l.evs) != 1 || l.evs[0].Kind != api.EventMessageChanged || l.evs[0].Index != e ||
		l.evs[0].Change.Op != api.ChangeEdit || l.evs[0].Change.Target != a || l.evs[0].Change.Text != "hello" || l.evs[0].Room != "general" {
		t.Fatalf("events of an edit: %+v", l.evs)
	}
	m := l.msg(a)
	if m.Text != "hello" || !m.Edited() || m.Extra.Edits != 1 || m.Extra.EditedAt.IsZero() || m.From != "ann" {
		t.Fatalf("edited message: %+v %+v", m, m.Extra)
	}
	vs, err := l.s.Versions(m)
	if err != nil || len(vs) != 2 || vs[0].Text != "helo" || vs[0].Index != a || vs[1].Text != "hello" || vs[1].Index != e {
		t.Fatalf("versions: %+v, %v", vs, err)
	}
	h, _ := l.s.History("general", 0, 10)
	if len(h) != 2 || h[0].Text != "hello" || h[1].Text != "hi" || h[1].Extra != nil {
		t.Fatalf("history after an edit: %+v", h)
	}

	// bob may not edit ann's message, whatever id he names.
	l.apply("bob", "e2", &eventlog.MessageEdited{Conv: "general", Target: a, TargetID: "a1", By: "bob", Text: "pwned"})
	mustRefuse(t, l.refusal("bob", "e2"), "only your own messages")
	l.apply("bob", "e3", &eventlog.MessageEdited{Conv: "general", Target: a, TargetID: "b1", By: "bob", Text: "pwned"})
	mustRefuse(t, l.refusal("bob", "e3"), "only your own messages")
	if len(l.evs) != 0 {
		t.Fatalf("a refused edit said %+v", l.evs)
	}
	// Nor name the wrong conversation, a message that is not one, or none.
	l.apply("bob", "e4", &eventlog.MessageEdited{Conv: "dev", Target: b, TargetID: "b1", By: "bob", Text: "x"})
	mustRefuse(t, l.refusal("bob", "e4"), "there is no message 2 in #dev")
	l.apply("bob", "e5", &eventlog.MessageEdited{Conv: "general", Target: e, TargetID: "e1", By: "bob", Text: "x"})
	mustRefuse(t, l.refusal("bob", "e5"), "there is no message")
	l.apply("bob", "e6", &eventlog.MessageEdited{Conv: "general", Target: b, TargetID: "b1", By: "bob", Text: "  "})
	mustRefuse(t, l.refusal("bob", "e6"), "an edit needs text")
	if m := l.msg(a); m.Text != "hello" {
		t.Fatalf("refused edits changed the text: %q", m.Text)
	}
	// The fast path answers as the apply does.
	probe := at(l.now, "bob", "e7", &eventlog.MessageEdited{Conv: "general", Target: a, TargetID: "a1", By: "bob", Text: "x"})
	mustRefuse(t, l.s.Authorize(probe), "only your own messages")
}

func TestEditWindowBanAndMute(t *testing.T) {
	l := newEditsLog(t)
	a := l.apply("ann", "a1", post("general", "ann", "one"))
	l.now += 2 * time.Hour // past the once window: ann's request is forgotten
	l.apply("bob", "b1", post("general", "bob", "later"))
	l.apply("ann", "e1", &eventlog.MessageEdited{Conv: "general", Target: a, TargetID: "a1", By: "ann", Text: "two"})
	mustRefuse(t, l.refusal("ann", "e1"), "within 1h of posting")
	l.apply("ann", "d1", &eventlog.MessageDeleted{Conv: "general", Target: a, TargetID: "a1", By: "ann"})
	mustRefuse(t, l.refusal("ann", "d1"), "an admin can delete any")

	c := l.apply("cat", "c1", post("dev", "cat", "mine"))
	l.apply("admin", "m1", &eventlog.UserMuted{Moderation: eventlog.Moderation{Target: "cat", By: "admin", Room: "dev"}})
	l.apply("cat", "e2", &eventlog.MessageEdited{Conv: "dev", Target: c, TargetID: "c1", By: "cat", Text: "x"})
	if r := l.refusal("cat", "e2"); r == nil || !errors.Is(r, api.ErrMuted) {
		t.Fatalf("a muted author's edit: %v", r)
	}
	l.apply("cat", "r1", &eventlog.ReactionSet{Conv: "dev", Target: c, By: "cat", Emoji: "👍"})
	if r := l.refusal("cat", "r1"); r == nil || !errors.Is(r, api.ErrMuted) {
		t.Fatalf("a muted user's reaction: %v", r)
	}
	l.apply("cat", "d2", &eventlog.MessageDeleted{Conv: "dev", Target: c, TargetID: "c1", By: "cat"})
	mustAdmit(t, l.refusal("cat", "d2")) // deleting one's own words is allowed when muted

	d := l.apply("dan", "x1", post("general", "dan", "spam"))
	l.apply("admin", "k1", &eventlog.UserBanned{Moderation: eventlog.Moderation{Target: "dan", By: "admin"}})
	l.apply("dan", "d3", &eventlog.MessageDeleted{Conv: "general", Target: d, TargetID: "x1", By: "dan"})
	if r := l.refusal("dan", "d3"); r == nil || !errors.Is(r, api.ErrForbidden) || !strings.Contains(r.Error(), "banned") {
		t.Fatalf("a banned author's deletion: %v", r)
	}
}

func TestDeleteAuthorOrAdmin(t *testing.T) {
	l := newEditsLog(t)
	a := l.apply("ann", "a1", post("general", "ann", "secret"))
	b := l.apply("bob", "b1", post("general", "bob", "rude"))
	l.apply("ann", "r1", &eventlog.ReactionSet{Conv: "general", Target: a, By: "ann", Emoji: "🎉"})

	l.apply("ann", "d1", &eventlog.MessageDeleted{Conv: "general", Target: b, TargetID: "b1", By: "ann"})
	mustRefuse(t, l.refusal("ann", "d1"), "only your own messages")
	l.apply("ann", "d2", &eventlog.MessageDeleted{Conv: "general", Target: b, By: "ann", Admin: 1, Reason: "rude"})
	mustAdmit(t, l.refusal("ann", "d2"))
	if len(l.evs) != 1 || l.evs[0].Change.Op != api.ChangeDelete || !l.evs[0].Change.Admin || l.evs[0].Change.Target != b {
		t.Fatalf("events of a deletion: %+v", l.evs)
	}
	l.apply("ann", "d3", &eventlog.MessageDeleted{Conv: "general", Target: a, TargetID: "a1", By: "ann"})
	mustAdmit(t, l.refusal("ann", "d3"))
	m := l.msg(a)
	if m.Text != "" || !m.Deleted() || m.Extra.By != "ann" || m.Extra.Reactions != nil {
		t.Fatalf("a deleted message: %+v %+v", m, m.Extra)
	}
	if _, err := l.s.Versions(m); !errors.Is(err, api.ErrDeleted) {
		t.Fatalf("versions of a deleted message: %v", err)
	}
	// Nothing more changes a deleted message.
	l.apply("ann", "e1", &eventlog.MessageEdited{Conv: "general", Target: a, TargetID: "a1", By: "ann", Text: "back"})
	mustRefuse(t, l.refusal("ann", "e1"), "message 1 was deleted")
	l.apply("bob", "r2", &eventlog.ReactionSet{Conv: "general", Target: a, By: "bob", Emoji: "👍"})
	mustRefuse(t, l.refusal("bob", "r2"), "was deleted")
	l.apply("ann", "d4", &eventlog.MessageDeleted{Conv: "general", Target: a, TargetID: "a1", By: "ann"})
	mustRefuse(t, l.refusal("ann", "d4"), "was deleted")
}

func TestDirectMessageChanges(t *testing.T) {
	l := newEditsLog(t)
	conv := api.DMRoom("ann", "bob")
	a := l.apply("ann", "a1", &eventlog.DirectMessage{From: "ann", To: "bob", Text: "psst"})
	l.apply("ann", "e1", &eventlog.MessageEdited{Conv: conv, Target: a, TargetID: "a1", By: "ann", Text: "psst!"})
	mustAdmit(t, l.refusal("ann", "e1"))
	if f := (api.Filter{DMsFor: "cat"}); f.Match(l.evs[0]) {
		t.Fatal("a third party's subscription gets the edit of a direct message")
	}
	if f := (api.Filter{DMsFor: "bob"}); !f.Match(l.evs[0]) {
		t.Fatal("the other party's subscription misses the edit of a direct message")
	}
	l.apply("bob", "r1", &eventlog.ReactionSet{Conv: conv, Target: a, By: "bob", Emoji: "👀"})
	mustAdmit(t, l.refusal("bob", "r1"))
	l.apply("cat", "r2", &eventlog.ReactionSet{Conv: conv, Target: a, By: "cat", Emoji: "👀"})
	mustRefuse(t, l.refusal("cat", "r2"), "no such message in a conversation of yours")
	l.apply("cat", "d1", &eventlog.DirectMessage{From: "cat", To: "ann", Text: "re", ReplyTo: a})
	mustRefuse(t, l.refusal("cat", "d1"), "there is no message 1 in this direct conversation to reply to")
	r := l.apply("bob", "d2", &eventlog.DirectMessage{From: "bob", To: "ann", Text: "re", ReplyTo: a})
	mustAdmit(t, l.refusal("bob", "d2"))
	m := l.msg(a)
	if m.Text != "psst!" || m.Extra.Replies != 1 || m.Extra.LastReply != r || len(m.Extra.Reactions) != 1 {
		t.Fatalf("the direct message: %+v %+v", m, m.Extra)
	}
}

func TestReactionsToggle(t *testing.T) {
	l := newEditsLog(t)
	a := l.apply("ann", "a1", post("general", "ann", "ship it"))
	react := func(by, id, emoji string, remove bool) {
		r := &eventlog.ReactionSet{Conv: "general", Target: a, By: by, Emoji: emoji}
		if remove {
			r.Remove = 1
		}
		l.apply(by, id, r)
	}
	react("bob", "r1", "👍", false)
	if len(l.evs) != 1 || l.evs[0].Change.Op != api.ChangeReact || len(l.evs[0].Change.Reactions) != 1 {
		t.Fatalf("events of a reaction: %+v", l.evs)
	}
	react("bob", "r2", "👍", false) // twice: nothing changes, nothing said
	if len(l.evs) != 0 {
		t.Fatalf("a repeated reaction said %+v", l.evs)
	}
	react("cat", "r3", "👍", false)
	react("cat", "r4", "🎉", false)
	m := l.msg(a)
	want := []api.Reaction{{Emoji: "👍", Count: 2, Users: []string{"bob", "cat"}}, {Emoji: "🎉", Count: 1, Users: []string{"cat"}}}
	if fmt.Sprint(m.Extra.Reactions) != fmt.Sprint(want) {
		t.Fatalf("reactions %+v, want %+v", m.Extra.Reactions, want)
	}
	if !l.s.Edits.Reacted(a, "cat", "🎉") || l.s.Edits.Reacted(a, "bob", "🎉") {
		t.Fatal("Reacted")
	}
	react("cat", "r5", "🎉", true)
	react("cat", "r6", "🎉", true) // not set: nothing
	if len(l.evs) != 0 {
		t.Fatalf("taking back a reaction not set said %+v", l.evs)
	}
	react("bob", "r7", "👍", true)
	react("cat", "r8", "👍", true)
	if m := l.msg(a); m.Extra != nil || l.s.Edits.Changed() != 0 {
		t.Fatalf("every reaction taken back, the message still has %+v (%d overlays)", m.Extra, l.s.Edits.Changed())
	}
	for i, bad := range []string{"", "two words", "\x1b[31m", strings.Repeat("👍", 9)} {
		react("bob", fmt.Sprint("bad", i), bad, false)
		if l.refusal("bob", fmt.Sprint("bad", i)) == nil {
			t.Fatalf("emoji %q admitted", bad)
		}
	}
	for i := range MaxReactionKinds {
		react("bob", fmt.Sprint("k", i), fmt.Sprint("e", i), false)
		mustAdmit(t, l.refusal("bob", fmt.Sprint("k", i)))
	}
	react("bob", "over", "one-more", false)
	mustRefuse(t, l.refusal("bob", "over"), "different reactions already")
	react("cat", "same", "e3", false) // an emoji it has already: fine
	mustAdmit(t, l.refusal("cat", "same"))
}

func TestRepliesAndThreads(t *testing.T) {
	l := newEditsLog(t)
	root := l.apply("ann", "a1", post("general", "ann", "lunch?"))
	l.apply("bob", "x", post("dev", "bob", "elsewhere"))
	r1 := l.apply("bob", "b1", &eventlog.MessagePosted{Room: "general", From: "bob", Text: "yes", ReplyTo: root})
	mustAdmit(t, l.refusal("bob", "b1"))
	if len(l.evs) != 1 || l.evs[0].Message.ReplyTo != root {
		t.Fatalf("a reply's event: %+v", l.evs)
	}
	r2 := l.apply("cat", "c1", &eventlog.MessagePosted{Room: "general", From: "cat", Text: "me too", ReplyTo: root})
	l.apply("cat", "c2", &eventlog.MessagePosted{Room: "dev", From: "cat", Text: "wrong room", ReplyTo: root})
	mustRefuse(t, l.refusal("cat", "c2"), "there is no message 1 in #dev to reply to")
	l.apply("cat", "c3", &eventlog.MessagePosted{Room: "general", From: "cat", Text: "future", ReplyTo: 99})
	mustRefuse(t, l.refusal("cat", "c3"), "there is no message 99")
	th, err := l.s.Thread("general", root, 10)
	if err != nil || len(th) != 3 || th[0].Index != root || th[1].Index != r1 || th[2].Index != r2 || th[0].Extra.Replies != 2 {
		t.Fatalf("thread: %+v, %v", th, err)
	}
	th, _ = l.s.Thread("general", root, 1)
	if len(th) != 2 || th[1].Index != r2 {
		t.Fatalf("thread limited to 1: %+v", th)
	}
	h, _ := l.s.History("general", 0, 10)
	if len(h) != 3 || h[0].Extra.Replies != 2 || h[0].Extra.LastReply != r2 || h[1].ReplyTo != root {
		t.Fatalf("history: %+v", h)
	}
}

func TestChangesOfPrivateRooms(t *testing.T) {
	l := newEditsLog(t)
	l.apply("ann", "j1", &eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: "ops", User: "ann"}})
	l.apply("ann", "p1", &eventlog.RoomAccessSet{Room: "ops", Private: 1, Authority: eventlog.Authority{By: "ann"}})
	if !l.s.CanRead("ann", "ops") || l.s.CanRead("bob", "ops") {
		t.Skip("ops did not become private; the access rules changed")
	}
	a := l.apply("ann", "a1", post("ops", "ann", "private"))
	l.apply("bob", "r1", &eventlog.ReactionSet{Conv: "ops", Target: a, By: "bob", Emoji: "👍"})
	mustRefuse(t, l.refusal("bob", "r1"), "private")
	l.apply("ann", "r2", &eventlog.ReactionSet{Conv: "ops", Target: a, By: "ann", Emoji: "👍"})
	mustAdmit(t, l.refusal("ann", "r2"))
}

// The order of changes decides alike on every node: Apply and ApplyRun of
// the same log leave the same overlays (the run holds every lock itself).
func TestChangesApplyRunIsApply(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 27))
		log := propLog(rng, 300)
		one, run := NewWith(Options{OnceWindow: propWindow}), NewWith(Options{OnceWindow: propWindow})
		for i, ev := range log {
			one.Apply(uint64(i+1), ev)
		}
		run.ApplyRun(len(log), func(i int) (uint64, eventlog.Event, Prepared) {
			return uint64(i + 1), log[i], Prepared{}
		}, func(int, []api.Event) {})
		a, b := dumpEdits(t, one, log), dumpEdits(t, run, log)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: ApplyRun's overlays differ from Apply's", seed)
		}
		if seed == 1 && one.Edits.Changed() == 0 {
			t.Fatal("the random log changed no message")
		}
	}
}

// A deletion drops the texts of a message's versions from memory; an
// audit (AllVersions) reads them back from the log, in order.
func TestAllVersionsOfADeletedMessage(t *testing.T) {
	var log []eventlog.Event
	add := func(author, id string, b eventlog.Body) uint64 {
		ev := at(time.Duration(len(log))*time.Second, author, id, b)
		log = append(log, ev)
		return uint64(len(log))
	}
	a := add("ann", "a1", post("general", "ann", "v1"))
	add("ann", "e1", &eventlog.MessageEdited{Conv: "general", Target: a, TargetID: "a1", By: "ann", Text: "v2"})
	add("ann", "e2", &eventlog.MessageEdited{Conv: "general", Target: a, TargetID: "a1", By: "ann", Text: "v3"})
	add("ann", "d1", &eventlog.MessageDeleted{Conv: "general", Target: a, TargetID: "a1", By: "ann"})
	s := NewWith(Options{Messages: &logSource{log: log}, OnceWindow: time.Hour})
	for i, ev := range log {
		s.Apply(uint64(i+1), ev)
	}
	m, ok, err := s.MessageAt(a)
	if err != nil || !ok || !m.Deleted() || m.Text != "" {
		t.Fatalf("the deleted message: %+v %v %v", m, ok, err)
	}
	vs, err := s.AllVersions(m)
	if err != nil || len(vs) != 3 || vs[0].Text != "v1" || vs[1].Text != "v2" || vs[2].Text != "v3" || vs[2].Index != 3 {
		t.Fatalf("AllVersions: %+v, %v", vs, err)
	}
	if _, err := s.Versions(m); !errors.Is(err, api.ErrDeleted) {
		t.Fatalf("Versions of a deleted message: %v", err)
	}
	img, _ := s.Capture().Encode()
	back, err := Restore(img, Options{Messages: &logSource{log: log}, OnceWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if vs2, err := back.AllVersions(m); err != nil || !reflect.DeepEqual(vs2, vs) {
		t.Fatalf("after a restore: %+v, %v", vs2, err)
	}
}
