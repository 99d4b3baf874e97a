package eventlog

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestDescribeGolden pins the Describe and JSON forms of every kind (what
// logs and `wal dump` show). Re-record with -update and review the diff.
func TestDescribeGolden(t *testing.T) {
	var b strings.Builder
	for _, body := range sampleBodies() {
		ev := Event{Header: Header{Origin: "node1", Term: 3, Index: 12, Lamport: 44, Time: 1_764_000_000_123_456_789}, Body: body}
		js, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(ev.Describe() + "\n" + string(js) + "\n")
	}
	path := filepath.Join("testdata", "describe.golden")
	if *updateGolden {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("Describe/JSON output changed; run with -update and review the diff.\ngot:\n%s", got)
	}
}
