package chat

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/syncnet/syncnet/sshui"
)

// maxLines is how many received messages the UI keeps for scrollback.
const maxLines = 5000

// UIOptions configures RunUI.
type UIOptions struct {
	In        io.Reader
	Out       io.Writer
	Renderer  *lipgloss.Renderer // nil: one for Out
	AltScreen bool
}

// RunUI runs the interactive client until the user quits (/quit, Ctrl-C,
// Ctrl-D on an empty line), ctx ends, or the client gives up (returned).
func RunUI(ctx context.Context, cfg Config, o UIOptions) error {
	r := o.Renderer
	if r == nil {
		r = lipgloss.NewRenderer(o.Out)
	}
	m := newUIModel(cfg.User, cfg.Room, r)
	opts := []tea.ProgramOption{tea.WithInput(o.In), tea.WithOutput(o.Out), tea.WithContext(ctx)}
	if o.AltScreen {
		opts = append(opts, tea.WithAltScreen())
	}
	p := tea.NewProgram(m, opts...)
	cfg.OnMessage = func(msg Message, via Node) { p.Send(recvMsg{msg}) }
	cfg.OnState = func(s State) { p.Send(stateMsg{s}) }
	cfg.OnAck = func(id string, _ uint64) { p.Send(ackMsg{id}) }
	cfg.OnDrop = func(id, text string, err error) { p.Send(dropMsg{id, text, err}) }
	c, err := New(cfg)
	if err != nil {
		return err
	}
	m.send = c.Send
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() {
		err := c.Run(runCtx)
		if err != nil {
			p.Send(fatalMsg{err})
		}
		runErr <- err
	}()
	final, perr := p.Run()
	cancel()
	err = <-runErr
	if fm, ok := final.(*uiModel); ok && fm.fatal != nil {
		return fm.fatal
	}
	if perr != nil && perr != tea.ErrProgramKilled && ctx.Err() == nil {
		return perr
	}
	return err
}

type (
	recvMsg  struct{ m Message }
	stateMsg struct{ s State }
	ackMsg   struct{ id string }
	dropMsg  struct {
		id, text string
		err      error
	}
	fatalMsg struct{ err error }
)

// uiModel is the bubbletea model: messages, the outbox, an input line and
// a status line. It holds no connection; the Client does.
type uiModel struct {
	user, room string
	send       func(string) string
	st         uiStyles

	w, h   int
	lines  []Message
	outbox []pendingLine
	input  []rune
	pos    int
	scroll int // lines scrolled back
	conn   string
	up     bool
	// noQuorum: the last node left because it could not commit for lack
	// of a quorum; the status line says NO QUORUM, as the chat app does,
	// until a line is acknowledged again.
	noQuorum bool
	notice   string
	fatal    error
}

type pendingLine struct{ id, text string }

type uiStyles struct {
	r                                 *lipgloss.Renderer
	title, status, warn, time, system lipgloss.Style
	pending, prompt, cursor           lipgloss.Style
	senders                           []lipgloss.Style
}

// senderColors match the SSH chat app's palette.
var senderColors = []string{"39", "208", "78", "170", "220", "45", "203", "141"}

func newUIModel(user, room string, r *lipgloss.Renderer) *uiModel {
	n := r.NewStyle
	st := uiStyles{r: r, title: n().Bold(true).Reverse(true), status: n().Reverse(true),
		warn: n().Bold(true).Foreground(lipgloss.Color("196")), time: n().Foreground(lipgloss.Color("244")),
		system: n().Foreground(lipgloss.Color("244")).Italic(true), pending: n().Faint(true),
		prompt: n().Bold(true), cursor: n().Reverse(true)}
	for _, c := range senderColors {
		st.senders = append(st.senders, n().Foreground(lipgloss.Color(c)))
	}
	return &uiModel{user: user, room: room, st: st, conn: "connecting…"}
}

func (m *uiModel) sender(name string) lipgloss.Style {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return m.st.senders[h.Sum32()%uint32(len(m.st.senders))]
}

func (m *uiModel) Init() tea.Cmd { return nil }

func (m *uiModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
	case tea.KeyMsg:
		return m, m.key(msg)
	case recvMsg:
		m.lines = append(m.lines, msg.m)
		if len(m.lines) > maxLines {
			m.lines = append(m.lines[:0:0], m.lines[len(m.lines)-maxLines:]...)
		}
	case stateMsg:
		m.state(msg.s)
	case ackMsg:
		m.removePending(msg.id)
		m.noQuorum = false
	case dropMsg:
		// Said once, in the flow, with the line and why; it scrolls away
		// like any line instead of staying pinned under the input.
		m.removePending(msg.id)
		m.lines = append(m.lines, Message{note: "not sent: “" + clean(msg.text, 80) + "”: " + clean(msg.err.Error(), 200)})
	case fatalMsg:
		m.fatal = msg.err
		return m, tea.Quit
	}
	return m, nil
}

