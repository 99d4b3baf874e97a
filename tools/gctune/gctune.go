package walcmd

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// gcRoomyLive is the live heap up to which the tools run the GC at
// gcRoomyPercent: a heap of at most three times that (192 MiB) for about
// 6% less CPU than Go's default (wal replay of 10M records: 21.6-21.9
// CPU-s against 23.0-23.7, 128-135 MB against 110 MB; docs/BENCHMARKS.md
// "History at scale"). Above it (a busy cluster's once window is live for
// the whole fold) the GC goes back to Go's default: a heap above 192 MiB
// is never more than twice what is live, as before.
const (
	gcRoomyLive    = 64 << 20
	gcRoomyPercent = 200
)

// tuneGC sets the GC as gcRoomyLive says, checks the live heap after every
// GC cycle, and returns a function that puts the GC back as it was. A
// GOGC or GOMEMLIMIT in the environment is the user's choice: then it
// changes nothing.
func tuneGC() (restore func()) {
	for _, v := range []string{"GOGC", "GOMEMLIMIT"} {
		if _, set := os.LookupEnv(v); set {
			return func() {}
		}
	}
	var mu sync.Mutex
	stopped := false
	before := debug.SetGCPercent(gcRoomyPercent)
	cur := gcRoomyPercent
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
			want := gcRoomyPercent
			if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > gcRoomyLive {
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
