package sshui_test

// What is sent is what the user typed and saw: multi-line messages, long
// pastes, the rate limit, and text that cannot break the screen.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/syncnet/syncnet/node/api"
	. "github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// A bracketed paste of several lines used to become one line with the
// newlines turned into spaces. It is one message with its line breaks,
// shown with ↵ in the input, and its lines hang under the author.
func TestChatMultiLineMessage(t *testing.T) {
	c := newChat(t, 80, 24, false)
	a := c.app
	a.Update(pasteKey("first line\rsecond line\r\nthird"))
	if v := InputValue(a); v != "first line\nsecond line\nthird" {
		t.Fatalf("input = %q", v)
	}
	v := a.View()
	checkView(t, v, 80, 24)
	if !strings.Contains(v, "first line↵second line↵third") {
		t.Fatalf("the input does not show the line breaks:\n%s", v)
	}
	_, cmd := a.Update(key("enter"))
	drive(t, a, cmd)
	if got := roomTexts(t, c.f, "general", 1); !slices.Equal(got, []string{"first line\nsecond line\nthird"}) {
		t.Fatalf("sent %q", got)
	}
	committed(t, a, c.f, "general")
	v = a.View()
	checkView(t, v, 80, 24)
	first, i := rowWith(v, "alice: first line")
	if i < 0 {
		t.Fatalf("message not shown:\n%s", v)
	}
	rows := strings.Split(v, "\n")
	author := colOfText(first, "alice")
	for k, want := range []string{"second line", "third"} {
		if got := colOfText(rows[i+1+k], want); got != author {
			t.Fatalf("line %q at column %d, want %d (under the author):\n%s", want, got, author, v)
		}
	}
	if InputValue(a) != "" {
		t.Fatalf("input not cleared: %q", InputValue(a))
	}
}

// Wrapped rows of a long line hang under the author too, and PgUp reaches
// the top of a room of multi-line messages: every row is counted.
func TestChatMultiLineScrollsWhole(t *testing.T) {
	f := sshuitest.New("node1", nil)
	_ = f.BindName(context.Background(), "alice", "SHA256:alice")
	for i := range 30 {
		f.Append(api.Message{Room: "general", From: "bob", Text: fmt.Sprintf("m%02d-a\nm%02d-b\nm%02d-c", i, i, i)})
	}
	f.Append(api.Message{Room: "general", From: "bob", Text: strings.Repeat("wrapping words ", 8)})
	a := openApp(t, f, 60, 12)
	v := a.View()
	checkView(t, v, 60, 12)
	first, i := rowWith(v, "bob: wrapping")
	if i < 0 {
		t.Fatalf("long line not shown:\n%s", v)
	}
	next := strings.Split(v, "\n")[i+1]
	if got, want := colOfText(next, "wrapping"), colOfText(first, "bob"); got != want {
		t.Fatalf("wrapped row at column %d, want %d:\n%s", got, want, v)
	}
	for range 100 {
		a.Update(key("pgup"))
	}
	v = a.View()
	if !strings.Contains(v, "m00-a") || strings.Contains(v, "m29-c") {
		t.Fatalf("PgUp did not reach the first message:\n%s", v)
	}
	a.Update(tea.KeyMsg{Type: tea.KeyEsc})
	if v := a.View(); !strings.Contains(v, "m29-c") {
		t.Fatalf("Esc did not return to the bottom:\n%s", v)
	}
}

// Through SSH: the paste arrives as the terminal sends it (CR between
// lines, inside ESC[200~ … ESC[201~) and is posted as one message.
func TestChatMultiLinePasteOverSSH(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	tm := openTerm(t, ts.addr, "alice", newSigner(t), 80, 24)
	tm.waitFor("#general")
	tm.typ("\x1b[200~one\rtwo\r\x1b[201~")
	tm.waitFor("one↵two")
	tm.typ("\r")
	waitUntil(t, 5*time.Second, func() bool {
		return slices.Equal(roomTexts(t, f, "general", 1), []string{"one\ntwo"})
	}, func() string { return fmt.Sprintf("history: %q", roomTexts(t, f, "general", 5)) })
}

