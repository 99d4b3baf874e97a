package node

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/config"
	"github.com/syncnet/syncnet/node/search"
)

// BenchmarkSearchCost measures what the search index costs the cluster:
// committed posts/s and the process's CPU per post (three nodes in this
// process, fsync on, 256 posters spread over the nodes, texts of 100-200
// bytes of words) with every node's index on and off, in alternating
// rounds (SEARCHCOST_ROUNDS, default 6; the order flips each round) so
// both see the same machine. It reports the medians and the median of the
// per-round ratios (on/off), and how many times a node's index fell behind
// its subscription and caught up from the WAL (the median over rounds of
// the most of any node): the posters saturate the machine, and the index,
// at low priority, yields to them by design (BenchmarkSearchKeepsUp checks
// that it keeps up at a rate the machine can carry).
//
//	go test -run '^$' -bench SearchCost -benchtime 100000x ./node/
func BenchmarkSearchCost(b *testing.B) {
	rounds := 6
	if n, err := strconv.Atoi(os.Getenv("SEARCHCOST_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	var rate, cpu [2][]float64 // [off, on]
	var ratio, cpuRatio, behind []float64
	for r := 0; r < rounds; r++ {
		var got [2][2]float64
		for k := 0; k < 2; k++ {
			on := (r+k)%2 == 1
			ps, cps, fell := searchCostRound(b, on, b.N, 0)
			i := 0
			if on {
				i = 1
				behind = append(behind, float64(fell))
			}
			got[i] = [2]float64{ps, cps}
			rate[i] = append(rate[i], ps)
			cpu[i] = append(cpu[i], cps)
		}
		ratio = append(ratio, got[1][0]/got[0][0])
		cpuRatio = append(cpuRatio, got[1][1]/got[0][1])
		b.Logf("round %d: off %.0f posts/s %.1f µs CPU/post, on %.0f posts/s %.1f µs CPU/post, fell behind %.0f times", r, got[0][0], got[0][1], got[1][0], got[1][1], behind[len(behind)-1])
	}
	med := func(v []float64) float64 { // the middle value, or the mean of the two middle ones
		v = slices.Clone(v)
		slices.Sort(v)
		if n := len(v); n%2 == 0 {
			return (v[n/2-1] + v[n/2]) / 2
		}
		return v[len(v)/2]
	}
	b.ReportMetric(med(rate[0]), "off-posts/s")
	b.ReportMetric(med(rate[1]), "on-posts/s")
	b.ReportMetric(med(ratio), "on/off-posts")
	b.ReportMetric(med(cpu[0]), "off-cpu-µs/post")
	b.ReportMetric(med(cpu[1]), "on-cpu-µs/post")
	b.ReportMetric(med(cpuRatio), "on/off-cpu")
	b.ReportMetric(med(behind), "fell-behind/round")
}

// BenchmarkSearchKeepsUp posts at a steady rate (SEARCHKEEPUP_RATE posts/s,
// default 5,000: the target's) through three nodes in this process with
// their indexes on, and fails if any node's index fell behind its
// subscription (a catch-up from the WAL after its first). It reports the
// rate reached and the process's CPU per post.
//
//	go test -run '^$' -bench SearchKeepsUp -benchtime 50000x ./node/
func BenchmarkSearchKeepsUp(b *testing.B) {
	want := 5000.0
	if r, err := strconv.ParseFloat(os.Getenv("SEARCHKEEPUP_RATE"), 64); err == nil && r > 0 {
		want = r
	}
	ps, cps, fell := searchCostRound(b, true, b.N, want)
	if fell > 0 {
		b.Errorf("at %.0f posts/s a node's index fell behind its subscription %d times", ps, fell)
	}
	b.ReportMetric(ps, "posts/s")
	b.ReportMetric(cps, "cpu-µs/post")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var costWords = strings.Fields("the a to and of in is it that for on with this we you be have not are but at so if or can just " +
	"deploy build test node leader log commit index term cluster server message room chat ssh key branch merge review " +
	"patch bug fix issue release version config timeout latency disk fsync network packet retry today tomorrow morning " +
	"lunch coffee meeting later soon again looks good great fine broken slow fast weird done ready working café 東京")

// searchCostRound posts n messages through a new cluster, as fast as the
// posters can or paced at rate posts/s when rate > 0, and returns the
// committed posts/s, the process CPU per post (µs; up to every node's
// index covering the last post when on) and, when on, the most times a
// node's index fell behind its subscription (catch-ups from the WAL after
// its first).
func searchCostRound(b *testing.B, on bool, n int, rate float64) (postsPerSec, cpuPerPost float64, fellBehind int64) {
	c := newTestClusterWith(b, 3, func(o *Options) { o.PostRate, o.NoSearch = -1, !on })
	defer func() {
		for id := range c.nodes {
			c.stop(id)
		}
	}()
	c.leader()
	r := rand.New(rand.NewPCG(1, 2))
	texts := make([]string, 1024)
	for i := range texts {
		var sb strings.Builder
		size := 100 + r.IntN(101)
		for sb.Len() < size {
			sb.WriteString(costWords[r.IntN(len(costWords))])
			sb.WriteByte(' ')
		}
		texts[i] = sb.String()
	}
	ids := []string{"n1", "n2", "n3"}
	var next atomic.Int64
	var last atomic.Uint64
	const posters = 256
	cpu0 := processCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for p := 0; p < posters; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			nd := c.nodes[ids[p%3]].n
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				if rate > 0 {
					time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				idx, err := nd.Post(ctx, fmt.Sprint("u", p), "general", texts[i%int64(len(texts))], fmt.Sprint("m", i), 0, false)
				cancel()
				if err != nil {
					b.Error(err)
					return
				}
				for {
					l := last.Load()
					if idx <= l || last.CompareAndSwap(l, idx) {
						break
					}
				}
			}
		}(p)
	}
	wg.Wait()
	el := time.Since(start)
	if on {
		for _, rn := range c.nodes {
			for deadline := time.Now().Add(60 * time.Second); rn.n.SearchStatus().Indexed < last.Load(); time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					b.Fatalf("%s: index %+v never reached %d", rn.n.id, rn.n.SearchStatus(), last.Load())
				}
			}
			fellBehind = max(fellBehind, rn.n.search.catchUps.Load()-1)
			res, err := rn.n.Search(context.Background(), "u1", api.SearchQuery{Text: strings.Fields(texts[1])[0], Limit: 1})
			if err != nil || len(res.Hits) != 1 {
				b.Fatalf("%s: search after the posts: %+v %v", rn.n.id, res, err)
			}
		}
	} else {
		for _, rn := range c.nodes { // the same wait for applied, for the same CPU span
			for deadline := time.Now().Add(60 * time.Second); rn.n.Applied() < last.Load(); time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					b.Fatalf("%s never applied %d", rn.n.id, last.Load())
				}
			}
		}
	}
	cpu := processCPU() - cpu0
	return float64(n) / el.Seconds(), float64(cpu.Microseconds()) / float64(n), fellBehind
}

