package lowprio

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRunNicesOnlyItsThread: fn runs at Nice with its disk I/O in the
// idle class; goroutines it starts (on
// threads the runtime may create meanwhile) and the caller do not; once
// Run returned, no thread of the process keeps the nice value.
func TestRunNicesOnlyItsThread(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("thread priorities are set on Linux only")
	}
	if got := Current(); got != 0 {
		t.Skipf("the test runs at nice %d already", got)
	}
	var inside, insideIO, insideProcs int
	procs0 := runtime.GOMAXPROCS(0)
	others, othersIO := make([]int, 8), make([]int, 8)
	err := Run(func() error {
		inside, insideIO, insideProcs = Current(), currentIOClass(), runtime.GOMAXPROCS(0)
		var wg sync.WaitGroup
		for i := range others {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread() // a thread of its own, possibly a new one
				defer runtime.UnlockOSThread()
				time.Sleep(time.Millisecond)
				others[i], othersIO[i] = Current(), currentIOClass()
			}()
		}
		wg.Wait()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if inside != Nice {
		t.Fatalf("fn ran at nice %d, want %d", inside, Nice)
	}
	if insideProcs != procs0+1 {
		t.Fatalf("GOMAXPROCS was %d while fn ran, want %d (one more P for its thread)", insideProcs, procs0+1)
	}
	if got := runtime.GOMAXPROCS(0); got != procs0 {
		t.Fatalf("GOMAXPROCS is %d after Run, want %d as before", got, procs0)
	}
	if insideIO != ioprioClassIdle {
		t.Fatalf("fn's disk I/O is in class %d, want the idle class %d", insideIO, ioprioClassIdle)
	}
	for i, n := range others {
		if n != 0 || othersIO[i] == ioprioClassIdle {
			t.Errorf("goroutine %d started by fn ran at nice %d, I/O class %d", i, n, othersIO[i])
		}
	}
	if got, io := Current(), currentIOClass(); got != 0 || io == ioprioClassIdle {
		t.Errorf("the caller's thread is at nice %d, I/O class %d", got, io)
	}
	// The niced thread exits with its goroutine (asynchronously).
	deadline := time.Now().Add(10 * time.Second)
	for {
		niced := nicedThreads(t)
		if len(niced) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("threads still niced after Run returned: %v", niced)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// nicedThreads lists the threads of this process with a nice value other
// than 0 (/proc/self/task/*/stat, field 19), but the main thread: the
// runtime never ends that one, it parks it for good instead (it then runs
// no goroutine again).
func nicedThreads(t *testing.T) []string {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	main := strconv.Itoa(os.Getpid())
	for _, task := range tasks {
		if task.Name() == main {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 on
		if n, _ := strconv.Atoi(f[16]); n != 0 {
			out = append(out, task.Name()+"="+f[16])
		}
	}
	return out
}

func TestRunReturnsErrorAndPanic(t *testing.T) {
	want := errors.New("boom")
	if err := Run(func() error { return want }); err != want {
		t.Fatalf("Run returned %v, want %v", err, want)
	}
	defer func() {
		if v := recover(); v != "bad" {
			t.Fatalf("recovered %v, want the panic of fn", v)
		}
	}()
	Run(func() error { panic("bad") })
	t.Fatal("Run returned after fn panicked")
}
