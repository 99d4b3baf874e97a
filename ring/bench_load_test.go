package ring

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestMeasureFalseSuspicions: three members on loopback (heartbeat 100ms,
// failure timeout 500ms) run for SYNCNET_BENCH_SECONDS (default 60) while
// one busy-loop process per core saturates the machine; it reports how
// many times a live member was suspected and how many leader changes
// happened. Gated by SYNCNET_BENCH=1.
func TestMeasureFalseSuspicions(t *testing.T) {
	benchEnabled(t)
	secs := 60
	if v, err := strconv.Atoi(os.Getenv("SYNCNET_BENCH_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	var mu sync.Mutex
	suspicions, softChanges := 0, 0
	tm := benchTiming
	tm.OnReady = func(self string, rd Ready) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range rd.MemberChanges {
			if e.To != MemberAlive {
				suspicions++
				t.Logf("%s: %s", self, e.Describe())
			}
		}
		if rd.SoftState != nil {
			softChanges++
		}
	}
	nodes := startRealCluster(t, 3, tm, 7)
	if _, _, ok := waitAgreed(nodes, "", 10*time.Second); !ok {
		t.Fatal("no leader")
	}
	mu.Lock()
	suspicions, softChanges = 0, 0
	mu.Unlock()
	_, term0 := agreed(nodes)
	var burners []*exec.Cmd
	for i := 0; i < runtime.NumCPU(); i++ {
		cmd := exec.Command("sh", "-c", "while :; do :; done")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start burner: %v", err)
		}
		burners = append(burners, cmd)
	}
	defer func() {
		for _, cmd := range burners {
			_ = cmd.Process.Kill() // by pid: only the processes this test started
			_ = cmd.Wait()
		}
	}()
	time.Sleep(time.Duration(secs) * time.Second)
	_, term1 := agreed(nodes)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%ds with %d busy-loop processes: %d false suspicions, %d role/leader changes, term %d -> %d",
		secs, len(burners), suspicions, softChanges, term0, term1)
}
