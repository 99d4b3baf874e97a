package walcmd

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "re-record the golden files in testdata/golden")

// result is one run of `syncnet wal ...`.
type result struct {
	stdout, stderr string
	code           int
	msg            string // the message main prints for an *ExitError
}

// wal runs the command in-process, as bin/syncnet would, with no terminal.
func wal(t testing.TB, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut, false, false)
	r := result{stdout: out.String(), stderr: errOut.String()}
	var ee *ExitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &ee):
		r.code, r.msg = ee.Code, ee.Msg
	default:
		r.code, r.msg = 1, err.Error()
	}
	return r
}

// transcript renders a run for a golden file, with the temporary directory
// replaced by $TMP so that the file is stable.
func (r result) transcript(args []string, tmp string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ syncnet wal %s\n%s", strings.Join(args, " "), r.stdout)
	if r.stderr != "" {
		fmt.Fprintf(&b, "--- stderr\n%s", r.stderr)
	}
	fmt.Fprintf(&b, "--- exit %d", r.code)
	if r.msg != "" {
		fmt.Fprintf(&b, ": %s", r.msg)
	}
	b.WriteString("\n")
	if tmp == "" {
		return b.String()
	}
	return strings.ReplaceAll(b.String(), tmp, "$TMP")
}

// golden compares got with testdata/golden/name, or re-records it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to record it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (re-record with -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestGolden runs every read command on the main fixture and compares its
// whole transcript (stdout, stderr, exit code).
func TestGolden(t *testing.T) {
	dir := chatLog(t)
	tmp := filepath.Dir(filepath.Dir(dir))
	node := filepath.Dir(dir)
	cases := []struct {
		name string
		args []string
	}{
		{"dump.txt", []string{"dump", dir}},
		{"dump-json.txt", []string{"dump", "--json", "--from", "10", "--to", "20", dir}},
		{"dump-kind.txt", []string{"dump", "--kind", "leader_elected", node}},
		{"verify.txt", []string{"verify", dir}},
		{"stats.txt", []string{"stats", dir}},
		{"replay.txt", []string{"replay", "--room", "general", dir}},
		{"replay-until-index.txt", []string{"replay", "--until", "14", "--room", "general", dir}},
		{"replay-until-time.txt", []string{"replay", "--until", "2026-11-26T14:00:20Z", "--room", "ops", dir}},
		{"replay-uncommitted.txt", []string{"replay", "--include-uncommitted", dir}},
		{"export-jsonl.txt", []string{"export", "--room", "general", dir}},
		{"export-csv.txt", []string{"export", "--room", "general", "--format", "csv", dir}},
		{"export-txt.txt", []string{"export", dir, "--room", "ops", "--format", "txt"}},
		{"export-dm.txt", []string{"export", "--room", "@bob,carol", "--format", "txt", dir}},
		{"export-uncommitted.txt", []string{"export", "--room", "general", "--include-uncommitted", dir}},
		{"export-uncommitted-until.txt", []string{"export", "--room", "general", "--format", "csv", "--until", "29", "--include-uncommitted", dir}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			golden(t, c.name, wal(t, c.args...).transcript(c.args, tmp))
		})
	}
}
