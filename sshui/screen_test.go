package sshui

import (
	"bytes"
	"strings"
	"testing"
)

// TestScreenDrawsOnlyChanges: a new chat line redraws the message pane's
// spans, not the side panes, and an unchanged frame writes nothing.
func TestScreenDrawsOnlyChanges(t *testing.T) {
	var out bytes.Buffer
	s := screen{out: &out}
	frame := func(mid string) [][]span {
		return [][]span{
			{{text: "title"}},
			{{col: 0, text: "ROOMS|"}, {col: 6, text: mid}, {col: 12, text: "|MEMBERS"}},
			{{text: "> input"}},
		}
	}
	if err := s.draw(frame("hello "), 20, 3); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "\x1b[H\x1b[2J") || !strings.Contains(got, "ROOMS|") {
		t.Fatalf("first frame = %q, want a full redraw", got)
	}
	out.Reset()
	if err := s.draw(frame("hello "), 20, 3); err != nil || out.Len() != 0 {
		t.Fatalf("same frame wrote %q (%v)", out.String(), err)
	}
	if err := s.draw(frame("world "), 20, 3); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "\x1b[2;7Hworld "; got != want {
		t.Fatalf("changed span wrote %q, want %q", got, want)
	}
	out.Reset()
	if err := s.draw(frame("world "), 30, 3); err != nil || !strings.HasPrefix(out.String(), "\x1b[H\x1b[2J") {
		t.Fatalf("resize wrote %q (%v), want a full redraw", out.String(), err)
	}
}
