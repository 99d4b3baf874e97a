package sshui_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"
	"github.com/syncnet/syncnet/node/api"
	. "github.com/syncnet/syncnet/sshui"
	gossh "golang.org/x/crypto/ssh"
)

// testLogger sends server logs to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func newSigner(t testing.TB) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func authorizedLine(s gossh.Signer) string {
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey())))
}

type testServer struct {
	*Server
	addr  string
	admin gossh.Signer
	mu    sync.Mutex
	trail []string
}

// startServer serves b on 127.0.0.1:0 with one admin key.
func startServer(t testing.TB, b api.Backend, tweak func(*Config)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{admin: newSigner(t), addr: ln.Addr().String()}
	cfg := Config{Listener: ln, HostKeyPath: filepath.Join(t.TempDir(), "host_ed25519"),
		AdminKeys: []string{authorizedLine(ts.admin)}, NodeID: "node1", Logger: testLogger(t),
		PostTimeout: 2 * time.Second, StatusPoll: 50 * time.Millisecond}
	if tweak != nil {
		tweak(&cfg)
	}
	srv, err := New(cfg, b)
	if err != nil {
		t.Fatal(err)
	}
	SetTrace(srv, func(stage string) {
		ts.mu.Lock()
		ts.trail = append(ts.trail, stage)
		ts.mu.Unlock()
	})
	ts.Server = srv
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

func (ts *testServer) stages() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.trail...)
}

func (ts *testServer) resetStages() {
	ts.mu.Lock()
	ts.trail = nil
	ts.mu.Unlock()
}

func dial(t testing.TB, addr, user string, keys ...gossh.Signer) *gossh.Client {
	t.Helper()
	c, err := dialErr(addr, user, keys...)
	if err != nil {
		t.Fatalf("dial %s@%s: %v", user, addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func dialErr(addr, user string, keys ...gossh.Signer) (*gossh.Client, error) {
	var auth []gossh.AuthMethod
	if len(keys) > 0 {
		auth = append(auth, gossh.PublicKeys(keys...))
	}
	return gossh.Dial("tcp", addr, &gossh.ClientConfig{User: user, Auth: auth,
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
}

type execResult struct {
	out, err string
	code     int
}

// run executes one exec command and returns stdout, stderr and exit code.
func run(t testing.TB, addr, user string, key gossh.Signer, cmd string) execResult {
	t.Helper()
	return runIn(t, addr, user, key, cmd, "")
}

// runIn is run with stdin: the client sends in, then EOF.
func runIn(t testing.TB, addr, user string, key gossh.Signer, cmd, in string) execResult {
	t.Helper()
	c := dial(t, addr, user, key)
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var out, serr bytes.Buffer
	sess.Stdout, sess.Stderr, sess.Stdin = &out, &serr, strings.NewReader(in)
	err = sess.Run(cmd)
	r := execResult{out: out.String(), err: serr.String()}
	var ee *gossh.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitStatus()
	case err != nil:
		var em *gossh.ExitMissingError
		if !errors.As(err, &em) {
			t.Fatalf("run %q: %v", cmd, err)
		}
		r.code = -1
	}
	return r
}

// lockedBuffer collects a session's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// term is an interactive PTY session.
type term struct {
	t    testing.TB
	c    *gossh.Client
	sess *gossh.Session
	in   io.WriteCloser
	out  *lockedBuffer
}

func openTerm(t testing.TB, addr, user string, key gossh.Signer, w, h int) *term {
	t.Helper()
	c := dial(t, addr, user, key)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", h, w, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	sess.Stdout, sess.Stderr = out, out
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	tm := &term{t: t, c: c, sess: sess, in: in, out: out}
	t.Cleanup(func() { _ = sess.Close(); _ = c.Close() })
	return tm
}

func (tm *term) typ(s string) {
	tm.t.Helper()
	if _, err := io.WriteString(tm.in, s); err != nil {
		tm.t.Fatalf("type: %v", err)
	}
}

// waitFor polls the screen output (ANSI stripped) for want.
func (tm *term) waitFor(want string) {
	tm.t.Helper()
	waitUntil(tm.t, 10*time.Second, func() bool {
		return strings.Contains(ansi.Strip(tm.out.String()), want)
	}, func() string { return "screen never showed " + want + ":\n" + ansi.Strip(tm.out.String()) })
}

// waitUntil polls cond every 10ms until the deadline.
func waitUntil(t testing.TB, d time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// asciiRenderer renders without colour, for golden files.
func asciiRenderer() *lipgloss.Renderer {
	return lipgloss.NewRenderer(io.Discard, termenv.WithProfile(termenv.Ascii))
}

// hist reads History and fails the test if it cannot.
func hist(t testing.TB, b api.Backend, room string, before uint64, limit int) []api.Message {
	t.Helper()
	msgs, err := b.History(room, before, limit)
	if err != nil {
		t.Fatalf("History(%s, %d, %d): %v", room, before, limit, err)
	}
	return msgs
}
