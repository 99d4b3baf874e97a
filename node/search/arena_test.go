package search

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestArenaStreams writes interleaved pieces to many streams, across chunk
// and slab boundaries (several MiB, pieces longer than a chunk too), and
// reads each back as the bytes written.
func TestArenaStreams(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var a arena
	streams := make([]stream, 300)
	want := make([][]byte, len(streams))
	for i := 0; i < 60_000; i++ {
		k := r.IntN(len(streams))
		if k%3 == 0 {
			k = r.IntN(5) // a few long streams, many short ones
		}
		n := 1 + r.IntN(12)
		if r.IntN(500) == 0 {
			n = 1 + r.IntN(10_000)
		}
		p := make([]byte, n)
		for j := range p {
			p[j] = byte(r.Uint32())
		}
		a.write(&streams[k], p)
		want[k] = append(want[k], p...)
	}
	if len(a.slabs) < 3 {
		t.Fatalf("only %d slabs: the test did not cross slab boundaries", len(a.slabs))
	}
	for k := range streams {
		if int(streams[k].size) != len(want[k]) {
			t.Fatalf("stream %d: size %d, wrote %d", k, streams[k].size, len(want[k]))
		}
		got := a.appendTo([]byte("x"), &streams[k])
		if !bytes.Equal(got[1:], want[k]) || got[0] != 'x' {
			t.Fatalf("stream %d: read back %d bytes differing from the %d written", k, len(got)-1, len(want[k]))
		}
	}
	// Chunks: at most the stream's bytes again, plus the first chunks.
	total := 0
	for k := range want {
		total += len(want[k])
	}
	if used := a.size(); used > 2*total+len(streams)*(1<<chunkMaxLog)+1<<slabBits {
		t.Errorf("arena of %d bytes for %d bytes of streams", used, total)
	}
}
