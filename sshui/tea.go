package sshui

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/ssh"
	"github.com/muesli/termenv"
)

// teaMiddleware runs the chat app for a PTY session. It does what
// wish/bubbletea's MiddlewareWithProgramHandler does (that package needs
// github.com/charmbracelet/x/input, which go.mod does not carry), with these
// differences:
//   - the model runs in our own program (program.go), not bubbletea's: the
//     session's handler reads and decodes the keys itself, so an idle
//     session holds two goroutines fewer;
//   - window changes go through the hub client (the pump is the only caller
//     of p.Send), and the winch channel is drained until the session closes
//     (docs/DEPENDENCIES.md §2.6);
//   - the renderer does not send the OSC 11 / DA1 query, so a client that
//     never answers cannot block the first frame or lose its first key
//     (§2.3); it assumes a dark background;
//   - the program ends with the session's context and is unregistered from
//     the hub as soon as it quits (§2.5).
func (s *Server) teaMiddleware(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		s.enter("chat")
		pty, winCh, ok := sess.Pty()
		if !ok {
			next(sess)
			return
		}
		id := identityOf(sess)
		out := &lockedWriter{w: sess, conn: corkOf(sess)}
		r := newRenderer(sess, pty.Term)
		app := newApp(appDeps{
			b: s.b, cfg: &s.cfg, id: id, r: r, limit: s.limit, bell: out, admins: s.adminSet(),
			env: sess.Environ(),
		})
		fm := newFrameModel(app, out, s.cfg.FPS)
		p := newProgram(fm, sess, sess.Context())
		fm.send = p.Send
		c := s.hub.register(id.Name, p, winCh, fm.apply, fm.deferred, fm.trim) // its pump reads winCh
		fm.wake = c.DrawSoon
		app.setClient(c)
		// end runs once, in whichever goroutine quits the program (a key's
		// command, the hub's pump, the connection's end, the handler at the
		// end of its input); its Exit closes the channel, which ends the
		// handler's read.
		p.end = func() {
			fm.close() // no frame after this: the terminal is restored next
			s.hub.Unregister(c)
			if !s.isClosing() {
				app.MarkCurrentRead()
			}
			_, _ = io.WriteString(out, termLeave)
			if msg := app.ExitMessage(); msg != "" {
				_, _ = fmt.Fprintf(sess.Stderr(), "%s\r\n", msg)
			} else if s.isClosing() {
				_, _ = io.WriteString(sess.Stderr(), s.reconnectText(sess, id.Name))
			}
			_ = sess.Exit(0)
		}
		defer p.quit() // a panic below still ends the program and unregisters it
		_, _ = io.WriteString(out, termEnter)
		_ = p.Run()
		next(sess)
	}
}

// reconnectText tells a user whose node is shutting down where else to
// connect: the other nodes' SSH addresses, those the cluster sees up
// first. A node listening on every address (0.0.0.0, ::) is named by the
// address this session reached, which is the same machine's.
func (s *Server) reconnectText(sess ssh.Session, user string) string {
	st := s.hub.Status()
	if len(st.Members) == 0 {
		st = s.b.Status()
	}
	var up, down []string
	for _, m := range st.Members {
		if m.ID == s.cfg.NodeID || m.ID == st.Node || m.SSHPort <= 0 {
			continue
		}
		host := m.Host
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			host, _, _ = net.SplitHostPort(sess.LocalAddr().String())
		}
		line := fmt.Sprintf("  ssh -p %d %s@%s", m.SSHPort, user, Clean(host, 255))
		if m.Online {
			up = append(up, line+"\r\n")
		} else {
			down = append(down, line+"   (down now)\r\n")
		}
	}
	if len(up)+len(down) == 0 {
		return "this node is shutting down; reconnect to another node\r\n"
	}
	return "this node (" + Clean(s.cfg.NodeID, 32) + ") is shutting down; reconnect to another node:\r\n" +
		strings.Join(up, "") + strings.Join(down, "")
}

// newRenderer makes the session's lipgloss renderer from its TERM and
// environment (NO_COLOR, COLORTERM are honoured).
func newRenderer(w io.Writer, term string) *lipgloss.Renderer {
	if term == "" || term == "dumb" {
		return lipgloss.NewRenderer(w, termenv.WithProfile(termenv.Ascii))
	}
	var env sshEnviron
	if s, ok := w.(ssh.Session); ok {
		env = sshEnviron(append(s.Environ(), "TERM="+term))
	} else {
		env = sshEnviron{"TERM=" + term}
	}
	r := lipgloss.NewRenderer(w, termenv.WithEnvironment(env), termenv.WithUnsafe(), termenv.WithColorCache(true))
	r.SetHasDarkBackground(true)
	return r
}

type sshEnviron []string

func (e sshEnviron) Environ() []string { return e }

func (e sshEnviron) Getenv(k string) string {
	for i := len(e) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(e[i], k+"="); ok {
			return v
		}
	}
	return ""
}

// lockedWriter serialises the renderer's frames and out-of-band bells so a
// BEL never lands inside an escape sequence. It writes in SSH packets of
// at most maxPacket bytes, corked (corkConn) so that a frame is still one
// write on the connection.
type lockedWriter struct {
	mu   sync.Mutex
	w    io.Writer
	conn *corkConn // nil: no cork (tests)
}

// maxPacket bounds one write to the session. x/crypto keeps, per
// connection, a packet buffer and a cipher buffer as large as the largest
// packet written: a full first frame (4–5 KB at 80×24, far more on a large
// terminal) would pin both at that size for the connection's life. A new
// chat line redraws about 1.7 KB: two packets, one system call. The
// terminal sees one byte stream either way.
const maxPacket = 1024

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(p) > maxPacket {
		l.conn.cork()
		defer l.conn.uncork()
	}
	n := 0
	for len(p) > 0 {
		k := min(len(p), maxPacket)
		m, err := l.w.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// Bell rings the terminal bell.
func (l *lockedWriter) Bell() { _, _ = l.Write([]byte{'\a'}) }
