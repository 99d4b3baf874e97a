package sshui

import (
	"hash/fnv"
	"strings"
	"sync"

	"github.com/charmbracelet/lipgloss"
)

// paint is a style reduced to the escape codes around its text. lipgloss's
// Style.Render costs about a microsecond per call, and a frame has hundreds
// of styled runs, so styles are rendered once per session and reused.
type paint struct{ pre, post string }

func mkPaint(st lipgloss.Style) paint {
	const mark = "\x00"
	out := st.Render(mark)
	i := strings.Index(out, mark)
	if i < 0 {
		return paint{}
	}
	return paint{pre: out[:i], post: out[i+len(mark):]}
}

// R wraps s in the style's codes.
func (p paint) R(s string) string {
	if s == "" || p.pre == "" && p.post == "" {
		return s
	}
	return p.pre + s + p.post
}

// styles are built from the session's renderer, so colour follows the
// client's terminal (and is absent for TERM=dumb or NO_COLOR).
type styles struct {
	r       *lipgloss.Renderer
	title   paint
	status  paint
	warn    paint
	time    paint
	system  paint
	mention paint
	pending paint
	current paint
	unread  paint
	sep     paint
	away    paint
	prompt  paint
	cursor  paint
	plain   paint
	senders []paint // by name hash
	ownName []paint // bold variants for your own lines
}

var senderColors = []string{"39", "208", "78", "170", "220", "45", "203", "141"}

// sharedStyles holds one styles value per colour profile, shared by the
// sessions (read only): its strings were about 3 KiB per idle session.
// The profile is all newStyles depends on: it uses no adaptive colours,
// so the background (whose query could block on a terminal) plays no part.
var sharedStyles sync.Map // termenv.Profile → styles

// stylesFor is newStyles(r), built once per colour profile.
func stylesFor(r *lipgloss.Renderer) styles {
	k := r.ColorProfile()
	if s, ok := sharedStyles.Load(k); ok {
		return s.(styles)
	}
	s := newStyles(r)
	s.r = nil // not the session's renderer: nobody reads it from here
	v, _ := sharedStyles.LoadOrStore(k, s)
	return v.(styles)
}

func newStyles(r *lipgloss.Renderer) styles {
	s := styles{r: r}
	n := r.NewStyle
	s.title = mkPaint(n().Bold(true).Reverse(true))
	s.status = mkPaint(n().Reverse(true))
	s.warn = mkPaint(n().Bold(true).Foreground(lipgloss.Color("196")))
	s.time = mkPaint(n().Foreground(lipgloss.Color("244")))
	s.system = mkPaint(n().Foreground(lipgloss.Color("244")).Italic(true))
	s.mention = mkPaint(n().Bold(true).Foreground(lipgloss.Color("226")))
	s.pending = mkPaint(n().Faint(true))
	s.current = mkPaint(n().Bold(true).Reverse(true))
	s.unread = mkPaint(n().Bold(true))
	s.sep = mkPaint(n().Foreground(lipgloss.Color("238")))
	s.away = mkPaint(n().Faint(true))
	s.prompt = mkPaint(n().Bold(true))
	s.cursor = mkPaint(n().Reverse(true))
	for _, c := range senderColors {
		s.senders = append(s.senders, mkPaint(n().Foreground(lipgloss.Color(c))))
		s.ownName = append(s.ownName, mkPaint(n().Foreground(lipgloss.Color(c)).Bold(true)))
	}
	return s
}

func colorIndex(name string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return int(h.Sum32() % uint32(len(senderColors)))
}

// sender is a stable colour per name.
func (s styles) sender(name string) paint { return s.senders[colorIndex(name)] }
