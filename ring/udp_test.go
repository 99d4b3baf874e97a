package ring

import (
	"testing"
	"time"
)

// TestUDPLeaderFailover: three members on real loopback sockets elect a
// leader; when the leader's transport stops, the two others agree on a new
// one. Polls with a deadline; asserts no wall-clock time.
func TestUDPLeaderFailover(t *testing.T) {
	tm := realTiming{Tick: 5 * time.Millisecond, HeartbeatTicks: 4, FailureTicks: 20, ElectionTicks: 12}
	nodes := startRealCluster(t, 3, tm, 1)
	first, term, ok := waitAgreed(nodes, "", 20*time.Second)
	if !ok {
		t.Fatal("no leader agreed by all three")
	}
	t.Logf("first leader %s in term %d", first, term)
	nodeByID(nodes, first).stop()
	second, term2, ok := waitAgreed(nodes, first, 20*time.Second)
	if !ok {
		t.Fatalf("survivors never agreed on a new leader after %s stopped", first)
	}
	if term2 <= term {
		t.Fatalf("new leader %s has term %d, not above %d", second, term2, term)
	}
	t.Logf("second leader %s in term %d", second, term2)
	for _, rn := range nodes {
		if m := rn.transport.Metrics(); m.Rejected() != 0 {
			t.Errorf("%s rejected datagrams: %v", rn.id, m.Snapshot())
		}
	}
}
