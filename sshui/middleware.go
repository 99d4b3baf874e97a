package sshui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/ssh"
	"github.com/syncnet/syncnet/node/api"
	gossh "golang.org/x/crypto/ssh"
)

// Identity is who a session is, decided from the key that authenticated.
type Identity struct {
	Name        string // chat name (lowercased SSH username)
	Fingerprint string // SHA256 fingerprint of s.PublicKey()
	Admin       bool   // key is in the admin set: status and moderation
}

type identityKey struct{}
type keepaliveKey struct{}

func identityOf(s ssh.Session) Identity {
	id, _ := s.Context().Value(identityKey{}).(Identity)
	return id
}

// fail writes one line to stderr and exits with code 1.
func fail(s ssh.Session, format string, args ...any) { failCode(s, 1, format, args...) }

func failCode(s ssh.Session, code int, format string, args ...any) {
	_, _ = fmt.Fprintf(s.Stderr(), format+"\r\n", args...)
	_ = s.Exit(code)
}

// loggingMiddleware logs every connect, and the disconnect of chat
// sessions and of exec sessions that lasted logDisconnectAfter or more
// (tail, post --stream): a one-shot command's disconnect line said nothing
// its connect line did not, and was a tenth of an exec post's CPU. The
// exception: a one-shot `post` on a connection that has had a session
// already is counted, not logged (quietPost), and the connection's end
// says how many there were. Every logged string that came from the client
// is cleaned.
func (s *Server) loggingMiddleware(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		s.enter("logging")
		defer corkOf(sess).releaseReply() // last: after the exit status (cork.go)
		start := time.Now()
		sess = cachePty(sess)
		_, _, pty := sess.Pty()
		raw := sess.RawCommand()
		s.front.connects.Add(1)
		user := Clean(sess.User(), 64)
		if cl, n := s.connLogOf(sess, user); pty || !cl.quiet(n, raw) {
			s.log.Info("ssh connect", "user", user, "remote", sess.RemoteAddr().String(),
				"pty", pty, "cmd", Clean(raw[:min(len(raw), 1024)], 200), "cmd_bytes", len(raw), "key", keyOf(sess))
		}
		next(sess)
		if dur := time.Since(start); pty || dur >= logDisconnectAfter {
			s.log.Info("ssh disconnect", "user", user, "remote", sess.RemoteAddr().String(),
				"dur", dur.Round(time.Millisecond))
		}
	}
}

// logDisconnectAfter: exec sessions shorter than this log no disconnect line.
const logDisconnectAfter = time.Second

// connLog is what the log knows of one connection: a bot posting through
// one exec session per message would log a line per post (each a write
// to the log file: a tenth of an exec post's CPU on the node, and a log
// that grows by the post rate). Its first session is logged whatever it
// is; after that a one-shot `post` is only counted, and the connection's
// end logs the count. What was posted, by whom, is in the cluster's log.
type connLog struct {
	sessions atomic.Int64 // sessions started on the connection
	posts    atomic.Int64 // one-shot posts not logged
}

type connLogKey struct{}

// connLogOf is sess's connection's connLog, made (and its end's line
// registered) by the connection's first session, and the number of sess
// among the connection's sessions (1 for the first).
func (s *Server) connLogOf(sess ssh.Session, user string) (*connLog, int64) {
	ctx := sess.Context()
	ctx.Lock()
	cl, _ := ctx.Value(connLogKey{}).(*connLog)
	if cl == nil {
		cl = &connLog{}
		ctx.SetValue(connLogKey{}, cl)
	}
	ctx.Unlock()
	n := cl.sessions.Add(1)
	if n == 1 {
		remote := sess.RemoteAddr().String()
		context.AfterFunc(ctx, func() {
			if n := cl.posts.Load(); n > 0 {
				s.log.Info("ssh connection closed", "user", user, "remote", remote,
					"sessions", cl.sessions.Load(), "posts_not_logged", n)
			}
		})
	}
	return cl, n
}

