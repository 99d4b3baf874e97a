package sshui_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/syncnet/syncnet/node/api"
	. "github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// historyGate counts History calls for older pages (before > 0) and can
// hold them until released, like a slow disk read.
type historyGate struct {
	mu      sync.Mutex
	calls   int
	hold    chan struct{} // non-nil: older-page reads wait for it to close
	started chan struct{} // gets one value per held read
}

func gate(f *sshuitest.Fake) *historyGate {
	g := &historyGate{started: make(chan struct{}, 100)}
	f.SetHistoryHook(func(_ string, before uint64, _ int) {
		if before == 0 {
			return
		}
		g.mu.Lock()
		g.calls++
		hold := g.hold
		g.mu.Unlock()
		if hold != nil {
			g.started <- struct{}{}
			<-hold
		}
	})
	return g
}

func (g *historyGate) block() chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hold = make(chan struct{})
	return g.hold
}

func (g *historyGate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls
}

// bigRoom is a fake whose #general holds n messages "msg-0000"… from bob,
// with alice and bob bound and members.
func bigRoom(t testing.TB, n int) (*sshuitest.Fake, []uint64) {
	f := sshuitest.New("node1", nil)
	ctx := context.Background()
	for _, u := range []string{"alice", "bob"} {
		_ = f.BindName(ctx, u, "SHA256:"+u)
		_ = f.JoinRoom(ctx, u, "general")
	}
	_ = f.JoinRoom(ctx, "alice", "dev")
	idx := make([]uint64, n)
	for i := range n {
		idx[i] = f.Append(api.Message{Room: "general", From: "bob", Text: fmt.Sprintf("msg-%04d", i)}).Index
	}
	return f, idx
}

func openApp(t testing.TB, f *sshuitest.Fake, w, h int) *App {
	app := NewTestApp(f, Identity{Name: "alice"}, Config{NodeID: "node1"}, asciiRenderer())
	drive(t, app, app.Init())
	app.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return app
}

// pgUpUntilLoad presses PgUp until the app asks for an older page.
func pgUpUntilLoad(t testing.TB, a *App) tea.Cmd {
	t.Helper()
	for range 1000 {
		if _, cmd := a.Update(key("pgup")); cmd != nil {
			return cmd
		}
	}
	t.Fatalf("PgUp never asked for an older page:\n%s", a.View())
	return nil
}

func checkAscending(t testing.TB, got []uint64) {
	t.Helper()
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("loaded indexes not strictly ascending at %d: %d after %d", i, got[i], got[i-1])
		}
	}
}

// TestChatOlderPageDoesNotBlock: the older page is read by a command, not
// in Update. While the read is held the app keeps taking keys and events,
// shows the hint, and asks for no second page; once released the page
// lands above what was loaded, in order, without duplicates.
func TestChatOlderPageDoesNotBlock(t *testing.T) {
	f, idx := bigRoom(t, 300)
	g := gate(f)
	a := openApp(t, f, 80, 12)
	if got := LoadedIndexes(a, "general"); !slices.Equal(got, idx[250:]) {
		t.Fatalf("first load = %v, want the last 50", got)
	}
	release := g.block()
	cmd := pgUpUntilLoad(t, a)
	res := make(chan tea.Msg, 1)
	go func() { res <- cmd() }()
	<-g.started

	a.Update(key("still typing"))
	live := f.Append(api.Message{Room: "general", From: "bob", Text: "live while loading"})
	a.Update(EventMsg{Event: api.Event{Kind: api.EventMessage, Index: live.Index, Message: live, Room: "general"}})
	for range 5 {
		if _, again := a.Update(key("pgup")); again != nil {
			t.Fatal("a second older page was asked for while one is in flight")
		}
	}
	v := a.View()
	checkView(t, v, 80, 12)
	if !strings.Contains(v, "> still typing") || !strings.Contains(v, "loading older messages…") {
		t.Fatalf("while loading:\n%s", v)
	}
	select {
	case <-res:
		t.Fatal("the held read finished early")
	default:
	}

	close(release)
	a.Update(<-res)
	want := append(slices.Clone(idx[150:]), live.Index)
	if got := LoadedIndexes(a, "general"); !slices.Equal(got, want) {
		t.Fatalf("after the page: %d lines %v…, want %d from %d", len(got), got[:min(3, len(got))], len(want), want[0])
	}
	if n := g.count(); n != 1 {
		t.Fatalf("older-page reads = %d, want 1", n)
	}
	v = a.View()
	if strings.Contains(v, "loading older") || !strings.Contains(v, "> still typing") {
		t.Fatalf("after the page:\n%s", v)
	}
	a.Update(key("pgup"))
	if v := a.View(); !strings.Contains(v, "msg-0249") {
		t.Fatalf("PgUp after the page does not show it:\n%s", v)
	}
}

