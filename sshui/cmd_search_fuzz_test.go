package sshui

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// FuzzSearchArgs runs the search command on any command line: it never
// panics, exits 0, 1 or 2, prints its usage with every usage error, and
// writes no escape byte anywhere.
func FuzzSearchArgs(f *testing.F) {
	for _, s := range []string{
		"deploy", `"the build" fix*`, "--room general --from bob --since 7d --limit 3 --json x",
		"--room @bob x", "--since 2026-01-02 x", "--since 2026-01-02T15:04:05Z x", "--status", "--status --json",
		"-- --room", "--limit=999999 x", "--room=#a\x1b[31m x", "\"unclosed", "x*", "***", "--since -5h x",
		"--help", strings.Repeat("w ", 40), "東京*", "\u202e\x00\xff",
	} {
		f.Add(s)
	}
	b := sshuitest.New("node1", nil)
	ctx := context.Background()
	b.Post(ctx, "alice", "general", "we deploy the build", "i1", 0, false)
	b.Post(ctx, "bob", "general", "東京 \x1b[31mred", "i2", 0, false)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, line string) {
		var out, errb bytes.Buffer
		e := &execEnv{ctx: ctx, b: b, id: Identity{Name: "alice"}, out: &out, err: &errb,
			now: func() time.Time { return now }, line: cmdLine{line}}
		code := cmdSearch().run(e)
		switch code {
		case exitOK, exitError:
		case exitUsage:
			if !strings.Contains(errb.String(), "usage: search") {
				t.Fatalf("%q: usage error without the usage: %q", line, errb.String())
			}
		default:
			t.Fatalf("%q: exit %d", line, code)
		}
		if bytes.IndexByte(out.Bytes(), 0x1b) >= 0 || bytes.IndexByte(errb.Bytes(), 0x1b) >= 0 {
			t.Fatalf("%q: an escape byte in the output: %q %q", line, out.String(), errb.String())
		}
	})
}
