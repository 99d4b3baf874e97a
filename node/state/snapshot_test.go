package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// propWindow is the once window of the property tests: short against the
// generated logs (an hour or so), so requests age out within them.
const propWindow = 5 * time.Minute

// propLog draws a log of every kind this package folds (randomLog's, plus
// room creation), with retries inside and outside the once window, and
// entry times that now and then go back (a leader with a slower clock).
func propLog(rng *rand.Rand, n int) []eventlog.Event {
	log, _ := randomLog(rng, n)
	for i := range log {
		switch rng.IntN(14) {
		case 12, 13: // edits, deletions, reactions, replies (edits_test.go)
			randomChange(rng, log, i)
		case 0:
			room := fmt.Sprint("new", rng.IntN(4))
			log[i] = eventlog.Event{Header: log[i].Header, Body: &eventlog.RoomCreated{Room: room, By: "ann"}}
		case 1:
			log[i].Time -= int64(time.Duration(rng.IntN(90)) * time.Second)
		case 3, 4: // private rooms, keys, settings (access_test.go)
			u := log[i].Author
			if u == "" {
				u = simUsers[rng.IntN(len(simUsers))]
			}
			log[i] = eventlog.Event{Header: log[i].Header, Body: randomAccessBody(rng, u)}
		case 2: // an entry that names no request (applied every time)
			log[i].Author, log[i].RequestID = "", ""
			switch b := log[i].Body.(type) {
			case *eventlog.MessagePosted:
				c := *b
				c.ClientMsgID = ""
				log[i].Body = &c
			case *eventlog.DirectMessage:
				c := *b
				c.ClientMsgID = ""
				log[i].Body = &c
			}
		}
	}
	return log
}

// stateDump is every observable read of a State, for comparisons.
type stateDump struct {
	History  map[string][]api.Message
	Rooms    []api.RoomInfo
	Members  map[string][]string
	RoomsOf  map[string][]string
	Convs    map[string][]api.Conversation
	Owners   map[string]string
	Local    map[string]bool // Banned and Muted at the State's clock
	Presence []api.Presence
	OnNode   map[string][]string
	Outcomes map[string]any
	Refusals map[uint64]api.Refusal
	Refused  uint64
	Count    uint64
	Access   map[string]any // private rooms, keys, settings (dumpAccess)
	Edits    map[string]any // messages as read, versions, threads (dumpEdits)
}

// dump reads everything a State answers about the rooms, users and
// requests of log. local says whether to include the reads at the State's
// own clock.
func dump(t testing.TB, s *State, log []eventlog.Event, local bool) stateDump {
	t.Helper()
	d := stateDump{History: map[string][]api.Message{}, Members: map[string][]string{}, RoomsOf: map[string][]string{},
		Convs:  map[string][]api.Conversation{},
		Owners: map[string]string{}, Local: map[string]bool{}, OnNode: map[string][]string{},
		Outcomes: map[string]any{}, Refusals: map[uint64]api.Refusal{}}
	rooms := map[string]bool{"nope": true}
	users := map[string]bool{}
	for _, r := range s.Chat.Rooms() {
		rooms[r.Name] = true
	}
	for _, u := range simUsers {
		users[u] = true
		for _, v := range simUsers {
			rooms[api.DMRoom(u, v)] = true
		}
	}
	n := uint64(len(log))
	for r := range rooms {
		for _, cur := range []uint64{0, 1, n / 3, n / 2, n - 1, n, n + 5} {
			for _, lim := range []int{0, 1, 3, 1 << 30} {
				h, err := s.Chat.History(r, cur, lim)
				if err != nil {
					t.Fatalf("History(%q, %d, %d): %v", r, cur, lim, err)
				}
				d.History[fmt.Sprint(r, " <", cur, " ", lim)] = h
				h, err = s.Chat.HistoryAfter(r, cur, lim)
				if err != nil {
					t.Fatalf("HistoryAfter(%q, %d, %d): %v", r, cur, lim, err)
				}
				d.History[fmt.Sprint(r, " >", cur, " ", lim)] = h
			}
		}
		d.Members[r] = s.Chat.Members(r)
	}
	d.Rooms = s.Chat.Rooms()
	for u := range users {
		d.RoomsOf[u] = s.Chat.RoomsOf(u)
		d.Convs[u] = s.Conversations(u)
		d.Owners[u], _ = s.Identity.Lookup(u)
		if local {
			d.Local[u] = s.Moderation.Banned(u)
			for r := range rooms {
				d.Local[u+"/"+r] = s.Moderation.Muted(u, r)
			}
		}
	}
	d.Presence = s.Presence.Of(simUsers)
	for _, node := range simNodes {
		d.OnNode[node] = s.Presence.OnNode(node)
	}
	for i, ev := range log {
		if r, ok := s.RefusalAt(uint64(i + 1)); ok {
			d.Refusals[uint64(i+1)] = *r
		}
		a, id := RequestKey(ev)
		o, ok := s.Lookup(a, id)
		var ref *api.Refusal
		if o.Refusal != nil {
			ref = o.Refusal
			o.Refusal = nil
		}
		d.Outcomes[a+"\x00"+id] = []any{o, ok, ref != nil && reflect.DeepEqual(*ref, d.Refusals[o.Index])}
	}
	d.Refused, d.Count = s.Refused(), s.Chat.Count()
	d.Access = dumpAccess(s, users, rooms)
	d.Edits = dumpEdits(t, s, log)
	return d
}

