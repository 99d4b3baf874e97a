package gctune

import (
	"os"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// waitGOGC runs GC cycles until the tuner set want (its cleanup runs on
// the runtime's cleanup goroutine after a cycle), or fails.
func waitGOGC(t *testing.T, want uint64, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); gogc() != want; {
		if time.Now().After(deadline) {
			t.Fatalf("%s: GOGC is %d, want %d", what, gogc(), want)
		}
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRoomy: the GC runs at 200 while the live heap is small, at Go's
// default while more than RoomyLive is live, and as before once done.
func TestRoomy(t *testing.T) {
	for _, v := range []string{"GOGC", "GOMEMLIMIT"} {
		if _, set := os.LookupEnv(v); set {
			t.Skipf("%s is set in the environment: Roomy leaves the GC alone then", v)
		}
	}
	before := gogc()
	restore := Roomy()
	if got := gogc(); got != RoomyPercent {
		t.Fatalf("GOGC %d after Roomy, want %d", got, RoomyPercent)
	}
	func() {
		live := make([]byte, RoomyLive+(16<<20))
		for i := range live {
			live[i] = 1 // touched: the heap holds it
		}
		waitGOGC(t, 100, "with more than RoomyLive live")
		runtime.KeepAlive(live)
	}()
	waitGOGC(t, RoomyPercent, "once it is garbage")
	restore()
	if got := gogc(); got != before {
		t.Fatalf("GOGC %d after restore, want %d as before", got, before)
	}
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if got := gogc(); got != before {
		t.Fatalf("GOGC %d after a GC cycle past restore, want %d", got, before)
	}
}
