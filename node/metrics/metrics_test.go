package metrics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/syncnet/syncnet/node"
	"github.com/syncnet/syncnet/node/api"
)

// fake is a Source whose status and stats the test sets.
type fake struct {
	mu sync.Mutex
	st api.ClusterStatus
	s  node.Stats
}

func (f *fake) Status() api.ClusterStatus { f.mu.Lock(); defer f.mu.Unlock(); return f.st }
func (f *fake) set(fn func(*fake))        { f.mu.Lock(); defer f.mu.Unlock(); fn(f) }

// Stats is the stats the test set; members online and the majority, when
// the test left them out, are the status's (as a node's are: one view).
func (f *fake) Stats() node.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.s
	if s.Online == nil {
		s.Online = map[string]bool{}
		online := 0
		for _, m := range f.st.Members {
			s.Online[m.ID] = m.Online
			if m.Online {
				online++
			}
		}
		s.Majority = online > len(f.st.Members)/2
	}
	return s
}

func leaderOf3(commit, f2, f3 uint64) api.ClusterStatus {
	return api.ClusterStatus{Node: "n1", Leader: "n1", Term: 4, Quorum: true, Members: []api.MemberStatus{
		{ID: "n1", Online: true, Leader: true, CommitIndex: commit, Messages: 10},
		{ID: "n2", Online: true, CommitIndex: f2},
		{ID: "n3", Online: false, CommitIndex: f3},
	}}
}

func TestCollectorReadsStatusAtScrape(t *testing.T) {
	now := time.Unix(1000, 0)
	f := &fake{st: leaderOf3(100, 100, 100), s: node.Stats{Term: 4, Leader: "n1", Quorum: true, Commit: 100, Applied: 100, CaughtUp: true}}
	m := New(f, Options{Now: func() time.Time { return now }})
	want := func(expect string, names ...string) {
		t.Helper()
		if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(expect), names...); err != nil {
			t.Error(err)
		}
	}
	want(`
# HELP syncnet_elections_total Election terms this node has seen begin since it started (every election, won or not, starts a term).
# TYPE syncnet_elections_total counter
syncnet_elections_total 0
# HELP syncnet_is_leader 1 when this node is the leader.
# TYPE syncnet_is_leader gauge
syncnet_is_leader 1
# HELP syncnet_members_online Members this node hears as alive, itself included.
# TYPE syncnet_members_online gauge
syncnet_members_online 2
`, "syncnet_elections_total", "syncnet_is_leader", "syncnet_members_online")
	// 40 s later the leader committed 150; n2 reports 120, n3 still 100.
	now = now.Add(20 * time.Second)
	f.set(func(f *fake) { f.s.Commit = 130; f.st = leaderOf3(130, 100, 100) })
	testutil.CollectAndCount(m.c) // a scrape: the history learns commit 130 at t+20s
	now = now.Add(20 * time.Second)
	f.set(func(f *fake) { f.s.Commit, f.s.Term = 150, 6; f.st = leaderOf3(150, 140, 100) })
	want(`
# HELP syncnet_elections_total Election terms this node has seen begin since it started (every election, won or not, starts a term).
# TYPE syncnet_elections_total counter
syncnet_elections_total 2
# HELP syncnet_replication_lag_entries On the leader: committed entries a follower has not yet reported committed in its heartbeat.
# TYPE syncnet_replication_lag_entries gauge
syncnet_replication_lag_entries{follower="n2"} 10
syncnet_replication_lag_entries{follower="n3"} 50
# HELP syncnet_replication_lag_seconds On the leader: how long ago the leader had committed past what a follower reports (resolution: the scrape interval).
# TYPE syncnet_replication_lag_seconds gauge
syncnet_replication_lag_seconds{follower="n2"} 0
syncnet_replication_lag_seconds{follower="n3"} 20
`, "syncnet_elections_total", "syncnet_replication_lag_entries", "syncnet_replication_lag_seconds")
	// A follower reports no lag at all (only the leader knows it).
	f.set(func(f *fake) { f.s.Leader = "n2"; f.st.Leader = "n2" })
	if n := testutil.CollectAndCount(m.c, "syncnet_replication_lag_entries"); n != 0 {
		t.Errorf("a follower reports %d lag series", n)
	}
}

func TestReadiness(t *testing.T) {
	f := &fake{st: leaderOf3(1, 1, 1), s: node.Stats{Term: 1, Leader: "n1", Quorum: true, CaughtUp: true}}
	m := New(f, Options{})
	if why := m.NotReady(); len(why) != 0 || m.Healthy() != nil {
		t.Fatalf("healthy node: not ready %v, healthy %v", why, m.Healthy())
	}
	f.set(func(f *fake) {
		f.s.Quorum, f.s.Majority, f.s.Leader = false, false, ""
		f.s.Online = map[string]bool{"n1": true, "n2": false, "n3": false}
	})
	if why := strings.Join(m.NotReady(), "; "); !strings.Contains(why, "no quorum: it hears 1 of 3 members") || !strings.Contains(why, "no leader") {
		t.Errorf("cut off: %q", why)
	}
	// An election (the leader lost, a majority heard): no leader, but
	// not "no quorum" — the reason a load balancer's log would show must
	// be the one the metrics show.
	f.set(func(f *fake) {
		f.s.Majority = true
		f.s.Online = map[string]bool{"n1": true, "n2": true, "n3": false}
	})
	if why := strings.Join(m.NotReady(), "; "); strings.Contains(why, "no quorum") || !strings.Contains(why, "no leader") {
		t.Errorf("electing with 2 of 3 heard: %q", why)
	}
	f.set(func(f *fake) { f.s.Online, f.s.Quorum, f.s.Leader, f.s.CaughtUp = nil, true, "n1", false })
	if why := strings.Join(m.NotReady(), "; "); !strings.Contains(why, "not caught up") {
		t.Errorf("catching up: %q", why)
	}
	f.set(func(f *fake) { f.s.CaughtUp, f.s.WALErr = true, errors.New("disk full") })
	if m.Healthy() == nil || len(m.NotReady()) == 0 {
		t.Errorf("a poisoned WAL is healthy")
	}
}

