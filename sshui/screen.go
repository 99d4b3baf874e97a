package sshui

// The chat program's own renderer. bubbletea v1's standard renderer runs a
// frame ticker per program for as long as it lives (2,000 idle sessions at
// 60 fps cost ~0.4 core doing nothing), calls View after every message
// even when several arrive within one frame, and re-measures every line's
// width with a grapheme parser on each flush. The chat app already knows
// its frame line by line, every line at most the window's width, so the
// program runs with tea.WithoutRenderer and frameModel draws only when
// something changed: at once when the session has nothing else queued,
// otherwise at most every minGap, and never while idle.

import (
	"bytes"
	"io"
	"strconv"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

// Terminal setup around the chat program (what tea.WithAltScreen and the
// standard renderer did): alternate screen, hidden cursor, bracketed paste.
const (
	termEnter = "\x1b[?1049h\x1b[H\x1b[2J\x1b[?25l\x1b[?2004h"
	termLeave = "\x1b[?2004l\x1b[?25h\x1b[?1049l"
)

// frameBufs are shared frame buffers: an idle session holds none.
var frameBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// screen is what the terminal shows, and draws the difference to a frame.
type screen struct {
	out  io.Writer
	last [][]span // rows on the terminal; nil: unknown, redraw all
	w, h int
}

// draw writes the spans of frame that differ from the terminal. A row of
// one span is erased whole and rewritten; a span of a multi-span row is a
// pane padded to its width and overwrites it in place. Every row is at
// most w columns wide (App.frame guarantees it), so nothing wraps.
func (s *screen) draw(frame [][]span, w, h int) error {
	buf := frameBufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 {
			buf.Reset()
			frameBufs.Put(buf)
		}
	}()
	if w != s.w || h != s.h || s.last == nil {
		buf.WriteString("\x1b[H\x1b[2J")
		s.last = s.last[:0]
		s.w, s.h = w, h
	}
	for i, row := range frame {
		var old []span
		if i < len(s.last) {
			old = s.last[i]
		}
		if len(row) == 1 {
			if len(old) != 1 || old[0] != row[0] {
				cursorTo(buf, i, 0)
				buf.WriteString("\x1b[2K")
				buf.WriteString(row[0].text)
			}
			continue
		}
		for j, sp := range row {
			if len(old) != len(row) || old[j] != sp {
				cursorTo(buf, i, sp.col)
				buf.WriteString(sp.text)
			}
		}
	}
	for i := len(frame); i < len(s.last); i++ {
		cursorTo(buf, i, 0)
		buf.WriteString("\x1b[2K")
	}
	s.last = append(s.last[:0], frame...) // frame is not reused by App
	for b := buf.Bytes(); len(b) > 0; {
		n := min(len(b), maxWrite)
		if _, err := s.out.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// maxWrite bounds one write to the session. x/crypto keeps, per
// connection, a packet buffer and a cipher buffer as large as the largest
// packet written; a full first frame (4–5 KB at 80×24) would pin both at
// that size for the connection's life, while a new chat line redraws about
// 1.7 KB. The terminal sees one byte stream either way.
const maxWrite = 2048

// cursorTo moves to row i, column col (both 0-based).
func cursorTo(buf *bytes.Buffer, i, col int) {
	var num [20]byte
	buf.WriteString("\x1b[")
	buf.Write(strconv.AppendInt(num[:0], int64(i+1), 10))
	if col > 0 {
		buf.WriteByte(';')
		buf.Write(strconv.AppendInt(num[:0], int64(col+1), 10))
	}
	buf.WriteByte('H')
}

// frameTick asks frameModel to draw a deferred frame.
type frameTick struct{}

// frameModel wraps the chat App for a program without bubbletea's
// renderer. Only the program's goroutine touches it.
type frameModel struct {
	app    *App
	scr    screen
	minGap time.Duration // at least this between frames (1/FPS)
	queued func() int    // events waiting for this session (the hub queue)

	last    time.Time // last frame drawn
	dirty   time.Time // first undrawn change; zero: the screen is current
	pending bool      // a frameTick is scheduled
	err     error     // the first write error (the session is going away)
}

func newFrameModel(app *App, out io.Writer, fps int, queued func() int) *frameModel {
	if queued == nil {
		queued = func() int { return 0 }
	}
	return &frameModel{app: app, scr: screen{out: out}, minGap: time.Second / time.Duration(max(fps, 1)), queued: queued}
}

func (f *frameModel) Init() tea.Cmd { return f.app.Init() }

// View is unused: the program has no renderer.
func (f *frameModel) View() string { return "" }

func (f *frameModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	if _, ok := msg.(frameTick); ok {
		f.pending = false
	} else {
		_, cmd = f.app.Update(msg)
		if f.app.quiet {
			f.app.quiet = false
		} else if f.dirty.IsZero() {
			f.dirty = time.Now()
		}
	}
	return f, tea.Batch(cmd, f.schedule())
}

// schedule draws now, or arranges a frameTick for when it may. A change is
// drawn at once if nothing else is queued for the session (the common,
// low-latency case) and the last frame is minGap old; under a burst the
// queue is drained first, so one frame carries many events, but never more
// than a screenful (a line must not scroll past unseen) and never later
// than minGap after the first change.
func (f *frameModel) schedule() tea.Cmd {
	if f.dirty.IsZero() {
		return nil
	}
	now := time.Now()
	next := f.last.Add(f.minGap)
	burst := f.queued() > 0 && now.Sub(f.dirty) < f.minGap && f.app.unseenLines() < f.app.bodyHeight()/2
	if !burst && !now.Before(next) {
		f.draw(now)
		return nil
	}
	if f.pending {
		return nil
	}
	f.pending = true
	at := f.dirty.Add(f.minGap)
	if !burst || next.After(at) {
		at = next
	}
	return tea.Tick(at.Sub(now), func(time.Time) tea.Msg { return frameTick{} })
}

func (f *frameModel) draw(now time.Time) {
	f.last, f.dirty = now, time.Time{}
	if f.err != nil {
		return
	}
	w, h := f.app.w, f.app.h
	f.err = f.scr.draw(f.app.frame(), w, h)
	f.app.drawn()
}
