package metrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/syncnet/syncnet/node"
	"github.com/syncnet/syncnet/node/api"
)

// Source is what the collector reads at scrape time; *node.Node is one.
type Source interface {
	Status() api.ClusterStatus
	Stats() node.Stats
}

// Options say what one node's metrics read besides its Source.
type Options struct {
	// Sessions counts the SSH sessions the front end serves (nil: none).
	Sessions func() int
	// Front reports the front end's counters (nil: none); see FrontStats.
	Front func() FrontStats
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// FrontStats are the SSH front end's counters, by reason or outcome.
type FrontStats struct {
	// Connects counts sessions accepted; Refusals sessions refused, by
	// reason ("no_key", "full", "per_key_cap", "shutting_down", ...).
	Connects uint64
	Refusals map[string]uint64
	// Delivered and Dropped count events the fan-out handed to sessions
	// and events a session missed because its queue was full (it reloads
	// from history).
	Delivered, Dropped uint64
}

// Metrics is one node's registry with its hot-path instruments.
type Metrics struct {
	reg    *prometheus.Registry
	src    Source
	opts   Options
	commit *prometheus.HistogramVec
	fsync  prometheus.Histogram
	rtt    *prometheus.HistogramVec
	posts  *prometheus.CounterVec
	c      *collector
	// The series ObservePost feeds, resolved once (a label lookup per
	// post cost 200 ns).
	commitBy map[string]prometheus.Observer
	postsBy  map[[2]string]prometheus.Counter
}

var (
	postKinds   = []string{"post", "direct"}
	postResults = []string{"committed", "no_quorum", "rate_limited", "refused", "timeout", "error"}
)

// latencyBuckets span a local fsync (~100 µs) to a post timeout (5 s),
// finer from 0.5 to 25 ms, where a commit's and an fsync's tails live: a
// p99 read from them (tools/fill/benchlib.sh) is then not a guess across a
// 2.5-5-10 ms gap.
var latencyBuckets = []float64{.0001, .00025, .0005, .00075, .001, .0015, .002, .0025, .003, .004, .005, .006, .008,
	.01, .0125, .015, .02, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New builds the registry for a node: the scrape-time collector, the two
// histograms, the post counters, and the Go runtime and process
// collectors.
func New(src Source, o Options) *Metrics {
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Metrics{reg: prometheus.NewRegistry(), src: src, opts: o}
	m.commit = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "syncnet_commit_latency_seconds",
		Help:    "Time from a post or direct message reaching this node to its answer that it is committed (on a majority's disks and applied here), for those that committed.",
		Buckets: latencyBuckets,
	}, []string{"kind"})
	m.fsync = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "syncnet_wal_fsync_duration_seconds",
		Help:    "Duration of each WAL fsync (one per group commit).",
		Buckets: latencyBuckets,
	})
	m.rtt = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "syncnet_peer_rtt_seconds",
		Help:    "Round trip on the peer TCP link this node dialed to each peer: a ping written to the answer read, about once a second (the network both ways, plus any wait behind frames already written on the link).",
		Buckets: latencyBuckets,
	}, []string{"peer"})
	m.posts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "syncnet_posts_total",
		Help: "Posts and direct messages made through this node, by result: committed, no_quorum, rate_limited, refused (ban, mute, permission), timeout, error.",
	}, []string{"kind", "result"})
	m.commitBy, m.postsBy = map[string]prometheus.Observer{}, map[[2]string]prometheus.Counter{}
	for _, k := range postKinds {
		m.commitBy[k] = m.commit.WithLabelValues(k)
		for _, r := range postResults {
			m.postsBy[[2]string{k, r}] = m.posts.WithLabelValues(k, r)
		}
	}
	m.c = newCollector(src, o)
	m.reg.MustRegister(m.commit, m.fsync, m.rtt, m.posts, m.c,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the registry to serve (and for tests to gather).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveFsync records one WAL fsync; pass it to node.ObserveWALSync.
func (m *Metrics) ObserveFsync(d time.Duration) { m.fsync.Observe(d.Seconds()) }

// ObservePeerRTT records one round trip to peer; pass it to
// node.ObservePeerRTT.
func (m *Metrics) ObservePeerRTT(peer string, d time.Duration) {
	m.rtt.WithLabelValues(peer).Observe(d.Seconds())
}

// ObservePost records the outcome of one post ("post") or direct message
// ("direct") made through this node, begun at began: its commit latency
// when it committed, and its result. The front end's wiring calls it
// around Backend.Post and Backend.DirectMessage (tools/serve).
func (m *Metrics) ObservePost(kind string, began time.Time, err error) {
	result := "committed"
	switch {
	case err == nil:
		if o, ok := m.commitBy[kind]; ok {
			o.Observe(m.opts.Now().Sub(began).Seconds())
		} else {
			m.commit.WithLabelValues(kind).Observe(m.opts.Now().Sub(began).Seconds())
		}
	case errors.Is(err, api.ErrNoQuorum):
		result = "no_quorum"
	case errors.Is(err, api.ErrRateLimited):
		result = "rate_limited"
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		result = "timeout"
	default:
		var r *api.Refusal
		if errors.As(err, &r) || errors.Is(err, api.ErrForbidden) || errors.Is(err, api.ErrMuted) || errors.Is(err, api.ErrIDReused) {
			result = "refused"
		} else {
			result = "error"
		}
	}
	if c, ok := m.postsBy[[2]string{kind, result}]; ok {
		c.Inc()
		return
	}
	m.posts.WithLabelValues(kind, result).Inc()
}

// Now is the metrics' clock, for ObservePost's began.
func (m *Metrics) Now() time.Time { return m.opts.Now() }

// commitHistory remembers when this node's commit index reached which
// value, sampled at each scrape, so a follower's lag can be told in
// seconds: how long ago the leader had already committed past what the
// follower has. Its resolution is the scrape interval.
type commitHistory struct {
	mu      sync.Mutex
	samples []commitSample // oldest first
}

type commitSample struct {
	at     time.Time
	commit uint64
}

const historyKeep = 15 * time.Minute

func (h *commitHistory) add(at time.Time, commit uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.samples); n > 0 && h.samples[n-1].commit == commit {
		return // only changes matter
	}
	h.samples = append(h.samples, commitSample{at, commit})
	drop := 0
	for drop < len(h.samples)-1 && at.Sub(h.samples[drop].at) > historyKeep {
		drop++
	}
	h.samples = h.samples[drop:]
}

// lagSeconds is how long ago this node's commit first passed have.
func (h *commitHistory) lagSeconds(now time.Time, have, commit uint64) float64 {
	if have >= commit {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.samples {
		if s.commit > have {
			return now.Sub(s.at).Seconds()
		}
	}
	return 0
}
