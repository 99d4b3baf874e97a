package e2e

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// The failover measurements of BENCHMARKS.txt. Not part of the normal run:
//
//	SYNCNET_E2E_BENCH=1 go test -count=1 -timeout 30m -run 'TestBench' -v ./tools/e2e/
//
// SYNCNET_E2E_BENCH_TRIALS sets the trials per figure (default 20).

func benchTrials(t *testing.T) int {
	t.Helper()
	if os.Getenv("SYNCNET_E2E_BENCH") == "" {
		t.Skip("measurement: set SYNCNET_E2E_BENCH=1")
	}
	return envInt(t, "SYNCNET_E2E_BENCH_TRIALS", 20)
}

// TestBenchLeaderKill: kill -9 the leader, then post through the survivors
// (a new attempt every 100ms, alternating survivors, until one commits);
// the figure is kill -> first acknowledged post.
func TestBenchLeaderKill(t *testing.T) {
	trials := benchTrials(t)
	c := start(t, 3)
	var d []time.Duration
	for i := 0; i < trials; i++ {
		leader := c.waitLeader()
		c.waitCaughtUp()
		survivors := others(c.ids, leader)
		t0 := time.Now()
		c.kill9(leader)
		got := c.firstCommit(survivors, fmt.Sprintf("lk%d", i), t0)
		t.Logf("trial %d: leader %s killed, first post committed after %s", i+1, leader, got.Round(time.Millisecond))
		d = append(d, got)
		c.restart(leader)
	}
	t.Logf("RESULT leader kill -9 -> first post committed through a survivor: %s", summary(d))
}

// firstCommit posts through nodes until one post is acknowledged and returns
// how long after t0 that was.
func (c *cluster) firstCommit(nodes []string, prefix string, t0 time.Time) time.Duration {
	c.t.Helper()
	done := make(chan time.Duration, 1)
	var wg sync.WaitGroup
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(60 * time.Second)
	var result time.Duration
loop:
	for k := 0; ; k++ {
		node := nodes[k%len(nodes)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := prefix + "-" + node
			if _, err := c.post(node, user, "bench", "x", fmt.Sprintf("%s-%d", prefix, k)); err == nil {
				select {
				case done <- time.Since(t0):
				default:
				}
			}
		}()
		select {
		case result = <-done:
			break loop
		case <-tick.C:
		case <-deadline:
			c.t.Fatalf("no post committed through %v within 60s of the kill", nodes)
		}
	}
	wg.Wait()
	return result
}

// waitCaughtUp waits until every live node reports the same commit index.
func (c *cluster) waitCaughtUp() {
	c.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var idx []uint64
		for _, id := range c.liveIDs() {
			if n, err := c.commitIndex(id); err == nil {
				idx = append(idx, n)
			}
		}
		if len(idx) == len(c.liveIDs()) && idx[0] == idx[len(idx)-1] && idx[0] == idx[len(idx)/2] {
			return
		}
	}
	c.t.Fatal("live nodes did not reach one commit index within 30s")
}

// TestBenchChatGap: `syncnet chat --batch --trace` on one node (the leader
// in even trials, a follower in odd ones) while another client posts every
// 50ms through the other two; that node is killed; the figure is kill -> the
// first message the chat client receives from its new node (its
// "first-message … at=" line).
func TestBenchChatGap(t *testing.T) {
	trials := benchTrials(t)
	requireChat(t)
	c := start(t, 3)
	var all, asLeader, asFollower []time.Duration
	for i := 0; i < trials; i++ {
		leader := c.waitLeader()
		c.waitCaughtUp()
		// Alternate: the chat's node is the leader in even trials, a follower in odd ones.
		target := leader
		if i%2 == 1 {
			target = others(c.ids, leader)[0]
		}
		rest := others(c.ids, target)
		stop := c.backgroundPosts(fmt.Sprintf("bg%d", i), rest, 50*time.Millisecond)
		chat := c.startChat(fmt.Sprintf("gap%d", i), "bench", append([]string{target}, rest...))
		chat.waitState("connected node1", 30*time.Second) // --nodes names them node1.. in the order given
		chat.waitFor("a first message", 30*time.Second, func() bool { return len(chat.received) > 0 })
		t0 := time.Now()
		c.kill9(target)
		line := chat.waitState("first-message", 60*time.Second)
		stop()
		at, err := time.Parse(time.RFC3339Nano, field(line, "at="))
		if err != nil {
			t.Fatalf("first-message line %q: %v", line, err)
		}
		gap := at.Sub(t0)
		t.Logf("trial %d: %s (leader: %v) killed; chat's first message via another node after %s", i+1, target, target == leader, gap.Round(time.Millisecond))
		all = append(all, gap)
		if target == leader {
			asLeader = append(asLeader, gap)
		} else {
			asFollower = append(asFollower, gap)
		}
		chat.stdin.Close()
		c.restart(target)
	}
	t.Logf("RESULT chat failover gap (kill of its node -> first message via the next): all %s", summary(all))
	t.Logf("RESULT   its node was the leader: %s", summary(asLeader))
	t.Logf("RESULT   its node was a follower: %s", summary(asFollower))
}

// backgroundPosts posts every interval through nodes (round robin, four
// users to stay under the rate limit) until the returned stop is called.
func (c *cluster) backgroundPosts(prefix string, nodes []string, interval time.Duration) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; ; k++ {
			select {
			case <-quit:
				return
			case <-time.After(interval):
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = c.post(nodes[k%len(nodes)], fmt.Sprintf("%s-u%d", prefix, k%4), "bench", "tick", fmt.Sprintf("%s-%d", prefix, k))
			}()
		}
	}()
	return func() { close(quit); wg.Wait() }
}

// field returns the value of "key…" up to the next space in line.
func field(line, key string) string {
	_, rest, ok := strings.Cut(line, key)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, " ")
	return v
}

// summary is "n=20 p50=… p99=… min=… max=…" (p99 of 20 is the maximum).
func summary(d []time.Duration) string {
	if len(d) == 0 {
		return "n=0"
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	q := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))].Round(time.Millisecond)
	}
	return fmt.Sprintf("n=%d p50=%s p99=%s min=%s max=%s", len(s), q(0.50), q(0.99), s[0].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}
