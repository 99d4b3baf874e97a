package sshui

import (
	"flag"
	"strings"
)

// MaxCommandLine is the longest exec command line a node reads, in bytes.
// A post's text is at most MaxMessageLen runes (8 KiB of UTF-8 by default),
// so no real command comes near it; anything longer is refused before it
// is parsed or logged in full.
const MaxCommandLine = 64 << 10

// cmdLine reads an exec command line once, left to right, so its cost is
// linear in its length. Words are separated by runs of spaces, tabs, CRs and
// LFs. Quotes and backslashes are ordinary characters: OpenSSH sends its
// arguments joined by single spaces, so the shell quoting a user typed is
// already gone, and no command word, flag, flag value or room needs a space.
// A post's text is not split at all: it is the rest of the line (text).
type cmdLine struct{ s string }

func isSep(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// next returns the next word; ok is false at the end of the line.
func (c *cmdLine) next() (w string, ok bool) {
	i := 0
	for i < len(c.s) && isSep(c.s[i]) {
		i++
	}
	j := i
	for j < len(c.s) && !isSep(c.s[j]) {
		j++
	}
	w, c.s = c.s[i:j], c.s[j:]
	return w, j > i
}

// peek returns the next word without consuming it.
func (c *cmdLine) peek() (string, bool) {
	d := *c
	return d.next()
}

// text is everything after the word last read and the one separator that
// follows it, byte for byte; it consumes the rest of the line.
func (c *cmdLine) text() string {
	t := c.s
	if len(t) > 0 && isSep(t[0]) {
		t = t[1:]
	}
	c.s = ""
	return t
}

// words consumes the rest of the line as words.
func (c *cmdLine) words() []string {
	var ws []string
	for {
		w, ok := c.next()
		if !ok {
			return ws
		}
		ws = append(ws, w)
	}
}

// leadingFlags consumes the flags at the front of the line: words that start
// with "-" (but are not "-" alone), each with its value when fs defines it
// as a non-boolean flag given without "=". A "--" is consumed and ends them.
// The first other word is left for the caller: after it, nothing is a flag.
func (c *cmdLine) leadingFlags(fs *flag.FlagSet) []string {
	var out []string
	for {
		w, ok := c.peek()
		if !ok || len(w) < 2 || w[0] != '-' {
			return out
		}
		c.next()
		if w == "--" {
			return out
		}
		out = append(out, w)
		name := strings.TrimLeft(w, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && !isBoolFlag(f) {
			if v, ok := c.next(); ok {
				out = append(out, v)
			}
		}
	}
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// commandWords is the line split into words: what sess.Command() returns
// on our sessions instead of the library's quadratic shell-word split.
func commandWords(raw string) []string {
	if len(raw) > MaxCommandLine {
		return nil
	}
	c := cmdLine{raw}
	return c.words()
}
