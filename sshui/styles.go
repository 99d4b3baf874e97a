package sshui

import (
	"hash/fnv"

	"github.com/charmbracelet/lipgloss"
)

// styles are built from the session's renderer, so colour follows the
// client's terminal (and is absent for TERM=dumb or NO_COLOR).
type styles struct {
	r        *lipgloss.Renderer
	title    lipgloss.Style
	status   lipgloss.Style
	warn     lipgloss.Style
	time     lipgloss.Style
	system   lipgloss.Style
	own      lipgloss.Style
	mention  lipgloss.Style
	pending  lipgloss.Style
	current  lipgloss.Style
	unread   lipgloss.Style
	sep      lipgloss.Style
	away     lipgloss.Style
	senders  []lipgloss.Style
	prompt   lipgloss.Style
	inputTxt lipgloss.Style
}

var senderColors = []string{"39", "208", "78", "170", "220", "45", "203", "141"}

func newStyles(r *lipgloss.Renderer) styles {
	s := styles{r: r}
	n := r.NewStyle
	s.title = n().Bold(true).Reverse(true)
	s.status = n().Reverse(true)
	s.warn = n().Bold(true).Foreground(lipgloss.Color("196"))
	s.time = n().Foreground(lipgloss.Color("244"))
	s.system = n().Foreground(lipgloss.Color("244")).Italic(true)
	s.own = n().Bold(true)
	s.mention = n().Bold(true).Foreground(lipgloss.Color("226"))
	s.pending = n().Faint(true)
	s.current = n().Bold(true).Reverse(true)
	s.unread = n().Bold(true)
	s.sep = n().Foreground(lipgloss.Color("238"))
	s.away = n().Faint(true)
	s.prompt = n().Bold(true)
	s.inputTxt = n()
	for _, c := range senderColors {
		s.senders = append(s.senders, n().Foreground(lipgloss.Color(c)))
	}
	return s
}

// sender is a stable colour per name.
func (s styles) sender(name string) lipgloss.Style {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return s.senders[h.Sum32()%uint32(len(s.senders))]
}