// handClock is a clock a test moves by hand.
type handClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *handClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *handClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A refused line used to go back into the input, where the next lines were
// appended to it and sent as one message, and the notice said "try again
// in 0s". Refused lines wait, each its own message, and go out in order;
// the wait shown is real.
func TestChatRateLimitKeepsLinesApart(t *testing.T) {
	f := sshuitest.New("node1", nil)
	_ = f.BindName(context.Background(), "alice", "SHA256:alice")
	clock := &handClock{t: time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)}
	a := NewTestAppAt(f, Identity{Name: "alice"}, Config{NodeID: "node1", RateLimit: 0.01, RateBurst: 2},
		asciiRenderer(), clock.now, nil)
	drive(t, a, a.Init())
	a.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	for i := 1; i <= 4; i++ {
		typeLine(t, a, fmt.Sprint("line ", i))
		if v := InputValue(a); v != "" {
			t.Fatalf("after line %d the input holds %q", i, v)
		}
	}
	if n := f.Posts(); n != 2 {
		t.Fatalf("posts = %d, want the burst of 2", n)
	}
	v := a.View()
	checkView(t, v, 100, 30)
	for _, want := range []string{"rate limit", "(waiting) line 3", "(waiting) line 4", "1m40s"} {
		if !strings.Contains(v, want) {
			t.Fatalf("screen lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, " 0s") {
		t.Fatalf("a wait of 0s shown:\n%s", v)
	}
	clock.add(100 * time.Second) // one token: line 3 goes, line 4 waits on
	_, cmd := a.Update(RateTickMsg)
	drive(t, a, cmd)
	if n := f.Posts(); n != 3 {
		t.Fatalf("posts = %d after one more token, want 3", n)
	}
	if v := a.View(); strings.Count(v, "rate limit") != 1 || !strings.Contains(v, "(waiting) line 4") {
		t.Fatalf("the notice is not said once, or line 4 does not wait:\n%s", v)
	}
	clock.add(5 * time.Minute)
	_, cmd = a.Update(RateTickMsg)
	drive(t, a, cmd)
	if got, want := roomTexts(t, f, "general", 10), []string{"line 1", "line 2", "line 3", "line 4"}; !slices.Equal(got, want) {
		t.Fatalf("posted %q, want %q", got, want)
	}
	if v := a.View(); strings.Contains(v, "(waiting)") {
		t.Fatalf("lines still waiting:\n%s", v)
	}
}

// Through SSH, typed faster than the limit: every line arrives on its own.
func TestChatRateLimitOverSSH(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, func(c *Config) { c.RateBurst, c.RateLimit = 2, 5 })
	tm := openTerm(t, ts.addr, "alice", newSigner(t), 100, 24)
	tm.waitFor("#general")
	tm.typ("l1\rl2\rl3\rl4\rl5\r")
	want := []string{"l1", "l2", "l3", "l4", "l5"}
	waitUntil(t, 10*time.Second, func() bool { return slices.Equal(roomTexts(t, f, "general", 10), want) },
		func() string { return fmt.Sprintf("history %q, want %q", roomTexts(t, f, "general", 10), want) })
	tm.waitFor("rate limit")
	if s := ansi.Strip(tm.out.String()); strings.Contains(s, " 0s") {
		t.Fatalf("a wait of 0s shown:\n%s", s)
	}
}

