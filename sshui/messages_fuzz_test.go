package sshui

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// FuzzMessageArgs gives any rest of a line to the exec commands edit,
// delete, react, post --reply and history --thread, and to the chat's
// /edit, /delete, /react, /reply and /thread: no panic; an exit status of
// 0, 1 or 2, a usage error naming its command; nothing a terminal acts on
// printed raw; what an exec command changed is clean and what it says it
// did. The seeds run in make test; by hand:
//
//	go test ./sshui -run '^$' -fuzz FuzzMessageArgs -fuzztime 60s
func FuzzMessageArgs(f *testing.F) {
	for _, s := range []string{
		"1 hello", "1", "", "x hello", "0 hi", "-1 hi", "--json 1 hello", "-- 1 -5 degrees", "1 \x1b[31mred\x1b[0m",
		"2 reason why", "--json 2", "1 👍", "--add 1 👍", "--remove 1 👍", "--add --remove 1 x", "1 two words", "1 \u202e",
		"1 " + strings.Repeat("🎉", 9), "99 x", "18446744073709551616 x", "^ 👍", "^2 hi", "1 line\nbreak", "--bogus 1",
		"--json", "1 --json x", "3 " + strings.Repeat("a", 2100), "1\t\tspaced", "#1 x", "1 @bob",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	cfg := Config{NodeID: "node1", HostKeyPath: filepath.Join(dir, "host_ed25519"), Listener: nil, Logger: nil}
	srv, err := New(cfg, sshuitest.New("node1", nil))
	if err != nil {
		f.Fatal(err)
	}
	app := newFuzzMessagesApp()
	f.Fuzz(func(t *testing.T, line string) {
		// A fresh backend each time: alice's message 1, bob's 2, alice's reply 3.
		b := sshuitest.New("node1", nil)
		ctx := context.Background()
		_, _ = b.Post(ctx, "alice", "general", "first", "a1", 0, false)
		_, _ = b.Post(ctx, "bob", "general", "second", "b1", 0, false)
		_, _ = b.Submit(ctx, api.PostRequest{User: "alice", Room: "general", Text: "re", ID: "a2", ReplyTo: 1}).Wait(ctx)
		for _, c := range []struct{ name, prefix string }{
			{"edit", ""}, {"delete", ""}, {"react", ""}, {"post", "--reply "}, {"history", "--thread "},
		} {
			before, _ := b.History("general", 0, 100)
			var out, errOut bytes.Buffer
			e := &execEnv{ctx: ctx, srv: srv, b: b, id: Identity{Name: "alice", Fingerprint: "SHA256:alice"},
				in: strings.NewReader(""), out: &out, err: &errOut, now: time.Now, line: cmdLine{c.prefix + line}}
			code := dispatch(e, c.name)
			if code < 0 || code > 2 {
				t.Fatalf("%s %q: exit %d", c.name, c.prefix+line, code)
			}
			if code == exitUsage && !strings.Contains(errOut.String(), "usage: "+c.name) {
				t.Fatalf("%s %q: a usage error without the usage: %q", c.name, c.prefix+line, errOut.String())
			}
			if strings.ContainsAny(out.String()+errOut.String(), "\x1b\u202e\x07\u009b") {
				t.Fatalf("%s %q printed raw control characters: %q %q", c.name, c.prefix+line, out.String(), errOut.String())
			}
			after, _ := b.History("general", 0, 100)
			if code != exitOK && c.name != "history" && len(after) != len(before) {
				t.Fatalf("%s %q failed (exit %d) and still posted", c.name, c.prefix+line, code)
			}
			for _, m := range after {
				if m.Text != CleanText(m.Text, 0) {
					t.Fatalf("%s %q left an unclean text %q", c.name, c.prefix+line, m.Text)
				}
				if m.Extra != nil {
					for _, r := range m.Extra.Reactions {
						if validReaction(r.Emoji) != "" {
							t.Fatalf("react %q set the reaction %q", line, r.Emoji)
						}
					}
				}
			}
			if c.name == "edit" && code == exitOK && !strings.HasPrefix(out.String(), "usage: ") { // not --help
				changed := 0
				for i, m := range after {
					if m.Text != before[i].Text {
						changed++
						if !m.Edited() || strings.TrimSpace(m.Text) == "" || m.From != "alice" {
							t.Fatalf("edit %q made message %d %+v", line, m.Index, m)
						}
					}
				}
				if changed != 1 {
					t.Fatalf("edit %q succeeded and changed %d messages", line, changed)
				}
			}
		}
		// The chat's commands on the same rest of a line.
		a := app
		for _, cmd := range []string{"/edit ", "/delete ", "/react ", "/reply ", "/thread "} {
			a.input.SetValue(cmd + line)
			_, c := a.Update(tea.KeyMsg{Type: tea.KeyEnter})
			for i := 0; c != nil && i < 5; i++ {
				m := c()
				if _, batch := m.(tea.BatchMsg); batch || m == nil {
					break
				}
				_, c = a.Update(m)
			}
			if a.editing != nil { // /edit INDEX put a text in the input: leave it
				a.Update(tea.KeyMsg{Type: tea.KeyEsc})
			}
		}
		if v := a.View(); strings.ContainsAny(v, "\x1b\u202e\x07") {
			t.Fatalf("an escape reached the screen")
		}
		for _, l := range a.bufs[a.cur].lines {
			if strings.ContainsAny(l.text, "\x1b\u202e\x07") || (l.x != nil && strings.ContainsAny(l.x.quote, "\x1b\u202e\x07")) {
				t.Fatalf("unclean line %q", l.text)
			}
		}
		for _, p := range a.outbox {
			if p.text != CleanText(p.text, 0) {
				t.Fatalf("unclean outbox line %q", p.text)
			}
		}
		if n := len(a.bufs[a.cur].lines); n > 200 {
			a.bufs[a.cur].lines = a.bufs[a.cur].lines[n-20:] // keep the fuzzer's app small
		}
		a.outbox = nil
	})
}

// newFuzzMessagesApp is alice's chat in #general with a few messages.
func newFuzzMessagesApp() *App {
	f := sshuitest.New("node1", nil)
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		_ = f.BindName(ctx, u, "SHA256:"+u)
	}
	_, _ = f.Post(ctx, "alice", "general", "first", "a1", 0, false)
	_, _ = f.Post(ctx, "bob", "general", "second", "b1", 0, false)
	cfg := Config{NodeID: "node1", HostKeyPath: "unused"}
	cfg.setDefaults()
	a := newApp(appDeps{b: f, cfg: &cfg, id: Identity{Name: "alice", Fingerprint: "SHA256:alice"},
		r: lipgloss.NewRenderer(io.Discard, termenv.WithProfile(termenv.Ascii)), limit: newRateLimiter(1000, 1000, time.Now)})
	a.Init()
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	return a
}
