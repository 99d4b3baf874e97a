package peer

import (
	"testing"
	"time"
)

// TestSetPeers: n0 starts knowing nobody; n1 knows n0 and its frames reach
// n0 (any node that proves itself may connect). SetPeers gives n0 a link to
// n1; dropping n1 again closes it and Send refuses.
func TestSetPeers(t *testing.T) {
	l0, l1 := listen(t), listen(t)
	t0, err := New(Config{ID: "n0", Secret: []byte("s3cret"), Listener: l0})
	if err != nil {
		t.Fatal(err)
	}
	defer t0.Close()
	t1, err := New(Config{ID: "n1", Secret: []byte("s3cret"), Listener: l1, Peers: map[string]string{"n0": l0.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer t1.Close()
	waitConnected(t, t1, "n0")
	for !t1.Send("n0", 3, []byte("hello")) {
		time.Sleep(time.Millisecond)
	}
	if f := recvFrame(t, t0); f.From != "n1" || string(f.Payload) != "hello" {
		t.Fatalf("got %+v", f)
	}
	if t0.Send("n1", 3, []byte("x")) {
		t.Fatal("a frame went to a peer n0 does not know")
	}
	t0.SetPeers(map[string]string{"n1": l1.Addr().String(), "n0": "ignored"})
	waitConnected(t, t0, "n1")
	for !t0.Send("n1", 3, []byte("back")) {
		time.Sleep(time.Millisecond)
	}
	if f := recvFrame(t, t1); f.From != "n0" || string(f.Payload) != "back" {
		t.Fatalf("got %+v", f)
	}
	t0.SetPeers(nil)
	if t0.Connected("n1") || t0.Send("n1", 3, []byte("x")) {
		t.Fatal("a dropped peer still takes frames")
	}
}
