package eventlog

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var writeSeeds = flag.Bool("write-seeds", false, "rewrite testdata/fuzz/FuzzDecode seed corpus")

// FuzzDecode: decoding never panics, and whatever decodes re-encodes to a
// record that decodes to the same thing.
func FuzzDecode(f *testing.F) {
	for _, s := range seedRecords(f, nil) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRecord(data)
		if err != nil {
			return
		}
		again, err := AppendRecord(nil, r.Prev, r.Event)
		if err != nil {
			t.Fatalf("re-encode of decoded %s: %v", r.Event.Describe(), err)
		}
		r2, err := DecodeRecord(again)
		if err != nil {
			t.Fatalf("decode of re-encoded record: %v", err)
		}
		if r2.Prev != r.Prev || !reflect.DeepEqual(r2.Event, r.Event) {
			t.Fatalf("round trip changed the event:\n %#v\n %#v", r.Event, r2.Event)
		}
		_ = r.Event.Describe()
	})
}

// seedRecords returns records of every kind, chat messages carrying naughty
// strings, and a few damaged records.
func seedRecords(tb testing.TB, naughty []string) [][]byte {
	var out [][]byte
	add := func(ev Event) {
		rec, err := AppendRecord(nil, Hash{0xaa, 0xbb}, ev)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, rec)
	}
	for _, b := range sampleBodies() {
		add(Event{Header: Header{Origin: "node2", Term: 4, Index: 10, Lamport: 20, Time: 1_764_000_000_000_000_000}, Body: b})
	}
	for i, s := range naughty {
		add(Event{Header: Header{Origin: "node1", Lamport: uint64(i)}, Body: &MessagePosted{Room: "general", From: s, Text: s, ClientMsgID: fmt.Sprint(i)}})
	}
	good := out[1]
	out = append(out, good[:len(good)/2], append([]byte{2}, good[1:]...), make([]byte, 64), nil)
	return out
}

// naughtyStrings reads some of the Big List of Naughty Strings.
func naughtyStrings(tb testing.TB, max int) []string {
	f, err := os.Open("/work/shared/testdata/naughty-strings/blns.txt")
	if err != nil {
		tb.Skipf("blns not available: %v", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for i := 0; sc.Scan() && len(out) < max; i++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") || i%7 != 0 {
			continue
		}
		out = append(out, line)
	}
	return out
}

// TestWriteFuzzSeeds regenerates the checked-in seed corpus:
// go test ./eventlog -run TestWriteFuzzSeeds -write-seeds
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("use -write-seeds to regenerate testdata/fuzz/FuzzDecode")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, rec := range seedRecords(t, naughtyStrings(t, 40)) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", rec)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%03d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzDecodePayload gets past the CRC: it seals arbitrary payloads of any
// kind into valid frames, so the protowire decoder itself is fuzzed.
func FuzzDecodePayload(f *testing.F) {
	for _, rec := range seedRecords(f, []string{"\u202e", "\x00"}) {
		if len(rec) >= recordOverhead && rec[0] == RecordVersion {
			f.Add(uint16(rec[1])<<8|uint16(rec[2]), rec[recordHeaderSize:len(rec)-recordTrailerSize])
		}
	}
	f.Fuzz(func(t *testing.T, kind uint16, payload []byte) {
		if len(payload) > maxPayloadSize {
			return
		}
		rec := make([]byte, recordHeaderSize, recordOverhead+len(payload))
		rec = append(append(rec, payload...), 0, 0, 0, 0)
		seal(rec, Kind(kind), Hash{})
		r, err := DecodeRecord(rec)
		if err != nil {
			return
		}
		again, err := AppendRecord(nil, r.Prev, r.Event)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		r2, err := DecodeRecord(again)
		if err != nil || !reflect.DeepEqual(r2.Event, r.Event) {
			t.Fatalf("round trip: %v\n %#v\n %#v", err, r.Event, r2.Event)
		}
	})
}
