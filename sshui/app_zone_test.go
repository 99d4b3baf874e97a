package sshui_test

// Times in the user's zone, with the date where it changes.

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/syncnet/syncnet/node/api"
	. "github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
	gossh "golang.org/x/crypto/ssh"
)

// dayChat is alice's chat of a room with messages on both sides of
// midnight UTC, in the zone the session's TZ says.
func dayChat(t testing.TB, env []string) (*App, *sshuitest.Fake) {
	f := sshuitest.New("node1", nil)
	_ = f.BindName(context.Background(), "alice", "SHA256:alice")
	f.Append(api.Message{Room: "general", From: "bob", Text: "late", Time: time.Date(2026, 1, 2, 23, 30, 0, 0, time.UTC)})
	f.Append(api.Message{Room: "general", From: "bob", Text: "early", Time: time.Date(2026, 1, 3, 0, 30, 0, 0, time.UTC)})
	a := NewTestAppAt(f, Identity{Name: "alice"}, Config{NodeID: "node1"}, asciiRenderer(), time.Now, env)
	drive(t, a, a.Init())
	a.Update(tea.WindowSizeMsg{Width: 100, Height: 20})
	return a, f
}

// Times were HH:MM in one zone with no date: a separator says the date
// where it changes, and times are in the user's zone (SetEnv TZ, /tz).
func TestChatDaySeparatorsAndZone(t *testing.T) {
	a, _ := dayChat(t, nil)
	v := a.View()
	checkView(t, v, 100, 20)
	_, fri := rowWith(v, "Friday 2 January 2026")
	_, late := rowWith(v, "23:30 bob: late")
	_, sat := rowWith(v, "Saturday 3 January 2026")
	_, early := rowWith(v, "00:30 bob: early")
	if !(fri >= 0 && fri < late && late < sat && sat < early) {
		t.Fatalf("UTC: separators and times not in place (%d %d %d %d):\n%s", fri, late, sat, early, v)
	}

	typeLine(t, a, "/tz Europe/Berlin")
	v = a.View()
	checkView(t, v, 100, 20)
	_, sat = rowWith(v, "Saturday 3 January 2026")
	_, late = rowWith(v, "00:30 bob: late")
	_, early = rowWith(v, "01:30 bob: early")
	if !(sat >= 0 && sat < late && late < early) || strings.Contains(v, "Friday") {
		t.Fatalf("/tz Europe/Berlin (%d %d %d):\n%s", sat, late, early, v)
	}
	typeLine(t, a, "/tz Mars/Olympus")
	if v := a.View(); !strings.Contains(v, "unknown time zone") || !strings.Contains(v, "01:30 bob: early") {
		t.Fatalf("bad zone:\n%s", v)
	}

	b, _ := dayChat(t, []string{"LANG=C", "TZ=:Europe/Berlin"})
	if v := b.View(); !strings.Contains(v, "01:30 bob: early") || strings.Contains(v, "Friday") {
		t.Fatalf("TZ from the environment not used:\n%s", v)
	}
	c, _ := dayChat(t, []string{"TZ=CET-1CEST,M3.5.0,M10.5.0/3"})
	if v := c.View(); !strings.Contains(v, "00:30 bob: early") || !strings.Contains(v, "/tz") {
		t.Fatalf("an unusable TZ is not said:\n%s", v)
	}
}

// Through SSH: OpenSSH's SetEnv TZ=… reaches the app.
func TestChatZoneFromSSHEnv(t *testing.T) {
	f := sshuitest.New("node1", nil)
	f.Append(api.Message{Room: "general", From: "bob", Text: "noon in London", Time: time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)})
	ts := startServer(t, f, nil)
	c := dial(t, ts.addr, "alice", newSigner(t))
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.Setenv("TZ", "America/New_York"); err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", 24, 100, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	sess.Stdout, sess.Stderr = out, out
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	tm := &term{t: t, c: c, sess: sess, out: out}
	tm.waitFor("08:00 bob: noon in London")
	tm.waitFor("Wednesday 1 July 2026")
}
