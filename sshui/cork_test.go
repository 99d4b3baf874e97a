package sshui

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"
)

// writeLog is a net.Conn that records each Write.
type writeLog struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
	closed bool
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, append([]byte(nil), p...))
	return len(p), nil
}

func (w *writeLog) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return nil
}

func (w *writeLog) got() [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([][]byte(nil), w.writes...)
}

func TestCorkSendsHeldWritesAsOne(t *testing.T) {
	w := &writeLog{}
	c := &corkConn{Conn: w}
	_, _ = c.Write([]byte("a"))
	c.cork()
	_, _ = c.Write([]byte("b"))
	c.cork() // nested: the inner uncork sends nothing
	_, _ = c.Write([]byte("c"))
	c.uncork()
	if n := len(w.got()); n != 1 {
		t.Fatalf("%d writes reached the connection while corked, want 1 (the one before)", n)
	}
	_, _ = c.Write([]byte("d"))
	c.uncork()
	_, _ = c.Write([]byte("e"))
	want := []string{"a", "bcd", "e"}
	got := w.got()
	if len(got) != len(want) {
		t.Fatalf("writes %q, want %q", got, want)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Fatalf("writes %q, want %q", got, want)
		}
	}
	c.uncork() // unmatched: ignored
	if c.buf != nil {
		t.Error("an uncorked connection kept its buffer")
	}
}

// A cork that is never lifted (its writer blocked on a full window) holds
// the other sessions' writes back for corkHold only: then what it held
// goes out and writes pass through until the uncork.
func TestCorkHoldIsBounded(t *testing.T) {
	w := &writeLog{}
	c := &corkConn{Conn: w}
	c.cork()
	_, _ = c.Write([]byte("held"))
	for deadline := time.Now().Add(5 * time.Second); len(w.got()) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the held write never went out")
		}
	}
	_, _ = c.Write([]byte("later"))
	got := w.got()
	if len(got) != 2 || !bytes.Equal(got[0], []byte("held")) || !bytes.Equal(got[1], []byte("later")) {
		t.Fatalf("writes %q, want held then later, each its own", got)
	}
	c.uncork()
	c.cork() // a new hold after the expired one is a hold again
	_, _ = c.Write([]byte("x"))
	_, _ = c.Write([]byte("y"))
	c.uncork()
	if got := w.got(); len(got) != 3 || string(got[2]) != "xy" {
		t.Fatalf("writes %q, want the last two as one", got)
	}
}

// failWriter fails every write.
type failWriter struct{ writeLog }

func (f *failWriter) Write([]byte) (int, error) { return 0, net.ErrClosed }

func TestCorkFailedFlushClosesTheConnection(t *testing.T) {
	w := &failWriter{}
	c := &corkConn{Conn: w}
	c.cork()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal("a held write fails only when it is sent")
	}
	c.uncork()
	if !w.closed {
		t.Error("the connection stayed open after its held bytes were lost")
	}
	if _, err := c.Write([]byte("y")); err == nil {
		t.Error("a write after a failed flush succeeded")
	}
}
