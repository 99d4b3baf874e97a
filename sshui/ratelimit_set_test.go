package sshui

import (
	"testing"
	"time"
)

// A reload's new [limits] (Server.SetRateLimit) take effect at the next
// post: each bucket keeps its tokens, at most the new burst, and fills at
// the new rate.
func TestRateLimiterSet(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newRateLimiter(1, 2, func() time.Time { return now })
	for i := 0; i < 2; i++ {
		if ok, _ := l.Allow("u"); !ok {
			t.Fatalf("post %d of a burst of 2 refused", i+1)
		}
	}
	if ok, wait := l.Allow("u"); ok || wait != time.Second {
		t.Fatalf("third post at 1/s: ok %v, wait %v", ok, wait)
	}
	l.set(100, 5)
	now = now.Add(100 * time.Millisecond) // 10 tokens at 100/s, capped at 5
	for i := 0; i < 5; i++ {
		if ok, _ := l.Allow("u"); !ok {
			t.Fatalf("post %d after raising the limit refused", i+1)
		}
	}
	if ok, _ := l.Allow("u"); ok {
		t.Fatal("a sixth post passed a burst of 5")
	}
	s := &Server{limit: l}
	s.SetRateLimit(0, 3) // a rate not above 0 keeps the current limit
	if l.rate != 100 || l.burst != 5 {
		t.Fatalf("SetRateLimit(0, 3) changed the limit to %v/%v", l.rate, l.burst)
	}
	s.SetRateLimit(2, 3)
	if l.rate != 2 || l.burst != 3 {
		t.Fatalf("SetRateLimit(2, 3): %v/%v", l.rate, l.burst)
	}
}
