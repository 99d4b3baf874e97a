package peer

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// mute is a fake peer that completes the handshake as a listener and then
// never reads, like a peer that hangs or whose reader is stuck.
type mute struct {
	l    net.Listener
	conn chan net.Conn
}

func newMute(t *testing.T) *mute {
	m := &mute{l: listen(t), conn: make(chan net.Conn, 1)}
	go func() {
		c, err := m.l.Accept()
		m.l.Close() // one connection only: a redial is refused
		if err != nil {
			return
		}
		c.Write(make([]byte, nonceLen))
		head := make([]byte, 2)
		io.ReadFull(c, head)
		io.ReadFull(c, make([]byte, int(head[1])+macLen))
		m.conn <- c
	}()
	return m
}

// close ends the fake peer's connection; the test registers it after the
// transport's Close so it runs first (cleanups run last first), and a writer
// stuck without a deadline cannot hang the test's end.
func (m *mute) close() {
	m.l.Close()
	select {
	case c := <-m.conn:
		c.Close()
	default:
	}
}

func newTransport(t *testing.T, cfg Config) *Transport {
	t.Helper()
	if cfg.Listener == nil {
		cfg.Listener = listen(t)
	}
	if cfg.Secret == nil {
		cfg.Secret = []byte("k")
	}
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// TestWriteDeadlineOnLargeFrames is the regression test for a writer with
// no deadline: frames larger than the write buffer go to the socket inside
// bufio's Write, and the deadline was set only before Flush (and never
// before the first one), so a peer that stopped reading blocked the writer
// forever and the connection was never given up.
func TestWriteDeadlineOnLargeFrames(t *testing.T) {
	m := newMute(t)
	tr := newTransport(t, Config{ID: "n0", Peers: map[string]string{"n1": m.l.Addr().String()}, WriteTimeout: 200 * time.Millisecond})
	t.Cleanup(m.close)
	waitConnected(t, tr, "n1")
	// Far more than the socket buffers of both ends hold.
	big := make([]byte, 4<<20)
	for range 16 {
		tr.Send("n1", 1, big)
	}
	deadline := time.Now().Add(10 * time.Second)
	for tr.Connected("n1") {
		if time.Now().After(deadline) {
			t.Fatal("writer still blocked on a peer that reads nothing, 10 s after a 200 ms write timeout")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLargeFrameAfterIdle is the regression test for the other half: the
// deadline set before the last Flush had expired by the time a large frame
// came, so its first write through bufio failed at once and the connection
// (and the frame) was lost although the peer was healthy.
func TestLargeFrameAfterIdle(t *testing.T) {
	ls := []net.Listener{listen(t), listen(t)}
	peers := map[string]string{"n0": ls[0].Addr().String(), "n1": ls[1].Addr().String()}
	a := newTransport(t, Config{ID: "n0", Peers: peers, Listener: ls[0], WriteTimeout: 100 * time.Millisecond})
	b := newTransport(t, Config{ID: "n1", Peers: peers, Listener: ls[1], WriteTimeout: 100 * time.Millisecond})
	waitConnected(t, a, "n1")
	recv := func(want []byte) {
		t.Helper()
		select {
		case f := <-b.Recv():
			if !bytes.Equal(f.Payload, want) {
				t.Fatalf("got %d bytes, want %d", len(f.Payload), len(want))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("frame of %d bytes never arrived (stats %+v)", len(want), a.Stats())
		}
	}
	small := []byte("hello")
	if !a.Send("n1", 1, small) {
		t.Fatal("send refused")
	}
	recv(small)
	time.Sleep(300 * time.Millisecond) // the old deadline expires
	big := bytes.Repeat([]byte("x"), 1<<20)
	if !a.Send("n1", 1, big) {
		t.Fatal("send refused")
	}
	recv(big)
}

// TestOutboundQueueBoundedInBytes: a peer's outbound queue refuses frames
// beyond QueueBytes (not only beyond QueueLen frames), counts them, and
// frees the bytes when frames leave it; frames over MaxFrame are refused
// outright (the receiver would drop the connection).
func TestOutboundQueueBoundedInBytes(t *testing.T) {
	gone := listen(t)
	addr := gone.Addr().String()
	gone.Close() // dials are refused: nothing ever takes from the queue
	tr := newTransport(t, Config{ID: "n0", Peers: map[string]string{"n1": addr},
		QueueLen: 100, QueueBytes: 1 << 20, MaxFrame: 512 << 10})
	o := (*tr.out.Load())["n1"]
	o.up.Store(true) // pretend connected, with the writer stuck
	if tr.Send("n1", 1, make([]byte, 512<<10+1)) {
		t.Fatal("frame over MaxFrame queued")
	}
	frame := make([]byte, 300<<10)
	sent := 0
	for range 10 {
		if tr.Send("n1", 1, frame) {
			sent++
		}
	}
	if st := tr.Stats(); sent != 3 || st.DroppedQueueFull != 7 || st.DroppedTooLarge != 1 {
		t.Fatalf("sent %d of 10 frames of 300 KiB into 1 MiB, stats %+v; want 3 sent, 7 dropped, 1 too large", sent, st)
	}
	if got := o.bytes.Load(); got != 3*300<<10 {
		t.Fatalf("queued bytes %d", got)
	}
	// Small frames: the frame count still bounds the queue.
	<-o.q
	o.bytes.Add(-300 << 10)
	o.drain()
	if got := o.bytes.Load(); got != 0 {
		t.Fatalf("queued bytes after drain %d", got)
	}
	sent = 0
	for range 150 {
		if tr.Send("n1", 1, []byte("x")) {
			sent++
		}
	}
	if sent != 100 {
		t.Fatalf("sent %d small frames, want QueueLen 100", sent)
	}
	if _, err := New(Config{ID: "n0", Secret: []byte("k"), Listener: listen(t), QueueBytes: 1 << 20, MaxFrame: 2 << 20}); err == nil {
		t.Error("QueueBytes below MaxFrame accepted: such a frame could never be queued")
	}
}

// TestInboundQueueBoundedInBytes: frames nobody takes from Recv pin at most
// QueueBytes per sender (not QueueLen frames of MaxFrame each); beyond it
// they are dropped and counted, and taking frames frees room again.
func TestInboundQueueBoundedInBytes(t *testing.T) {
	ls := []net.Listener{listen(t), listen(t)}
	peers := map[string]string{"n0": ls[0].Addr().String(), "n1": ls[1].Addr().String()}
	const mib = 1 << 20
	a := newTransport(t, Config{ID: "n0", Peers: peers, Listener: ls[0], MaxFrame: mib})
	b := newTransport(t, Config{ID: "n1", Peers: peers, Listener: ls[1], MaxFrame: mib, QueueBytes: 4 * mib})
	waitConnected(t, a, "n1")
	frame := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, mib) }
	send := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if !a.Send("n1", 1, frame(i)) {
				t.Fatalf("send %d refused: %+v", i, a.Stats())
			}
		}
	}
	waitReceived := func(n uint64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for b.Stats().Received < n {
			if time.Now().After(deadline) {
				t.Fatalf("received %+v, want %d", b.Stats(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	take := func(want int) {
		t.Helper()
		select {
		case f := <-b.Recv():
			if f.Payload[0] != byte(want) {
				t.Fatalf("took frame %d, want %d", f.Payload[0], want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("frame %d missing", want)
		}
	}
	send(0, 10)
	waitReceived(10)
	if st := b.Stats(); st.DroppedInboundFull != 6 || len(b.Recv()) != 4 {
		t.Fatalf("10 frames of 1 MiB into 4 MiB: %d queued, stats %+v; want 4 queued, 6 dropped", len(b.Recv()), st)
	}
	take(0)
	take(1)
	send(10, 13)
	waitReceived(13)
	if st := b.Stats(); st.DroppedInboundFull != 7 || len(b.Recv()) != 4 {
		t.Fatalf("after taking 2 and 3 more: %d queued, stats %+v; want 4 queued, 7 dropped", len(b.Recv()), st)
	}
	for _, want := range []int{2, 3, 10, 11} {
		take(want)
	}
}

// TestInboundQueueBoundedInFrames: the frame bound still holds for small
// frames, with a drop instead of stalling the connection.
func TestInboundQueueBoundedInFrames(t *testing.T) {
	ls := []net.Listener{listen(t), listen(t)}
	peers := map[string]string{"n0": ls[0].Addr().String(), "n1": ls[1].Addr().String()}
	a := newTransport(t, Config{ID: "n0", Peers: peers, Listener: ls[0]})
	b := newTransport(t, Config{ID: "n1", Peers: peers, Listener: ls[1], QueueLen: 3})
	waitConnected(t, a, "n1")
	for i := range 5 {
		a.Send("n1", 1, []byte(fmt.Sprint(i)))
	}
	deadline := time.Now().Add(10 * time.Second)
	for b.Stats().Received < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", b.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := b.Stats(); st.DroppedInboundFull != 2 || len(b.Recv()) != 3 {
		t.Fatalf("%d queued, stats %+v", len(b.Recv()), st)
	}
}
