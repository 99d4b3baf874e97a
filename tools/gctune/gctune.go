// Package gctune runs Go's garbage collector with more room while little
// is live. The audit tools allocate at a high rate and keep a small live
// heap, so at Go's default (GOGC=100) they collect often; at 200 they
// spend less CPU on it for at most 128 MiB more heap. Above RoomyLive
// live bytes the collector goes back to the default, so a big heap is never
// more than twice what is live.
package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// RoomyLive is the live heap up to which Roomy runs the GC at
// RoomyPercent: a heap of at most three times that (192 MiB). Measured
// (docs/BENCHMARKS.md "History at scale"): wal replay of 10M records 6%
// less CPU (21.6-21.9 CPU-s against 23.0-23.7, 128-135 MB against 110 MB).
// Above it (a busy cluster's once window is live for a whole fold) the GC
// goes back to Go's default.
const (
	RoomyLive    = 64 << 20
	RoomyPercent = 200
)

// Roomy sets the GC as RoomyLive says, checks the live heap after every
// GC cycle, and returns a function that puts the GC back as it was. A
// GOGC or GOMEMLIMIT in the environment is the user's choice: then it
// changes nothing.
func Roomy() (restore func()) {
	for _, v := range []string{"GOGC", "GOMEMLIMIT"} {
		if _, set := os.LookupEnv(v); set {
			return func() {}
		}
	}
	var mu sync.Mutex
	stopped := false
	before := debug.SetGCPercent(RoomyPercent)
	cur := RoomyPercent
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	// watch arms a cleanup that runs once the GC has found a fresh object
	// unreachable, i.e. after the next cycle, and arms the next.
	type sentinel struct{ _ *int } // holds a pointer: never batched with other tiny objects
	var watch func()
	watch = func() {
		runtime.AddCleanup(&sentinel{}, func(struct{}) {
			mu.Lock()
			defer mu.Unlock()
			if stopped {
				return
			}
			metrics.Read(sample)
			want := RoomyPercent
			if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > RoomyLive {
				want = 100
			}
			if want != cur {
				debug.SetGCPercent(want)
				cur = want
			}
			watch()
		}, struct{}{})
	}
	watch()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		debug.SetGCPercent(before)
	}
}
