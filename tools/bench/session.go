package bench

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/charmbracelet/x/ansi"
	"golang.org/x/crypto/ssh"
)

// The terminal queries the chat app may send, and a real terminal's answer
// (docs/DEPENDENCIES.md §2.3 and §4): without it the first frame can stall.
var (
	da1Query  = []byte("\x1b[c")
	da1Answer = []byte("\x1b]11;rgb:0000/0000/0000\x07\x1b[?62;22c")
)

// carryLen is how much raw output is rescanned with the next chunk, so an
// escape sequence or token split between reads is still seen whole.
const carryLen = 256

// session is one simulated person: its own key and user, one SSH connection,
// one PTY session running the chat app.
type session struct {
	b      *bench
	i      int
	user   string
	signer ssh.Signer

	client  *ssh.Client
	sess    *ssh.Session
	inMu    sync.Mutex // typing and DA1 answers share stdin
	in      io.WriteCloser
	ready   chan struct{} // closed when the chat screen is up
	readyAt time.Duration // connect time
	closed  chan struct{} // closed when the output stream ends

	mu   sync.Mutex
	seen []bool          // by token seq
	lat  []time.Duration // send → seen, for every token of another poster
	own  int             // own tokens seen (posters)
	tail []byte          // the last raw screen output, for diagnostics
}

func newSession(b *bench, i int) (*session, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	return &session{b: b, i: i, user: fmt.Sprintf("%s-%d", b.cfg.Prefix, i), signer: signer,
		ready: make(chan struct{}), closed: make(chan struct{})}, nil
}

// connect dials, opens the PTY session and waits for the first screen.
func (s *session) connect(ctx context.Context) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.b.cfg.ConnectTimeout)
	defer cancel()
	d := net.Dialer{}
	nc, err := d.DialContext(ctx, "tcp", s.b.cfg.Addr)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	defer stop()
	cc, chans, reqs, err := ssh.NewClientConn(nc, s.b.cfg.Addr, &ssh.ClientConfig{User: s.user,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(s.signer)}, HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		_ = nc.Close()
		return fmt.Errorf("handshake: %w", err)
	}
	s.client = ssh.NewClient(cc, chans, reqs)
	if err := s.openPTY(); err != nil {
		_ = s.client.Close()
		return err
	}
	select {
	case <-s.ready:
		s.readyAt = time.Since(start)
		return nil
	case <-s.closed:
		_ = s.client.Close()
		return errors.New("session ended before the chat screen appeared")
	case <-ctx.Done():
		_ = s.client.Close()
		return fmt.Errorf("no chat screen within %s", s.b.cfg.ConnectTimeout)
	}
}

func (s *session) openPTY() error {
	sess, err := s.client.NewSession()
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	if err := sess.RequestPty("xterm-256color", s.b.cfg.Height, s.b.cfg.Width, ssh.TerminalModes{}); err != nil {
		return fmt.Errorf("pty: %w", err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		return err
	}
	if s.in, err = sess.StdinPipe(); err != nil {
		return err
	}
	if err := sess.Shell(); err != nil {
		return fmt.Errorf("shell: %w", err)
	}
	s.sess = sess
	go s.read(out)
	return nil
}

// read follows the screen output: answers terminal queries, notices the
// first screen and records every token of this run. Tokens are found in
// the raw output (a message's text is one run between escape sequences),
// so the reader stays cheap next to the server it measures: stripping
// escapes from every chunk cost the client as much CPU as a server copy
// and showed up as latency. A token cut by an escape sequence counts as
// missing, never as seen.
func (s *session) read(out io.Reader) {
	defer close(s.closed)
	buf := make([]byte, 8<<10)
	window := make([]byte, 0, carryLen+len(buf))
	readyMark := []byte("#" + s.b.cfg.Room)
	isReady := false
	for {
		n, err := out.Read(buf)
		if n > 0 {
			window = append(window, buf[:n]...)
			now := time.Now()
			if bytes.Contains(window, da1Query) {
				s.write(da1Answer)
			}
			if !isReady && bytes.Contains([]byte(ansi.Strip(string(window))), readyMark) {
				isReady = true
				close(s.ready)
			}
			s.b.tok.scan(window, func(seq int) { s.saw(seq, now) })
			s.keepTail(buf[:n])
			if len(window) > carryLen {
				window = append(window[:0], window[len(window)-carryLen:]...)
			}
		}
		if err != nil {
			return
		}
	}
}

func (s *session) saw(seq int, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq >= len(s.seen) || s.seen[seq] {
		return
	}
	sent := s.b.sentAt(seq) // stored before the token is typed or posted
	if sent.IsZero() {
		return
	}
	s.seen[seq] = true
	if s.b.posterOf(seq) != s.i {
		s.lat = append(s.lat, now.Sub(sent))
	} else {
		s.own++
	}
}

const tailLen = 600

// rawTailLen is how much raw output keepTail keeps: enough for tailLen
// characters of text once the escape sequences are stripped.
const rawTailLen = 8 * tailLen

// keepTail keeps at least the last rawTailLen bytes of the output. It
// cuts only once twice that piled up, so a chunk costs a copy of itself,
// not of the whole tail (that copy was much of the generator's CPU in a
// connect storm, when every screen redraws).
func (s *session) keepTail(text []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tail = append(s.tail, text...)
	if len(s.tail) > 2*rawTailLen {
		s.tail = append(s.tail[:0], s.tail[len(s.tail)-rawTailLen:]...)
	}
}

// ownSeen reports how many of its own tokens a poster saw, and its screen's
// last text.
func (s *session) ownSeen() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	text := ansi.Strip(string(s.tail))
	return s.own, text[max(len(text)-tailLen, 0):]
}

// write types p into the session.
func (s *session) write(p []byte) {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if s.in != nil {
		_, _ = s.in.Write(p)
	}
}

// post sends text through a `post` exec session on this connection.
func (s *session) post(text, id string) error {
	sess, err := s.client.NewSession()
	if err != nil {
		return err
	}
	defer sess.Close()
	var serr bytes.Buffer
	sess.Stderr = &serr
	err = sess.Run("post --id " + id + " -- " + s.b.cfg.Room + " " + text) // the text is taken verbatim
	if err != nil {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(serr.Bytes()))
	}
	return nil
}

func (s *session) close() {
	if s.client != nil {
		_ = s.client.Close()
	}
}

// counts reports how many of the tokens 0..sent-1 posted by others this
// session saw, and its latencies.
func (s *session) counts() (seen int, lat []time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lat), append([]time.Duration(nil), s.lat...)
}

func (s *session) sawSeq(seq int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return seq < len(s.seen) && s.seen[seq]
}

func (s *session) seenCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lat)
}
