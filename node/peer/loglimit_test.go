package peer

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestGarbageConnectionsDoNotFloodTheLog: 200 connections that send
// garbage are all rejected and counted, but logged once a second at most.
func TestGarbageConnectionsDoNotFloodTheLog(t *testing.T) {
	var buf syncBuf
	l := listen(t)
	tr, err := New(Config{ID: "n0", Secret: []byte("k"), Peers: map[string]string{"n0": l.Addr().String()}, Listener: l,
		Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	began := time.Now()
	const conns = 200
	for i := 0; i < conns; i++ {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		c.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for tr.Stats().RejectedHandshake < conns {
		if time.Now().After(deadline) {
			t.Fatalf("rejected %d of %d", tr.Stats().RejectedHandshake, conns)
		}
		time.Sleep(5 * time.Millisecond)
	}
	lines := strings.Count(buf.String(), "peer handshake rejected")
	if max := int(time.Since(began)/time.Second) + 1; lines < 1 || lines > max {
		t.Fatalf("%d log lines for %d garbage connections in %s (want 1..%d):\n%s", lines, conns, time.Since(began), max, buf.String())
	}
}

func TestLogLimit(t *testing.T) {
	var l logLimit
	t0 := time.Unix(0, 0)
	if ok, _ := l.allow(t0); !ok {
		t.Fatal("first line held back")
	}
	for i := 1; i <= 5; i++ {
		if ok, _ := l.allow(t0.Add(time.Duration(i) * 100 * time.Millisecond)); ok {
			t.Fatal("a second line within the second")
		}
	}
	if ok, n := l.allow(t0.Add(time.Second)); !ok || n != 5 {
		t.Fatalf("after a second: %v, %d held back (want 5)", ok, n)
	}
}
