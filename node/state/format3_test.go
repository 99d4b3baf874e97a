package state

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
)

// format3Window is the once window of format3Log's snapshot.
const format3Window = time.Hour

// format3Log is the log whose state testdata/format3.snap holds, encoded
// by the last build of format 3 (FNV-1a digests): requests of most kinds,
// a post refused under a ban, a retry, a post written before the header
// had request fields. The file was made by that build's Capture and Encode
// after applying this log with format3Window (git archive of the commit
// before format 4, this function and a test that writes the file).
func format3Log() []eventlog.Event {
	req := func(author, id string, b eventlog.Body) eventlog.Event {
		return eventlog.Event{Header: eventlog.Header{Origin: "n1", Author: author, RequestID: id}, Body: b}
	}
	log := []eventlog.Event{
		req("ann", "a1", &eventlog.MessagePosted{Room: "general", From: "ann", Text: "hello, is the deploy done?", ReplyLamport: 3}),
		req("ann", "a2", &eventlog.DirectMessage{From: "ann", To: "bob", Text: "psst"}),
		req("bob", "b1", &eventlog.RoomTopicSet{Room: "dev", Topic: "deploys", By: "bob"}),
		req("cat", "c1", &eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: "dev", User: "cat"}}),
		req("ann", "a3", &eventlog.UserBanned{Moderation: eventlog.Moderation{Target: "dan", By: "ann", Reason: "spam",
			Until: t0.Add(time.Hour).UnixNano()}}),
		req("dan", "d1", &eventlog.MessagePosted{Room: "general", From: "dan", Text: "buy now"}), // refused: banned
		req("ann", "a1", &eventlog.MessagePosted{Room: "general", From: "ann", Text: "hello, is the deploy done?", ReplyLamport: 9}),
		req("ann", "a4", &eventlog.PresenceChanged{User: "ann", Node: "n1", Status: "online"}),
		{Header: eventlog.Header{Origin: "n1"}, Body: &eventlog.MessagePosted{Room: "general", From: "bob", Text: "yes", ClientMsgID: "legacy-1"}},
		req("bob", "b2", &eventlog.UserRegistered{Name: "bob", KeyFingerprint: "SHA256:kb"}),
		req("cat", "c2", &eventlog.MessagePosted{Room: "general", From: "cat", Text: "waves at everyone in the room", Action: 1}),
	}
	for i := range log {
		log[i].Time = t0.Add(time.Duration(i) * 10 * time.Second).UnixNano()
		log[i].Lamport = uint64(i + 1)
	}
	return log
}

// A snapshot of format 3, written by the build of that format, restores:
// every request it remembers keeps its index, its refusal and its FNV-1a
// digest, so a retry still matches (and other content under its id still
// does not), through a second snapshot in the current format, which keeps
// those digests as FNV-1a ones beside the new requests' word digests; and
// the restored State then decides and answers as one that applied the
// whole log.
func TestRestoreFormat3(t *testing.T) {
	data, err := os.ReadFile("testdata/format3.snap")
	if err != nil {
		t.Fatal(err)
	}
	if data[len(imageMagic)] != 3 {
		t.Fatalf("testdata/format3.snap is of format %d", data[len(imageMagic)])
	}
	log := format3Log()
	tail := []eventlog.Event{
		log[1], // a retry of a2: nothing
		{Header: eventlog.Header{Origin: "n1", Author: "bob", RequestID: "b3"},
			Body: &eventlog.MessagePosted{Room: "dev", From: "bob", Text: "deploy done"}},
		{Header: eventlog.Header{Origin: "n1", Author: "ann", RequestID: "a1"}, // other content under a1: nothing
			Body: &eventlog.MessagePosted{Room: "general", From: "ann", Text: "something else"}},
	}
	for i := range tail {
		tail[i].Time = t0.Add(time.Duration(len(log)+i) * 10 * time.Second).UnixNano()
		tail[i].Lamport = uint64(len(log) + i + 1)
	}
	all := append(append([]eventlog.Event(nil), log...), tail...)
	opts := Options{OnceWindow: format3Window, Messages: &logSource{log: all}}

	ref := NewWith(opts)
	for i, ev := range all {
		ref.Apply(uint64(i+1), ev)
	}
	restored, err := Restore(data, opts)
	if err != nil {
		t.Fatal(err)
	}
	// matches says, for each request of the log, whether each variant of
	// its entries matches its outcome: itself, itself with a raised
	// ReplyLamport, and another body.
	matches := func(s *State) map[string][]bool {
		out := map[string][]bool{}
		for _, ev := range all {
			a, id := RequestKey(ev)
			o, ok := s.Lookup(a, id)
			if !ok {
				t.Fatalf("request %s/%s forgotten", a, id)
			}
			raised, other := ev, ev
			if b, ok := ev.Body.(*eventlog.MessagePosted); ok {
				c := *b
				c.ReplyLamport += 5
				raised.Body = &c
			}
			other.Body = &eventlog.MessagePosted{Room: "general", From: a, Text: "not it"}
			out[a+"/"+id] = append(out[a+"/"+id], o.Matches(ev), o.Matches(raised), o.Matches(other), o.Refusal != nil)
		}
		return out
	}
	fnvs := func(s *State) (n int) {
		for i := s.once.lo(); i < s.once.base+uint64(s.once.n); i++ {
			it := s.once.at(i)
			if it.keyed && it.fnv {
				n++
			}
		}
		return n
	}
	if n := fnvs(restored); n != 10 {
		t.Fatalf("%d requests restored with FNV-1a digests, want 10 (every request of the log)", n)
	}
	for i, ev := range tail {
		restored.Apply(uint64(len(log)+i+1), ev)
	}
	want := matches(ref)
	if got := matches(restored); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored from format 3, then applied the tail:\n got %v\nwant %v", got, want)
	}
	if w := want["ann/a1"]; !w[0] || !w[1] || w[2] || !w[4] || !w[5] || w[6] {
		t.Fatalf("a1 (the first entry, a retry with more seen, a retry with the other text): %v", w)
	}
	// Everything else a State answers is what applying the whole log
	// gives; outcomes are compared above, by what they match.
	a, b := dump(t, restored, all, false), dump(t, ref, all, false)
	a.Outcomes, b.Outcomes = nil, nil
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("restored from format 3 differs:\n%s", diffDumps(a, b))
	}

	again, err := restored.Capture().Encode()
	if err != nil {
		t.Fatal(err)
	}
	if again[len(imageMagic)] != imageVersion {
		t.Fatalf("encoded as format %d", again[len(imageMagic)])
	}
	back, err := Restore(again, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := fnvs(back); n != 10 {
		t.Fatalf("after a second snapshot, %d FNV-1a digests, want 10", n)
	}
	if got := matches(back); !reflect.DeepEqual(got, want) {
		t.Fatalf("through a snapshot of format %d:\n got %v\nwant %v", imageVersion, got, want)
	}
	if again2, _ := back.Capture().Encode(); !bytes.Equal(again, again2) {
		t.Fatal("a State restored from the second snapshot encodes differently")
	}
	// Field 8 (the word digest) is format 4's: format 3 does not have it.
	v3 := bytes.Clone(again)
	v3[len(imageMagic)] = 3
	v3 = append(v3[:len(v3)-4], crc32Castagnoli(v3[:len(v3)-4])...)
	if _, err := Restore(v3, opts); !errors.Is(err, ErrImage) || !strings.Contains(err.Error(), "unknown field 8") {
		t.Fatalf("format 3 with a word digest: %v", err)
	}
}