// quiet reports whether exec session n running raw goes unlogged (and
// counts it): a one-shot `post` that is not the connection's first session.
func (cl *connLog) quiet(n int64, raw string) bool {
	if n == 1 || !quietPost(raw) {
		return false
	}
	cl.posts.Add(1)
	return true
}

// quietPost reports whether raw is a one-shot post (not --stream, which
// lasts and logs its disconnect).
func quietPost(raw string) bool {
	first, _ := (&cmdLine{raw}).next()
	return first == "post" && !strings.Contains(raw, "--stream")
}

// ptySession caches what s.Pty() returned when the session started.
// charmbracelet/ssh's Pty() copies the window size without a lock while the
// request loop writes it on every window-change (a data race, gliderlabs/ssh
// #265, docs/DEPENDENCIES.md §2.6): reading it once, before the client can resize,
// and taking sizes from the window-change channel avoids it.
type ptySession struct {
	ssh.Session
	pty ssh.Pty
	win <-chan ssh.Window
	ok  bool
}

func (p *ptySession) Pty() (ssh.Pty, <-chan ssh.Window, bool) { return p.pty, p.win, p.ok }

// Command splits the command line into words in linear time. The
// library's Command() splits it like a shell line at a cost that grows
// with the square of a word's length (a 200 KB line was 20 s of CPU); no
// middleware, ours or a library's, gets to call that.
func (p *ptySession) Command() []string { return commandWords(p.RawCommand()) }

func cachePty(sess ssh.Session) ssh.Session {
	pty, win, ok := sess.Pty()
	if !ok {
		pty, ok = ptyOf(sess)
	}
	return &ptySession{Session: sess, pty: pty, win: win, ok: ok}
}

// PTY requests are accepted by ptyRequest instead of charmbracelet/ssh's
// emulation, whose writer copies every write twice to turn "\n" into
// "\r\n" (half of all bytes the server allocated per delivered copy). The
// chat app never writes a bare "\n"; exec commands on a PTY (ssh -t) get
// the translation from crlfSession. The flag the emulation sets is also
// per connection, not per session.
type ptyReqsKey struct{}

// ptyReqs are the PTYs requested on one connection, by session: almost
// always one, so a short list (a map was 2 KiB a connection).
type ptyReqs struct {
	mu   sync.Mutex
	reqs []ptyReq
}

type ptyReq struct {
	sess ssh.Session
	pty  ssh.Pty
}

// ptyRequest is the server's ssh.PtyHandler: it records the request for
// ptyOf and allocates nothing.
func (s *Server) ptyRequest(ctx ssh.Context, sess ssh.Session, pty ssh.Pty) (func() error, error) {
	ctx.Lock()
	r, _ := ctx.Value(ptyReqsKey{}).(*ptyReqs)
	if r == nil {
		r = &ptyReqs{}
		ctx.SetValue(ptyReqsKey{}, r)
	}
	ctx.Unlock()
	r.mu.Lock()
	r.reqs = append(r.reqs, ptyReq{sess, pty})
	r.mu.Unlock()
	return func() error { // when the session's requests end
		r.mu.Lock()
		defer r.mu.Unlock()
		for i := range r.reqs {
			if r.reqs[i].sess == sess {
				r.reqs = append(r.reqs[:i], r.reqs[i+1:]...)
				r.reqs[len(r.reqs):cap(r.reqs)][0] = ptyReq{} // no reference kept
				break
			}
		}
		if len(r.reqs) == 0 {
			r.reqs = nil
		}
		return nil
	}, nil
}

