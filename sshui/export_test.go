package sshui

import (
	"time"

	tea "github.com/charmbracelet/bubbletea"
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

// LoadedIndexes lists the indexes of conv's loaded messages, in order.
func LoadedIndexes(a *App, conv string) []uint64 {
	buf := a.bufs[conv]
	if buf == nil {
		return nil
	}
	var out []uint64
	for _, l := range buf.lines {
		if l.idx > 0 {
			out = append(out, l.idx)
		}
	}
	return out
}

// HistoryFull reports whether conv has nothing older left to load.
func HistoryFull(a *App, conv string) bool { return a.bufs[conv] != nil && a.bufs[conv].full }

// ResyncRetryMsg is what the retry timer of a failed resync delivers.
var ResyncRetryMsg tea.Msg = resyncRetry{}

// RoomSize is the member count the hub uses to pick how joins are shown.
func RoomSize(h *Hub, room string) int { return h.roomSize(room) }

// FlushMembers sends the hub's membership news to the next sessions in turn.
func FlushMembers(h *Hub) { h.flushMembers() }

// ChurnMsg is the hub's news of a large room's joins and leaves so far.
func ChurnMsg(room string, joined, left int) MembersMsg {
	return MembersMsg{Churn: map[string]roomChurn{room: {Joined: joined, Left: left}}}
}

// ChurnOf reads the joins counted in a MembersMsg for room.
func ChurnOf(m MembersMsg, room string) (joined, left int) {
	return m.Churn[room].Joined, m.Churn[room].Left
}
