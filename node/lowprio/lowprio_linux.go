package lowprio

import "syscall"

// ioprio_set(2) and ioprio_get(2) arguments (linux/ioprio.h): a thread id
// with IOPRIO_WHO_PROCESS applies to that thread alone, as for nice.
const (
	ioprioWhoProcess = 1
	ioprioClassShift = 13
	ioprioClassIdle  = 3
)

// lower raises the calling thread's nice value and puts its disk I/O in
// the idle class, and reports whether its CPU priority changed. The I/O
// class is a hint to the block layer's schedulers that know priorities
// (mq-deadline, BFQ): they serve the thread's reads and the writeback it
// starts (eventlog.Bulk's sync_file_range) after other classes' requests,
// with aging so it is never starved; other schedulers ignore it. (Beside
// a 10M-entry copy on this project's test machine, mq-deadline on a
// virtual disk, the posting leader's fsyncs still took 3× their time: the
// hint helps little where the device's own queue is the bottleneck.)
func lower() bool {
	tid := syscall.Gettid()
	niced := syscall.Setpriority(syscall.PRIO_PROCESS, tid, Nice) == nil
	_, _, _ = syscall.Syscall(syscall.SYS_IOPRIO_SET, ioprioWhoProcess, uintptr(tid), ioprioClassIdle<<ioprioClassShift)
	return niced
}

func current() int {
	// The raw system call returns 20-nice (glibc's getpriority converts).
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		return 0
	}
	return 20 - p
}

// currentIOClass is the calling thread's I/O priority class (0: none set,
// which the kernel treats as best effort).
func currentIOClass() int {
	p, _, errno := syscall.Syscall(syscall.SYS_IOPRIO_GET, ioprioWhoProcess, uintptr(syscall.Gettid()), 0)
	if errno != 0 {
		return 0
	}
	return int(p) >> ioprioClassShift
}