func (m *uiModel) state(s State) {
	switch s.Kind {
	case StateConnected:
		m.up, m.conn = true, "connected to "+clean(s.Node.String(), 80)
	case StateDisconnected:
		m.up, m.conn = false, "reconnecting… ("+clean(s.Node.Name, 32)+" lost)"
		if s.Err != nil && strings.Contains(s.Err.Error(), "no quorum") {
			m.noQuorum = true
			m.conn = "no node can commit; trying " + clean(s.Node.Name, 32) + "'s peers"
		}
	case StateRefused:
		m.notice = clean(s.Node.Name+": "+errText(s.Err), 300)
	case StateConnecting:
		if !m.up && s.Reconnect {
			m.conn = "reconnecting… trying " + clean(s.Node.String(), 80)
		} else if !m.up {
			m.conn = "connecting to " + clean(s.Node.String(), 80) + "…"
		}
	}
}

func (m *uiModel) removePending(id string) {
	for i, p := range m.outbox {
		if p.id == id {
			m.outbox = append(m.outbox[:i:i], m.outbox[i+1:]...)
			return
		}
	}
}

func (m *uiModel) key(k tea.KeyMsg) tea.Cmd {
	switch k.Type {
	case tea.KeyCtrlC:
		return tea.Quit
	case tea.KeyCtrlD:
		if len(m.input) == 0 {
			return tea.Quit
		}
	case tea.KeyEnter:
		return m.enter()
	case tea.KeyBackspace:
		if m.pos > 0 {
			m.input = append(m.input[:m.pos-1], m.input[m.pos:]...)
			m.pos--
		}
	case tea.KeyDelete:
		if m.pos < len(m.input) {
			m.input = append(m.input[:m.pos], m.input[m.pos+1:]...)
		}
	case tea.KeyLeft:
		m.pos = max(m.pos-1, 0)
	case tea.KeyRight:
		m.pos = min(m.pos+1, len(m.input))
	case tea.KeyHome, tea.KeyCtrlA:
		m.pos = 0
	case tea.KeyEnd, tea.KeyCtrlE:
		m.pos = len(m.input)
	case tea.KeyCtrlU:
		m.input, m.pos = append([]rune(nil), m.input[m.pos:]...), 0
	case tea.KeyCtrlW:
		m.deleteWord()
	case tea.KeyPgUp:
		m.scroll += max(m.bodyHeight()-1, 1)
	case tea.KeyPgDown:
		m.scroll = max(m.scroll-max(m.bodyHeight()-1, 1), 0)
	case tea.KeyEsc:
		m.scroll, m.notice = 0, ""
	case tea.KeyRunes, tea.KeySpace:
		m.insert(k.Runes)
	}
	return nil
}

// insert adds typed or pasted runes; controls become spaces or vanish, as
// in the SSH chat app (sshui.Clean).
func (m *uiModel) insert(rs []rune) {
	add := []rune(sshui.Clean(string(rs), 0))
	tail := append(add, m.input[m.pos:]...)
	m.input = append(m.input[:m.pos:m.pos], tail...)
	m.pos += len(add)
}

func (m *uiModel) deleteWord() {
	i := m.pos
	for i > 0 && m.input[i-1] == ' ' {
		i--
	}
	for i > 0 && m.input[i-1] != ' ' {
		i--
	}
	m.input = append(m.input[:i], m.input[m.pos:]...)
	m.pos = i
}

func (m *uiModel) enter() tea.Cmd {
	text := strings.TrimSpace(string(m.input))
	m.input, m.pos, m.scroll = nil, 0, 0
	switch text {
	case "":
		return nil
	case "/quit", "/exit":
		return tea.Quit
	case "/help":
		m.notice = "Enter sends; PgUp/PgDn scroll; /quit or Ctrl-C quits. Lines typed while reconnecting are sent later."
		return nil
	}
	if m.send != nil {
		if id := m.send(text); id != "" {
			m.outbox = append(m.outbox, pendingLine{id: id, text: text})
		}
	}
	return nil
}

func (m *uiModel) bodyHeight() int { return max(m.h-3, 0) }

// View: title, messages (bottom-aligned, scrollable), input, status.
func (m *uiModel) View() string {
	if m.w <= 0 || m.h <= 0 {
		return ""
	}
	out := make([]string, 0, m.h)
	title := " #" + clean(m.room, 32) + " — " + clean(m.user, 32) + " (syncnet chat)"
	out = append(out, m.st.title.Render(pad(title, m.w)))
	body := m.bodyHeight()
	lines := m.bodyLines(body + m.scroll)
	m.scroll = min(m.scroll, max(len(lines)-body, 0))
	end := len(lines) - m.scroll
	start := max(end-body, 0)
	for i := 0; i < body-(end-start); i++ {
		out = append(out, "")
	}
	out = append(out, lines[start:end]...)
	out = append(out, m.inputLine(), m.statusLine())
	return strings.Join(out[:min(len(out), m.h)], "\n")
}

