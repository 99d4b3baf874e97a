package eventlog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const crashDirEnv = "EVENTLOG_CRASH_CHILD_DIR"

// TestCrashChild is the child process of TestKill9: it appends from several
// goroutines until killed, printing "ack <seq> <client msg id>" for every
// acknowledged (fsynced) record. It does nothing in a normal test run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("child process of TestKill9 only")
	}
	l, err := Open(dir, Options{SegmentSize: 64 << 10, Logf: func(f string, a ...any) {
		fmt.Fprintf(os.Stderr, f+"\n", a...)
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "open %d\n", l.LastSeq())
	out.Flush()
	pid := os.Getpid()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				n := 1 + i%3
				evs := make([]Event, n)
				for j := range evs {
					evs[j] = chatEvent(i)
					evs[j].Body.(*MessagePosted).ClientMsgID = fmt.Sprintf("p%d-g%d-%d-%d", pid, g, i, j)
				}
				first, _, err := l.Append(context.Background(), evs...)
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(4)
				}
				mu.Lock()
				for j := range evs {
					fmt.Fprintf(out, "ack %d %s\n", first+uint64(j), evs[j].Body.(*MessagePosted).ClientMsgID)
				}
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestKill9 runs the child, kills it with SIGKILL at a random moment, and
// checks after reopening that every acknowledged record is there, intact, and
// the chain verifies. Many rounds on the same directory.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	acked := map[uint64]string{}
	deadline := time.Now().Add(5 * time.Second)
	rounds := 0
	for ; rounds < 25 && time.Now().Before(deadline); rounds++ {
		runChildAndKill(t, dir, rng, acked)
		l, err := Open(dir, Options{NoSync: true, Logf: t.Logf})
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", rounds, err)
		}
		last := l.LastSeq()
		for seq := range acked {
			if seq > last {
				l.Close()
				t.Fatalf("round %d: acknowledged seq %d lost (last %d)", rounds, seq, last)
			}
		}
		err = l.Iter(1, func(seq uint64, ev Event) error {
			if cid, ok := acked[seq]; ok && ev.Body.(*MessagePosted).ClientMsgID != cid {
				return fmt.Errorf("seq %d holds %s, acknowledged %s", seq, ev.Body.(*MessagePosted).ClientMsgID, cid)
			}
			return nil
		})
		l.Close()
		if err != nil {
			t.Fatalf("round %d: %v", rounds, err)
		}
	}
	if len(acked) == 0 {
		t.Fatal("child acknowledged nothing")
	}
	t.Logf("%d rounds, %d acknowledged records checked", rounds, len(acked))
}

func runChildAndKill(t *testing.T, dir string, rng *rand.Rand, acked map[uint64]string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill after a random number of acknowledgements, so the kill lands at a
	// random point of the write/fsync cycle, not only after startup.
	killAfter := 1 + rng.IntN(3000)
	sc := bufio.NewScanner(stdout)
	n := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "open" {
			// The child holds the directory: Open from this process must fail.
			if l, err := Open(dir, Options{NoSync: true}); !errors.Is(err, ErrLocked) {
				if l != nil {
					l.Close()
				}
				t.Errorf("Open while the child runs: %v, want ErrLocked", err)
			}
		}
		if len(f) == 3 && f[0] == "ack" {
			seq, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatalf("child printed %q", sc.Text())
			}
			acked[seq] = f[2]
			if n++; n == killAfter {
				cmd.Process.Kill() // SIGKILL
			}
		}
	}
	cmd.Process.Kill()
	err = cmd.Wait()
	if n < killAfter {
		t.Fatalf("child exited early after %d acks: %v\n%s", n, err, stderr.String())
	}
	if s := stderr.String(); s != "" {
		t.Logf("child stderr: %s", s)
	}
}