func TestBackendCountsPostsByResult(t *testing.T) {
	f := &fake{st: leaderOf3(1, 1, 1)}
	m := New(f, Options{})
	for _, err := range []error{nil, nil, api.ErrNoQuorum, &api.RateLimited{}, &api.Refusal{}, context.DeadlineExceeded, errors.New("x")} {
		m.ObservePost("post", m.Now(), err)
	}
	for result, want := range map[string]float64{"committed": 2, "no_quorum": 1, "rate_limited": 1, "refused": 1, "timeout": 1, "error": 1} {
		if got := testutil.ToFloat64(m.posts.WithLabelValues("post", result)); got != want {
			t.Errorf("posts{result=%q} = %v, want %v", result, got, want)
		}
	}
	var h dto.Metric
	if err := m.commitBy["post"].(prometheus.Histogram).Write(&h); err != nil || h.GetHistogram().GetSampleCount() != 2 {
		t.Errorf("commit latency of posts: %d observations (%v), want the 2 committed", h.GetHistogram().GetSampleCount(), err)
	}
}

// TestReadyzAndQuorumMetricsAgree: for every way members can be heard and a
// leader known, /readyz says "no quorum" exactly when the same scrape's
// syncnet_quorum is 0, and that is exactly syncnet_members_online <=
// syncnet_members / 2 (issue 14: /readyz said no quorum while members
// online still counted a silent peer).
func TestReadyzAndQuorumMetricsAgree(t *testing.T) {
	f := &fake{}
	m := New(f, Options{})
	for members := 1; members <= 5; members++ {
		for mask := 0; mask < 1<<members; mask++ {
			for _, leader := range []string{"", "n0"} {
				online := map[string]bool{}
				up := 0
				for i := 0; i < members; i++ {
					online[fmt.Sprintf("n%d", i)] = mask&(1<<i) != 0
					if mask&(1<<i) != 0 {
						up++
					}
				}
				// node.Stats' rule (node/ready.go hearsMajority).
				major := up > members/2
				f.set(func(f *fake) {
					f.st = api.ClusterStatus{Node: "n0"}
					f.s = node.Stats{Leader: leader, Online: online, Majority: major, Quorum: major && leader != "", CaughtUp: true}
				})
				mfs, err := m.Registry().Gather()
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]float64{}
				for _, mf := range mfs {
					if len(mf.GetMetric()) == 1 && mf.GetMetric()[0].GetGauge() != nil {
						got[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
					}
				}
				why := strings.Join(m.NotReady(), "; ")
				noQuorum := strings.Contains(why, "no quorum")
				if noQuorum != (got["syncnet_quorum"] == 0) || noQuorum != (got["syncnet_members_online"] <= got["syncnet_members"]/2) ||
					got["syncnet_members_online"] != float64(up) || got["syncnet_members"] != float64(members) {
					t.Fatalf("%d of %d up, leader %q: /readyz %q but quorum %v, members online %v of %v",
						up, members, leader, why, got["syncnet_quorum"], got["syncnet_members_online"], got["syncnet_members"])
				}
				if (why == "") != (major && leader != "") {
					t.Fatalf("%d of %d up, leader %q: /readyz %q", up, members, leader, why)
				}
			}
		}
	}
}

// Each peer's round trips are a histogram labelled by peer.
func TestPeerRTTByPeer(t *testing.T) {
	m := New(&fake{st: leaderOf3(1, 1, 1)}, Options{})
	m.ObservePeerRTT("n2", 300*time.Microsecond)
	m.ObservePeerRTT("n2", 500*time.Microsecond)
	m.ObservePeerRTT("n3", 2*time.Millisecond)
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "syncnet_peer_rtt_seconds" {
			continue
		}
		for _, s := range mf.GetMetric() {
			h := s.GetHistogram()
			got[s.GetLabel()[0].GetValue()] = [2]float64{float64(h.GetSampleCount()), h.GetSampleSum()}
		}
	}
	if g := got["n2"]; g[0] != 2 || g[1] < 0.000799 || g[1] > 0.000801 {
		t.Errorf("n2: %v", g)
	}
	if g := got["n3"]; g[0] != 1 || g[1] != 0.002 {
		t.Errorf("n3: %v", g)
	}
}

// The snapshot's age is now minus when the newest snapshot file was
// written, absent while the node has none.
func TestSnapshotAge(t *testing.T) {
	now := time.Unix(5000, 0)
	f := &fake{st: leaderOf3(1, 1, 1)}
	m := New(f, Options{Now: func() time.Time { return now }})
	if n := testutil.CollectAndCount(m.c, "syncnet_snapshot_age_seconds"); n != 0 {
		t.Fatalf("%d snapshot age series with no snapshot", n)
	}
	f.set(func(f *fake) { f.s.SnapshotWritten = now.Add(-90 * time.Second) })
	if err := testutil.CollectAndCompare(m.c, strings.NewReader(`
# HELP syncnet_snapshot_age_seconds Age of this node's newest state snapshot file (absent while it has none).
# TYPE syncnet_snapshot_age_seconds gauge
syncnet_snapshot_age_seconds 90
`), "syncnet_snapshot_age_seconds"); err != nil {
		t.Error(err)
	}
}
