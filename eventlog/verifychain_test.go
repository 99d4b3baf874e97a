package eventlog

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"
)

// TestVerifyChainWhileAppending: VerifyChain checks everything durable when
// it was called while appenders keep going (run with -race).
func TestVerifyChainWhileAppending(t *testing.T) {
	l := openT(t, t.TempDir(), Options{NoSync: true, SegmentSize: 16 << 10, MaxBatchCount: 16})
	appendN(t, l, 0, 500, 10)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				appendN(t, l, g*100000+i, 3, 3)
			}
		})
	}
	for range 10 {
		before := l.LastSeq()
		res, err := l.VerifyChain(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		h, err := l.HashAt(res.To)
		if err != nil || res.From != 1 || res.To < before || res.Records != res.To || h != res.Head {
			t.Fatalf("VerifyChain = %+v (LastSeq before %d), HashAt(%d) = %s %v", res, before, res.To, h.Short(), err)
		}
	}
	cancel()
	wg.Wait()
	res, err := l.VerifyChain(t.Context(), time.Microsecond)
	if seq, head := l.Head(); err != nil || res.To != seq || res.Head != head {
		t.Fatalf("VerifyChain after the appends = %+v, %v; head %d %s", res, err, seq, head.Short())
	}
}

// TestVerifyChainDamage: a record damaged after Open in the middle of the
// log, a broken link, bytes after a sealed segment's records, and records
// missing from a sealed segment are each a *CorruptError.
func TestVerifyChainDamage(t *testing.T) {
	for _, small := range []bool{false, true} {
		if small {
			defer func(n int) { verifyChunk = n }(verifyChunk)
			verifyChunk = 1000 // records straddle chunk boundaries
		}
		dir := t.TempDir()
		l := openT(t, dir, Options{NoSync: true, SegmentSize: 8 << 10})
		appendN(t, l, 0, 800, 10)
		if _, err := l.VerifyChain(t.Context(), 0); err != nil {
			t.Fatal(err)
		}
		segs := segPaths(t, dir)
		path := segs[len(segs)/2]
		orig, _ := os.ReadFile(path)
		offs := entryOffsets(orig)
		first := segFirst(t, path)
		damage := func(name string, data []byte, index uint64) {
			t.Helper()
			os.WriteFile(path, data, 0o640)
			var ce *CorruptError
			if _, err := l.VerifyChain(t.Context(), 0); !errors.As(err, &ce) || ce.File != path || index != 0 && ce.Index != index {
				t.Errorf("%s: VerifyChain = %v, want damage in %s at %d", name, err, path, index)
			}
			os.WriteFile(path, orig, 0o640)
		}
		b := append([]byte(nil), orig...)
		b[offs[7]+70] ^= 1
		damage("flipped byte", b, first+7)
		b = append([]byte(nil), orig...)
		seal(b[offs[7]+1:offs[8]], KindMessagePosted, Hash{9})
		damage("valid record off the chain", b, first+7)
		damage("trailing bytes", append(append([]byte(nil), orig...), 1, 2, 3), 0)
		damage("records missing", orig[:offs[len(offs)-1]], 0)
		if _, err := l.VerifyChain(t.Context(), 0); err != nil {
			t.Fatalf("after the repairs: %v", err)
		}
	}
}

func TestVerifyChainCancel(t *testing.T) {
	defer func(n int) { verifyChunk = n }(verifyChunk)
	verifyChunk = 4096
	l := openT(t, t.TempDir(), Options{NoSync: true})
	appendN(t, l, 0, 200, 10)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.VerifyChain(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled before: %v", err)
	}
	ctx, cancel = context.WithCancel(t.Context())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	if _, err := l.VerifyChain(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled during a pause: %v", err)
	}
	big := chatEvent(200)
	big.Body.(*MessagePosted).Text = string(make([]byte, 3*verifyChunk)) // a record bigger than a chunk
	if _, _, err := l.Append(t.Context(), big, chatEvent(201)); err != nil {
		t.Fatal(err)
	}
	if res, err := l.VerifyChain(t.Context(), 0); err != nil || res.Records != 202 {
		t.Fatalf("VerifyChain = %+v, %v", res, err)
	}
	if res, err := openT(t, t.TempDir(), Options{NoSync: true}).VerifyChain(t.Context(), 0); err != nil || res != (VerifyResult{}) {
		t.Fatalf("empty log: %+v, %v", res, err)
	}
}

// TestVerifyChainAfterTrustedOpen: VerifyChain reads the segments a trusted
// Open skipped, and indexes them.
func TestVerifyChainAfterTrustedOpen(t *testing.T) {
	dir, cp := trustLog(t, 1000, 900)
	l, err := openTrusted(t, dir, cp, nil)
	if err != nil {
		t.Fatal(err)
	}
	unbuilt := func() (n int) {
		l.ix.mu.RLock()
		defer l.ix.mu.RUnlock()
		for _, s := range l.ix.segs {
			if !s.built {
				n++
			}
		}
		return n
	}
	if unbuilt() == 0 {
		t.Fatal("trusted Open indexed every segment")
	}
	res, err := l.VerifyChain(t.Context(), 0)
	if err != nil || res.From != 1 || res.To != 1000 {
		t.Fatalf("VerifyChain = %+v, %v", res, err)
	}
	if n := unbuilt(); n != 0 {
		t.Fatalf("%d segments still not indexed", n)
	}
	all := iterAll(t, l)
	for seq := uint64(1); seq <= 1000; seq += 37 {
		if ev, err := l.Read(seq); err != nil || ev.Index != all[seq-1].Index {
			t.Fatalf("Read(%d): %v", seq, err)
		}
	}
}
