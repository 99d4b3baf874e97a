package peer

import (
	"sync"
	"time"
)

// logLimit lets one log line through per second and counts the ones it
// held back, so input from anyone who can reach a port cannot flood the log.
type logLimit struct {
	mu      sync.Mutex
	last    time.Time
	skipped int
}

// allow says whether to log now, and how many lines were held back since
// the last one logged.
func (l *logLimit) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < time.Second {
		l.skipped++
		return false, 0
	}
	n := l.skipped
	l.last, l.skipped = now, 0
	return true, n
}
