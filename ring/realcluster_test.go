package ring

import (
	"fmt"
	"math/rand"
	"net"
	"testing"
	"time"
)

// realNode is one ring member on loopback UDP sockets, driven by a Runner.
type realNode struct {
	id        string
	transport *UDPTransport
	runner    *Runner
	stopped   bool
}

type realTiming struct {
	Tick                                        time.Duration
	HeartbeatTicks, FailureTicks, ElectionTicks int
	OnReady                                     func(self string, rd Ready) // optional; called on the runner goroutine
	// Via, if set, returns the address member from uses to reach member to
	// at addr (a relay that can cut the link); nil sends directly.
	Via func(from, to string, election bool, addr string) string
}

// 100ms heartbeat, 500ms failure timeout, 10ms ticks.
var benchTiming = realTiming{Tick: 10 * time.Millisecond, HeartbeatTicks: 10, FailureTicks: 50, ElectionTicks: 30}

var testSecret = []byte("0123456789abcdef-test-secret")

func listenUDP(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return c
}

// startRealCluster binds every socket first (127.0.0.1:0, no find-then-bind
// race), then starts n members with the given timing.
func startRealCluster(t testing.TB, n int, tm realTiming, seed int64) []*realNode {
	t.Helper()
	var members []Member
	hb, el := map[string]*net.UDPConn{}, map[string]*net.UDPConn{}
	hbAddr, elAddr := map[string]string{}, map[string]string{}
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("n%d", i)
		members = append(members, Member{ID: id, Ring: i})
		hb[id], el[id] = listenUDP(t), listenUDP(t)
		hbAddr[id], elAddr[id] = hb[id].LocalAddr().String(), el[id].LocalAddr().String()
	}
	var nodes []*realNode
	for i, m := range members {
		hbTo, elTo := others(hbAddr, m.ID), others(elAddr, m.ID)
		if tm.Via != nil {
			for id := range hbTo {
				hbTo[id], elTo[id] = tm.Via(m.ID, id, false, hbTo[id]), tm.Via(m.ID, id, true, elTo[id])
			}
		}
		tr, err := NewUDPTransport(UDPConfig{ID: m.ID, Incarnation: uint64(time.Now().UnixNano()), Secret: testSecret,
			HeartbeatConn: hb[m.ID], ElectionConn: el[m.ID], HeartbeatAddrs: hbTo, ElectionAddrs: elTo})
		if err != nil {
			t.Fatalf("transport %s: %v", m.ID, err)
		}
		core, err := New(Config{ID: m.ID, Members: members, HeartbeatTicks: tm.HeartbeatTicks, FailureTicks: tm.FailureTicks,
			ElectionTicks: tm.ElectionTicks, Rand: rand.New(rand.NewSource(seed + int64(i))),
			LogPosition: func() (uint64, uint64) { return 0, 0 }}, HardState{})
		if err != nil {
			t.Fatalf("core %s: %v", m.ID, err)
		}
		var onReady func(Ready)
		if tm.OnReady != nil {
			id := m.ID
			onReady = func(rd Ready) { tm.OnReady(id, rd) }
		}
		r, err := NewRunner(RunnerConfig{Node: core, Transport: tr, Tick: tm.Tick, OnReady: onReady})
		if err != nil {
			t.Fatal(err)
		}
		r.Start()
		nodes = append(nodes, &realNode{id: m.ID, transport: tr, runner: r})
	}
	t.Cleanup(func() {
		for _, rn := range nodes {
			rn.stop()
		}
	})
	return nodes
}

func (rn *realNode) stop() {
	if !rn.stopped {
		rn.stopped = true
		_ = rn.runner.Stop()
		_ = rn.transport.Close()
	}
}

func others(m map[string]string, self string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if k != self {
			out[k] = v
		}
	}
	return out
}

// agreed returns the leader every running node follows (and which leads),
// "" if there is none yet.
func agreed(nodes []*realNode) (string, uint64) {
	leader, term := "", uint64(0)
	for _, rn := range nodes {
		if rn.stopped {
			continue
		}
		st := rn.runner.Status()
		if st.Leader == "" || (leader != "" && (st.Leader != leader || st.Term != term)) {
			return "", 0
		}
		leader, term = st.Leader, st.Term
	}
	for _, rn := range nodes {
		if rn.id == leader && (rn.stopped || rn.runner.Status().Role != RoleLeader) {
			return "", 0
		}
	}
	return leader, term
}

// waitAgreed polls until all running nodes follow one leader other than
// not, or the deadline passes.
func waitAgreed(nodes []*realNode, not string, deadline time.Duration) (string, uint64, bool) {
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		if l, term := agreed(nodes); l != "" && l != not {
			return l, term, true
		}
		time.Sleep(time.Millisecond)
	}
	return "", 0, false
}

func nodeByID(nodes []*realNode, id string) *realNode {
	for _, rn := range nodes {
		if rn.id == id {
			return rn
		}
	}
	return nil
}
