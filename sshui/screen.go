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
	"hash/maphash"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

// Terminal setup around the chat program (what tea.WithAltScreen and the
// standard renderer did): alternate screen, hidden cursor, bracketed paste.
// termLeave undoes all of it and resets colours, whatever a cut-off frame
// left set; nothing is drawn after it (frameModel.close).
const (
	termEnter = "\x1b[?1049h\x1b[H\x1b[2J\x1b[?25l\x1b[?2004h"
	termLeave = "\x1b[0m\x1b[?2004l\x1b[?25h\x1b[?1049l"
)

// frameBufs are shared frame buffers: an idle session holds none.
var frameBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// screen is what the terminal shows, and draws the difference to a frame.
// While the session is active it keeps the spans drawn (comparing them is
// mostly comparing the same string with itself); once the session goes
// idle (trim) it keeps only their hashes, so the strings of the last frame
// need not outlive it (an idle session kept a screenful of them, 3–6 KiB).
// Hashing every span of every frame instead cost a tenth of the CPU of a
// delivered message.
type screen struct {
	out   io.Writer
	last  [][]span    // rows on the terminal, while active
	cells []span      // storage of last
	keys  [][]spanKey // rows on the terminal, once idle; both nil: unknown, redraw all
	w, h  int
}

// spanKey stands for a span on the terminal. Two texts with the same
// length and 64-bit hash are taken as equal: the chance that a changed
// span is not redrawn is 2⁻⁶⁴ per span.
type spanKey struct {
	col, n int32
	h      uint64
}

// screenSeed seeds the span hashes (per process: a client cannot aim at
// a collision).
var screenSeed = maphash.MakeSeed()

func spanKeyOf(sp span) spanKey {
	return spanKey{col: int32(sp.col), n: int32(len(sp.text)), h: maphash.String(screenSeed, sp.text)}
}

// same reports whether span j of row i is on the terminal already.
func (s *screen) same(i, j int, row []span) bool {
	if s.keys != nil {
		return i < len(s.keys) && len(s.keys[i]) == len(row) && s.keys[i][j] == spanKeyOf(row[j])
	}
	return i < len(s.last) && len(s.last[i]) == len(row) && s.last[i][j] == row[j]
}

// rows is how many rows the terminal shows.
func (s *screen) rows() int { return max(len(s.last), len(s.keys)) }

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
	if w != s.w || h != s.h || s.last == nil && s.keys == nil {
		buf.WriteString("\x1b[H\x1b[2J")
		s.last, s.keys = s.last[:0], nil
		s.w, s.h = w, h
	}
	for i, row := range frame {
		if len(row) == 1 {
			if !s.same(i, 0, row) {
				cursorTo(buf, i, 0)
				buf.WriteString("\x1b[2K")
				buf.WriteString(row[0].text)
			}
			continue
		}
		for j, sp := range row {
			if !s.same(i, j, row) {
				cursorTo(buf, i, sp.col)
				buf.WriteString(sp.text)
			}
		}
	}
	for i := len(frame); i < s.rows(); i++ {
		cursorTo(buf, i, 0)
		buf.WriteString("\x1b[2K")
	}
	s.keep(frame)
	_, err := s.out.Write(buf.Bytes()) // lockedWriter: in packets of maxPacket, one system call
	return err
}

// keep copies frame into the screen's own storage (the App reuses its own
// for the next frame).
func (s *screen) keep(frame [][]span) {
	n := 0
	for _, row := range frame {
		n += len(row)
	}
	if cap(s.cells) < n {
		s.cells = make([]span, 0, n)
	}
	s.cells, s.last, s.keys = s.cells[:0], s.last[:0], nil
	for _, row := range frame {
		start := len(s.cells)
		s.cells = append(s.cells, row...)
		s.last = append(s.last, s.cells[start:len(s.cells):len(s.cells)])
	}
}

// idle trades the spans on the terminal for their hashes: the session has
// gone quiet (frameModel.trim), and the next frame may be a while.
func (s *screen) idle() {
	if s.last == nil {
		return
	}
	keys := make([][]spanKey, len(s.last))
	cells := make([]spanKey, 0, len(s.cells))
	for i, row := range s.last {
		start := len(cells)
		for _, sp := range row {
			cells = append(cells, spanKeyOf(sp))
		}
		keys[i] = cells[start:len(cells):len(cells)]
	}
	s.keys, s.last, s.cells = keys, nil, nil
}

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

// runCmd hands a tea.Cmd produced outside the program's goroutine (by
// frameModel.apply) to the program, which runs it as usual.
type runCmd struct{ cmd tea.Cmd }