func diffDumps(a, b stateDump) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			f := va.Type().Field(i).Name
			if m, ok := va.Field(i).Interface().(map[string]any); ok {
				m2 := vb.Field(i).Interface().(map[string]any)
				for k := range m {
					if !reflect.DeepEqual(m[k], m2[k]) {
						out = append(out, fmt.Sprintf("%s[%s]:\n  %#v\n  %#v", f, k, m[k], m2[k]))
					}
				}
				continue
			}
			if m, ok := va.Field(i).Interface().(map[string][]api.Message); ok {
				m2 := vb.Field(i).Interface().(map[string][]api.Message)
				keys := make([]string, 0, len(m))
				for k := range m {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					if !reflect.DeepEqual(m[k], m2[k]) {
						out = append(out, fmt.Sprintf("%s[%s]:\n  %+v\n  %+v", f, k, m[k], m2[k]))
						break
					}
				}
				continue
			}
			out = append(out, fmt.Sprintf("%s:\n  %+v\n  %+v", f, va.Field(i).Interface(), vb.Field(i).Interface()))
		}
	}
	return strings.Join(out, "\n")
}

// The property: a State restored from a snapshot taken after any k entries
// and then given entries k+1..n answers every read exactly as one that
// applied all n, and so does the State the snapshot was taken from, which
// went on applying while the snapshot was encoded on another goroutine.
// A restored State encodes to the very bytes it was restored from.
func TestRestoreThenApplyIsApply(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testRestoreThenApplyIsApply(t, false) })
	t.Run("chunkfile", func(t *testing.T) { testRestoreThenApplyIsApply(t, true) })
}

// withSmallChunks makes full chunks of 4 messages for the rest of the test,
// so that short logs fill many.
func withSmallChunks(t *testing.T) {
	old := chunkLen
	chunkLen = 4
	t.Cleanup(func() { chunkLen = old })
}

