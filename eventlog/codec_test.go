package eventlog

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"reflect"
	"strings"
	"testing"
)

func TestRoundTripEveryKind(t *testing.T) {
	for _, b := range sampleBodies() {
		ev := Event{Header: Header{Origin: "node1", Term: 3, Index: 12, Lamport: 44, Time: -5}, Body: b}
		prev := Hash{1, 2, 3}
		rec, err := AppendRecord(nil, prev, ev)
		if err != nil {
			t.Fatalf("%s: encode: %v", b.Kind(), err)
		}
		r, err := DecodeRecord(rec)
		if err != nil {
			t.Fatalf("%s: decode: %v", b.Kind(), err)
		}
		if r.Prev != prev || !reflect.DeepEqual(r.Event, ev) {
			t.Errorf("%s: round trip:\n got %#v\nwant %#v", b.Kind(), r.Event, ev)
		}
		if !strings.HasPrefix(ev.Describe(), b.Kind().String()) {
			t.Errorf("%s: Describe = %q", b.Kind(), ev.Describe())
		}
		if _, err := json.Marshal(ev); err != nil {
			t.Errorf("%s: json: %v", b.Kind(), err)
		}
	}
}

func TestEveryKindHasSample(t *testing.T) {
	have := map[Kind]bool{}
	for _, b := range sampleBodies() {
		have[b.Kind()] = true
	}
	for _, k := range Kinds() {
		if !have[k] {
			t.Errorf("kind %s has no sample body in sampleBodies", k)
		}
		if got, ok := ParseKind(k.String()); !ok || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, ok)
		}
	}
}

func TestFields(t *testing.T) {
	ev := Event{Body: &UserBanned{Moderation{Target: "m", By: "a", Until: 5}}}
	f := ev.Fields()
	if f["target"] != "m" || f["by"] != "a" || f["until"] != int64(5) || f["room"] != "" {
		t.Errorf("Fields = %v", f)
	}
	b, err := json.Marshal(chatEvent(1))
	if err != nil || !strings.Contains(string(b), `"kind":"message_posted"`) || !strings.Contains(string(b), `"room":"general"`) {
		t.Errorf("MarshalJSON = %s, %v", b, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	good, err := AppendRecord(nil, Hash{}, chatEvent(1))
	if err != nil {
		t.Fatal(err)
	}
	future := func(mut func([]byte)) []byte {
		b := append([]byte(nil), good...)
		mut(b)
		return b
	}
	unknownKind := future(func(b []byte) { b[1], b[2] = 0x7f, 0xff })
	unknownKind = append(unknownKind[:len(unknownKind)-4:len(unknownKind)-4], 0, 0, 0, 0)
	unknownKind = sealCopy(unknownKind)

	var ke *UnknownKindError
	if _, err := DecodeRecord(unknownKind); !errors.As(err, &ke) || ke.Kind != 0x7fff || ke.Version != 1 {
		t.Errorf("unknown kind: err = %v", err)
	} else if !strings.Contains(err.Error(), "32767") || !strings.Contains(err.Error(), "version 1") {
		t.Errorf("unknown kind error does not name kind and version: %v", err)
	}
	var ve *VersionError
	if _, err := DecodeRecord(sealVersion(good, 2)); !errors.As(err, &ve) || ve.Version != 2 || ve.Kind != KindMessagePosted {
		t.Errorf("future version: err = %v", err)
	} else if !strings.Contains(err.Error(), "newer syncnet") {
		t.Errorf("future version error does not say so: %v", err)
	}
	// A version byte alone is not a newer record: without a sound frame it
	// is damage.
	for name, rec := range map[string][]byte{
		"version byte only":      future(func(b []byte) { b[0] = 2 }),
		"version 204, bad CRC":   future(func(b []byte) { b[0] = 204; b[len(b)-1] ^= 1 }),
		"version 204, bad len":   sealVersion(future(func(b []byte) { b[offLen+3]++ }), 204),
		"version 204, too short": {204, 1, 2, 3, 4, 5, 6},
	} {
		if _, err := DecodeRecord(rec); err == nil || errors.As(err, &ve) {
			t.Errorf("%s: err = %v, want damage, not a VersionError", name, err)
		} else if !strings.Contains(err.Error(), "not a newer format") {
			t.Errorf("%s: damage message does not rule out a newer format: %v", name, err)
		}
	}
	if _, err := DecodeRecord(future(func(b []byte) { b[50] ^= 1 })); !errors.Is(err, ErrChecksum) {
		t.Errorf("flipped payload: err = %v", err)
	}
	if _, err := DecodeRecord(good[:20]); !errors.Is(err, ErrTruncated) {
		t.Errorf("short: err = %v", err)
	}
	if _, err := DecodeRecord(nil); err == nil {
		t.Error("empty record decoded")
	}
}

// sealCopy recomputes the header length and CRC of a record so tests can
// build well-formed records with odd contents.
func sealCopy(rec []byte) []byte {
	out := append([]byte(nil), rec...)
	seal(out, Kind(uint16(out[1])<<8|uint16(out[2])), Hash(out[offPrev:offPrev+32]))
	return out
}

// sealVersion returns a copy of rec with version byte v and a valid CRC:
// a well-formed record of format version v.
func sealVersion(rec []byte, v uint8) []byte {
	out := append([]byte(nil), rec...)
	out[0] = v
	binary.BigEndian.PutUint32(out[len(out)-4:], crc32.Checksum(out[:len(out)-4], castagnoli))
	return out
}

func TestAppendRecordTooLarge(t *testing.T) {
	ev := Event{Body: &MessagePosted{Text: strings.Repeat("x", MaxRecordSize)}}
	if _, err := AppendRecord(nil, Hash{}, ev); !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
}
