//go:build !linux

package lowprio

// Elsewhere the work runs at normal priority.
func lower() bool { return false }

func current() int { return 0 }

func currentIOClass() int { return 0 }

// ioprioClassIdle is Linux's idle I/O class, which no thread has here.
const ioprioClassIdle = 3