// testRestoreThenApplyIsApply is TestRestoreThenApplyIsApply with the
// rooms' full index chunks in memory, or in a ChunkFile (then chunks of 4
// messages, so that every log fills many).
func testRestoreThenApplyIsApply(t *testing.T, chunkFile bool) {
	var chunks *ChunkFile
	if chunkFile {
		withSmallChunks(t)
		var err error
		if chunks, err = OpenChunkFile(filepath.Join(t.TempDir(), "chunks"), true); err != nil {
			t.Fatal(err)
		}
		defer chunks.Close()
	}
	seeds := uint64(150)
	if testing.Short() {
		seeds = 30
	}
	now := t0.Add(30 * time.Minute)
	clock := func() time.Time { return now }
	expired, restored := 0, 0
	for seed := uint64(1); seed <= seeds; seed++ {
		rng := rand.New(rand.NewPCG(seed, 12))
		log := propLog(rng, 100+rng.IntN(300))
		src := &logSource{log: log}
		ref := NewWith(Options{Now: clock, OnceWindow: propWindow})
		for i, ev := range log {
			ref.Apply(uint64(i+1), ev)
		}
		want := dump(t, ref, log, true)
		opts := Options{Now: clock, OnceWindow: propWindow, Messages: src, RecentPerRoom: rng.IntN(6), RecentTotal: rng.IntN(20), Chunks: chunks}
		for range 3 {
			k := rng.IntN(len(log) + 1)
			live := NewWith(opts)
			for i, ev := range log[:k] {
				live.Apply(uint64(i+1), ev)
			}
			img := live.Capture()
			encoded := make(chan []byte)
			go func() {
				b, err := img.Encode()
				if err != nil {
					panic(err)
				}
				encoded <- b
			}()
			for i := k; i < len(log); i++ {
				live.Apply(uint64(i+1), log[i])
			}
			data := <-encoded
			if got := dump(t, live, log, true); !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d: the captured State (k=%d) differs from the reference:\n%s", seed, k, diffDumps(got, want))
			}
			back, err := Restore(data, opts)
			if err != nil {
				t.Fatalf("seed %d k=%d: %v", seed, k, err)
			}
			again, _ := back.Capture().Encode()
			if !bytes.Equal(again, data) {
				t.Fatalf("seed %d k=%d: a restored State encodes differently", seed, k)
			}
			for i := k; i < len(log); i++ {
				back.Apply(uint64(i+1), log[i])
			}
			if got := dump(t, back, log, true); !reflect.DeepEqual(got, want) {
				for i, ev := range log {
					t.Logf("%3d %s", i+1, ev.Describe())
				}
				t.Fatalf("seed %d: restored after %d of %d entries, then applied the rest; differs from applying all:\n%s",
					seed, k, len(log), diffDumps(got, want))
			}
			restored++
		}
		// Did the window forget requests in this log (some retry applied
		// again)?
		long := NewWith(Options{OnceWindow: 1000 * time.Hour})
		for i, ev := range log {
			long.Apply(uint64(i+1), ev)
		}
		if ref.Chat.Count() > long.Chat.Count() {
			expired++
		}
	}
	if restored == 0 || expired == 0 {
		t.Fatalf("restored %d, expired %d", restored, expired)
	}
	if chunkFile && chunks.Size() == 0 {
		t.Fatal("no chunk was ever stored in the chunk file")
	}
}

// The window forgets: a retry of a request inside the window changes
// nothing; one after it is a new request (a second message in history).
// Entry times decide, never a node's clock, and a time going back does not
// move the window.
func TestOnceWindow(t *testing.T) {
	w := 10 * time.Minute
	first := at(0, "ann", "r1", post("general", "ann", "hello"))
	log := []eventlog.Event{
		first,
		at(w, "ann", "r1", post("general", "ann", "hello")),               // exactly w later: inside
		at(w+time.Second, "bob", "x", post("general", "bob", "tick")),     // moves the window past r1
		at(time.Minute, "ann", "r1", post("general", "ann", "hello")),     // an old clock: r1 is gone all the same
		at(w+2*time.Second, "ann", "r1", post("general", "ann", "hello")), // a retry, inside the new r1's window
		at(30*time.Minute, "cat", "y", &eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: "dev", User: "cat"}}),
	}
	var dumps []stateDump
	for _, clock := range nodeClocks {
		s := NewWith(Options{Now: func() time.Time { return clock }, OnceWindow: w})
		var applied []int
		for i, ev := range log {
			if len(s.Apply(uint64(i+1), ev)) > 0 {
				applied = append(applied, i+1)
			}
			if i == 1 {
				if o, ok := s.Lookup("ann", "r1"); !ok || o.Index != 1 {
					t.Fatalf("inside the window: %+v %v", o, ok)
				}
			}
		}
		if !reflect.DeepEqual(applied, []int{1, 3, 4, 6}) {
			t.Fatalf("clock %v: applied %v", clock, applied)
		}
		if _, ok := s.Lookup("ann", "r1"); ok {
			t.Fatal("r1 remembered 30 minutes on")
		}
		if h := msgs(s.Chat.History("general", 0, 10)); len(h) != 3 || h[0].ID != "r1" || h[2].ID != "r1" {
			t.Fatalf("history %+v", h)
		}
		dumps = append(dumps, dump(t, s, log, false))
	}
	for i := range dumps {
		if !reflect.DeepEqual(dumps[i], dumps[0]) {
			t.Fatalf("node %d decided otherwise:\n%s", i, diffDumps(dumps[i], dumps[0]))
		}
	}
}

