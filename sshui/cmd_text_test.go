package sshui_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/syncnet/syncnet/sshui/sshuitest"
	gossh "golang.org/x/crypto/ssh"
)

// runPtyCode runs cmd with ssh -t and no input; out holds stdout and stderr.
func runPtyCode(t testing.TB, addr, user string, key gossh.Signer, cmd string) execResult {
	t.Helper()
	c := dial(t, addr, user, key)
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.StdinPipe(); err != nil { // never closed, like a terminal
		t.Fatal(err)
	}
	out, err := sess.CombinedOutput(cmd)
	r := execResult{out: string(out)}
	var ee *gossh.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitStatus()
	} else if err != nil {
		t.Fatalf("run %q: %v", cmd, err)
	}
	return r
}

// TestExecPostTextIsVerbatim: the exec line was split like a shell line, so
// `ssh host post general "don't panic"` posted "dont panic", a flag was
// taken out of the middle of the text, "-1 …" failed as an unknown flag and
// runs of spaces collapsed. The commands below are the raw lines OpenSSH
// sends (it joins its arguments with single spaces).
func TestExecPostTextIsVerbatim(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	cases := []struct{ cmd, text string }{
		{"post general don't panic", "don't panic"},
		{"post general tip: use --id to dedupe", "tip: use --id to dedupe"},
		{"post general -1 for that idea", "-1 for that idea"},
		{"post general a   b  c", "a   b  c"},
		{`post general "quoted" \n 'single' $HOME`, `"quoted" \n 'single' $HOME`},
		{"post general  two leading spaces are trimmed", "two leading spaces are trimmed"},
		{"post #general line one\nline two", "line one\nline two"},
		{"post general red \x1b[31malert\x1b[0m\u202e!", "red alert!"},
		{"post general --help", "--help"},
		{"post --id v1 general hi --id v2", "hi --id v2"},
		{"post --id=v3 -- general --not-a-flag", "--not-a-flag"},
		{"post -- general -", ""}, // "-" reads stdin: see TestExecPostReadsStdin
	}
	for _, c := range cases {
		if c.text == "" {
			continue
		}
		r := run(t, ts.addr, "alice", k, c.cmd)
		if r.code != 0 {
			t.Errorf("%q: %+v", c.cmd, r)
			continue
		}
		h := hist(t, f, "general", 0, 1)
		if len(h) != 1 || h[0].Text != c.text {
			t.Errorf("%q posted %q, want %q", c.cmd, h[0].Text, c.text)
		}
	}
	h := hist(t, f, "general", 0, 100)
	var ids []string
	for _, m := range h {
		if m.ID == "v1" || m.ID == "v2" || m.ID == "v3" {
			ids = append(ids, m.ID)
		}
	}
	if !reflect.DeepEqual(ids, []string{"v1", "v3"}) {
		t.Errorf("ids = %v, want [v1 v3]: only flags before ROOM are flags", ids)
	}
}

// TestExecPostReadsStdin: `post ROOM` with no text, or with "-", reads the
// text from stdin, so multi-line text and `echo "$msg" | ssh … post general`
// work; text over the limit is refused, never cut.
func TestExecPostReadsStdin(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	for _, cmd := range []string{"post general", "post general -", "post --id s1 -- general -"} {
		r := runIn(t, ts.addr, "alice", k, cmd, "first line\n  second: don't --id x\n")
		if r.code != 0 {
			t.Fatalf("%q: %+v", cmd, r)
		}
		if h := hist(t, f, "general", 0, 1); h[0].Text != "first line\n  second: don't --id x" {
			t.Fatalf("%q posted %q", cmd, h[0].Text)
		}
	}
	// history shows the lines, the later ones indented under the message.
	if r := runIn(t, ts.addr, "alice", k, "history general --limit 1", ""); !strings.HasSuffix(r.out, "<alice> first line\n      second: don't --id x\n") {
		t.Fatalf("history of a message of two lines: %q", r.out)
	}
	before := f.Posts()
	r := runIn(t, ts.addr, "alice", k, "post general", strings.Repeat("é", 2001))
	if r.code != 1 || !strings.Contains(r.err, "too long") || f.Posts() != before {
		t.Errorf("2001 runes on stdin: %+v, posts %d -> %d", r, before, f.Posts())
	}
	r = runIn(t, ts.addr, "alice", k, "post general", strings.Repeat("x", 1<<20))
	if r.code != 1 || !strings.Contains(r.err, "too long") || f.Posts() != before {
		t.Errorf("1 MiB on stdin: code %d stderr %q, posts %d -> %d", r.code, r.err, before, f.Posts())
	}
	r = runIn(t, ts.addr, "alice", k, "post general", " \n")
	if r.code != 2 || !strings.Contains(r.err, "empty message") || f.Posts() != before {
		t.Errorf("blank stdin: %+v", r)
	}
	// With ssh -t the raw terminal never sends an end of input: no waiting.
	if out := runPtyCode(t, ts.addr, "alice", k, "post general"); out.code != 2 || !strings.Contains(out.out, "no text") {
		t.Errorf("post without text on a pty: %+v", out)
	}
	r = runIn(t, ts.addr, "alice", k, "post general "+strings.Repeat("ü", 2000), "")
	if r.code != 0 || len([]rune(hist(t, f, "general", 0, 1)[0].Text)) != 2000 {
		t.Errorf("2000 runes on the line: %+v", r)
	}
}

// TestExecOversizedCommandRefused: the SSH library's shell-word splitter
// costs O(n²) (a 200 KB line took 8.6 s of CPU). A line over the limit is
// refused before anything reads it: before identity (no name is claimed)
// and before any parser.
func TestExecOversizedCommandRefused(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	k := newSigner(t)
	ts.resetStages()
	// One long word: the shape that costs the splitter most.
	r := run(t, ts.addr, "mallory", k, "post general "+strings.Repeat("x", 200<<10))
	if r.code != 2 || !strings.Contains(r.err, "command line too long") || r.out != "" {
		t.Fatalf("200 KB command: code %d stderr %q", r.code, r.err)
	}
	if got := ts.stages(); !reflect.DeepEqual(got, []string{"logging", "limits"}) {
		t.Errorf("stages = %v: an oversized line went past limits", got)
	}
	if _, ok := f.NameOwner("mallory"); ok || f.Posts() != 0 {
		t.Errorf("an oversized line claimed a name or posted")
	}
	// The largest line accepted is parsed and answered as usual.
	line := "post general " + strings.Repeat("x", 64<<10-len("post general "))
	if r := run(t, ts.addr, "mallory", k, line); r.code != 1 || !strings.Contains(r.err, "message too long") {
		t.Errorf("64 KiB line: code %d stderr %.200q", r.code, r.err)
	}
}
