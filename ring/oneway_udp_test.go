package ring

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// udpRelay carries one member's datagrams of one kind to one peer through
// its own socket, and the peer's replies (acks) back: a link that a test
// can cut in either direction, as a firewall rule on a real network would.
type udpRelay struct {
	conn    *net.UDPConn
	target  *net.UDPAddr
	back    atomic.Pointer[net.UDPAddr] // the sender, learnt from its first datagram
	cutFwd  atomic.Bool                 // drop what goes to target
	cutBack atomic.Bool                 // drop target's replies
}

func (r *udpRelay) run(wg *sync.WaitGroup) {
	defer wg.Done()
	buf := make([]byte, MaxMessage+1)
	for {
		n, from, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if from.String() == r.target.String() {
			if b := r.back.Load(); b != nil && !r.cutBack.Load() {
				_, _ = r.conn.WriteToUDP(buf[:n], b)
			}
			continue
		}
		r.back.Store(from)
		if !r.cutFwd.Load() {
			_, _ = r.conn.WriteToUDP(buf[:n], r.target)
		}
	}
}

// relayMesh puts a relay on every link (from, to, kind) of a real cluster.
type relayMesh struct {
	t      *testing.T
	mu     sync.Mutex
	relays map[[2]string][2]*udpRelay // [from,to] -> heartbeat, election
	wg     sync.WaitGroup
}

func newRelayMesh(t *testing.T) *relayMesh {
	m := &relayMesh{t: t, relays: map[[2]string][2]*udpRelay{}}
	t.Cleanup(func() {
		m.mu.Lock()
		for _, rs := range m.relays {
			rs[0].conn.Close()
			rs[1].conn.Close()
		}
		m.mu.Unlock()
		m.wg.Wait()
	})
	return m
}

// via is realTiming.Via: it starts the relay for the link and returns its address.
func (m *relayMesh) via(from, to string, election bool, addr string) string {
	target, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		m.t.Fatal(err)
	}
	r := &udpRelay{conn: listenUDP(m.t), target: target}
	m.mu.Lock()
	rs := m.relays[[2]string{from, to}]
	rs[map[bool]int{false: 0, true: 1}[election]] = r
	m.relays[[2]string{from, to}] = rs
	m.mu.Unlock()
	m.wg.Add(1)
	go r.run(&m.wg)
	return r.conn.LocalAddr().String()
}

// cut makes id deaf (nothing reaches it) or mute (nothing from it arrives),
// or restores it (on false).
func (m *relayMesh) cut(id string, deaf, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for link, rs := range m.relays {
		for _, r := range rs {
			switch {
			case deaf && link[1] == id, !deaf && link[0] == id:
				r.cutFwd.Store(on) // datagrams into the deaf node, out of the mute one
			case deaf && link[0] == id, !deaf && link[1] == id:
				r.cutBack.Store(on) // acks into the deaf node, out of the mute one
			}
		}
	}
}

// agreedExcept is agreed over the running nodes other than skip.
func agreedExcept(nodes []*realNode, skip string) (string, uint64) {
	var rest []*realNode
	for _, rn := range nodes {
		if rn.id != skip {
			rest = append(rest, rn)
		}
	}
	return agreed(rest)
}

// TestUDPOneWayCuts: three members on loopback UDP; the leader becomes deaf
// (or mute) at the network. The two others elect a new leader, keep it, and
// once the link heals all three follow it. On the core before the ring
// view required the echo, the deaf case never elected (the field report:
// 192 rounds in 44 s, no winner).
func TestUDPOneWayCuts(t *testing.T) {
	for _, deaf := range []bool{true, false} {
		name := map[bool]string{true: "deaf", false: "mute"}[deaf]
		t.Run(name, func(t *testing.T) {
			mesh := newRelayMesh(t)
			tm := realTiming{Tick: 5 * time.Millisecond, HeartbeatTicks: 4, FailureTicks: 20, ElectionTicks: 12, Via: mesh.via}
			nodes := startRealCluster(t, 3, tm, 11)
			first, term, ok := waitAgreed(nodes, "", 20*time.Second)
			if !ok {
				t.Fatal("no first leader")
			}
			mesh.cut(first, deaf, true)
			start := time.Now()
			var second string
			var term2 uint64
			for time.Since(start) < 20*time.Second {
				if second, term2 = agreedExcept(nodes, first); second != "" && term2 > term {
					break
				}
				time.Sleep(time.Millisecond)
			}
			if second == "" || term2 <= term {
				t.Fatalf("%s leader %s (term %d): the others elected no leader in 20s", name, first, term)
			}
			took := time.Since(start)
			time.Sleep(500 * time.Millisecond)
			if l, tt := agreedExcept(nodes, first); l != second || tt != term2 {
				t.Errorf("leader %s term %d not kept: now %q term %d", second, term2, l, tt)
			}
			if st := nodeByID(nodes, first).runner.Status(); st.Role == RoleLeader {
				t.Errorf("the %s node %s still leads term %d", name, first, st.Term)
			}
			mesh.cut(first, deaf, false)
			l, t3, ok := waitAgreed(nodes, "", 20*time.Second)
			if !ok {
				t.Fatalf("after healing, the three never agreed")
			}
			t.Logf("%s leader %s term %d; new leader %s term %d after %v (failure timeout %v); after healing: %s term %d",
				name, first, term, second, term2, took.Round(time.Millisecond), time.Duration(tm.FailureTicks)*tm.Tick, l, t3)
		})
	}
}
