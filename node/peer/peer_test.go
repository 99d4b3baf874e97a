package peer

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// cluster starts n transports that know each other.
func cluster(t *testing.T, n int, secret func(i int) string) []*Transport {
	t.Helper()
	ls := make([]net.Listener, n)
	peers := map[string]string{}
	for i := range ls {
		ls[i] = listen(t)
		peers[fmt.Sprintf("n%d", i)] = ls[i].Addr().String()
	}
	ts := make([]*Transport, n)
	for i := range ts {
		tr, err := New(Config{ID: fmt.Sprintf("n%d", i), Secret: []byte(secret(i)), Peers: peers, Listener: ls[i]})
		if err != nil {
			t.Fatal(err)
		}
		ts[i] = tr
		t.Cleanup(func() { tr.Close() })
	}
	return ts
}

func waitConnected(t *testing.T, tr *Transport, to string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !tr.Connected(to) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never connected to %s", tr.cfg.ID, to)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFramesArriveInOrderAuthenticated(t *testing.T) {
	ts := cluster(t, 3, func(int) string { return "s3cret" })
	waitConnected(t, ts[0], "n1")
	const N = 2000
	for i := 0; i < N; i++ {
		for !ts[0].Send("n1", 7, []byte(fmt.Sprint(i))) {
			time.Sleep(time.Millisecond)
		}
	}
	for i := 0; i < N; i++ {
		select {
		case f := <-ts[1].Recv():
			if f.From != "n0" || f.Type != 7 || string(f.Payload) != fmt.Sprint(i) {
				t.Fatalf("frame %d = %+v", i, f)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("frame %d never arrived", i)
		}
	}
	if s := ts[1].Stats(); s.RejectedFrame != 0 || s.RejectedHandshake != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestWrongSecretIsRejected(t *testing.T) {
	ts := cluster(t, 2, func(i int) string { return fmt.Sprint("secret", i) })
	deadline := time.Now().Add(10 * time.Second)
	for ts[1].Stats().RejectedHandshake == 0 {
		if time.Now().After(deadline) {
			t.Fatal("handshake with the wrong secret was never rejected")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case f := <-ts[1].Recv():
		t.Fatalf("frame accepted from a peer with the wrong secret: %+v", f)
	default:
	}
}

// A tampered frame (here: garbage after a valid handshake) must close the
// connection and never be delivered.
func TestGarbageAndUnknownPeers(t *testing.T) {
	ts := cluster(t, 2, func(int) string { return "k" })
	addr := ts[1].cfg.Listener.Addr().String()
	for _, hello := range [][]byte{
		{},                            // nothing at all
		{9, 1, 'x'},                   // wrong version
		append([]byte{1, 2}, "zz"...), // unknown id, no MAC
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadFull(c, make([]byte, nonceLen))
		c.Write(hello)
		c.Write(make([]byte, 100))
		c.Close()
	}
	// A forged hello with a correct-looking layout but a bad MAC.
	c, _ := net.Dial("tcp", addr)
	var nonce [nonceLen]byte
	io.ReadFull(c, nonce[:])
	bad := append([]byte{1, 2}, "n0"...)
	bad = append(bad, make([]byte, macLen)...)
	c.Write(bad)
	c.Write([]byte{1, 0, 0, 0, 1, 'x'})
	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for ts[1].Stats().RejectedHandshake < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("rejections: %+v", ts[1].Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case f := <-ts[1].Recv():
		t.Fatalf("garbage delivered: %+v", f)
	default:
	}
}

func TestFramerDetectsReplayAndTamper(t *testing.T) {
	key := deriveKey([]byte("k"))
	var nonce [nonceLen]byte
	a, b := newFramer(key, nonce), newFramer(key, nonce)
	m1 := a.sum(1, []byte("hello"), nil)
	if string(m1) != string(b.sum(1, []byte("hello"), nil)) {
		t.Fatal("same frame, same counter: MACs differ")
	}
	// Replaying frame 0 as frame 1 fails.
	if string(m1) == string(b.sum(1, []byte("hello"), nil)) {
		t.Fatal("replayed frame authenticated")
	}
	c := newFramer(key, nonce)
	if string(m1) == string(c.sum(1, []byte("hellp"), nil)) {
		t.Fatal("tampered payload authenticated")
	}
}

func TestReconnectAfterPeerRestart(t *testing.T) {
	ts := cluster(t, 2, func(int) string { return "k" })
	waitConnected(t, ts[0], "n1")
	addr := ts[1].cfg.Listener.Addr().String()
	ts[1].Close()
	deadline := time.Now().Add(10 * time.Second)
	for ts[0].Connected("n1") {
		ts[0].Send("n1", 1, []byte("x"))
		if time.Now().After(deadline) {
			t.Fatal("never noticed the peer was gone")
		}
		time.Sleep(5 * time.Millisecond)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("cannot rebind %s: %v", addr, err)
	}
	n1, err := New(Config{ID: "n1", Secret: []byte("k"), Peers: ts[1].cfg.Peers, Listener: l})
	if err != nil {
		t.Fatal(err)
	}
	defer n1.Close()
	waitConnected(t, ts[0], "n1")
	for !ts[0].Send("n1", 2, []byte("again")) {
		time.Sleep(time.Millisecond)
	}
	select {
	case f := <-n1.Recv():
		if string(f.Payload) != "again" {
			t.Fatalf("got %+v", f)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing after reconnect")
	}
}
