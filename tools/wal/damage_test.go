package walcmd

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, got)
		}
	}
}

// A torn tail alone: verify says what the node would cut and exits 3; the
// other commands warn and work on the good records.
func TestTornTail(t *testing.T) {
	dir := chatLog(t)
	segs := segments(t, dir)
	last := segs[len(segs)-1]
	data := readFile(t, last)
	recs, _ := entrySpans(data)
	writeFile(t, last, data[:len(data)-3])
	seq := firstSeq(t, last) + uint64(len(recs)) - 1

	r := wal(t, "verify", dir)
	if r.code != ExitTornOnly {
		t.Fatalf("exit %d, want %d: %+v", r.code, ExitTornOnly, r)
	}
	golden(t, "verify-torn.txt", r.transcript([]string{"verify", dir}, tmpOf(dir)))
	want := fmt.Sprintf("torn tail: the node would cut %d bytes at index %d of %s", len(data)-3-(recs[len(recs)-1][0]-1), seq, last)
	mustContain(t, "verify output", r.stdout, want, "OK ")

	r = wal(t, "dump", dir)
	if r.code != 0 {
		t.Fatalf("dump: exit %d: %+v", r.code, r)
	}
	mustContain(t, "dump stderr", r.stderr, "warning: torn tail")
	if strings.Contains(r.stdout, fmt.Sprintf("\n%d ", seq)) {
		t.Errorf("dump printed the torn record %d", seq)
	}
}

// One flipped bit in a record of an older segment is corruption naming the
// file and the WAL index; exit 1.
func TestBitFlip(t *testing.T) {
	dir := chatLog(t)
	seg := segments(t, dir)[1]
	data := readFile(t, seg)
	recs, _ := entrySpans(data)
	data[recs[2][0]+45] ^= 0x10
	writeFile(t, seg, data)

	golden(t, "verify-bitflip.txt", wal(t, "verify", dir).transcript([]string{"verify", dir}, tmpOf(dir)))
	for _, args := range [][]string{{"verify", dir}, {"verify", "--all", dir}} {
		r := wal(t, args...)
		if r.code != ExitProblem {
			t.Fatalf("%v: exit %d, want 1: %+v", args, r.code, r)
		}
		mustContain(t, "verify output", r.stdout,
			fmt.Sprintf("FAIL corrupt: %s index %d: record checksum mismatch", seg, firstSeq(t, seg)+2))
	}
	for _, args := range [][]string{{"stats", dir}, {"replay", dir}, {"dump", dir}, {"export", "--room", "general", dir}} {
		if r := wal(t, args...); r.code != ExitProblem || !strings.Contains(r.msg, "index") {
			t.Errorf("%v: exit %d %q, want 1 naming the index", args, r.code, r.msg)
		}
	}
}

// A record cut out of the middle of a segment breaks the hash chain at the
// index it held.
func TestRecordRemoved(t *testing.T) {
	dir := chatLog(t)
	segs := segments(t, dir)
	seg := segs[len(segs)-1]
	data := readFile(t, seg)
	_, full := entrySpans(data)
	if len(full) < 3 {
		t.Fatalf("last segment holds %d records; the fixture should give it more", len(full))
	}
	cut := append(append([]byte{}, data[:full[1][0]]...), data[full[1][1]:]...)
	writeFile(t, seg, cut)

	r := wal(t, "verify", dir)
	if r.code != ExitProblem {
		t.Fatalf("exit %d, want 1: %+v", r.code, r)
	}
	golden(t, "verify-removed.txt", r.transcript([]string{"verify", dir}, tmpOf(dir)))
	mustContain(t, "verify output", r.stdout, fmt.Sprintf("FAIL corrupt: %s index %d: hash chain broken", seg, firstSeq(t, seg)+1))
}

// A record removed from an older segment leaves the segments out of step.
func TestRecordRemovedOlderSegment(t *testing.T) {
	dir := chatLog(t)
	seg := segments(t, dir)[1]
	data := readFile(t, seg)
	_, full := entrySpans(data)
	writeFile(t, seg, data[:full[len(full)-1][0]]) // drop its last record

	r := wal(t, "verify", dir)
	if r.code != ExitProblem {
		t.Fatalf("exit %d, want 1: %+v", r.code, r)
	}
	mustContain(t, "verify output", r.stdout, "FAIL corrupt: "+segments(t, dir)[2]+": segment starts at index",
		"missing, extra or reordered file")
}

