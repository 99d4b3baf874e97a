package sshui

import (
	"maps"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/charmbracelet/ssh"
)

// What a running server can change without a restart (a reload of
// cluster.toml, tools/serve), and the counters it keeps for metrics.

// SetAdminKeys replaces the admin keys (authorized_keys lines). New
// sessions see the new set; an open session keeps the role it connected
// with. Nothing changes if a key does not parse.
func (s *Server) SetAdminKeys(lines []string) error {
	c := Config{AdminKeys: lines}
	set, err := c.adminSet()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.admins = set
	s.mu.Unlock()
	return nil
}

// SetSessionCaps changes the caps on sessions per node and per key (values
// below 1 keep the current one). Sessions over a lowered cap stay; new ones
// are refused until the count is under it.
func (s *Server) SetSessionCaps(maxSessions, maxPerKey int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if maxSessions > 0 {
		s.cfg.MaxSessions = maxSessions
	}
	if maxPerKey > 0 {
		s.cfg.MaxSessionsPerKey = maxPerKey
	}
}

// SetRateLimit changes every user's allowance of posts on this node but
// the bots' (values below 1 post, or a rate not above 0, keep the current
// one). Each user's bucket keeps its tokens, at most the new burst.
func (s *Server) SetRateLimit(rate float64, burst int) {
	if rate > 0 && burst >= 1 {
		s.limit.set(rate, burst)
	}
}

func (s *Server) isAdmin(fp string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.admins[fp]
}

// adminSet is the current set (never modified after it is published).
func (s *Server) adminSet() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.admins
}

// frontCounters count sessions and refusals by reason.
type frontCounters struct {
	connects atomic.Uint64
	mu       sync.Mutex
	refusals map[string]uint64
}

// FrontStats are the server's counters since it started.
type FrontStats struct {
	Connects  uint64            // sessions opened (before any check)
	Refusals  map[string]uint64 // sessions refused, by reason
	Delivered uint64            // events the hub queued for sessions
	Dropped   uint64            // events a full session queue missed (the session resyncs)
}

// Stats returns the counters.
func (s *Server) Stats() FrontStats {
	s.front.mu.Lock()
	r := maps.Clone(s.front.refusals)
	s.front.mu.Unlock()
	if r == nil {
		r = map[string]uint64{}
	}
	return FrontStats{Connects: s.front.connects.Load(), Refusals: r,
		Delivered: s.hub.delivered.Load(), Dropped: s.hub.dropped.Load()}
}

// refusal counts a refused session and logs it with the key's fingerprint.
func (s *Server) refusal(sess ssh.Session, reason, msg string) {
	s.front.mu.Lock()
	if s.front.refusals == nil {
		s.front.refusals = map[string]uint64{}
	}
	s.front.refusals[reason]++
	s.front.mu.Unlock()
	s.log.Info("ssh refused", "user", Clean(sess.User(), 64), "remote", sess.RemoteAddr().String(),
		"key", keyOf(sess), "why", reason, "reason", msg)
}

// keyOf names the session's key by its SHA256 fingerprint ("none": no key).
func keyOf(sess ssh.Session) string {
	if k := sess.PublicKey(); k != nil {
		return fingerprintOf(sess.Context(), k)
	}
	return "none"
}

type fingerprintKey struct{}

// fingerprintOf is Fingerprint(k) of the key the connection authenticated
// with, computed once per connection and kept in its context (a connection
// carrying one exec session per post hashed it three times per session).
// Sessions open only after authentication, so that key is fixed by then.
func fingerprintOf(ctx ssh.Context, k ssh.PublicKey) string {
	if ctx == nil {
		return Fingerprint(k)
	}
	if fp, ok := ctx.Value(fingerprintKey{}).(string); ok {
		return fp
	}
	fp := Fingerprint(k)
	ctx.SetValue(fingerprintKey{}, fp)
	return fp
}

// capReason classifies acquire's refusals.
func capReason(msg string) string {
	switch {
	case strings.Contains(msg, "shutting down"):
		return "shutting_down"
	case strings.Contains(msg, "for your key"):
		return "per_key_cap"
	}
	return "node_full"
}

// identityReason classifies identify's and claim's refusals.
func identityReason(msg string) string {
	switch {
	case strings.Contains(msg, "only admin keys"):
		return "not_admin"
	case strings.Contains(msg, "reserved"):
		return "reserved_name"
	case strings.Contains(msg, "invalid user"):
		return "invalid_name"
	case strings.Contains(msg, "banned"):
		return "banned"
	case strings.Contains(msg, "another key") || strings.Contains(msg, "bound to"):
		return "name_taken"
	case strings.Contains(msg, "no quorum"):
		return "no_quorum"
	}
	return "other"
}