// frameModel wraps the chat App for a program without bubbletea's
// renderer, and lets the session's hub pump apply events to the App
// directly (apply) instead of through p.Send: bubbletea hands every message
// from Send to its event loop and every Update's command to another
// goroutine, two goroutine switches per event per session, which was a
// fifth of the CPU of a delivered copy. mu serialises the two callers.
type frameModel struct {
	mu     sync.Mutex
	app    *App
	scr    screen
	minGap time.Duration // at least this between frames (1/FPS)
	send   func(tea.Msg) // the program's Send, for commands from apply
	wake   func()        // asks the hub pump to call deferred (nil: the timer does)

	ready   bool        // Init has run: apply may touch the App
	closed  atomic.Bool // the program ended: draw nothing more
	last    time.Time   // last frame drawn
	dirty   bool        // a change is not drawn yet
	pending bool        // a deferred draw is scheduled
	err     error       // the first write error (the session is going away)
}

func newFrameModel(app *App, out io.Writer, fps int) *frameModel {
	return &frameModel{app: app, scr: screen{out: out}, minGap: time.Second / time.Duration(max(fps, 1))}
}

func (f *frameModel) Init() tea.Cmd {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ready = true
	return f.app.Init()
}

// View is unused: the program has no renderer.
func (f *frameModel) View() string { return "" }

// Update is the program's path: keys, window sizes, command results.
func (f *frameModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if r, ok := msg.(runCmd); ok {
		return f, r.cmd
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed.Load() { // the session is ending (program.end reads the App)
		return f, nil
	}
	_, cmd := f.app.Update(msg)
	f.changed()
	if f.wake == nil {
		f.schedule()
	} else if f.dirty && !f.pending {
		// Draw on the pump, which draws for hub events anyway: one
		// goroutine per session with the deep stack of the draw path
		// (render, encrypt, write) instead of two.
		f.pending = true
		f.wake()
	}
	return f, cmd
}

// apply is the hub pump's path: it applies a batch of hub messages to the
// App and draws once (or sooner if a screenful of lines piles up, so no
// line scrolls past undrawn). It reports false before Init, when the
// caller must use p.Send instead. Commands the App returns go to the
// program through runCmd.
func (f *frameModel) apply(msgs []tea.Msg) bool {
	if f.closed.Load() {
		return true
	}
	f.mu.Lock()
	if !f.ready {
		f.mu.Unlock()
		return false
	}
	var cmds []tea.Cmd
	for _, m := range msgs {
		_, cmd := f.app.Update(m)
		if cmd != nil {
			cmds = append(cmds, cmd)
		}
		f.changed()
		if f.dirty && f.app.unseenLines() >= max(f.app.bodyHeight()/2, 1) {
			f.draw(time.Now())
		}
	}
	f.schedule()
	f.mu.Unlock()
	for _, c := range cmds {
		f.send(runCmd{c})
	}
	return true
}

// changed records an update unless the App marked it quiet.
func (f *frameModel) changed() {
	if f.app.quiet {
		f.app.quiet = false
		return
	}
	f.dirty = true
}

// schedule draws now if the last frame is minGap old, or once it is.
// Call with mu held.
func (f *frameModel) schedule() {
	if !f.dirty || f.pending {
		return
	}
	now := time.Now()
	if wait := f.last.Add(f.minGap).Sub(now); wait > 0 {
		f.pending = true
		time.AfterFunc(wait, f.timerFired)
		return
	}
	f.draw(now)
}

// timerFired hands the deferred draw to the session's pump: a timer's
// goroutine starts with a small stack that the draw path (render, encrypt,
// write) would grow, copying it, every time.
func (f *frameModel) timerFired() {
	if f.wake != nil {
		f.wake()
		return
	}
	f.deferred()
}

// deferred draws a frame that schedule put off.
func (f *frameModel) deferred() {
	defer func() { _ = recover() }() // a timer goroutine: nothing may escape
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = false
	f.schedule()
}

// close stops drawing: the program has ended, and the terminal is
// restored after it. It waits for a frame being drawn (the hub's pump may
// be in one), so no frame lands after the restore, back on the user's
// own screen.
func (f *frameModel) close() {
	f.mu.Lock()
	f.closed.Store(true)
	f.mu.Unlock()
}

// trim lets go of the buffers frames are built in (a quiet session holds
// only what is on its screen); the next frame allocates them again.
func (f *frameModel) trim() {
	defer func() { _ = recover() }() // on the pump: nothing may escape
	f.mu.Lock()
	defer f.mu.Unlock()
	f.app.trim()
	f.scr.idle()
}

// draw writes the frame's difference. Call with mu held.
func (f *frameModel) draw(now time.Time) {
	f.last, f.dirty = now, false
	if f.err != nil || f.closed.Load() {
		return
	}
	f.err = f.scr.draw(f.app.frame(), f.app.w, f.app.h)
	f.app.drawn()
}