// BenchmarkSearchRebuild rebuilds the search index of the first node of a
// data directory made by `syncnet fill` (SEARCHBENCH_CONFIG names its
// cluster.toml) from that node's WAL, through the node's own catch-up
// (entries read through the entry index and decoded on one goroutine,
// indexed on another), into an empty index, and reports entries/s until
// the index covers the whole log. Skipped without SEARCHBENCH_CONFIG.
//
//	syncnet fill --config /tmp/sfill/cluster.toml --messages 10000000
//	SEARCHBENCH_CONFIG=/tmp/sfill/cluster.toml go test -run '^$' -bench SearchRebuild -benchtime 1x -timeout 30m ./node/
func BenchmarkSearchRebuild(b *testing.B) {
	path := os.Getenv("SEARCHBENCH_CONFIG")
	if path == "" {
		b.Skip("SEARCHBENCH_CONFIG (a filled cluster.toml) not set")
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	n, err := newNode(Options{Config: cfg, ID: cfg.Nodes[0].ID, NoSeed: true}, time.Now, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer n.closeStorage()
	b.Logf("node recovered %d entries in %s", n.applied.Load(), time.Since(t0).Round(time.Millisecond))
	n.search.n = n
	log := slog.New(slog.DiscardHandler)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x, err := search.Open(b.TempDir(), search.Options{Check: n.entryCheck})
		if err != nil {
			b.Fatal(err)
		}
		start, cpu0 := time.Now(), processCPU()
		if err := n.search.catchUp(context.Background(), x, log); err != nil {
			b.Fatal(err)
		}
		el, cpu := time.Since(start), processCPU()-cpu0
		st := x.Stats()
		if st.Covered != n.applied.Load() {
			b.Fatalf("index covers %d of %d", st.Covered, n.applied.Load())
		}
		b.ReportMetric(float64(st.Covered)/el.Seconds(), "entries/s")
		b.ReportMetric(float64(st.Docs)/el.Seconds(), "texts/s")
		b.ReportMetric(float64(st.Bytes)/float64(st.Docs), "B/text")
		b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(st.Covered), "cpu-µs/entry")
		x.Close()
	}
}