// TestChatOlderPageAfterSwitch: a page read for one conversation goes to
// that conversation even if the user switched meanwhile, and a page read
// for a conversation closed meanwhile is dropped.
func TestChatOlderPageAfterSwitch(t *testing.T) {
	f, idx := bigRoom(t, 300)
	a := openApp(t, f, 80, 12)
	cmd := pgUpUntilLoad(t, a)
	msg := cmd()
	a.Update(key("ctrl+n")) // to #dev
	devBefore := LoadedIndexes(a, "dev")
	a.Update(msg)
	if got := LoadedIndexes(a, "general"); !slices.Equal(got, idx[150:]) {
		t.Fatalf("general after the page: %d lines", len(got))
	}
	if got := LoadedIndexes(a, "dev"); !slices.Equal(got, devBefore) {
		t.Fatalf("dev changed: %v", got)
	}
	if v := a.View(); !strings.Contains(v, "#dev") || strings.Contains(v, "msg-") {
		t.Fatalf("dev view:\n%s", v)
	}

	// A direct conversation closed and opened again while its page is read.
	dm := api.DMRoom("alice", "bob")
	for i := range 200 {
		f.Append(api.Message{From: "bob", To: "alice", Text: fmt.Sprint("dm ", i)})
	}
	typeLine(t, a, "/msg bob hello")
	cmd = pgUpUntilLoad(t, a)
	msg = cmd()
	typeLine(t, a, "/leave")
	typeLine(t, a, "/msg bob again")
	before := LoadedIndexes(a, "@bob")
	a.Update(msg)
	if got := LoadedIndexes(a, "@bob"); !slices.Equal(got, before) {
		t.Fatalf("a page for the closed conversation was merged into the new one: %d lines, was %d", len(got), len(before))
	}
	if h := hist(t, f, dm, 0, 1); h[0].Text != "again" {
		t.Fatalf("last DM = %+v", h[0])
	}
}

// TestChatScrollBack10000: PgUp all the way back through 10,000 messages,
// one page at a time, ends with everything loaded, in order, and full set.
func TestChatScrollBack10000(t *testing.T) {
	const n = 10000
	f, idx := bigRoom(t, n)
	g := gate(f)
	a := openApp(t, f, 80, 12)
	for i := 0; !HistoryFull(a, "general"); i++ {
		if i > 20000 {
			t.Fatalf("not full after %d PgUps: %d loaded", i, len(LoadedIndexes(a, "general")))
		}
		if _, cmd := a.Update(key("pgup")); cmd != nil {
			a.Update(cmd())
		}
	}
	got := LoadedIndexes(a, "general")
	if !slices.Equal(got, idx) {
		checkAscending(t, got)
		t.Fatalf("loaded %d of %d", len(got), n)
	}
	if c := g.count(); c != (n-50+historyPage-1)/historyPage {
		t.Fatalf("older-page reads = %d", c)
	}
	for range 20 {
		a.Update(key("pgup"))
	}
	if v := a.View(); !strings.Contains(v, "msg-0000") {
		t.Fatalf("oldest message not reachable:\n%s", v)
	}
	if _, cmd := a.Update(key("pgup")); cmd != nil {
		t.Fatal("asked for a page older than the first message")
	}
}

const historyPage = 100 // sshui's page size

