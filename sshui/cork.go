package sshui

import (
	"net"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// corkConn is a connection whose writes a session may hold back for a
// moment and send as one (cork, then uncork). golang.org/x/crypto/ssh
// flushes every packet with a write system call of its own: an exec post
// wrote its output, its exit status and its close as three, and a chat
// frame cut into small packets (cutWriter) would write each. Corked, they
// are one write.
//
// A cork holds back every session's writes on the connection, not only
// the corker's, so it is bounded: corkHold after the first cork the
// held bytes go out and writes pass through until the last uncork. A
// corker blocked on a full SSH window therefore delays nobody's keepalive
// or output for more than corkHold.
type corkConn struct {
	net.Conn

	mu    sync.Mutex
	corks int         // cork calls not yet matched by uncork
	open  bool        // corkHold passed: writes pass through until corks is 0
	buf   *[]byte     // held bytes (from corkBufs)
	timer *time.Timer // ends the hold; nil when not corked
	gen   uint64      // counts holds, so a late timer ends none but its own
	err   error       // the held bytes' write failed: the connection is closed

	channels  int  // session channels open on the connection
	replyHeld bool // a one-shot post's exec reply is held (holdReply)

	// The idle deadline, pushed back lazily (SetDeadline).
	dmu    sync.Mutex
	armed  time.Time     // the deadline set on Conn; zero: none or unknown
	dslack time.Duration // how late an idle connection may be closed
}

// corkHold bounds how long a cork holds back the connection's writes.
const corkHold = 2 * time.Millisecond

// corkBufs holds write buffers between corks, so an idle connection keeps
// none.
var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

type corkKey struct{}

// wrapConn is the server's ConnCallback: every connection is a corkConn,
// found by corkOf through the connection's context.
func (s *Server) wrapConn(ctx ssh.Context, c net.Conn) net.Conn {
	cc := &corkConn{Conn: c, dslack: deadlineSlack(s.cfg.IdleTimeout)}
	ctx.SetValue(corkKey{}, cc)
	return cc
}

// corkOf is the corkConn under sess, or nil (a session of a server not
// built by New).
func corkOf(sess ssh.Session) *corkConn {
	c, _ := sess.Context().Value(corkKey{}).(*corkConn)
	return c
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.corks > 0 && !c.open {
		*c.buf = append(*c.buf, p...)
		return len(p), nil
	}
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// cork holds back the connection's writes until the matching uncork (or
// corkHold). Every cork must be matched by one uncork. Nil-safe.
func (c *corkConn) cork() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corkLocked(corkHold)
}

// corkLocked adds a cork; the first one holds the writes for hold at most.
func (c *corkConn) corkLocked(hold time.Duration) {
	c.corks++
	if c.corks == 1 {
		c.open = false
		if c.buf == nil {
			c.buf = corkBufs.Get().(*[]byte)
		}
		c.gen++
		gen := c.gen
		c.timer = time.AfterFunc(hold, func() { c.expire(gen) })
	}
}

// uncork ends a cork: the last one writes what was held, in one write.
func (c *corkConn) uncork() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.uncorkLocked()
}

func (c *corkConn) uncorkLocked() {
	if c.corks == 0 {
		return
	}
	if c.corks--; c.corks > 0 {
		return
	}
	c.timer.Stop()
	c.timer = nil
	_ = c.flushLocked()
	c.release()
}

// expire ends hold gen if it lasted its time.
func (c *corkConn) expire(gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corks > 0 && c.gen == gen {
		if c.replyHeld {
			c.endReplyLocked()
			return
		}
		c.openLocked()
	}
}

// openLocked ends the hold: what was held goes out, and writes pass
// through until the last uncork.
func (c *corkConn) openLocked() {
	if c.corks > 0 && !c.open {
		c.open = true
		_ = c.flushLocked()
	}
}

// replyHold bounds how long a one-shot post's exec reply is held: past a
// commit's p99 under 1,024 writers (0.6 s on a quiet machine, seconds on a
// loaded one), far below a keepalive's wait for its answer.
const replyHold = 2 * time.Second

// holdReply corks the connection from a one-shot post's exec request on,
// so the request's reply goes out with the post's output, exit status and
// close, in one write (releaseReply), not in a write of its own while the
// post waits for its commit. Only on a connection whose one open channel
// is this session's: a cork holds every channel's writes back, so a
// channel opening lifts it (channelOpened), and it lasts replyHold at
// most (a keepalive probe, a key exchange's reply wait no longer); the
// post's own last lines still go out as one write after it
// (endReplyLocked). Only for a post whose text is on its command line: a
// client may wait for the reply before it sends stdin.
func (c *corkConn) holdReply() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.channels != 1 || c.corks != 0 || c.replyHeld {
		return
	}
	c.replyHeld = true
	c.corkLocked(replyHold)
}

