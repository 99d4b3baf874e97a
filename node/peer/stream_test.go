package peer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// streamServer starts a transport "srv" whose handler echoes every frame it
// receives with its type incremented, after answering the request itself.
func streamServer(t *testing.T, secret string, handler StreamHandler) (addr string) {
	t.Helper()
	l := listen(t)
	tr, err := New(Config{ID: "srv", Secret: []byte(secret), Peers: map[string]string{"srv": l.Addr().String(), "cli": "127.0.0.1:1"},
		Listener: l, Streams: handler})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return l.Addr().String()
}

func echo(from string, req []byte, s *Stream) error {
	if from != "cli" || s.Peer() != "cli" {
		return fmt.Errorf("from %q", from)
	}
	if err := s.Send(1, req[RequestNonceLen:]); err != nil {
		return err
	}
	for {
		typ, p, err := s.Recv()
		if err != nil {
			return err
		}
		if err := s.Send(typ+1, p); err != nil {
			return err
		}
	}
}

func TestStreamBothWays(t *testing.T) {
	addr := streamServer(t, "s3cret", echo)
	s, err := DialStream(context.Background(), StreamDial{ID: "cli", Secret: []byte("s3cret"), Peer: "srv", Addr: addr}, []byte("give"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	typ, p, err := s.Recv()
	if err != nil || typ != 1 || string(p) != "give" {
		t.Fatalf("answer to the request: %d %q %v", typ, p, err)
	}
	big := bytes.Repeat([]byte("x"), 1<<20)
	for i := range 20 {
		if err := s.Send(uint8(10+i), big); err != nil {
			t.Fatal(err)
		}
		typ, p, err := s.Recv()
		if err != nil || typ != uint8(11+i) || !bytes.Equal(p, big) {
			t.Fatalf("echo %d: type %d, %d bytes, %v", i, typ, len(p), err)
		}
	}
}

// A listener that does not know the secret cannot answer: its frames fail
// authentication at the first one.
func TestStreamRefusesImpostorListener(t *testing.T) {
	addr := streamServer(t, "other secret", echo)
	s, err := DialStream(context.Background(), StreamDial{ID: "cli", Secret: []byte("s3cret"), Peer: "srv", Addr: addr}, []byte("give"))
	if err != nil {
		t.Fatal(err) // the dialer learns nothing of the secret from the hello
	}
	defer s.Close()
	if _, _, err := s.Recv(); err == nil {
		t.Fatal("an answer from a listener with another secret was accepted")
	}
}

// An impostor that recorded a whole exchange (nonce, hello and answers)
// and replays the answers to a new request fails at the first frame: the
// answers are bound to the dialer's fresh request nonce.
func TestStreamRefusesReplayedAnswers(t *testing.T) {
	addr := streamServer(t, "s3cret", echo)
	// Record: a proxy that keeps what the server sends.
	var recorded bytes.Buffer
	var nonce []byte
	pl := listen(t)
	proxied := make(chan struct{})
	go func() {
		defer close(proxied)
		c, err := pl.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		up, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		defer up.Close()
		go func() { io.Copy(up, c); up.Close() }()
		io.Copy(io.MultiWriter(c, &recorded), up)
	}()
	s, err := DialStream(context.Background(), StreamDial{ID: "cli", Secret: []byte("s3cret"), Peer: "srv", Addr: pl.Addr().String()}, []byte("give"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	<-proxied
	nonce = append(nonce, recorded.Bytes()[:nonceLen]...)
	answers := append([]byte(nil), recorded.Bytes()[nonceLen:]...)
	// Replay: same challenge nonce, the recorded answer.
	il := listen(t)
	go func() {
		c, err := il.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write(nonce)
		time.Sleep(20 * time.Millisecond)
		c.Write(answers)
		io.Copy(io.Discard, c)
	}()
	s2, err := DialStream(context.Background(), StreamDial{ID: "cli", Secret: []byte("s3cret"), Peer: "srv", Addr: il.Addr().String()}, []byte("give"))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, _, err := s2.Recv(); err == nil || !strings.Contains(err.Error(), "authentication") {
		t.Fatalf("a replayed answer was accepted (err %v)", err)
	}
}

// A transport without a stream handler closes a stream request, and one
// that serves streams still delivers ordinary frames.
func TestStreamRefusedWithoutHandler(t *testing.T) {
	addr := streamServer(t, "s3cret", nil)
	s, err := DialStream(context.Background(), StreamDial{ID: "cli", Secret: []byte("s3cret"), Peer: "srv", Addr: addr}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Recv(); err == nil || errors.Is(err, errBadFrame) {
		t.Fatalf("want the connection closed, got %v", err)
	}
}
