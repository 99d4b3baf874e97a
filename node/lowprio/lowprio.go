// Package lowprio runs bulk work — a copy of the log for a node that
// starts empty, a backup — on an OS thread of low scheduling priority, so
// that on a busy machine it takes the CPU the node's posts leave over
// instead of competing with them (docs/ARCHITECTURE.md, "Bulk catch-up of
// an empty node").
//
// Linux keeps a nice value per thread, and the work's own goroutine does
// its encryption (TLS, SSH), its reads and its writes, so niceness of that
// one thread covers most of its cost. The thread is never handed back to
// the Go scheduler: an unprivileged process may raise its threads' nice
// value but not lower it again, and a thread that stays niced must not run
// anyone else's goroutines. So Run locks a fresh goroutine to its thread
// and returns without unlocking it; the runtime then ends that thread with
// the goroutine (or, if it was the process's main thread, which it never
// ends, parks it for good: it runs no goroutine again). Threads the runtime starts meanwhile come from its
// template thread, not from the locked one, so they do not inherit its
// priority.
//
// Goroutines the work starts run at normal priority unless they call Run
// themselves. Nice values order threads of one scheduling group: two
// processes in different cgroups (or session autogroups) share the CPU
// by group, whatever their threads' nice values.
//
// On Linux the thread's disk I/O is also put in the idle class. And while
// it lives the process gets one more P (GOMAXPROCS): a niced thread keeps
// the P its goroutine runs on while the kernel leaves it waiting for a
// core, which on a two-core machine took half of the node's Ps from its
// posts (three nodes in one process, the search index on: posts/s
// 0.66-0.74 of without it; with a P of its own per niced thread 0.87-0.93;
// docs/BENCHMARKS.md "Search"). SCHED_IDLE was tried instead of nice 19
// and not kept: no better, and a stop-the-world GC, which waits for every
// P, waited longer for the thread the kernel runs last.
package lowprio

import (
	"runtime"
	"sync"
)

// Nice is the nice value of bulk work's threads: just above the lowest
// (19), so that it still gets a share when the machine is saturated
// (weight 15 of 1024 at 19; the kernel's scheduler never starves it).
const Nice = 19

// procs counts the threads lowered by this package and remembers
// GOMAXPROCS from before the first: the process runs with base+n Ps.
var procs struct {
	sync.Mutex
	n, base int
}

// reserve gives the process one more P for a lowered thread; release
// takes it back. When the last is released GOMAXPROCS is what it was
// before the first (the runtime's own updates of it, for a changed CPU
// limit, stop once a program has set it).
func reserve() {
	procs.Lock()
	defer procs.Unlock()
	if procs.n == 0 {
		procs.base = runtime.GOMAXPROCS(0)
	}
	procs.n++
	runtime.GOMAXPROCS(procs.base + procs.n)
}

func release() {
	procs.Lock()
	defer procs.Unlock()
	procs.n--
	runtime.GOMAXPROCS(procs.base + procs.n)
}

// Run calls fn on a new goroutine locked to a thread whose nice value is
// raised to Nice (with one more P for the process meanwhile) and returns
// its result; the thread ends with it. If the priority cannot be changed
// (another OS, a kernel that refuses), fn runs at normal priority. A panic
// in fn is raised again in the caller.
func Run(fn func() error) error {
	type result struct {
		err      error
		panicked bool
		value    any
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the niced thread ends with this goroutine
		var r result
		defer func() {
			if v := recover(); v != nil {
				r.panicked, r.value = true, v
			}
			done <- r
		}()
		if lower() {
			reserve()
			defer release()
		}
		r.err = fn()
	}()
	r := <-done
	if r.panicked {
		panic(r.value)
	}
	return r.err
}

// Go starts fn on a new goroutine locked to a thread of low priority, as
// Run does, without waiting for it.
func Go(fn func()) {
	go func() {
		runtime.LockOSThread() // never unlocked: the niced thread ends with this goroutine
		if lower() {
			reserve()
			defer release()
		}
		fn()
	}()
}

// Current reports the calling thread's nice value (tests; 0 where the OS
// has none).
func Current() int { return current() }
