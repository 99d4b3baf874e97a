package sshui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/charmbracelet/ssh"
	"github.com/charmbracelet/wish"
	wishrecover "github.com/charmbracelet/wish/recover"
	"github.com/syncnet/syncnet/node/api"
	gossh "golang.org/x/crypto/ssh"
)

// Server is one node's SSH front end.
type Server struct {
	cfg    Config
	b      api.Backend
	log    *slog.Logger
	srv    *ssh.Server
	hub    *Hub
	limit  *rateLimiter
	admins map[string]bool // fingerprints; replaced (never modified) under mu by SetAdminKeys
	front  frontCounters   // connects, refusals (live.go)
	seen   *lastSeen       // when each member was last seen online (status)

	// trace, if set (tests), is called with each middleware's name as the
	// session enters it.
	trace func(stage string)

	stopCtx context.Context // canceled by Shutdown: ends exec commands
	stop    context.CancelFunc

	mu       sync.Mutex
	sessions int
	perKey   map[string]int
	closing  bool
}

// New builds a server for b. It does not listen yet: call Serve.
func New(cfg Config, b api.Backend) (*Server, error) {
	if b == nil {
		return nil, errors.New("sshui: nil Backend")
	}
	hostKey, err := cfg.hostKeyOption()
	if err != nil {
		return nil, err
	}
	cfg.setDefaults()
	admins, err := cfg.adminSet()
	if err != nil {
		return nil, fmt.Errorf("sshui: %w", err)
	}
	s := &Server{
		cfg: cfg, b: b, log: cfg.Logger, admins: admins,
		perKey: map[string]int{},
		limit:  newRateLimiter(cfg.RateLimit, cfg.RateBurst, time.Now),
		seen:   newLastSeen(time.Now),
	}
	s.stopCtx, s.stop = context.WithCancel(context.Background())
	// The hub's status poll also records when each member was last online.
	s.hub = NewHub(seenBackend{b, s.seen}, HubConfig{Queue: cfg.SessionQueue, StatusPoll: cfg.StatusPoll, Logger: cfg.Logger})
	s.srv, err = wish.NewServer(
		wish.WithAddress(cfg.Addr),
		hostKey,
		wish.WithIdleTimeout(cfg.IdleTimeout),
		wish.WithPublicKeyAuth(s.publicKeyAuth),
		wish.WithKeyboardInteractiveAuth(s.keyboardInteractiveAuth),
		wish.WithMiddleware(s.middleware()...),
	)
	if err != nil {
		return nil, fmt.Errorf("sshui: new server: %w", err)
	}
	s.srv.PtyHandler = s.ptyRequest // no write-copying emulation (middleware.go)
	s.srv.ConnCallback = s.wrapConn // writes a session may send as one (cork.go)
	// A one-shot post's exec reply goes out with its output (cork.go).
	s.srv.SessionRequestCallback = s.sessionRequest
	s.srv.ChannelHandlers = map[string]ssh.ChannelHandler{}
	for k, v := range ssh.DefaultChannelHandlers {
		s.srv.ChannelHandlers[k] = v
	}
	s.srv.ChannelHandlers["session"] = s.sessionChannel
	s.srv.ServerConfigCallback = func(ssh.Context) *gossh.ServerConfig {
		return &gossh.ServerConfig{MaxAuthTries: 6}
	}
	return s, nil
}

// hostKeyOption serves cfg.HostKey, or else the key file at HostKeyPath
// (created if missing).
func (cfg *Config) hostKeyOption() (ssh.Option, error) {
	if cfg.HostKey != nil {
		return func(srv *ssh.Server) error { srv.AddHostKey(cfg.HostKey); return nil }, nil
	}
	if cfg.HostKeyPath == "" {
		return nil, errors.New("sshui: HostKey or HostKeyPath is required")
	}
	if err := os.MkdirAll(filepath.Dir(cfg.HostKeyPath), 0o700); err != nil {
		return nil, fmt.Errorf("sshui: host key dir: %w", err)
	}
	return wish.WithHostKeyPath(cfg.HostKeyPath), nil
}

