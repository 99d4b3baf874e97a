package sshui

import (
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/syncnet/syncnet/node/api"
)

// Test hooks for the external test package (which can use sshuitest).

// SetTrace records each middleware's name as sessions pass through it.
func SetTrace(s *Server, f func(stage string)) { s.trace = f }

// NewTestApp builds a chat model without a session.
func NewTestApp(b api.Backend, id Identity, cfg Config, r *lipgloss.Renderer) *App {
	cfg.HostKeyPath = "unused"
	cfg.setDefaults()
	return newApp(appDeps{b: b, cfg: &cfg, id: id, r: r,
		limit: newRateLimiter(cfg.RateLimit, cfg.RateBurst, time.Now)})
}

// NewTestLimiter exposes the rate limiter with an injected clock.
func NewTestLimiter(rate float64, burst int, now func() time.Time) func(string) bool {
	l := newRateLimiter(rate, burst, now)
	return func(u string) bool { ok, _ := l.Allow(u); return ok }
}