// A restored State forgets and remembers exactly as the original: the
// window and the newest entry time travel in the snapshot.
func TestRestoredWindowDecidesAlike(t *testing.T) {
	w := 10 * time.Minute
	log := []eventlog.Event{
		at(0, "ann", "r1", post("general", "ann", "a")),
		ban(time.Minute, "bob", "spam", 0),
		at(2*time.Minute, "bob", "b1", post("general", "bob", "refused")),
		at(9*time.Minute, "ann", "r2", post("general", "ann", "b")),
	}
	tail := []eventlog.Event{
		at(10*time.Minute, "ann", "r1", post("general", "ann", "a")), // inside: nothing
		at(11*time.Minute, "ann", "r1", post("general", "ann", "a")), // after: again
		at(11*time.Minute, "ann", "r2", post("general", "ann", "b")), // inside: nothing
		at(13*time.Minute, "cat", "j", &eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: "dev", User: "cat"}}),
	}
	opts := Options{OnceWindow: w, Messages: &logSource{log: append(log, tail...)}}
	s := NewWith(opts)
	for i, ev := range log {
		s.Apply(uint64(i+1), ev)
	}
	data, _ := s.Capture().Encode()
	back, err := Restore(data, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := back.RefusalAt(3); !ok || r.Action != "ban" || back.Refused() != 1 {
		t.Fatalf("refusal %+v %v", r, ok)
	}
	for _, st := range []*State{s, back} {
		for i, ev := range tail {
			st.Apply(uint64(5+i), ev)
		}
	}
	a, b := dump(t, s, append(log, tail...), false), dump(t, back, append(log, tail...), false)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("restored differs:\n%s", diffDumps(a, b))
	}
	if s.Chat.Count() != 3 {
		t.Fatalf("count %d", s.Chat.Count())
	}
	if _, ok := back.RefusalAt(3); ok {
		t.Fatal("the refusal outlived the window")
	}
	if o, ok := back.Lookup("ann", "r2"); !ok || o.Index != 4 {
		t.Fatalf("r2: %+v %v", o, ok)
	}
	if _, err := Restore(data, Options{Messages: opts.Messages}); err == nil || !strings.Contains(err.Error(), "once window") {
		t.Fatalf("restore with another window: %v", err)
	}
	if err := (Options{OnceWindow: -1}).Validate(); err == nil {
		t.Fatal("a negative window accepted")
	}
}

// sampleImage encodes the state after a random log, for the failure tests
// and the fuzz corpus.
func sampleImage(seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 5))
	log := propLog(rng, 200)
	s := NewWith(Options{OnceWindow: propWindow})
	for i, ev := range log {
		s.Apply(uint64(i+1), ev)
	}
	b, _ := s.Capture().Encode()
	return b
}

