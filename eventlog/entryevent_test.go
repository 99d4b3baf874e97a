package eventlog

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// An entry appended through EntryEvent is stored byte for byte as the same
// event appended decoded; a damaged or stamped entry form is refused.
func TestEntryEventStoresTheSameRecord(t *testing.T) {
	ev := Event{Header: Header{Origin: "n1", Lamport: 7, Time: 99}, Body: &MessagePosted{Room: "general", From: "alice", Text: "hi there"}}
	data, err := AppendRecord(nil, Hash{}, ev)
	if err != nil {
		t.Fatal(err)
	}
	viaEntry, err := EntryEvent(data, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	decoded := ev
	decoded.Index, decoded.Term = 5, 3

	a, b := openT(t, t.TempDir(), Options{NoSync: true}), openT(t, t.TempDir(), Options{NoSync: true})
	if _, _, err := a.Append(context.Background(), viaEntry); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Append(context.Background(), decoded); err != nil {
		t.Fatal(err)
	}
	var ra, rb []byte
	a.ReadRecords(1, 1, func(_ uint64, rec []byte) error { ra = append(ra, rec...); return nil })
	b.ReadRecords(1, 1, func(_ uint64, rec []byte) error { rb = append(rb, rec...); return nil })
	if len(ra) == 0 || !bytes.Equal(ra, rb) {
		t.Fatalf("stored records differ:\n%x\n%x", ra, rb)
	}
	got, err := a.Read(1)
	if err != nil || got.Index != 5 || got.Term != 3 || got.Body.(*MessagePosted).Text != "hi there" {
		t.Fatalf("read back %+v %v", got, err)
	}

	bad := append([]byte(nil), data...)
	bad[len(bad)/2] ^= 1
	if _, err := EntryEvent(bad, 5, 3); !errors.Is(err, ErrChecksum) {
		t.Fatalf("damaged entry form: %v", err)
	}
	stamped, _ := AppendRecord(nil, Hash{}, decoded)
	if _, err := EntryEvent(stamped, 5, 3); err == nil {
		t.Fatal("an entry form that carries an index was accepted")
	}
}
