package ring

import (
	"testing"
	"time"
)

// TestUDPSetPeersAndStrangers: n1 starts knowing nobody; n2 knows n1. n2's
// heartbeat reaches n1's core as a stranger's and n1 can answer it at the
// address it came from; once SetPeers adds n2, its heartbeats are counted
// as a member's and n1 sends n2 a token at n2's election address; removed
// again, n2 is a stranger once more.
func TestUDPSetPeersAndStrangers(t *testing.T) {
	hb1, el1, hb2, el2 := listenUDP(t), listenUDP(t), listenUDP(t), listenUDP(t)
	t1, err := NewUDPTransport(UDPConfig{ID: "n1", Incarnation: 1, Secret: testSecret, HeartbeatConn: hb1, ElectionConn: el1})
	if err != nil {
		t.Fatal(err)
	}
	defer t1.Close()
	t2, err := NewUDPTransport(UDPConfig{ID: "n2", Incarnation: 1, Secret: testSecret, HeartbeatConn: hb2, ElectionConn: el2,
		HeartbeatAddrs: map[string]string{"n1": hb1.LocalAddr().String()},
		ElectionAddrs:  map[string]string{"n1": el1.LocalAddr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer t2.Close()
	recv := func(tr *UDPTransport, typ MsgType) Message {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case m := <-tr.Recv():
				if m.Type == typ {
					return m
				}
			case <-deadline:
				t.Fatalf("no %s arrived", typ)
			}
		}
	}
	if err := t2.Send("n1", Message{Type: MsgHeartbeat, Term: 1}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t1, MsgHeartbeat); m.From != "n2" || t1.HeartbeatsFrom("n2") != 0 {
		t.Fatalf("stranger's heartbeat: %s, counted %d", m.Describe(), t1.HeartbeatsFrom("n2"))
	}
	if err := t1.Send("n2", Message{Type: MsgHeartbeat, Term: 1}); err != nil {
		t.Fatalf("answering a stranger: %v", err)
	}
	recv(t2, MsgHeartbeat)

	if err := t1.SetPeers(map[string]string{"n2": hb2.LocalAddr().String()}, map[string]string{"n2": el2.LocalAddr().String()}); err != nil {
		t.Fatal(err)
	}
	if err := t2.Send("n1", Message{Type: MsgHeartbeat, Term: 1}); err != nil {
		t.Fatal(err)
	}
	recv(t1, MsgHeartbeat)
	if t1.HeartbeatsFrom("n2") != 1 {
		t.Fatalf("a member's heartbeat counted %d times, want 1", t1.HeartbeatsFrom("n2"))
	}
	if err := t1.Send("n2", Message{Type: MsgToken, Term: 2, Origin: "n1", Best: Candidate{ID: "n1"}, Passed: []string{"n1"}}); err != nil {
		t.Fatal(err)
	}
	recv(t2, MsgToken)

	if err := t1.SetPeers(nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := t1.Send("n2", Message{Type: MsgToken, Term: 3, Origin: "n1", Best: Candidate{ID: "n1"}, Passed: []string{"n1"}}); err == nil {
		t.Fatal("a token went to a removed member")
	}
	if err := t1.SetPeers(map[string]string{"n2": "no-such-host.invalid:1"}, nil); err == nil {
		t.Fatal("an unresolvable address was taken")
	}
}
