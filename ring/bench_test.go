package ring

import (
	"fmt"
	"math/rand"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Measurements, gated by SYNCNET_BENCH=1 (they take about a minute and
// print figures; nothing here asserts a wall-clock time):
//
//	SYNCNET_BENCH=1 go test ./ring -run 'TestMeasure' -v -count=1

func benchEnabled(t *testing.T) {
	if os.Getenv("SYNCNET_BENCH") != "1" {
		t.Skip("set SYNCNET_BENCH=1 to measure")
	}
}

// TestMeasureFailoverUDP: loopback, heartbeat 100ms, failure timeout
// 500ms; each trial starts a fresh cluster, waits for a leader, waits a
// random fraction of a heartbeat, stops the leader's runner and transport
// and measures until every survivor follows one new leader.
func TestMeasureFailoverUDP(t *testing.T) {
	benchEnabled(t)
	sizes := []int{3, 5}
	if os.Getenv("SYNCNET_BENCH_SIZES") == "3" {
		sizes = sizes[:1]
	}
	for _, size := range sizes {
		trials := 50
		if size == 5 {
			trials = 20
		}
		var lat []time.Duration
		terms := map[uint64]int{}
		for i := 0; i < trials; i++ {
			d, dt, ok := failoverTrial(t, size, int64(i))
			if !ok {
				t.Fatalf("%d nodes, trial %d: no new leader", size, i)
			}
			lat = append(lat, d)
			terms[dt]++
			if d > 600*time.Millisecond {
				t.Logf("trial %d: %v, term +%d", i, d.Round(time.Millisecond), dt)
			}
		}
		slices.Sort(lat)
		t.Logf("%d nodes, %d trials: leader stopped -> new leader known to all survivors: p50 %v  p99 %v  min %v  max %v; rounds per failover (term increase: trials) %v",
			size, trials, pct(lat, 50), pct(lat, 99), lat[0].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), terms)
	}
}

func failoverTrial(t *testing.T, size int, seed int64) (time.Duration, uint64, bool) {
	var mu sync.Mutex
	var timeline []string
	var start time.Time
	tm := benchTiming
	tm.OnReady = func(self string, rd Ready) {
		mu.Lock()
		defer mu.Unlock()
		if !start.IsZero() && rd.SoftState != nil {
			timeline = append(timeline, fmt.Sprintf("%6.1fms %s %s", float64(time.Since(start).Microseconds())/1000, self, rd.SoftState.Describe()))
		}
	}
	nodes := startRealCluster(t, size, tm, seed*100)
	defer func() {
		for _, rn := range nodes {
			rn.stop()
		}
	}()
	leader, term, ok := waitAgreed(nodes, "", 10*time.Second)
	if !ok {
		return 0, 0, false
	}
	r := rand.New(rand.NewSource(seed))
	time.Sleep(200*time.Millisecond + time.Duration(r.Int63n(int64(100*time.Millisecond))))
	// Time from the moment the leader can no longer send: its runner has
	// exited and its sockets are closed (on a loaded machine stopping the
	// runner goroutine itself can take a while, during which it may still
	// heartbeat).
	nodeByID(nodes, leader).stop()
	mu.Lock()
	start = time.Now()
	mu.Unlock()
	_, term2, ok := waitAgreed(nodes, leader, 10*time.Second)
	took := time.Since(start)
	if took > 600*time.Millisecond {
		mu.Lock()
		t.Logf("slow trial %d (%v), timeline after stopping %s:\n  %s", seed, took.Round(time.Millisecond), leader, strings.Join(timeline, "\n  "))
		mu.Unlock()
	}
	return took, term2 - term, ok
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return sorted[i].Round(time.Millisecond)
}

// TestMeasureElectionMessages: in the simulation (perfect network, one
// tick = 1/2 of the heartbeat interval... see defaultSim), crash the leader
// and count election messages and rounds until all survivors follow a new
// leader, averaged over seeds, for 3, 5 and 7 nodes.
func TestMeasureElectionMessages(t *testing.T) {
	benchEnabled(t)
	for _, size := range []int{3, 5, 7} {
		for _, delay := range []int{0, 1} {
			const seeds = 300
			var msgs, rounds, ticks, maxMsgs int
			for s := int64(0); s < seeds; s++ {
				c := newCluster(t, s, simParamsN(size))
				c.net.SetFaults(SimConfig{MaxDelay: delay})
				if c.runUntilLeader(200) < 0 {
					t.Fatalf("seed %d: no first leader", s)
				}
				c.tick()
				c.crash(c.agreedLeader())
				m0, r0 := c.elMsgs, c.roundsStarted()
				took := c.runUntilLeader(400)
				if took < 0 {
					t.Fatalf("seed %d: no leader after crash", s)
				}
				msgs += c.elMsgs - m0
				maxMsgs = max(maxMsgs, c.elMsgs-m0)
				rounds += c.roundsStarted() - r0
				ticks += took
			}
			t.Logf("%d nodes, hop delay 0..%d ticks: %.1f election messages (token+elected; max %d), %.2f rounds, %.1f ticks (failure timeout %d) per election; a clean election is %d token hops + %d elected hops",
				size, delay, float64(msgs)/seeds, maxMsgs, float64(rounds)/seeds, float64(ticks)/seeds, defaultSim.FailureTicks, size-1, size-2)
		}
	}
}

func (c *cluster) roundsStarted() int {
	total := 0
	for _, sn := range c.nodes {
		total += sn.rounds
	}
	return total
}
