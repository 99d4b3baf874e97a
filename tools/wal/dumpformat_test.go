package walcmd

import (
	"strings"
	"testing"

	"github.com/syncnet/syncnet/eventlog"
)

// Regression: `wal dump` printed term=1 twice on every election record
// (the header's term, then the body's) and a no-op's missing time as
// 1970-01-01T00:00:00Z. Each record names its term once, and a record
// without a time says so.
func TestDumpOneTermNoEpoch(t *testing.T) {
	r := wal(t, "dump", chatLog(t))
	if r.code != 0 {
		t.Fatalf("dump: %+v", r)
	}
	var noops int
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if n := strings.Count(line, " term="); n != 1 {
			t.Errorf("%d term= fields: %s", n, line)
		}
		if strings.Contains(line, "1970-") {
			t.Errorf("a time of 1970: %s", line)
		}
		if strings.Contains(line, " noop ") {
			noops++
			if !strings.Contains(line, " time=-") {
				t.Errorf("a no-op without time=-: %s", line)
			}
		}
	}
	if noops == 0 {
		t.Fatalf("no no-op in the dump:\n%s", r.stdout)
	}
}

// A local record whose body names another term than its header keeps both,
// told apart: the header's as header_term.
func TestDumpHeaderTermApart(t *testing.T) {
	b := newBuilder(t, t.TempDir(), 1<<20)
	b.newTerm(4, "node2")
	b.local(&eventlog.SuffixDiscarded{FromIndex: 1, Term: 5})
	r := wal(t, "dump", "--kind", "suffix_discarded", b.close())
	if got, want := r.stdout, "header_term=4 lamport=0 time=2026-11-26T14:00:01Z from_index=1 term=5\n"; !strings.HasSuffix(got, want) || strings.Count(got, " term=") != 1 {
		t.Errorf("dump: %q, want it to end in %q", got, want)
	}
}
