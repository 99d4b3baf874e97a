package state

import (
	"bytes"
	"testing"
	"time"
)

// TestCaptureSharesTheOnceTableSafely: Capture shares the exactly-once
// table's chunks with the image instead of copying them. Whatever the apply
// goroutine does afterwards — changes an item the image holds (as a renewed
// request does), appends into the chunk the image ends in, drops expired
// chunks — the image must encode to the bytes it would have had at
// Capture. It fails if mut changes a shared chunk in place or if the image
// reads past the items it captured.
func TestCaptureSharesTheOnceTableSafely(t *testing.T) {
	l := newReplayLog()
	s := NewWith(Options{Messages: l, OnceWindow: time.Hour})
	step := time.Second
	apply := func(from, to uint64) {
		for i := from; i <= to; i++ {
			ev := l.event(i)
			ev.Time = t0.Add(time.Duration(i) * step).UnixNano()
			ev.Header.RequestID += string(rune('a' + i%26))
			s.Apply(i, ev)
		}
	}
	apply(1, 5*onceChunkLen+300) // the last chunk is partly filled
	want, err := s.Capture().Encode()
	if err != nil {
		t.Fatal(err)
	}
	im := s.Capture()
	o := s.once
	o.mu.Lock()
	for seq := o.lo(); seq < o.base+uint64(o.n); seq++ {
		o.mut(seq).keyed = false // as a renewed request would
	}
	o.mu.Unlock()
	// An hour of entries later (the window), the captured items expire and
	// their chunks are dropped; new ones fill the chunk the image ends in.
	apply(5*onceChunkLen+301, 5*onceChunkLen+301+uint64(time.Hour/step)+2*onceChunkLen)
	if o.base == 1 {
		t.Fatal("no chunk was dropped: the test does not exercise prune")
	}
	got, err := im.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the image changed after Capture: %d bytes, want %d", len(got), len(want))
	}
}