// A well-formed record of a kind this build does not know (a newer syncnet)
// is named as such, not as damage.
func TestUnknownKind(t *testing.T) {
	dir := chatLog(t)
	segs := segments(t, dir)
	seg := segs[len(segs)-1]
	data := readFile(t, seg)
	recs, _ := entrySpans(data)
	rec := data[recs[len(recs)-1][0]:recs[len(recs)-1][1]]
	binary.BigEndian.PutUint16(rec[1:], 999)
	binary.BigEndian.PutUint32(rec[len(rec)-4:], crc32.Checksum(rec[:len(rec)-4], crc32.MakeTable(crc32.Castagnoli)))
	writeFile(t, seg, data)

	r := wal(t, "verify", dir)
	if r.code != ExitProblem {
		t.Fatalf("exit %d, want 1: %+v", r.code, r)
	}
	mustContain(t, "verify output", r.stdout, "unknown event kind 999", "newer syncnet", seg)
	golden(t, "verify-unknown-kind.txt", r.transcript([]string{"verify", dir}, tmpOf(dir)))
}

// Input that is not a WAL is refused with exit 4 and says why; a node
// directory is accepted for its wal/.
func TestInputs(t *testing.T) {
	tmp := t.TempDir()
	foreign := filepath.Join(tmp, "photos")
	if err := os.MkdirAll(foreign, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(foreign, "cat.jpg"), []byte("meow"))
	empty := filepath.Join(tmp, "empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		arg, want string
	}{
		{filepath.Join(tmp, "missing"), "no such directory"},
		{foreign, `not a SyncNet WAL: no segment files (20-digit names) here or in ` + foreign + `/wal; found "cat.jpg"`},
		{empty, "not a SyncNet WAL: the directory is empty"},
		{filepath.Join(foreign, "cat.jpg"), "not a directory"},
	}
	for _, c := range cases {
		for _, cmd := range []string{"verify", "dump", "stats", "replay"} {
			r := wal(t, cmd, c.arg)
			if r.code != ExitInput || !strings.Contains(r.msg, c.want) {
				t.Errorf("%s %s: exit %d %q, want %d %q", cmd, c.arg, r.code, r.msg, ExitInput, c.want)
			}
		}
	}
	dir := chatLog(t)
	dataDir := filepath.Dir(filepath.Dir(dir))
	if r := wal(t, "verify", dataDir); r.code != ExitInput || !strings.Contains(r.msg, "give one of them: "+filepath.Dir(dir)) {
		t.Errorf("verify of a data_dir: %+v", r)
	}
	r := wal(t, "verify", filepath.Dir(dir))
	if r.code != 0 {
		t.Fatalf("verify of the node dir: %+v", r)
	}
	mustContain(t, "stderr", r.stderr, "is a node directory; reading its wal directory "+dir)
}

func TestUsage(t *testing.T) {
	dir := chatLog(t)
	for _, c := range subcommands() {
		r := wal(t, c.name, "--help")
		if r.code != 0 || !strings.Contains(r.stderr, "Usage: syncnet wal "+c.name) {
			t.Errorf("%s --help: exit %d, stderr %q", c.name, r.code, r.stderr)
		}
	}
	bad := [][]string{
		{},
		{"frobnicate", dir},
		{"verify"},
		{"verify", dir, dir},
		{"verify", "--bogus", dir},
		{"diff", dir},
		{"export"}, // without --room it exports every room, so a missing DIR is the usage error
		{"export", "--format", "pdf", dir},
		{"export", "--room", "general", "--format", "pdf", dir},
		{"dump", "--kind", "nope", dir},
		{"replay", "--until", "yesterday", dir},
		{"replay", "--until", "0", dir},
	}
	for _, args := range bad {
		if r := wal(t, args...); r.code != ExitUsage {
			t.Errorf("%q: exit %d, want %d (%q)", args, r.code, ExitUsage, r.msg)
		}
	}
}

func TestClean(t *testing.T) {
	cases := map[string]string{
		"plain ascii":               "plain ascii",
		"田中 👩🏽 e\u0301":             "田中 👩🏽 e\u0301",
		"\x1b[2J":                   `\x1b[2J`,
		"a\nb\tc\rd":                `a\nb\tc\rd`,
		"\u009b31m\u0085":           `\u009b31m\u0085`,
		"\x7f\x00":                  `\x7f\x00`,
		"\u202egnp.exe\u202c":       `\u202egnp.exe\u202c`,
		"\u2066x\u2069\u200e\u061c": `\u2066x\u2069\u200e\u061c`,
		"line\u2028sep":             `line\u2028sep`,
		"bad \xff utf8":             `bad \xff utf8`,
	}
	for in, want := range cases {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
}

// tmpOf returns the test's temporary directory above <tmp>/<node>/wal.
func tmpOf(dir string) string { return filepath.Dir(filepath.Dir(dir)) }
