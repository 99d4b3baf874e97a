package walcmd

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A node that opened its log and wrote nothing leaves one empty segment: a
// WAL, clean, with nothing in it.
func TestEmptyLog(t *testing.T) {
	dir := newBuilder(t, t.TempDir(), 0).close()
	for _, cmd := range []string{"verify", "stats", "dump", "replay"} {
		r := wal(t, cmd, dir)
		if r.code != 0 {
			t.Errorf("%s of an empty log: %+v", cmd, r)
		}
		t.Logf("%s:\n%s", cmd, r.stdout)
	}
}

// The bar goes to stderr on a terminal only, and never into stdout.
func TestProgressOnlyOnTerminal(t *testing.T) {
	dir := chatLog(t)
	defer func(old int64) { progressMin = old }(progressMin)
	progressMin = 1
	for _, tty := range []bool{false, true} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"verify", dir}, &out, &errOut, tty, false); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(errOut.String(), "verify "+dir); got != tty {
			t.Errorf("tty=%v: bar shown=%v; stderr %q", tty, got, errOut.String())
		}
		if !strings.HasPrefix(out.String(), "OK ") {
			t.Errorf("tty=%v: stdout %q", tty, out.String())
		}
	}
}