// A 10,000-character paste used to be cut to 2,000 runes and sent. It is
// refused with the limit and the length, and stays in the input.
func TestChatLongPasteRefused(t *testing.T) {
	c := newChat(t, 100, 30, false)
	a := c.app
	long := strings.Repeat("x", 10000)
	a.Update(pasteKey(long))
	if got := InputValue(a); got != long {
		t.Fatalf("input holds %d runes, want 10000", len([]rune(got)))
	}
	before := c.f.Posts()
	_, cmd := a.Update(key("enter"))
	drive(t, a, cmd)
	if c.f.Posts() != before {
		t.Fatalf("a message was sent")
	}
	v := a.View()
	checkView(t, v, 100, 30)
	if !strings.Contains(v, "10000 characters") || !strings.Contains(v, "2000") {
		t.Fatalf("no notice with the length and the limit:\n%s", v)
	}
	if InputValue(a) != long {
		t.Fatalf("the text left the input")
	}
	// Too large even to edit: not inserted at all, and said so.
	a.Update(tea.KeyMsg{Type: tea.KeyCtrlU})
	a.Update(pasteKey(strings.Repeat("y", 70000)))
	if got := InputValue(a); got != "" {
		t.Fatalf("a part of the huge paste was inserted (%d runes)", len(got))
	}
	if v := a.View(); !strings.Contains(v, "70000 characters") {
		t.Fatalf("huge paste refused silently:\n%s", v)
	}
	// Within the limit it goes.
	a.Update(pasteKey(strings.Repeat("z", 2000)))
	_, cmd = a.Update(key("enter"))
	drive(t, a, cmd)
	if got := roomTexts(t, c.f, "general", 1); got[0] != strings.Repeat("z", 2000) {
		t.Fatalf("2000 runes not sent whole")
	}
}

func TestChatLongPasteOverSSH(t *testing.T) {
	f := sshuitest.New("node1", nil)
	ts := startServer(t, f, nil)
	tm := openTerm(t, ts.addr, "alice", newSigner(t), 100, 24)
	tm.waitFor("#general")
	tm.typ("\x1b[200~" + strings.Repeat("x", 10000) + "\x1b[201~\r")
	tm.waitFor("10000 characters")
	if n := f.Posts(); n != 0 {
		t.Fatalf("posted %d messages: %q", n, roomTexts(t, f, "general", 1))
	}
}

// longestMarks is the longest run of combining marks in s.
func longestMarks(s string) int {
	best, n := 0, 0
	for _, r := range s {
		if unicode.In(r, unicode.Mn, unicode.Me) {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

// Zalgo text (a base character under dozens of combining marks) broke the
// chat pane's right border in terminals that give extra marks a cell of
// their own: no cell is drawn with more than MaxMarks marks.
func TestViewZalgoKeepsBorder(t *testing.T) {
	c := newChat(t, 100, 30, false)
	zalgo := []string{
		"Ṱ̺̺̕o͞ ̷i̲̬͇̪͙n̝̗͕v̟̜̘̦͟o̶̙̰̠kè͚̮̺̪̹̱̤ ̖t̝͕̳̣̻̪͞h̼͓̲̦̳̘̲e͇̣̰̦̬͎ ̢̼̻̱̘h͚͎͙̜̣̲ͅi̦̲̣̰̤v̻͍e̺̭̳̪̰-m̢iͅn̖̺̞̲̯̰d̵̼̟͙̩̼̘̳ ̞̥̱̳̭r̛̗̘e͙p͠r̼̞̻̭̗e̺̠̣͟s̘͇̳͍̝͉e͉̥̯̞̲͚̬͜ǹ̬͎͎̟̖͇̤t͍̬̤͓̼̭͘ͅi̪̱n͠g̴͉ ͏͉ͅc̬̟h͡a̫̻̯͘o̫̟̖͍̙̝͉s̗̦̲.̨̹͈̣",
		"Z" + strings.Repeat("\u0301\u0316", 40) + "algo" + strings.Repeat("\u0489", 30) + " end",
	}
	for _, z := range zalgo {
		m := c.f.Append(api.Message{Room: "general", From: "bob", Text: z})
		c.app.Update(EventMsg{Event: api.Event{Kind: api.EventMessage, Index: m.Index, Message: m, Room: "general"}})
	}
	v := c.app.View()
	checkView(t, v, 100, 30)
	for i, row := range strings.Split(v, "\n") {
		if n := longestMarks(row); n > MaxMarks {
			t.Fatalf("row %d draws %d combining marks on one cell (max %d)", i, n, MaxMarks)
		}
	}
	if !strings.Contains(v, "algo") {
		t.Fatalf("zalgo line not shown:\n%s", v)
	}
}
