package ring

import (
	"testing"
	"time"
)

// The keepalive repeats the latest heartbeat (same content, a fresh
// sequence number, so the receiver's replay guard accepts it) while the
// driver shows progress, and stops once the driver is stuck for MaxStall:
// peers must then suspect it. Counts datagrams; asserts no wall-clock time.
func TestUDPKeepaliveRepeatsLatestHeartbeatWhileDriverProgresses(t *testing.T) {
	peerEl, peerHB := listenUDP(t), listenUDP(t)
	defer peerEl.Close()
	defer peerHB.Close()
	tr, err := NewUDPTransport(UDPConfig{ID: "n1", Incarnation: 1, Secret: testSecret,
		HeartbeatConn: listenUDP(t), ElectionConn: listenUDP(t), Keepalive: 5 * time.Millisecond, MaxStall: 200 * time.Millisecond,
		HeartbeatAddrs: map[string]string{"n2": peerHB.LocalAddr().String()},
		ElectionAddrs:  map[string]string{"n2": peerEl.LocalAddr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Send("n2", Message{Type: MsgHeartbeat, Term: 7, Leader: "n1", Hears: []string{"n2"}, Status: StatusInfo{Proto: ProtoVersion}}); err != nil {
		t.Fatal(err)
	}
	guard := NewGuard(testCodec(t), "n2", []string{"n1", "n2"}, &Metrics{})
	first := readMessage(t, peerHB, guard)
	stop := make(chan struct{})
	go func() { // the driver makes progress
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				tr.Progress()
			}
		}
	}()
	for i := range 5 {
		m := readMessage(t, peerHB, guard) // the guard refuses replays: each is a fresh datagram
		if m.Term != 7 || m.Leader != "n1" || len(m.Hears) != 1 || m.Seq == first.Seq {
			t.Fatalf("repeat %d = %+v, first %+v", i, m, first)
		}
	}
	close(stop) // the driver is stuck from now on
	deadline := time.Now().Add(10 * time.Second)
	prev := tr.Repeats()
	for {
		time.Sleep(300 * time.Millisecond) // more than MaxStall
		r := tr.Repeats()
		if r == prev {
			break
		}
		prev = r
		if time.Now().After(deadline) {
			t.Fatalf("keepalive never stopped for a stuck driver: %d repeats", r)
		}
	}
}
