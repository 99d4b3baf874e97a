package sshui

import (
	"flag"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/charmbracelet/ssh"
)

// rawSession is a session that only has a command line.
func rawSession(raw string) ssh.Session { return fakeRaw{raw: raw} }

type fakeRaw struct {
	ssh.Session
	raw string
}

func (f fakeRaw) RawCommand() string { return f.raw }

func TestCmdLinePostShape(t *testing.T) {
	cases := []struct {
		line         string
		flags        []string
		room, text   string
		roomAbsentOK bool
	}{
		{"general don't  panic ", nil, "general", "don't  panic ", false},
		{"--id x general -1 --id y", []string{"--id", "x"}, "general", "-1 --id y", false},
		{"--id=x -- -room text", []string{"--id=x"}, "-room", "text", false},
		{"--json --id\tx  general\n\nline", []string{"--json", "--id", "x"}, "general", "\nline", false},
		{`'general' "a b"`, nil, `'general'`, `"a b"`, false},
		{"general", nil, "general", "", false},
		{"general -", nil, "general", "-", false},
		{"  ", nil, "", "", true},
		{"--id", []string{"--id"}, "", "", true},
	}
	for _, c := range cases {
		fs := flag.NewFlagSet("post", flag.ContinueOnError)
		fs.String("id", "", "")
		fs.Bool("json", false, "")
		l := cmdLine{c.line}
		flags := l.leadingFlags(fs)
		room, ok := l.next()
		text := l.text()
		if !reflect.DeepEqual(flags, c.flags) || room != c.room || text != c.text || ok == c.roomAbsentOK {
			t.Errorf("%q: flags %q room %q (%v) text %q", c.line, flags, room, ok, text)
		}
	}
}

// TestSessionCommandIsNotShellSplit: sess.Command() on our sessions is
// the linear word split, so no middleware can reach the library's
// quadratic shell-word splitter (quotes stay ordinary characters).
func TestSessionCommandIsNotShellSplit(t *testing.T) {
	p := &ptySession{Session: rawSession(`post general "a  b" it's`)}
	if got, want := p.Command(), []string{"post", "general", `"a`, `b"`, "it's"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Command() = %q, want %q", got, want)
	}
	if got := (&ptySession{Session: rawSession(strings.Repeat("x", MaxCommandLine+1))}).Command(); got != nil {
		t.Errorf("an oversized line was split: %d words", len(got))
	}
}

// BenchmarkCmdLine shows the parse is linear: ns/op grows with the line's
// length, and each 4x longer line costs about 4x (one long word, the shape
// that is quadratic in a shell-word splitter).
func BenchmarkCmdLine(b *testing.B) {
	for _, n := range []int{1 << 10, 4 << 10, 16 << 10, 60 << 10} {
		b.Run(fmt.Sprint(n>>10, "KiB"), func(b *testing.B) {
			line := "post --id x general " + strings.Repeat("x", n)
			words := "history general " + strings.Repeat("--json ", n/7)
			fs := flag.NewFlagSet("post", flag.ContinueOnError)
			fs.String("id", "", "")
			b.SetBytes(int64(len(line) + len(words)))
			for b.Loop() {
				l := cmdLine{line}
				l.next()
				l.leadingFlags(fs)
				l.next()
				_ = l.text()
				_ = commandWords(line)
				_ = commandWords(words)
			}
		})
	}
}
