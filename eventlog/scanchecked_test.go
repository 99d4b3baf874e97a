package eventlog

import (
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// scanAll runs Scan over dir and returns every event and hash it gave.
func scanAll(t *testing.T, dir string) ([]Event, []Hash) {
	t.Helper()
	var (
		evs []Event
		hs  []Hash
	)
	if _, err := Scan(dir, func(seq uint64, ev Event, h Hash) error {
		if seq != uint64(len(evs)+1) {
			t.Fatalf("Scan gave record %d after %d", seq, len(evs))
		}
		evs, hs = append(evs, ev), append(hs, h)
		return nil
	}); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return evs, hs
}

// pipeLog writes n chat records (every 50th a local CommittedUpTo) in
// segments of segSize bytes.
func pipeLog(t *testing.T, n, segSize int) string {
	t.Helper()
	dir := t.TempDir()
	l := openT(t, dir, Options{NoSync: true, SegmentSize: segSize})
	var evs []Event
	for i := range n {
		ev := chatEvent(i)
		if i%50 == 49 {
			ev = Event{Header: Header{Origin: "node1"}, Body: &CommittedUpTo{Index: uint64(i)}}
		}
		evs = append(evs, ev)
	}
	for i := 0; i < n; i += 64 {
		if _, _, err := l.Append(t.Context(), evs[i:min(i+64, n)]...); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	os.Remove(dir + "/LOCK")
	return dir
}

// TestScanChecked: the pipelined scan without decoding gives every record
// Scan gives, in order, with the same hash and header numbers; Event gives
// Scan's event; the entry form is the one AppendRecord makes of the event
// with index and term zero. With many small segments (buffers reused many
// times) and with segments of many batches.
func TestScanChecked(t *testing.T) {
	for _, tc := range []struct{ n, segSize int }{{700, 8 << 10}, {3000, 400 << 10}} {
		dir := pipeLog(t, tc.n, tc.segSize)
		if segs := segPaths(t, dir); len(segs) < 2 {
			t.Fatalf("%d segments; the test wants several", len(segs))
		}
		evs, hs := scanAll(t, dir)
		for _, decode := range []bool{false, true} {
			var got int
			rep, r, err := ScanCheckedReader(dir, decode, func(cr *CheckedRecord) error {
				i := int(cr.Seq) - 1
				if i != got {
					t.Fatalf("record %d after %d", cr.Seq, got)
				}
				got++
				want := evs[i]
				if cr.Hash != hs[i] || cr.Kind != want.Kind() || cr.Term != want.Term || cr.Index != want.Index ||
					cr.Lamport != want.Lamport || cr.Time != want.Time {
					t.Fatalf("decode=%v record %d: %+v, want %+v", decode, cr.Seq, cr, want)
				}
				ev, err := cr.Event()
				if err != nil || !reflect.DeepEqual(ev, want) {
					t.Fatalf("decode=%v record %d: Event %v %+v, want %+v", decode, cr.Seq, err, ev, want)
				}
				form, err := cr.AppendEntryForm([]byte("x"))
				if err != nil {
					t.Fatal(err)
				}
				var wantForm []byte
				if want.Index != 0 {
					z := want
					z.Index, z.Term = 0, 0
					wantForm, _ = AppendRecord(nil, Hash{}, z)
				}
				if string(form) != "x"+string(wantForm) {
					t.Fatalf("record %d: entry form differs from the encoded one", cr.Seq)
				}
				return nil
			})
			if err != nil || got != tc.n || rep.LastSeq != uint64(tc.n) || rep.Head != hs[tc.n-1] {
				t.Fatalf("decode=%v: %v, %d records, report %+v", decode, err, got, rep)
			}
			if err := r.ReadRange(1, uint64(tc.n), func(seq uint64, ev Event) error {
				if !reflect.DeepEqual(ev, evs[seq-1]) {
					t.Fatalf("Reader: record %d differs", seq)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			r.Close()
		}
	}
}

// TestScanCheckedDamage: damage in the middle of an older segment, found
// by the reading goroutine, is the CorruptError naming its file and index,
// after every record before it was handed over (and none after); a payload
// that does not decode, in a checksummed record, is the error Scan gives at
// its index; an error from fn stops the scan and is returned.
func TestScanCheckedDamage(t *testing.T) {
	clean := pipeLog(t, 700, 8<<10)
	segs := segPaths(t, clean)
	victim := segs[len(segs)/2]
	data, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	offs := entryOffsets(data)
	first, err := strconv.ParseUint(victim[len(victim)-20:], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	const k = 5 // the record damaged is the segment's sixth
	bad := first + k

	seen := func(dir string, decode bool) (uint64, error) {
		var last uint64
		_, err := ScanChecked(dir, decode, func(cr *CheckedRecord) error {
			if cr.Seq != last+1 {
				t.Fatalf("record %d after %d", cr.Seq, last)
			}
			last = cr.Seq
			return nil
		})
		return last, err
	}

	flipped := copyDir(t, clean)
	d := append([]byte(nil), data...)
	d[offs[k]+60] ^= 0x04
	if err := os.WriteFile(flipped+"/"+victim[len(victim)-20:], d, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, decode := range []bool{false, true} {
		last, err := seen(flipped, decode)
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Index != bad || ce.File != flipped+"/"+victim[len(victim)-20:] || last != bad-1 {
			t.Fatalf("decode=%v: bit flip at %d: %v after record %d", decode, bad, err, last)
		}
	}

	// A checksummed record whose payload starts with an invalid tag.
	garbled := copyDir(t, clean)
	d = append([]byte(nil), data...)
	_, n := protowire.ConsumeVarint(d[offs[k]:])
	rec := d[offs[k]+n : offs[k+1]]
	rec[recordHeaderSize] = 0x0f // field 1, wire type 7
	seal(rec, recordKind(rec), Hash(rec[offPrev:offPrev+32]))
	if err := os.WriteFile(garbled+"/"+victim[len(victim)-20:], d, 0o644); err != nil {
		t.Fatal(err)
	}
	_, scanErr := Scan(garbled, func(uint64, Event, Hash) error { return nil })
	if scanErr == nil {
		t.Fatal("Scan read a garbled payload")
	}
	for _, decode := range []bool{false, true} {
		last, err := seen(garbled, decode)
		if err == nil || err.Error() != scanErr.Error() || last != bad-1 {
			t.Fatalf("decode=%v: garbled payload: %v after record %d; Scan: %v", decode, err, last, scanErr)
		}
	}

	// The garbled payload, and a bit flipped in a later segment: the
	// first is reported (a decoding scan finds the one in its stage, the
	// other in its reader, which runs ahead).
	both := copyDir(t, garbled)
	later := segs[len(segs)-2]
	ld, err := os.ReadFile(later)
	if err != nil {
		t.Fatal(err)
	}
	ld[entryOffsets(ld)[3]+60] ^= 0x04
	if err := os.WriteFile(both+"/"+later[len(later)-20:], ld, 0o644); err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(scanErr.Error(), garbled, both)
	for _, decode := range []bool{false, true} {
		last, err := seen(both, decode)
		if err == nil || err.Error() != want || last != bad-1 {
			t.Fatalf("decode=%v: garbled payload, then damage: %v after record %d; want %v", decode, err, last, want)
		}
	}

	stop := errors.New("enough")
	for _, decode := range []bool{false, true} {
		for _, at := range []uint64{1, 300, 700} {
			_, err := ScanChecked(clean, decode, func(cr *CheckedRecord) error {
				if cr.Seq == at {
					return stop
				}
				if cr.Seq > at {
					t.Fatalf("record %d after fn stopped at %d", cr.Seq, at)
				}
				return nil
			})
			if !errors.Is(err, stop) {
				t.Fatalf("decode=%v: fn stopped at %d: %v", decode, at, err)
			}
		}
	}
}

// FuzzCheckPayload: checking a payload without decoding it accepts and
// refuses exactly what decoding it does, with the same error and the same
// header numbers.
func FuzzCheckPayload(f *testing.F) {
	for _, rec := range seedRecords(f, []string{"\u202e", "\x00"}) {
		if len(rec) >= recordOverhead && rec[0] == RecordVersion {
			f.Add(uint16(rec[1])<<8|uint16(rec[2]), rec[recordHeaderSize:len(rec)-recordTrailerSize])
		}
	}
	tag := func(b []byte, num protowire.Number, typ protowire.Type) []byte {
		return protowire.AppendTag(b, num, typ)
	}
	body := func(inner []byte) []byte {
		return protowire.AppendBytes(tag(nil, fieldBody, protowire.BytesType), inner)
	}
	post := uint16(KindMessagePosted)
	// A header field of the wrong wire type, in the last occurrence only
	// or in an earlier one (which a decode ignores).
	f.Add(post, protowire.AppendBytes(tag(nil, fieldTerm, protowire.BytesType), []byte("x")))
	f.Add(post, protowire.AppendVarint(tag(protowire.AppendBytes(tag(nil, fieldTerm, protowire.BytesType), []byte("x")), fieldTerm, protowire.VarintType), 3))
	f.Add(post, protowire.AppendVarint(tag(nil, fieldBody, protowire.VarintType), 1))
	// A body field of the wrong type; one the kind does not have; a
	// group; a field number above any a body may use.
	f.Add(post, body(protowire.AppendVarint(tag(nil, 1, protowire.VarintType), 7)))
	f.Add(post, body(protowire.AppendVarint(tag(nil, 900, protowire.VarintType), 7)))
	f.Add(post, body(protowire.AppendFixed32(tag(nil, 2, protowire.Fixed32Type), 7)))
	f.Add(post, body(tag(tag(nil, 3, protowire.StartGroupType), 3, protowire.EndGroupType)))
	f.Add(post, body(protowire.AppendVarint(tag(nil, 5000, protowire.BytesType), 7)))
	f.Add(uint16(KindCommittedUpTo), body(protowire.AppendBytes(tag(nil, 1, protowire.BytesType), nil)))
	f.Fuzz(func(t *testing.T, kind uint16, payload []byte) {
		k := Kind(kind)
		if !k.Known() {
			return
		}
		var check, dec decoder
		h, cerr := check.checkPayload(k, payload)
		ev, derr := dec.decodePayload(k, payload)
		if (cerr == nil) != (derr == nil) || (cerr != nil && cerr.Error() != derr.Error()) {
			t.Fatalf("kind %s payload %x: check says %v, decode %v", k, payload, cerr, derr)
		}
		if derr == nil && (h.Term != ev.Term || h.Index != ev.Index || h.Lamport != ev.Lamport || h.Time != ev.Time) {
			t.Fatalf("kind %s payload %x: check read %+v, decode %+v", k, payload, h, ev.Header)
		}
	})
}
