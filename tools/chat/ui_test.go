package chat

import (
	"io"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

func asciiRenderer() *lipgloss.Renderer {
	return lipgloss.NewRenderer(io.Discard, termenv.WithProfile(termenv.Ascii))
}

func windowSize(w, h int) tea.Msg { return tea.WindowSizeMsg{Width: w, Height: h} }

func typeText(m *uiModel, s string) {
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)})
	m.Update(tea.KeyMsg{Type: tea.KeyEnter})
}