// Every truncation, every flipped byte, another version and another
// magic fail with ErrImage, never a panic.
func TestRestoreRefusesDamage(t *testing.T) {
	data := sampleImage(1)
	opts := Options{OnceWindow: propWindow}
	if _, err := Restore(data, opts); err != nil {
		t.Fatal(err)
	}
	for n := range len(data) {
		if _, err := Restore(data[:n], opts); !errors.Is(err, ErrImage) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
	for i := range data {
		bad := bytes.Clone(data)
		bad[i] ^= 0x40
		if _, err := Restore(bad, opts); !errors.Is(err, ErrImage) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
	next := bytes.Clone(data)
	next[len(imageMagic)] = imageVersion + 1
	if _, err := Restore(next, opts); !errors.Is(err, ErrImage) || !strings.Contains(err.Error(), fmt.Sprint("version ", imageVersion+1)) {
		t.Fatalf("version %d: %v", imageVersion+1, err)
	}
}

// TestReadMarks: a direct conversation shows up for both users with its
// unread count, whether or not they were online; read marks only move
// forward and survive a snapshot; a version-1 snapshot (before read marks)
// still restores.
func TestReadMarks(t *testing.T) {
	s := NewWith(Options{OnceWindow: propWindow})
	t0 := time.Unix(1_800_000_000, 0)
	var log []eventlog.Event
	add := func(b eventlog.Body) {
		ev := at(time.Duration(len(log))*time.Second, "alice", fmt.Sprint("r", len(log)), b)
		ev.Time = t0.Add(time.Duration(len(log)) * time.Second).UnixNano()
		log = append(log, ev)
		s.Apply(uint64(len(log)), ev)
	}
	add(&eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: "general", User: "bob"}})
	add(&eventlog.DirectMessage{From: "alice", To: "bob", Text: "are you there?"}) // 2
	add(&eventlog.DirectMessage{From: "alice", To: "bob", Text: "ping"})           // 3
	add(&eventlog.MessagePosted{Room: "general", From: "alice", Text: "hi all"})   // 4
	dm := api.DMRoom("alice", "bob")
	want := []api.Conversation{{Name: dm, With: "alice", Last: 3, Unread: 2}, {Name: "general", Last: 4, Unread: 1}}
	if got := s.Conversations("bob"); !reflect.DeepEqual(got, want) {
		t.Fatalf("bob's conversations before reading:\n got %+v\nwant %+v", got, want)
	}
	v1 := s.Capture()
	add(&eventlog.ReadMarked{User: "bob", Conv: dm, Index: 2})
	add(&eventlog.ReadMarked{User: "bob", Conv: dm, Index: 1}) // backwards: ignored
	want[0].Read, want[0].Unread = 2, 1
	if got := s.Conversations("bob"); !reflect.DeepEqual(got, want) {
		t.Fatalf("after reading up to 2:\n got %+v\nwant %+v", got, want)
	}
	if got := s.Conversations("alice"); len(got) != 1 || got[0].Name != dm || got[0].With != "bob" || got[0].Unread != 2 {
		t.Fatalf("alice's conversations: %+v", got)
	}
	data, err := s.Capture().Encode()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Restore(data, Options{OnceWindow: propWindow})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Conversations("bob"); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored:\n got %+v\nwant %+v", got, want)
	}
	old, err := v1.Encode()
	if err != nil {
		t.Fatal(err)
	}
	old = asOldFormat(t, old, 1)
	r1, err := Restore(old, Options{OnceWindow: propWindow})
	if err != nil {
		t.Fatalf("version 1: %v", err)
	}
	want[0].Read, want[0].Unread = 0, 2
	if got := r1.Conversations("bob"); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored from version 1:\n got %+v\nwant %+v", got, want)
	}
}

