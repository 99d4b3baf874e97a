package sshui

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// Config configures one node's SSH server. Zero fields take the defaults
// noted on each.
type Config struct {
	// Addr to listen on (e.g. "127.0.0.1:2222"), used when Listener is nil.
	Addr string
	// Listener, if set, is served instead of Addr (tests pass 127.0.0.1:0).
	Listener net.Listener
	// HostKey is the host key to serve: the cluster's, the same on every
	// node, so clients see one host identity (tools/serve loads it).
	HostKey gossh.Signer
	// HostKeyPath, used when HostKey is nil (tests, demos), is an ed25519
	// host key file, generated once if missing. One of the two is required:
	// without either, wish would write id_ed25519 into the cwd.
	HostKeyPath string
	// AdminKeys are authorized_keys lines ("ssh-ed25519 AAAA… comment").
	AdminKeys []string
	// AdminPublicKeys are parsed admin keys (added to AdminKeys).
	AdminPublicKeys []ssh.PublicKey
	// NodeID names this node in the UI.
	NodeID string

	// IdleTimeout bounds stuck handshakes and dead peers (default 15m; the
	// keepalive answers refresh it, so live idle users stay connected).
	IdleTimeout time.Duration
	// KeepaliveInterval between keepalive@openssh.com probes; no answer
	// within one interval closes the connection (default 45s; <0 disables).
	KeepaliveInterval time.Duration
	// MaxSessions on this node (default 4000).
	MaxSessions int
	// MaxSessionsPerKey per public key on this node (default 20).
	MaxSessionsPerKey int
	// RateLimit is the sustained messages/s per user (default 10) and
	// RateBurst the bucket size (default 40: a pasted paragraph).
	RateLimit float64
	RateBurst int
	// StreamInFlight caps the posts one `post --stream` session has sent
	// and not yet acknowledged (default 256); beyond it the session stops
	// reading its input until acks go out (back-pressure).
	StreamInFlight int
	// MaxMessageLen in runes (default 2000).
	MaxMessageLen int
	// PostTimeout bounds one replicated write (default 10s).
	PostTimeout time.Duration
	// HistoryOnJoin is how many messages a room shows on joining (default 50).
	HistoryOnJoin int
	// SessionQueue is the per-session hub queue length (default 64: 3 s of
	// a 20 msg/s room; a session that falls further behind resyncs losslessly
	// from HistoryAfter).
	SessionQueue int
	// StatusPoll is how often the hub polls Backend.Status (default 1s).
	StatusPoll time.Duration
	// FPS caps each session's frame rate (default 200: at most 5 ms added
	// to a line's latency; bursts are coalesced by the pump anyway, see
	// frameModel.apply). Frames are drawn
	// only when something changed (screen.go): a line that arrives while
	// nothing else is queued is drawn at once, lines arriving faster are
	// coalesced at most 1/FPS apart, and an idle session costs no CPU.
	FPS int
	// Logger (default: discard).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.IdleTimeout, 15*time.Minute)
	def(&c.KeepaliveInterval, 45*time.Second)
	def(&c.PostTimeout, 10*time.Second)
	def(&c.StatusPoll, time.Second)
	defInt(&c.MaxSessions, 4000)
	defInt(&c.MaxSessionsPerKey, 20)
	defInt(&c.RateBurst, 40)
	defInt(&c.MaxMessageLen, 2000)
	defInt(&c.StreamInFlight, 256)
	defInt(&c.HistoryOnJoin, 50)
	defInt(&c.SessionQueue, 64)
	defInt(&c.FPS, 200)
	if c.RateLimit <= 0 {
		c.RateLimit = 10
	}
	if c.NodeID == "" {
		c.NodeID = "node"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// adminSet parses the admin keys into a set of fingerprints.
func (c *Config) adminSet() (map[string]bool, error) {
	set := map[string]bool{}
	for _, k := range c.AdminPublicKeys {
		set[Fingerprint(k)] = true
	}
	for i, line := range c.AdminKeys {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("admin key %d: %w", i+1, err)
		}
		set[Fingerprint(k)] = true
	}
	return set, nil
}
