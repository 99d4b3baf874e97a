package sshui_test

// Helpers of the chat app's issue-15 tests.

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/syncnet/syncnet/node/api"
	. "github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
	"strings"
)

// paste is a bracketed paste as bubbletea delivers it.
func pasteKey(s string) tea.KeyMsg {
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s), Paste: true}
}

// rowWith is the first row of v containing s, and its index (-1: none).
func rowWith(v, s string) (string, int) {
	for i, r := range strings.Split(v, "\n") {
		if strings.Contains(r, s) {
			return r, i
		}
	}
	return "", -1
}

// colOfText is the screen column at which s starts in row (-1: not there).
func colOfText(row, s string) int {
	i := strings.Index(row, s)
	if i < 0 {
		return -1
	}
	return Width(row[:i])
}

// committed hands the app the last message of room, as the hub would
// (test apps have no hub).
func committed(t testing.TB, a *App, f *sshuitest.Fake, room string) {
	m := hist(t, f, room, 0, 1)[0]
	a.Update(EventMsg{Event: api.Event{Kind: api.EventMessage, Index: m.Index, Message: m, Room: m.Room}})
}

// texts are the texts of room's last n messages.
func roomTexts(t testing.TB, f *sshuitest.Fake, room string, n int) []string {
	var out []string
	for _, m := range hist(t, f, room, 0, n) {
		out = append(out, m.Text)
	}
	return out
}
