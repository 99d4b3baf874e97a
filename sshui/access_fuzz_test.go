package sshui

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// FuzzAccessArgs feeds any command line to the parsers of room, keys and
// notify (the exec commands and the chat's /commands share them) and to
// the chat's commands themselves: nothing panics, and whatever a parser
// accepts is well formed (a valid room or name, a known level, one clean
// word, a SHA256 fingerprint with a clean label). The seeds run in make
// test; go test -fuzz FuzzAccessArgs ./sshui explores further.
func FuzzAccessArgs(f *testing.F) {
	for _, s := range []string{
		"ops private", "#ops invite bob", "ops remove @bob not needed", "ops public", "ops", "", "Ops INVITE Bob",
		"ops invite", "ops dance", "'ops' private", "ops private now", "ops invite bob carol",
		"bell on", "bell OFF", "bell", "highlight add Deploy", "highlight remove deploy", "highlight", "highlight list",
		"highlight add two words", "@ none", "dms all", "#dev mentions", "dev default", "dev loud", "general reset",
		"list", "add ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl laptop \x1b[31mred",
		"add ssh-ed25519 AAAA", "add -----BEGIN OPENSSH PRIVATE KEY-----", "remove SHA256:abc", "remove nope", "remove",
		"ops invite b\u202eob", "highlight add \x1b]0;x\x07", "\u00e9t\u00e9 all", strings.Repeat("a", 300) + " all",
	} {
		f.Add(s)
	}
	fake := newFuzzFake()
	f.Fuzz(func(t *testing.T, line string) {
		words := (&cmdLine{line}).words()
		if op, err := parseRoomOp(words); err == nil {
			if r, err := NormalizeRoom(op.room); err != nil || r != op.room {
				t.Fatalf("room %q accepted from %q", op.room, line)
			}
			if !slices.Contains([]string{"", "private", "public", "invite", "remove"}, op.op) {
				t.Fatalf("room command %q accepted", op.op)
			}
			if (op.op == "invite" || op.op == "remove") && !validName(op.user) {
				t.Fatalf("user %q accepted from %q", op.user, line)
			}
			if Clean(op.reason, 200) != op.reason {
				t.Fatalf("reason %q not clean", op.reason)
			}
		}
		if op, err := parseNotifyOp(words); err == nil {
			switch op.kind {
			case "list":
			case "level":
				if !slices.Contains([]string{"all", "mentions", "none", ""}, op.level) {
					t.Fatalf("level %q accepted", op.level)
				}
				if r, err := NormalizeRoom(op.conv); op.conv != api.NotifyDMs && (err != nil || r != op.conv) {
					t.Fatalf("conversation %q accepted", op.conv)
				}
			case "bell":
				if op.value != "on" && op.value != "off" {
					t.Fatalf("bell %q accepted", op.value)
				}
			case "highlight":
				if op.value == "" || len(op.value) > 64 || strings.ContainsAny(op.value, " \t\r\n") ||
					CleanText(op.value, 0) != op.value || strings.ToLower(op.value) != op.value {
					t.Fatalf("highlight %q accepted from %q", op.value, line)
				}
			default:
				t.Fatalf("notify kind %q", op.kind)
			}
		}
		if op, err := parseKeysOp(words, func() (string, error) { return line, nil }); err == nil {
			switch op.op {
			case "list":
			case "add", "remove":
				if !strings.HasPrefix(op.fp, "SHA256:") || Clean(op.label, 100) != op.label {
					t.Fatalf("key %q %q accepted from %q", op.fp, op.label, line)
				}
			default:
				t.Fatalf("keys command %q", op.op)
			}
		}
		// The chat's commands: no panic, nothing unclean on screen.
		a := fake.app
		for _, cmd := range []string{"/notify ", "/bell ", "/highlight ", "/keys ", "/invite ", "/remove ", "/private ", "/access "} {
			a.input.SetValue(cmd + line)
			_, c := a.Update(tea.KeyMsg{Type: tea.KeyEnter})
			for i := 0; c != nil && i < 5; i++ {
				m := c()
				if _, batch := m.(tea.BatchMsg); batch || m == nil {
					break
				}
				_, c = a.Update(m)
			}
		}
		if v := a.View(); strings.ContainsRune(v, 0x1b) { // the renderer has no colours: no escape at all
			t.Fatalf("an escape reached the screen")
		}
		for _, l := range a.bufs[a.cur].lines {
			if strings.ContainsAny(l.text, "\x1b\u202e\x07") {
				t.Fatalf("unclean notice %q", l.text)
			}
		}
		if n := len(a.bufs[a.cur].lines); n > 200 {
			a.bufs[a.cur].lines = nil // keep the fuzzer's app small
		}
	})
}

func validName(s string) bool {
	n, err := NormalizeName(s)
	return err == nil && n == s
}

// fuzzFake is alice's chat against a fake, in #ops, her private room.
type fuzzFake struct{ app *App }

func newFuzzFake() fuzzFake {
	f := sshuitest.New("node1", nil)
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		_ = f.BindName(ctx, u, "SHA256:"+u)
	}
	_ = f.JoinRoom(ctx, "alice", "ops")
	_ = f.SetRoomPrivate(ctx, "alice", "ops", true, false)
	cfg := Config{NodeID: "node1", HostKeyPath: "unused"}
	cfg.setDefaults()
	a := newApp(appDeps{b: f, cfg: &cfg, id: Identity{Name: "alice", Fingerprint: "SHA256:alice"},
		r: lipgloss.NewRenderer(io.Discard, termenv.WithProfile(termenv.Ascii)), limit: newRateLimiter(1000, 1000, time.Now)})
	a.Init()
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	a.switchTo("ops")
	return fuzzFake{app: a}
}