// ptyOf is the PTY ptyRequest recorded for sess.
func ptyOf(sess ssh.Session) (ssh.Pty, bool) {
	r, _ := sess.Context().Value(ptyReqsKey{}).(*ptyReqs)
	if r == nil {
		return ssh.Pty{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, q := range r.reqs {
		if q.sess == sess {
			return q.pty, true
		}
	}
	return ssh.Pty{}, false
}

// crlfSession turns "\n" into "\r\n" on a PTY session's output, as a
// terminal in raw mode needs, for exec commands run with ssh -t.
type crlfSession struct{ ssh.Session }

func (c crlfSession) Write(p []byte) (int, error) { return ssh.NewPtyWriter(c.Session).Write(p) }

func (c crlfSession) Stderr() io.ReadWriter { return ssh.NewPtyReadWriter(c.Session.Stderr()) }

// limitsMiddleware refuses command lines over MaxCommandLine before anything
// reads them, caps sessions per node and per key, refuses new sessions
// while shutting down, and starts one keepalive loop per connection.
func (s *Server) limitsMiddleware(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		s.enter("limits")
		if n := len(sess.RawCommand()); n > MaxCommandLine {
			s.refusal(sess, "command_too_long", "command line too long")
			failCode(sess, exitUsage, "command line too long: %d bytes (max %d); long text goes on stdin: ssh HOST post ROOM < FILE",
				n, MaxCommandLine)
			return
		}
		key := sess.PublicKey()
		if key == nil {
			s.refusal(sess, "no_key", "no public key")
			fail(sess, "a public key is required: %s", noKeyHint)
			return
		}
		fp := fingerprintOf(sess.Context(), key)
		if msg := s.acquire(fp); msg != "" {
			s.refusal(sess, capReason(msg), msg)
			fail(sess, "%s", msg)
			return
		}
		defer s.release(fp)
		s.startKeepalive(sess.Context())
		next(sess)
	}
}

func (s *Server) acquire(fp string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		return "this node is shutting down; connect to another node"
	case s.sessions >= s.cfg.MaxSessions:
		return fmt.Sprintf("this node is full (%d sessions); try another node", s.cfg.MaxSessions)
	case s.perKey[fp] >= s.cfg.MaxSessionsPerKey:
		return fmt.Sprintf("too many sessions for your key on this node (max %d)", s.cfg.MaxSessionsPerKey)
	}
	s.sessions++
	s.perKey[fp]++
	return ""
}

func (s *Server) release(fp string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions--
	if s.perKey[fp]--; s.perKey[fp] <= 0 {
		delete(s.perKey, fp)
	}
}

// startKeepalive starts, once per connection, a loop that sends
// keepalive@openssh.com and closes the connection when no reply comes
// within one interval (docs/DEPENDENCIES.md §2.8). Owner: the connection; it ends
// with the connection's context.
func (s *Server) startKeepalive(ctx ssh.Context) {
	every := s.cfg.KeepaliveInterval
	if every < 0 {
		return
	}
	ctx.Lock()
	started := ctx.Value(keepaliveKey{}) != nil
	if !started {
		ctx.SetValue(keepaliveKey{}, true)
	}
	ctx.Unlock()
	conn, ok := ctx.Value(ssh.ContextKeyConn).(gossh.Conn)
	if started || !ok {
		return
	}
	keepalive(ctx, conn, every)
}

// keepalive probes conn every interval from a timer, so a connection
// holds no goroutine between probes (one per connection was 8 KiB of
// stack each, docs/DEPENDENCIES.md §2.8 for why probes are needed at all). A
// probe with no reply within one interval closes the connection; the
// chain stops at the first probe after ctx ends.
func keepalive(ctx context.Context, conn gossh.Conn, every time.Duration) {
	var t *time.Timer
	t = time.AfterFunc(every, func() {
		defer func() { _ = recover() }()
		if ctx.Err() != nil {
			return
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := conn.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		timer := time.NewTimer(every)
		defer timer.Stop()
		select {
		case err := <-reply:
			if err != nil {
				_ = conn.Close()
				return
			}
		case <-timer.C:
			_ = conn.Close()
			return
		case <-ctx.Done():
			return
		}
		t.Reset(every)
	})
}

// identityMiddleware decides who the session is from s.PublicKey() and
// s.User() — never from what the auth handler saw (docs/DEPENDENCIES.md §2.2):
// validates the name, reserves "admin" for admin keys and refuses the other
// reserved names, refuses a name bound to another key and banned users. It
// binds nothing: a name is claimed on a deliberate first use (claim: the
// chat app, post, tail --join), so that `who` run as "root" or "a" takes
// no name.
func (s *Server) identityMiddleware(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		s.enter("identity")
		id, msg := s.identify(sess)
		if msg != "" {
			s.refusal(sess, identityReason(msg), msg)
			fail(sess, "%s", msg)
			return
		}
		sess.Context().SetValue(identityKey{}, id)
		next(sess)
	}
}

