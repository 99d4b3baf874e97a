package metrics

import (
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node"
)

// BenchmarkObservePost is the hot-path cost per post made through a node
// (one histogram observation and one counter).
func BenchmarkObservePost(b *testing.B) {
	m := New(&fake{st: leaderOf3(1, 1, 1)}, Options{})
	began := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		m.ObservePost("post", began, nil)
	}
}

// BenchmarkObserveFsync is the hot-path cost per WAL fsync.
func BenchmarkObserveFsync(b *testing.B) {
	m := New(&fake{st: leaderOf3(1, 1, 1)}, Options{})
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveFsync(300 * time.Microsecond)
	}
}

// BenchmarkScrape is one /metrics answer on a three-node status, with the
// Go and process collectors (the node's own Stats is not part of it: the
// fake returns it ready-made).
func BenchmarkScrape(b *testing.B) {
	m := New(&fake{st: leaderOf3(100, 90, 80), s: node.Stats{Term: 3, Leader: "n1", Quorum: true, Commit: 100, CaughtUp: true,
		Ring: map[string]uint64{"accepted": 1, "sent": 2}}}, Options{})
	h := m.Handler()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		io.Copy(io.Discard, rec.Body)
	}
}
