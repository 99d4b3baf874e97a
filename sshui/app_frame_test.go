package sshui

import (
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// gateWriter holds the first write until released, like a session whose
// frame is still on its way.
type gateWriter struct {
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	n       int
}

func (w *gateWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.n++
	first := w.n == 1
	w.mu.Unlock()
	if first {
		w.entered <- struct{}{}
		<-w.release
	}
	return len(p), nil
}

func (w *gateWriter) writes() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// When a node shut down, the hub's pump could still be writing a frame
// while the session restored the terminal, so the frame's rest landed on
// the user's own screen after it. close waits for a frame being written,
// and nothing is drawn after it.
func TestFrameCloseWaitsForDraw(t *testing.T) {
	cfg := Config{NodeID: "node1", HostKeyPath: "unused"}
	cfg.setDefaults()
	app := newApp(appDeps{b: sshuitest.New("node1", nil), cfg: &cfg, id: Identity{Name: "alice"}, r: lipgloss.NewRenderer(io.Discard),
		limit: newRateLimiter(cfg.RateLimit, cfg.RateBurst, time.Now)})
	w := &gateWriter{entered: make(chan struct{}, 1), release: make(chan struct{})}
	fm := newFrameModel(app, w, 1000)
	fm.Init()
	app.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	go func() {
		fm.mu.Lock()
		defer fm.mu.Unlock()
		fm.dirty = true
		fm.draw(time.Now())
	}()
	<-w.entered
	closed := make(chan struct{})
	go func() { fm.close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("close returned while a frame was being written")
	case <-time.After(100 * time.Millisecond):
	}
	close(w.release)
	<-closed
	n := w.writes()
	fm.apply([]tea.Msg{NoticeMsg{Text: "late"}})
	fm.deferred()
	if w.writes() != n {
		t.Fatal("drew after close")
	}
}

// byteCounter records what a screen writes.
type byteCounter struct {
	mu sync.Mutex
	b  []byte
}

func (w *byteCounter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *byteCounter) take() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := string(w.b)
	w.b = nil
	return s
}

// An idle session lets go of every rendered line (trim) and its screen
// remembers spans by hash: the frame after that renders again but sends
// only what changed, and nothing when nothing did.
func TestTrimmedSessionRedrawsOnlyChanges(t *testing.T) {
	cfg := Config{NodeID: "node1", HostKeyPath: "unused"}
	cfg.setDefaults()
	f := sshuitest.New("node1", nil)
	app := newApp(appDeps{b: f, cfg: &cfg, id: Identity{Name: "alice"}, r: lipgloss.NewRenderer(io.Discard),
		limit: newRateLimiter(cfg.RateLimit, cfg.RateBurst, time.Now)})
	w := &byteCounter{}
	fm := newFrameModel(app, w, 1000)
	fm.Init()
	app.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	draw := func() string {
		fm.mu.Lock()
		defer fm.mu.Unlock()
		fm.dirty = true
		fm.draw(time.Now())
		return w.take()
	}
	if first := draw(); len(first) < 500 {
		t.Fatalf("first frame %d bytes, want a full screen", len(first))
	}
	fm.trim()
	for _, buf := range app.bufs {
		for _, l := range buf.lines {
			if l.cache != nil {
				t.Fatal("a trimmed session kept a line's rendered rows")
			}
		}
	}
	if again := draw(); again != "" {
		t.Fatalf("an unchanged screen after trim sent %q", again)
	}
	fm.trim()
	app.Update(NoticeMsg{Text: "something new"})
	out := draw()
	if !strings.Contains(out, "something new") || len(out) > 2000 {
		t.Fatalf("after trim a new line sent %d bytes: %q", len(out), out)
	}
}