// TestChatHistoryUnreadable: a first page that cannot be read opens the
// conversation with a one-line notice and the app keeps working; an older
// page that cannot be read says so at the top and PgUp reads it again.
func TestChatHistoryUnreadable(t *testing.T) {
	f, idx := bigRoom(t, 300)
	f.SetHistoryErr(errDisk)
	a := openApp(t, f, 80, 12)
	v := a.View()
	checkView(t, v, 80, 12)
	if !strings.Contains(v, "history unavailable: fake: read history of") || !strings.Contains(v, "(PgUp to retry)") ||
		!strings.Contains(v, "#general") {
		t.Fatalf("first load failed:\n%s", v)
	}
	f.SetHistoryErr(nil)
	a.Update(ResyncMsg{}) // no position to resync from: PgUp reads it, a page at a time
	if got := LoadedIndexes(a, "general"); len(got) != 0 {
		t.Fatalf("resync after a failed first page loaded %d lines", len(got))
	}
	f.SetHistoryErr(errDisk)
	typeLine(t, a, "posting still works")
	if f.Posts() != 1 {
		t.Fatalf("posts = %d", f.Posts())
	}
	f.SetHistoryErr(nil)
	own := hist(t, f, "general", 0, 1)[0] // the line as the hub would deliver it
	f.SetHistoryErr(errDisk)
	a.Update(EventMsg{Event: api.Event{Kind: api.EventMessage, Index: own.Index, Message: own, Room: "general"}})

	// PgUp while the log is unreadable: the error, not a hang or a crash.
	a.Update(pgUpUntilLoad(t, a)())
	if v := a.View(); !strings.Contains(v, "history unavailable") || strings.Contains(v, "loading older") {
		t.Fatalf("older page failed:\n%s", v)
	}
	// Readable again: PgUp reads the page before the live line.
	f.SetHistoryErr(nil)
	a.Update(pgUpUntilLoad(t, a)())
	want := append(slices.Clone(idx[200:]), own.Index)
	if got := LoadedIndexes(a, "general"); !slices.Equal(got, want) {
		checkAscending(t, got)
		t.Fatalf("after retry: %d lines from %v, want %d", len(got), got[:min(1, len(got))], len(want))
	}
	if v := a.View(); strings.Contains(v, "PgUp to retry --") {
		t.Fatalf("error still shown after a good page:\n%s", v)
	}
}

// TestChatResyncRetries: a resync that cannot read the log keeps its
// position, holds back live lines that come after the gap, says so once,
// and retries; the retry shows everything once, in order.
func TestChatResyncRetries(t *testing.T) {
	f, idx := bigRoom(t, 10)
	a := openApp(t, f, 80, 30)
	var missed []uint64
	for i := range 5 { // committed while this session's events were dropped
		missed = append(missed, f.Append(api.Message{Room: "general", From: "bob", Text: fmt.Sprint("missed ", i)}).Index)
	}
	f.SetHistoryErr(errDisk)
	_, cmd := a.Update(ResyncMsg{})
	if cmd == nil {
		t.Fatal("failed resync scheduled no retry")
	}
	live := f.Append(api.Message{Room: "general", From: "bob", Text: "after the gap"})
	a.Update(EventMsg{Event: api.Event{Kind: api.EventMessage, Index: live.Index, Message: live, Room: "general"}})
	if got := LoadedIndexes(a, "general"); !slices.Equal(got, idx) {
		t.Fatalf("a line after the gap was shown before the gap: %v", got)
	}
	if _, again := a.Update(ResyncMsg{}); again != nil {
		t.Fatal("a second retry timer while one is pending")
	}
	if _, again := a.Update(ResyncRetryMsg); again == nil {
		t.Fatal("a retry that failed again scheduled no next retry")
	}
	v := a.View()
	if strings.Count(v, "history unavailable") != 1 {
		t.Fatalf("want the error once:\n%s", v)
	}
	typeLine(t, a, "chat still works")
	if f.Posts() != 1 {
		t.Fatalf("posts = %d", f.Posts())
	}

	f.SetHistoryErr(nil)
	if _, again := a.Update(ResyncRetryMsg); again != nil {
		t.Fatal("retry scheduled after success")
	}
	own := hist(t, f, "general", 0, 1)[0]
	want := append(append(slices.Clone(idx), missed...), live.Index, own.Index)
	if got := LoadedIndexes(a, "general"); !slices.Equal(got, want) {
		t.Fatalf("after the retry: %v, want %v", got, want)
	}
	if v := a.View(); !strings.Contains(v, "after the gap") || !strings.Contains(v, "missed 4") {
		t.Fatalf("after the retry:\n%s", v)
	}
}

// TestChatPgUpOverSSH: in a real session, a held older-page read leaves
// the screen live (typed text is drawn) and the page shows once released.
func TestChatPgUpOverSSH(t *testing.T) {
	f, _ := bigRoom(t, 300)
	g := gate(f)
	release := g.block()
	ts := startServer(t, f, nil)
	tm := openTerm(t, ts.addr, "carol", newSigner(t), 80, 12)
	tm.waitFor("msg-0299")
	for range 10 { // 50 lines, 8 a page: past the top
		tm.typ("\x1b[5~")
	}
	tm.waitFor("loading older messages")
	<-g.started
	tm.typ("typed while loading")
	tm.waitFor("typed while loading")
	close(release)
	waitUntil(t, 10*time.Second, func() bool {
		tm.typ("\x1b[5~")
		time.Sleep(20 * time.Millisecond)
		return strings.Contains(tm.out.String(), "msg-0249")
	}, func() string { return "the older page never showed" })
	if n := g.count(); n < 1 {
		t.Fatalf("older-page reads = %d", n)
	}
}
