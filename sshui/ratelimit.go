package sshui

import (
	"sync"
	"time"
)

// rateLimiter is a token bucket per user, shared by all of the user's
// sessions on this node: it protects this node. The allowance for the whole
// cluster is the leader's (the node refuses with *api.RateLimited), so a
// user posting through several nodes gets no more. Buckets idle long
// enough to be full are forgotten.
type rateLimiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rate float64, burst int, now func() time.Time) *rateLimiter {
	return &rateLimiter{rate: rate, burst: float64(burst), now: now, buckets: map[string]*bucket{}}
}

// Allow takes one token for user. When empty it returns false and how long
// until the next token.
func (l *rateLimiter) Allow(user string) (bool, time.Duration) {
	return l.AllowAt(user, 0, 0)
}

// AllowAt is Allow for a user with an allowance of its own (a [[bot]]
// key's); rate <= 0 means the limiter's default.
func (l *rateLimiter) AllowAt(user string, rate float64, burst int) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, bu := l.rate, l.burst
	if rate > 0 {
		r, bu = rate, float64(max(burst, 1))
	}
	now := l.now()
	l.gc(now)
	b := l.buckets[user]
	if b == nil {
		b = &bucket{tokens: bu, last: now}
		l.buckets[user] = b
	}
	b.tokens = min(bu, b.tokens+now.Sub(b.last).Seconds()*r)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / r * float64(time.Second))
	return false, wait
}

// set changes everyone's allowance but the bots' (a reload): each bucket
// keeps its tokens, at most the new burst, and fills at the new rate.
func (l *rateLimiter) set(rate float64, burst int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rate, l.burst = rate, float64(burst)
}

// gc drops full buckets once a minute, bounding memory by active users.
func (l *rateLimiter) gc(now time.Time) {
	if now.Sub(l.sweep) < time.Minute {
		return
	}
	l.sweep = now
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for u, b := range l.buckets {
		if now.Sub(b.last) > full {
			delete(l.buckets, u)
		}
	}
}