// endReplyLocked ends holdReply's cork early (its time is up, or another
// channel opened): the reply goes out now, and a cork the post took since
// (finish) holds its last lines as a cork of its own would, for corkHold
// at most, so they still go out as one write.
func (c *corkConn) endReplyLocked() {
	c.replyHeld = false
	_ = c.flushLocked()
	c.timer.Stop()
	if c.corks--; c.corks == 0 {
		c.timer = nil
		c.release()
		return
	}
	c.gen++
	gen := c.gen
	c.timer = time.AfterFunc(corkHold, func() { c.expire(gen) })
}

// releaseReply ends holdReply's cork, if any, after the session.
func (c *corkConn) releaseReply() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.replyHeld {
		c.replyHeld = false
		c.uncorkLocked()
	}
}

// channelOpened counts a session channel opening: a held reply goes out
// now, as the new channel's confirmation must not wait. channelClosed
// counts one ending.
func (c *corkConn) channelOpened() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.channels++
	if c.replyHeld {
		c.endReplyLocked()
	}
}

func (c *corkConn) channelClosed() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.channels--
}

// sessionChannel is the server's session channel handler: charmbracelet/ssh's,
// with the connection's channels counted for holdReply.
func (s *Server) sessionChannel(srv *ssh.Server, conn *gossh.ServerConn, ch gossh.NewChannel, ctx ssh.Context) {
	c, _ := ctx.Value(corkKey{}).(*corkConn)
	c.channelOpened()
	defer c.channelClosed()
	ssh.DefaultSessionHandler(srv, conn, ch, ctx)
}

// sessionRequest is the server's SessionRequestCallback, called before an
// exec, shell or subsystem request is answered: a one-shot post with its
// text on the line holds the answer (holdReply). It refuses nothing.
func (s *Server) sessionRequest(sess ssh.Session, kind string) bool {
	if kind == "exec" && postWithText(sess.RawCommand()) {
		corkOf(sess).holdReply()
	}
	return true
}

// postWithText reports whether raw is `post [--id ID] ROOM TEXT` with a
// TEXT on the line (not "-", which reads stdin).
func postWithText(raw string) bool {
	if len(raw) > MaxCommandLine {
		return false
	}
	l := cmdLine{raw}
	if w, _ := l.next(); w != "post" {
		return false
	}
	if _, ok := quickID(&l); !ok {
		return false
	}
	if _, ok := l.next(); !ok {
		return false
	}
	t := strings.Trim(l.text(), " \t\r\n")
	return t != "" && t != "-"
}

// flushLocked writes the held bytes. A failed write closes the
// connection: the writers of those bytes were told they were sent.
func (c *corkConn) flushLocked() error {
	if c.err != nil {
		return c.err
	}
	if c.buf == nil || len(*c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(*c.buf)
	*c.buf = (*c.buf)[:0]
	if err != nil {
		c.err = err
		_ = c.Conn.Close()
	}
	return err
}

// release returns the buffer to the pool once nothing is corked.
func (c *corkConn) release() {
	if c.buf != nil && len(*c.buf) == 0 {
		if cap(*c.buf) <= 64<<10 {
			corkBufs.Put(c.buf)
		}
		c.buf = nil
	}
}

// deadlineSlack is how much later than IdleTimeout after its last read or
// write a connection may be closed: a 60th of it, at most a second.
func deadlineSlack(idle time.Duration) time.Duration {
	return min(idle/60, time.Second)
}

// SetDeadline is called by charmbracelet/ssh before every read and every
// write of the connection, with now + IdleTimeout (or its MaxTimeout):
// two runtime timers reset each time, about eight times per exec post. An
// idle deadline that only moves later is pushed back when it is due
// within the slack, and then dslack further than asked: the connection
// is closed between IdleTimeout and IdleTimeout + dslack after its last
// read or write, never earlier. A deadline earlier than the one set, or
// none (zero), is set at once, exactly.
func (c *corkConn) SetDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	switch {
	case t.IsZero() || c.armed.IsZero() || t.Before(c.armed.Add(-c.dslack)):
		// none, unknown, or earlier than the slack allows: exactly t
	case !t.After(c.armed):
		return nil // the deadline set is at most dslack later than t
	default:
		t = t.Add(c.dslack) // later: set it, a slack further
	}
	if err := c.Conn.SetDeadline(t); err != nil {
		c.armed = time.Time{}
		return err
	}
	c.armed = t
	return nil
}

// SetReadDeadline and SetWriteDeadline set one side exactly; the next
// SetDeadline then sets both again.
func (c *corkConn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.armed = time.Time{}
	return c.Conn.SetReadDeadline(t)
}

func (c *corkConn) SetWriteDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.armed = time.Time{}
	return c.Conn.SetWriteDeadline(t)
}