// bodyLines renders the last messages, then the unsent lines, until it has
// need screen lines.
func (m *uiModel) bodyLines(need int) []string {
	var tail []string
	for _, p := range m.outbox {
		state := "sending"
		if !m.up {
			state = "queued"
		}
		tail = append(tail, m.wrap(m.st.pending.Render("("+state+") "+clean(p.text, 0)))...)
	}
	if m.notice != "" {
		tail = append(tail, m.wrap(m.st.system.Render("  "+m.notice))...)
	}
	var blocks [][]string
	n := len(tail)
	for i := len(m.lines) - 1; i >= 0 && n < need; i-- {
		b := m.wrapIndented(m.renderMessage(m.lines[i]))
		blocks = append(blocks, b)
		n += len(b)
	}
	out := make([]string, 0, n)
	for i := len(blocks) - 1; i >= 0; i-- {
		out = append(out, blocks[i]...)
	}
	return append(out, tail...)
}

// renderMessage: gutter (">" for own lines), time, sender in its colour, text.
func (m *uiModel) renderMessage(msg Message) string {
	if msg.note != "" {
		return m.st.system.Render("  " + msg.note)
	}
	ts := "--:--"
	if t, err := time.Parse(time.RFC3339Nano, msg.Time); err == nil {
		ts = t.Local().Format("15:04")
	}
	// A message of several lines keeps them, the later ones under the
	// text (wrapIndented adds the gutter's column).
	from := clean(msg.From, maxName)
	text := strings.ReplaceAll(sshui.CleanText(msg.Text, 0), "\n", "\n      ")
	gutter, name := " ", m.sender(from)
	if from == m.user {
		gutter, name = ">", name.Bold(true)
	}
	if msg.Action {
		return gutter + m.st.time.Render(ts) + " * " + name.Render(from) + " " + text
	}
	return gutter + m.st.time.Render(ts) + " " + name.Render(from) + ": " + text
}

// wrapIndented wraps a message under its gutter column.
func (m *uiModel) wrapIndented(s string) []string {
	lines := strings.Split(ansi.Wrap(s, max(m.w-1, 1), ""), "\n")
	for i := 1; i < len(lines); i++ {
		lines[i] = " " + lines[i]
	}
	return lines
}

func (m *uiModel) wrap(s string) []string {
	return strings.Split(ansi.Wrap(s, max(m.w, 1), ""), "\n")
}

// inputLine shows the prompt and the text around the cursor.
func (m *uiModel) inputLine() string {
	prompt := m.st.prompt.Render("> ")
	room := max(m.w-3, 1)
	before := string(m.input[:m.pos])
	for ansi.StringWidth(before) > room-1 {
		_, size := utf8.DecodeRuneInString(before)
		before = before[size:]
	}
	cur, after := " ", ""
	if m.pos < len(m.input) {
		cur, after = string(m.input[m.pos]), string(m.input[m.pos+1:])
	}
	line := prompt + before + m.st.cursor.Render(cur) + after
	return ansi.Truncate(line, m.w, "")
}

// clean is the SSH app's sanitizer: no control, escape or bidi override
// from anyone reaches the terminal (sshui.Clean is the one function this
// package takes from sshui).
func clean(s string, maxRunes int) string { return sshui.Clean(s, maxRunes) }

// maxName is the longest chat name (sshui.MaxNameLen).
const maxName = 32

// pad fits s (clean) into exactly w columns.
func pad(s string, w int) string {
	s = ansi.Truncate(s, w, "…")
	if n := ansi.StringWidth(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// statusLine: connection state, queued lines, user.
func (m *uiModel) statusLine() string {
	left := " " + m.conn
	if m.noQuorum {
		left = " NO QUORUM │" + left
	}
	if n := len(m.outbox); n > 0 {
		left += fmt.Sprintf(" │ queued: %d", n)
	}
	right := clean(m.user, 32) + " "
	if m.scroll > 0 {
		right = fmt.Sprintf("scrolled back %d │ ", m.scroll) + right
	}
	space := m.w - ansi.StringWidth(left) - ansi.StringWidth(right)
	if space < 1 {
		line := pad(left, m.w)
		if !m.up {
			return m.st.warn.Reverse(true).Render(line)
		}
		return m.st.status.Render(line)
	}
	line := left + strings.Repeat(" ", space) + right
	if !m.up {
		return m.st.warn.Reverse(true).Render(line)
	}
	return m.st.status.Render(line)
}