// middleware is the wish middleware list. wish runs the LAST entry first, and
// recover.Middleware composes its arguments the same way, so read the inner
// list bottom-up: logging → limits → identity → router → chat app.
// Everything sits inside recover (in wish v1.4.7 recover only guards the
// middlewares passed to it, docs/DEPENDENCIES.md §2.7).
func (s *Server) middleware() []wish.Middleware {
	return []wish.Middleware{
		wishrecover.MiddlewareWithLogger(slogPrintf{s.log},
			// 5th, innermost: the bubbletea chat program for PTY sessions with
			// no command (teaMiddleware, tea.go: wish/bubbletea's middleware
			// without its blocking terminal query).
			s.teaMiddleware,
			// 4th: command router. PTY + no command → next (chat app);
			// otherwise run an exec command. Has its own panic guard that
			// reports the error and exits 1.
			s.routerMiddleware,
			// 3rd: identity from s.PublicKey() (NOT the auth handler's
			// username, docs/DEPENDENCIES.md §2.2): name binding, admin check, bans.
			s.identityMiddleware,
			// 2nd: session caps per node and per key; starts the keepalive.
			s.limitsMiddleware,
			// 1st, outermost: connect/disconnect log lines.
			s.loggingMiddleware,
		),
	}
}

// Serve accepts connections until Shutdown. It returns nil after Shutdown.
func (s *Server) Serve() error {
	go s.hub.Run()
	var err error
	if s.cfg.Listener != nil {
		err = s.srv.Serve(s.cfg.Listener)
	} else {
		err = s.srv.ListenAndServe()
	}
	if errors.Is(err, ssh.ErrServerClosed) {
		return nil
	}
	return err
}

// defaultShutdownGrace bounds Shutdown when its ctx has no deadline.
const defaultShutdownGrace = 10 * time.Second

// Shutdown ends every chat program first (a notice, then tea.QuitMsg via the
// hub) and every exec command (tail, status watch), stops accepting, waits
// until the sessions have ended or ctx is done, then closes every
// connection that is left (idle or stuck). Call it before closing the
// Backend. It returns ctx's error if sessions were still open at the
// deadline; a ctx without a deadline gets defaultShutdownGrace.
func (s *Server) Shutdown(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok { // a stalled terminal must not hold the node forever
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultShutdownGrace)
		defer cancel()
	}
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.hub.Shutdown("this node is shutting down; reconnect to another node")
	s.stop()
	shut := make(chan error, 1)
	go func() { shut <- s.srv.Shutdown(ctx) }() // closes the listener now
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	var err error
wait:
	for s.Sessions() > 0 {
		select {
		case <-ctx.Done():
			err = ctx.Err()
			s.log.Warn("ssh shutdown: sessions still open; closing connections", "sessions", s.Sessions())
			break wait
		case <-shut:
		case <-t.C:
		}
	}
	_ = s.srv.Close()
	s.hub.Stop()
	return err
}

// Sessions is the number of open SSH sessions (the node's "clients").
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// Hub exposes the session hub (benchmarks, node wiring).
func (s *Server) Hub() *Hub { return s.hub }

// publicKeyAuth accepts any well-formed key: identity is decided later from
// s.PublicKey() in identityMiddleware (docs/DEPENDENCIES.md §2.2).
func (s *Server) publicKeyAuth(_ ssh.Context, key ssh.PublicKey) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return key != nil
}

// noKeyHint is shown to clients that try keyboard-interactive.
const noKeyHint = "SyncNet needs an SSH key. Create one with: ssh-keygen -t ed25519   then reconnect."

// keyboardInteractiveAuth refuses, but first shows how to make a key: the
// instruction of a zero-question challenge is printed by OpenSSH.
func (s *Server) keyboardInteractiveAuth(_ ssh.Context, ch gossh.KeyboardInteractiveChallenge) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_, _ = ch("", noKeyHint, nil, nil)
	return false
}

// slogPrintf adapts slog to recover's Printf logger.
type slogPrintf struct{ l *slog.Logger }

func (p slogPrintf) Printf(format string, v ...any) {
	p.l.Error(fmt.Sprintf(format, v...))
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) enter(stage string) {
	if s.trace != nil {
		s.trace(stage)
	}
}
