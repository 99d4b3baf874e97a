package ring

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// sealPair returns sealers for a and b holding the keys of both directions.
func sealPair(t *testing.T, kab, kba byte) (*Sealer, *Sealer) {
	t.Helper()
	a, b := NewSealer("a"), NewSealer("b")
	ab, ba := bytes.Repeat([]byte{kab}, 32), bytes.Repeat([]byte{kba}, 32)
	for _, err := range []error{a.SetKey("a", "b", ab), b.SetKey("a", "b", ab), a.SetKey("b", "a", ba), b.SetKey("b", "a", ba)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return a, b
}

func TestSealOpen(t *testing.T) {
	a, b := sealPair(t, 1, 2)
	c := testCodec(t)
	env, _ := c.Encode(Message{Type: MsgHeartbeat, From: "a", To: "b", Term: 7, Leader: "chat-secret-leader", Incarnation: 1, Seq: 1})
	d, err := a.Seal("b", env)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(d, []byte("chat-secret-leader")) {
		t.Fatal("the sealed datagram shows its content")
	}
	from, got, err := b.Open(d)
	if err != nil || from != "a" || !bytes.Equal(got, env) {
		t.Fatalf("open: %q %v", from, err)
	}
	// Altered anywhere: refused.
	for i := range d {
		x := bytes.Clone(d)
		x[i] ^= 1
		if _, _, err := b.Open(x); err == nil {
			t.Fatalf("a datagram altered at byte %d opened", i)
		}
	}
	// b cannot open what it sent itself (reflected), nor what a sealed
	// for b with a's key to someone else.
	back, _ := b.Seal("a", env)
	if _, _, err := b.Open(back); err == nil {
		t.Fatal("a reflected datagram opened")
	}
	// A member cannot wrap an envelope that claims another sender.
	forged, _ := c.Encode(Message{Type: MsgHeartbeat, From: "c", To: "b", Incarnation: 1, Seq: 1})
	w, _ := a.Seal("b", forged)
	if _, _, err := b.Open(w); err == nil {
		t.Fatal("a's seal around an envelope from c opened")
	}
	// No key yet: nothing sent, nothing opened; counted.
	lone := NewSealer("b")
	if _, _, err := lone.Open(d); err == nil || lone.Stats().NoKey != 1 {
		t.Fatalf("open without a key: %v %+v", err, lone.Stats())
	}
	if _, err := NewSealer("a").Seal("b", env); err == nil {
		t.Fatal("sealed without a key")
	}
	// A new key for a sender keeps the previous one for datagrams on
	// their way.
	if err := b.SetKey("a", "b", bytes.Repeat([]byte{9}, 32)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Open(d); err != nil {
		t.Fatalf("a datagram sealed with the previous key: %v", err)
	}
}

// node is a transport with its sockets, for the restart test.
type sealNode struct {
	tr     *UDPTransport
	hb, el *net.UDPConn
}

func startSealed(t *testing.T, id string, inc uint64, seal *Sealer, hbAddrs, elAddrs map[string]string) *sealNode {
	t.Helper()
	n := &sealNode{hb: listenUDP(t), el: listenUDP(t)}
	tr, err := NewUDPTransport(UDPConfig{ID: id, Incarnation: inc, Secret: testSecret, HeartbeatConn: n.hb, ElectionConn: n.el,
		HeartbeatAddrs: hbAddrs, ElectionAddrs: elAddrs, Seal: seal})
	if err != nil {
		t.Fatal(err)
	}
	n.tr = tr
	t.Cleanup(func() { tr.Close() })
	return n
}

// recvHeartbeat waits for a heartbeat at tr, or fails after a while when
// want is set; when want is not set, it reports whether one came within a
// short wait.
func recvHeartbeat(t *testing.T, tr *UDPTransport, want bool) (Message, bool) {
	t.Helper()
	wait := 100 * time.Millisecond
	if want {
		wait = 10 * time.Second
	}
	select {
	case m := <-tr.Recv():
		return m, true
	case <-time.After(wait):
		if want {
			t.Fatal("no heartbeat arrived")
		}
		return Message{}, false
	}
}

// Replayed datagrams are refused after a restart with the clock stepped
// back: the incarnation comes from the node's directory, not the clock,
// so the restarted node's datagrams outrank the old ones, and a recording
// of the old ones is stale. Run with and without sealing (with the same
// keys across the restart, the worst case for the seal: only the
// incarnation stands between the recording and the receiver).
func TestReplayRefusedAfterRestartWithClockSteppedBack(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		name := "hmac"
		if sealed {
			name = "sealed"
		}
		t.Run(name, func(t *testing.T) {
			var sa, sb *Sealer
			if sealed {
				sa, sb = sealPair(t, 3, 4)
			}
			dir := t.TempDir()
			now := time.Now()
			// The receiver, b; a sends to a tap that records and forwards.
			tap := listenUDP(t)
			defer tap.Close()
			b := startSealed(t, "b", 1, sb, map[string]string{"a": listenAddr(t)}, map[string]string{"a": listenAddr(t)})
			bAddr := b.hb.LocalAddr().(*net.UDPAddr)
			record := func() []byte {
				t.Helper()
				buf := make([]byte, MaxMessage+64)
				tap.SetReadDeadline(time.Now().Add(10 * time.Second))
				n, _, err := tap.ReadFromUDP(buf)
				if err != nil {
					t.Fatal(err)
				}
				return buf[:n]
			}
			forward := func(d []byte) {
				if _, err := tap.WriteToUDP(d, bAddr); err != nil {
					t.Fatal(err)
				}
			}
			addrs := map[string]string{"b": tap.LocalAddr().String()}

			inc1, err := NextIncarnation(dir, now)
			if err != nil {
				t.Fatal(err)
			}
			a1 := startSealed(t, "a", inc1, sa, addrs, addrs)
			if err := a1.tr.Send("b", Message{Type: MsgHeartbeat, Term: 4, Leader: "a"}); err != nil {
				t.Fatal(err)
			}
			old := record()
			forward(old)
			if m, _ := recvHeartbeat(t, b.tr, true); m.Term != 4 || m.Incarnation != inc1 {
				t.Fatalf("first heartbeat %+v", m)
			}
			a1.tr.Close()

			// Restart with the clock an hour back.
			inc2, err := NextIncarnation(dir, now.Add(-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if inc2 <= inc1 {
				t.Fatalf("incarnation after the restart %d is not above %d", inc2, inc1)
			}
			if boot := uint64(now.Add(-time.Hour).UnixNano()); boot > inc1 {
				t.Fatalf("premise: a boot-time incarnation %d would outrank %d", boot, inc1)
			}
			a2 := startSealed(t, "a", inc2, sa, addrs, addrs)
			if err := a2.tr.Send("b", Message{Type: MsgHeartbeat, Term: 5, Leader: "a"}); err != nil {
				t.Fatal(err)
			}
			fresh := record()
			forward(fresh)
			if m, _ := recvHeartbeat(t, b.tr, true); m.Term != 5 || m.Incarnation != inc2 {
				t.Fatalf("heartbeat after the restart %+v", m)
			}
			// The recordings, replayed.
			staleBefore, replayedBefore := b.tr.Metrics().Stale.Load(), b.tr.Metrics().Replayed.Load()
			forward(old)
			forward(fresh)
			if m, got := recvHeartbeat(t, b.tr, false); got {
				t.Fatalf("a replayed datagram was accepted: %+v", m)
			}
			deadline := time.Now().Add(10 * time.Second)
			for b.tr.Metrics().Stale.Load() == staleBefore || b.tr.Metrics().Replayed.Load() == replayedBefore {
				if time.Now().After(deadline) {
					t.Fatalf("replays not counted: %v", b.tr.Metrics().Snapshot())
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}

func TestNextIncarnation(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	a, err := NextIncarnation(dir, now)
	if err != nil || a != uint64(now.UnixNano()) {
		t.Fatalf("first: %d %v", a, err)
	}
	b, _ := NextIncarnation(dir, now.Add(-24*time.Hour))
	c, _ := NextIncarnation(dir, time.Unix(0, 0))
	if b != a+1 || c != a+2 {
		t.Fatalf("after clock steps back: %d %d (first %d)", b, c, a)
	}
	d, _ := NextIncarnation(dir, now.Add(time.Hour))
	if d != uint64(now.Add(time.Hour).UnixNano()) {
		t.Fatalf("clock ahead: %d", d)
	}
	os.WriteFile(filepath.Join(dir, IncarnationFile), []byte("garbage"), 0o644)
	if _, err := NextIncarnation(dir, now); err == nil {
		t.Fatal("a garbage incarnation file was accepted")
	}
}
