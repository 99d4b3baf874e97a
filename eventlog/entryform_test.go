package eventlog

import (
	"bytes"
	"context"
	"math/rand/v2"
	"reflect"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// entryForms returns, for ev with Index and Term set, the stored record (as
// a WAL holds it, chained to prev) and the entry form the slow way: decode
// and encode.
func entryForms(t testing.TB, ev Event, prev Hash) (stored, entry []byte) {
	t.Helper()
	stored, err := AppendRecord(nil, prev, ev)
	if err != nil {
		t.Fatal(err)
	}
	ev.Index, ev.Term = 0, 0
	entry, err = AppendRecord(nil, Hash{}, ev)
	if err != nil {
		t.Fatal(err)
	}
	return stored, entry
}

// TestEntryFormSplice: for every kind and random headers, the splice gives
// the very bytes decode-and-encode gives, both ways.
func TestEntryFormSplice(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	headers := []Header{
		{Origin: "node1", Term: 3, Index: 9, Lamport: 4, Time: 5, Author: "alice", RequestID: "r1"},
		{Term: 1, Index: 1},                            // no origin
		{Origin: "n", Term: 1 << 40, Index: 1<<63 + 5}, // long varints
		{Origin: "node2", Index: 7},                    // term 0
	}
	for range 200 {
		headers = append(headers, Header{Origin: []string{"", "n1", "node-long-name"}[rnd.IntN(3)],
			Term: rnd.Uint64N(1 << uint(rnd.IntN(60)+1)), Index: rnd.Uint64N(1<<uint(rnd.IntN(60)+1)) + 1,
			Lamport: rnd.Uint64N(1000), Time: rnd.Int64(), Author: []string{"", "bob"}[rnd.IntN(2)]})
	}
	for _, h := range headers {
		for _, b := range sampleBodies() {
			ev := Event{Header: h, Body: b}
			stored, entry := entryForms(t, ev, Hash{1, 2, 3})
			got, index, term, k, err := ToEntryForm([]byte("keep"), stored)
			if err != nil || !bytes.Equal(got[4:], entry) || string(got[:4]) != "keep" || index != h.Index || term != h.Term || k != b.Kind() {
				t.Fatalf("ToEntryForm(%s %+v) = %x %d %d %s %v, want %x", b.Kind(), h, got, index, term, k, err, entry)
			}
			payload, err := appendStamped(nil, entry, b.Kind(), h.Index, h.Term)
			if err != nil || !bytes.Equal(payload, stored[recordHeaderSize:len(stored)-recordTrailerSize]) {
				t.Fatalf("appendStamped(%s %+v) = %x, %v; want the stored payload", b.Kind(), h, payload, err)
			}
		}
	}
}

// TestEntryFormLocalAndOddLayouts: a local record gives index 0; a record
// whose header fields are out of the canonical order still converts (the
// slow path), and a stamped entry form that already carries an index is
// refused by the splice.
func TestEntryFormLocalAndOddLayouts(t *testing.T) {
	local, err := AppendRecord(nil, Hash{9}, Event{Header: Header{Origin: "n1", Term: 2}, Body: &CommittedUpTo{Index: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if out, index, _, _, err := ToEntryForm(nil, local); err != nil || index != 0 || len(out) != 0 {
		t.Fatalf("local record: %x index %d %v", out, index, err)
	}
	// Index before term, after the lamport field: not canonical.
	ev := Event{Header: Header{Origin: "n1", Term: 3, Index: 8, Lamport: 2}, Body: &MessagePosted{Room: "r", From: "a", Text: "t"}}
	e := encoder{}
	e.String(fieldOrigin, &ev.Origin)
	e.Uint(fieldLamport, &ev.Lamport)
	e.Uint(fieldIndex, &ev.Index)
	e.Uint(fieldTerm, &ev.Term)
	mark := len(e.b)
	ev.Body.Wire(&e)
	body := append([]byte(nil), e.b[mark:]...)
	e.b = protowire.AppendBytes(protowire.AppendTag(e.b[:mark], fieldBody, protowire.BytesType), body)
	rec := append(make([]byte, recordHeaderSize), e.b...)
	rec = append(rec, 0, 0, 0, 0)
	seal(rec, KindMessagePosted, Hash{})
	_, want := entryForms(t, ev, Hash{})
	got, index, term, _, err := ToEntryForm(nil, rec)
	if err != nil || index != 8 || term != 3 || !bytes.Equal(got, want) {
		t.Fatalf("odd layout: %x %d %d %v; want %x", got, index, term, err, want)
	}
	if _, err := appendStamped(nil, rec, KindMessagePosted, 8, 3); err == nil {
		t.Fatal("appendStamped of a record that carries an index: no error")
	}
	if _, err := appendStamped(nil, want, KindRoomCreated, 8, 3); err == nil {
		t.Fatal("appendStamped with another kind: no error")
	}
}

// TestAppendWithEntryRecord: events appended with WithEntryRecord read back
// exactly as events appended the ordinary way, and the records are
// byte-identical; a mismatched entry form falls back to encoding the event.
func TestAppendWithEntryRecord(t *testing.T) {
	plain := openT(t, t.TempDir(), Options{NoSync: true})
	spliced := openT(t, t.TempDir(), Options{NoSync: true})
	var evs, marked []Event
	for i := range 50 {
		ev := chatEvent(i)
		_, entry := entryForms(t, ev, Hash{})
		if i == 7 {
			_, entry = entryForms(t, chatEvent(8), Hash{}) // wrong bytes for this event
			entry[recordHeaderSize] ^= 0xff                // and not even a valid frame
		}
		evs, marked = append(evs, ev), append(marked, WithEntryRecord(ev, entry))
	}
	if _, _, err := plain.Append(context.Background(), evs...); err != nil {
		t.Fatal(err)
	}
	if _, _, err := spliced.Append(context.Background(), marked...); err != nil {
		t.Fatal(err)
	}
	var a, b [][]byte
	for _, x := range []struct {
		l   *Log
		out *[][]byte
	}{{plain, &a}, {spliced, &b}} {
		if err := x.l.ReadRecords(1, 50, func(_ uint64, rec []byte) error {
			*x.out = append(*x.out, append([]byte(nil), rec...))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("records appended with WithEntryRecord differ from the plain ones")
	}
}

// FuzzEntryForm: whatever a record holds, a conversion either fails or
// agrees with decoding and encoding it.
func FuzzEntryForm(f *testing.F) {
	for _, rec := range seedRecords(f, []string{"\u202e"}) {
		f.Add(rec)
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		got, index, term, _, err := ToEntryForm(nil, rec)
		r, derr := DecodeRecord(rec)
		if err != nil || derr != nil {
			if (err == nil) != (derr == nil) && derr == nil {
				// The splice parses only the header fields; it may accept
				// what decoding refuses (a bad body), never the reverse.
				t.Fatalf("ToEntryForm failed (%v) on a record that decodes", err)
			}
			return
		}
		if index != r.Event.Index || term != r.Event.Term {
			t.Fatalf("index/term %d/%d, decoded %d/%d", index, term, r.Event.Index, r.Event.Term)
		}
		if index == 0 {
			return
		}
		ev := r.Event
		ev.Index, ev.Term = 0, 0
		want, err := AppendRecord(nil, Hash{}, ev)
		if err != nil {
			return
		}
		if r2, err := DecodeRecord(got); err != nil || !reflect.DeepEqual(r2.Event, ev) {
			t.Fatalf("entry form decodes to %+v (%v), want %+v (encoded %x, got %x)", r2.Event, err, ev, want, got)
		}
	})
}
