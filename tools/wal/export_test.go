package walcmd

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// exportIDs runs export with args and returns the client ids of the jsonl
// rows by cluster index.
func exportIDs(t *testing.T, args ...string) map[uint64]string {
	t.Helper()
	r := wal(t, append([]string{"export"}, args...)...)
	if r.code != 0 {
		t.Fatalf("export %q: %+v", args, r)
	}
	ids := map[uint64]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var row exportRow
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("export %q: line %q: %v", args, line, err)
		}
		ids[row.Index] = row.ID
	}
	return ids
}

// --include-uncommitted adds exactly the entries above the recorded commit
// index (the fixture's index 30, "c-2"), as replay's flag does, and still
// stops at --until.
func TestExportIncludeUncommitted(t *testing.T) {
	dir := chatLog(t)
	committed := exportIDs(t, "--room", "general", dir)
	all := exportIDs(t, "--room", "general", "--include-uncommitted", dir)
	if _, ok := committed[30]; ok {
		t.Fatalf("export without --include-uncommitted holds index 30 (above the recorded commit index 29): %v", committed)
	}
	if all[30] != "c-2" {
		t.Fatalf("export --include-uncommitted: index 30 is %q, want c-2; got %v", all[30], all)
	}
	if len(all) != len(committed)+1 {
		t.Errorf("export --include-uncommitted has %d messages, want the %d committed plus one", len(all), len(committed))
	}
	for idx, id := range committed {
		if all[idx] != id {
			t.Errorf("index %d: %q without the flag, %q with it", idx, id, all[idx])
		}
	}
	until := exportIDs(t, "--room", "general", "--until", "29", "--include-uncommitted", dir)
	if len(until) != len(committed) {
		t.Errorf("--until 29 --include-uncommitted: %d messages, want the %d committed ones", len(until), len(committed))
	}
}

// The flag means the same in export and replay, with the same help text.
func TestExportUncommittedFlagMatchesReplay(t *testing.T) {
	flagHelp := regexp.MustCompile(`(?m)^  -include-uncommitted\n\s+(.*)$`)
	var texts []string
	for _, cmd := range []string{"replay", "export"} {
		r := wal(t, cmd, "--help")
		m := flagHelp.FindStringSubmatch(r.stderr)
		if m == nil {
			t.Fatalf("%s --help lists no -include-uncommitted flag:\n%s", cmd, r.stderr)
		}
		if !strings.Contains(r.stderr, "[--include-uncommitted]") {
			t.Errorf("%s --help: the synopsis lacks [--include-uncommitted]:\n%s", cmd, r.stderr)
		}
		texts = append(texts, m[1])
	}
	if texts[0] != texts[1] {
		t.Errorf("-include-uncommitted: replay says %q, export says %q", texts[0], texts[1])
	}
}