func (s *Server) identify(sess ssh.Session) (Identity, string) {
	key := sess.PublicKey()
	if key == nil {
		return Identity{}, "a public key is required: " + noKeyHint
	}
	name, err := NormalizeName(sess.User())
	if err != nil {
		return Identity{}, "invalid user " + err.Error() + "; connect as ssh NAME@host"
	}
	id := Identity{Name: name, Fingerprint: fingerprintOf(sess.Context(), key)}
	id.Admin = s.isAdmin(id.Fingerprint)
	if name == AdminName {
		if !id.Admin {
			return Identity{}, "permission denied: only admin keys may log in as admin"
		}
		return id, ""
	}
	if Reserved(name) {
		return Identity{}, fmt.Sprintf("the name %q is reserved; pick another: ssh OTHERNAME@host", name)
	}
	if s.b.IsBanned(name) {
		return Identity{}, "you are banned from this chat"
	}
	if _, ok := s.b.NameOwner(name); ok && !s.b.HasKey(name, id.Fingerprint) { // any of the name's keys
		return Identity{}, takenMsg(name)
	}
	return id, ""
}

func takenMsg(name string) string {
	return fmt.Sprintf("the name %q belongs to another key; pick another: ssh OTHERNAME@host", name)
}

// claim binds id.Name to id.Fingerprint unless it already is (admin is
// never bound): the first deliberate use of a name, which writes.
// It returns "" or why the name cannot be had.
func (s *Server) claim(ctx context.Context, id Identity) string {
	if id.Name == AdminName {
		return ""
	}
	_, ok := s.b.NameOwner(id.Name)
	if ok && s.b.HasKey(id.Name, id.Fingerprint) {
		return ""
	}
	taken := takenMsg(id.Name)
	if ok {
		return taken
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PostTimeout)
	defer cancel()
	err := s.b.BindName(ctx, id.Name, id.Fingerprint)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, api.ErrNameTaken):
		return taken
	case errors.Is(err, api.ErrNoQuorum), errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("cannot claim the name %q right now: the cluster has no quorum; try again soon", id.Name)
	}
	return fmt.Sprintf("cannot claim the name %q: %v", id.Name, err)
}

// routerMiddleware: a PTY with no command goes on to the chat app; anything
// with a command runs that exec command (parsed by cmdLine, never split
// like a shell line); no PTY and no command gets a hint.
// Its own recover turns a panic into an error line and exit 1 (recover in
// wish v1.4.7 logs but lets the client see exit 0).
func (s *Server) routerMiddleware(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		s.enter("router")
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("session panic", "user", identityOf(sess).Name, "panic", r, "stack", string(debug.Stack()))
				fail(sess, "internal error; the session was closed")
			}
		}()
		_, winCh, isPty := sess.Pty()
		raw := sess.RawCommand()
		noCmd := strings.Trim(raw, " \t\r\n") == ""
		if isPty && noCmd {
			// Opening the chat app is a deliberate use: it claims the name.
			if msg := s.claim(sess.Context(), identityOf(sess)); msg != "" {
				s.refusal(sess, identityReason(msg), msg)
				fail(sess, "%s", msg)
				return
			}
			next(sess)
			return
		}
		if isPty { // ssh -t host cmd: nobody else reads window changes
			go func() {
				for range winCh {
				}
			}()
			sess = crlfSession{sess}
		}
		if noCmd {
			fail(sess, "no terminal: use ssh -t, or give a command (try: help)")
			return
		}
		s.runCommand(sess, identityOf(sess), raw)
	}
}
