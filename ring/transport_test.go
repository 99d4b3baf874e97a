package ring

import (
	"math/rand"
	"net"
	"reflect"
	"testing"
	"time"
)

// TestUDPTokenRetransmittedUntilAcked: a token whose first datagram is
// ignored (as if lost) is sent again with a fresh sequence number, and the
// retransmission stops once acknowledged.
func TestUDPTokenRetransmittedUntilAcked(t *testing.T) {
	peerEl, peerHB := listenUDP(t), listenUDP(t)
	defer peerEl.Close()
	defer peerHB.Close()
	tr, err := NewUDPTransport(UDPConfig{ID: "n1", Incarnation: 1, Secret: testSecret,
		HeartbeatConn: listenUDP(t), ElectionConn: listenUDP(t), Retransmit: 10 * time.Millisecond,
		HeartbeatAddrs: map[string]string{"n2": peerHB.LocalAddr().String()},
		ElectionAddrs:  map[string]string{"n2": peerEl.LocalAddr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tok := Message{Type: MsgToken, Term: 3, Origin: "n1", Best: Candidate{ID: "n1"}, Passed: []string{"n1"}}
	if err := tr.Send("n2", tok); err != nil {
		t.Fatal(err)
	}
	guard := NewGuard(testCodec(t), "n2", []string{"n1", "n2"}, &Metrics{})
	first := readMessage(t, peerEl, guard) // "lost": not acknowledged
	second := readMessage(t, peerEl, guard)
	if second.Seq == first.Seq || second.AckID != first.AckID || second.Term != 3 {
		t.Fatalf("retransmission %+v does not match first %+v", second, first)
	}
	ack, _ := testCodec(t).Encode(Message{Type: MsgAck, From: "n2", To: "n1", AckID: second.AckID, Incarnation: 1, Seq: 1})
	if _, err := peerEl.WriteToUDP(ack, tr.cfg.ElectionConn.LocalAddr().(*net.UDPAddr)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for tr.Metrics().AcksReceived.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("ack never matched: %v", tr.Metrics().Snapshot())
		}
		time.Sleep(time.Millisecond)
	}
	if tr.Metrics().Retransmits.Load() == 0 {
		t.Fatalf("no retransmission counted: %v", tr.Metrics().Snapshot())
	}
}

func readMessage(t *testing.T, c *net.UDPConn, g *Guard) Message {
	t.Helper()
	buf := make([]byte, MaxMessage)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := c.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	m, err := g.Accept(buf[:n])
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	return m
}

// TestUDPRejectsForgedDatagrams: garbage and forged datagrams sent to a
// live transport are counted and never delivered.
func TestUDPRejectsForgedDatagrams(t *testing.T) {
	nodes := startRealCluster(t, 3, realTiming{Tick: 5 * time.Millisecond, HeartbeatTicks: 4, FailureTicks: 20, ElectionTicks: 12}, 3)
	if _, _, ok := waitAgreed(nodes, "", 20*time.Second); !ok {
		t.Fatal("no leader")
	}
	before, _ := agreed(nodes)
	target := nodes[0].transport
	evil, _ := NewCodec([]byte("not the cluster secret, but long"))
	forged, _ := evil.Encode(Message{Type: MsgElected, From: "n2", To: "n1", Term: 99, Leader: "n2", Origin: "n2", Incarnation: 1 << 62, Seq: 1})
	c := listenUDP(t)
	defer c.Close()
	for _, b := range [][]byte{forged, {1, 2, 3}, make([]byte, MaxMessage+100)} {
		for _, conn := range []*net.UDPConn{target.cfg.HeartbeatConn, target.cfg.ElectionConn} {
			_, _ = c.WriteToUDP(b, conn.LocalAddr().(*net.UDPAddr))
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for target.Metrics().Rejected() < 6 {
		if time.Now().After(deadline) {
			t.Fatalf("rejections not counted: %v", target.Metrics().Snapshot())
		}
		time.Sleep(time.Millisecond)
	}
	if st := nodes[0].runner.Status(); st.Term >= 99 || st.Leader != before {
		t.Fatalf("forged input moved the state: term %d leader %s (was %s)", st.Term, st.Leader, before)
	}
}

// TestSimNetworkDeterministic: the same seed gives the same deliveries;
// partitions cut links both ways and heal.
func TestSimNetworkDeterministic(t *testing.T) {
	run := func() []Envelope {
		s := NewSimNetwork(rand.New(rand.NewSource(42)), SimConfig{Drop: 0.2, Duplicate: 0.2, MaxDelay: 3})
		var got []Envelope
		for i := 0; i < 200; i++ {
			s.Send("a", "b", i)
			s.Tick()
			got = append(got, s.Due()...)
		}
		return got
	}
	a, b := run(), run()
	if !reflect.DeepEqual(a, b) || len(a) == 0 {
		t.Fatalf("not deterministic (%d vs %d deliveries)", len(a), len(b))
	}
	s := NewSimNetwork(rand.New(rand.NewSource(1)), SimConfig{})
	s.Partition([]string{"a"}, []string{"b", "c"})
	s.Send("a", "b", 1)
	s.Send("b", "a", 2)
	s.Send("b", "c", 3)
	if d := s.Due(); len(d) != 1 || d[0].Payload != 3 {
		t.Fatalf("partition: got %+v", d)
	}
	s.Heal()
	s.Send("a", "b", 4)
	if d := s.Due(); len(d) != 1 || d[0].Payload != 4 {
		t.Fatalf("heal: got %+v", d)
	}
}

// TestUDPNoAckForDroppedToken: a token that arrives while the receive
// queue is full is dropped, and must then not be acknowledged (its sender
// would believe it delivered); the retransmission, once there is room, is
// queued and acknowledged.
func TestUDPNoAckForDroppedToken(t *testing.T) {
	peerEl := listenUDP(t)
	defer peerEl.Close()
	tr, err := NewUDPTransport(UDPConfig{ID: "n1", Incarnation: 1, Secret: testSecret,
		HeartbeatConn: listenUDP(t), ElectionConn: listenUDP(t), RecvBuffer: 1,
		HeartbeatAddrs: map[string]string{"n2": listenAddr(t)},
		ElectionAddrs:  map[string]string{"n2": peerEl.LocalAddr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	codec := testCodec(t)
	guard := NewGuard(codec, "n2", []string{"n1", "n2"}, &Metrics{})
	to := tr.cfg.ElectionConn.LocalAddr().(*net.UDPAddr)
	sendToken := func(term, ackID, seq uint64) {
		t.Helper()
		b, err := codec.Encode(Message{Type: MsgToken, From: "n2", To: "n1", Term: term, Origin: "n2",
			Best: Candidate{ID: "n2"}, Passed: []string{"n2"}, AckID: ackID, Incarnation: 7, Seq: seq})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := peerEl.WriteToUDP(b, to); err != nil {
			t.Fatal(err)
		}
	}
	sendToken(1, 1, 1) // fills the queue
	if ack := readMessage(t, peerEl, guard); ack.Type != MsgAck || ack.AckID != 1 {
		t.Fatalf("first token: got %s, want its ack", ack.Describe())
	}
	sendToken(2, 2, 2) // queue full: dropped
	deadline := time.Now().Add(5 * time.Second)
	for tr.Metrics().RecvOverflow.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the second token was not dropped: %v", tr.Metrics().Snapshot())
		}
		time.Sleep(time.Millisecond)
	}
	buf := make([]byte, MaxMessage)
	_ = peerEl.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _, err := peerEl.ReadFromUDP(buf); err == nil {
		m, _ := guard.Accept(buf[:n])
		t.Fatalf("a dropped token was acknowledged: %s", m.Describe())
	}
	if m := <-tr.Recv(); m.Term != 1 {
		t.Fatalf("queued %s, want the first token", m.Describe())
	}
	sendToken(2, 2, 3) // the retransmission
	if ack := readMessage(t, peerEl, guard); ack.Type != MsgAck || ack.AckID != 2 {
		t.Fatalf("retransmitted token: got %s, want its ack", ack.Describe())
	}
	if m := <-tr.Recv(); m.Type != MsgToken || m.Term != 2 {
		t.Fatalf("queued %s, want the retransmitted token", m.Describe())
	}
}

// TestUDPAckReachesCore: when the receiver acknowledges a token, the
// sender's transport delivers a MsgAck naming what was acknowledged, for
// the core to stop watching it.
func TestUDPAckReachesCore(t *testing.T) {
	peerEl := listenUDP(t)
	defer peerEl.Close()
	tr, err := NewUDPTransport(UDPConfig{ID: "n1", Incarnation: 1, Secret: testSecret,
		HeartbeatConn: listenUDP(t), ElectionConn: listenUDP(t),
		HeartbeatAddrs: map[string]string{"n2": listenAddr(t)},
		ElectionAddrs:  map[string]string{"n2": peerEl.LocalAddr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tok := Message{Type: MsgToken, Term: 4, Origin: "n3", Best: Candidate{ID: "n3"}, Passed: []string{"n3", "n1"}}
	if err := tr.Send("n2", tok); err != nil {
		t.Fatal(err)
	}
	got := readMessage(t, peerEl, NewGuard(testCodec(t), "n2", []string{"n1", "n2"}, &Metrics{}))
	ack, _ := testCodec(t).Encode(Message{Type: MsgAck, From: "n2", To: "n1", AckID: got.AckID, Incarnation: 1, Seq: 1})
	if _, err := peerEl.WriteToUDP(ack, tr.cfg.ElectionConn.LocalAddr().(*net.UDPAddr)); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-tr.Recv():
		if m.Type != MsgAck || m.From != "n2" || m.Acked != MsgToken || m.Term != 4 || m.Origin != "n3" {
			t.Fatalf("core got %s (acked %s), want the ack of the term-4 token of n3", m.Describe(), m.Acked)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no ack reached the core: %v", tr.Metrics().Snapshot())
	}
}

func listenAddr(t *testing.T) string {
	c := listenUDP(t)
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().String()
}
