package lowprio

import "syscall"

// lower raises the calling thread's nice value: on Linux, PRIO_PROCESS
// with a thread id applies to that thread alone.
func lower() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), Nice)
}

func current() int {
	// The raw system call returns 20-nice (glibc's getpriority converts).
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		return 0
	}
	return 20 - p
}
