package sshui

import (
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/syncnet/syncnet/node/api"
)

// Test hooks for the chat app's issue-15 tests.

// NewTestAppAt builds a chat model whose rate limiter reads now, with the
// session environment env (TZ…).
func NewTestAppAt(b api.Backend, id Identity, cfg Config, r *lipgloss.Renderer, now func() time.Time, env []string) *App {
	cfg.HostKeyPath = "unused"
	cfg.setDefaults()
	return newApp(appDeps{b: b, cfg: &cfg, id: id, r: r, env: env,
		limit: newRateLimiter(cfg.RateLimit, cfg.RateBurst, now)})
}

// InputValue is the text in the input line.
func InputValue(a *App) string { return a.input.Value() }

// RateTickMsg is what the rate limit's wait timer delivers.
var RateTickMsg tea.Msg = rateTick{}

// MaxMarks is how many combining marks one character keeps.
const MaxMarks = maxMarks