// FuzzRestore: no input makes Restore panic; whatever it accepts encodes
// and restores again to the same bytes, and answers reads without panic.
//
//	go test -run '^$' -fuzz FuzzRestore ./node/state/
func FuzzRestore(f *testing.F) {
	for seed := uint64(1); seed <= 4; seed++ {
		f.Add(sampleImage(seed))
	}
	f.Add([]byte(imageMagic + "\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Fuzzed bodies rarely carry a right checksum: fix it up so the
		// parser behind it is explored too.
		if len(data) > 4 && bytes.HasPrefix(data, []byte(imageMagic)) {
			data = bytes.Clone(data)
			body := data[:len(data)-4]
			sum := crc32Castagnoli(body)
			copy(data[len(data)-4:], sum)
		}
		opts := Options{OnceWindow: propWindow, Messages: &logSource{fail: errors.New("no log")}}
		s, err := Restore(data, opts)
		if err != nil {
			if !errors.Is(err, ErrImage) {
				t.Fatalf("error without ErrImage: %v", err)
			}
			return
		}
		again, err := s.Capture().Encode()
		if err != nil {
			t.Fatal(err)
		}
		s2, err := Restore(again, opts)
		if err != nil {
			t.Fatalf("re-encoded snapshot refused: %v", err)
		}
		if again2, _ := s2.Capture().Encode(); !bytes.Equal(again, again2) {
			t.Fatal("encoding is not stable")
		}
		for _, r := range s.Chat.Rooms() {
			s.Chat.History(r.Name, 0, 5)
			s.Chat.HistoryAfter(r.Name, 3, 5)
			s.Chat.History(r.Name, r.LastIndex, 5)
		}
		s.Lookup("ann", "q1")
		s.RefusalAt(1)
	})
}

// asOldFormat rewrites a snapshot of this format as one of an older
// version: the version byte, and each request's digest in field 6, where
// formats before 4 keep it (the digests themselves are not recomputed).
func asOldFormat(t *testing.T, data []byte, version byte) []byte {
	t.Helper()
	body := data[len(imageMagic)+1 : len(data)-4]
	out := append([]byte(imageMagic), version)
	err := fields(body, func(f field) error {
		if f.num != 13 {
			out = appendField(out, f)
			return nil
		}
		var m []byte
		err := fields(f.b, func(g field) error {
			if g.num == 8 {
				g.num = 6
			}
			m = appendField(m, g)
			return nil
		})
		out = protowire.AppendTag(out, 13, protowire.BytesType)
		out = protowire.AppendBytes(out, m)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return append(out, crc32Castagnoli(out)...)
}

func appendField(b []byte, f field) []byte {
	b = protowire.AppendTag(b, f.num, f.typ)
	switch f.typ {
	case protowire.VarintType:
		return protowire.AppendVarint(b, f.v)
	case protowire.Fixed64Type:
		return protowire.AppendFixed64(b, f.v)
	}
	return protowire.AppendBytes(b, f.b)
}

func crc32Castagnoli(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(nil, crc32.Checksum(b, castagnoli))
}

// ApplyRun, runs of any length, entries prepared ahead or not, gives what
// Apply gives entry by entry: the same events and a State that answers
// every read alike, while readers read.
func TestApplyRunIsApply(t *testing.T) {
	clock := func() time.Time { return t0.Add(30 * time.Minute) }
	for seed := uint64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 21))
		log := propLog(rng, 100+rng.IntN(300))
		opts := Options{Now: clock, OnceWindow: propWindow, Messages: &logSource{log: log}, RecentPerRoom: rng.IntN(6)}
		ref, run := NewWith(opts), NewWith(opts)
		var want, got []api.Event
		for i, ev := range log {
			want = append(want, ref.Apply(uint64(i+1), ev)...)
		}
		done := make(chan struct{})
		go func() { // a reader: the run's locks keep it out
			defer close(done)
			for range 50 {
				run.Chat.History(GeneralRoom, 0, 5)
				run.Lookup("ann", "q1")
				run.Conversations("bob")
				run.Moderation.Banned("cat")
			}
		}()
		var prep Preparer
		for i := 0; i < len(log); {
			n := min(1+rng.IntN(50), len(log)-i)
			ahead := rng.IntN(2) == 0
			run.ApplyRun(n, func(k int) (uint64, eventlog.Event, Prepared) {
				ev := log[i+k]
				if ahead {
					return uint64(i + k + 1), ev, prep.Prepare(ev)
				}
				return uint64(i + k + 1), ev, Prepared{}
			}, func(k int, evs []api.Event) {
				got = append(got, evs...)
			})
			i += n
		}
		<-done
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: ApplyRun's events differ from Apply's", seed)
		}
		if a, b := dump(t, run, log, true), dump(t, ref, log, true); !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: ApplyRun's State differs:\n%s", seed, diffDumps(a, b))
		}
	}
}
