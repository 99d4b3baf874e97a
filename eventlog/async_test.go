package eventlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestAppendAsyncOrderAndSeqs checks that AppendAsync calls are written in
// call order, each callback names its own records, callbacks run in order,
// and a synchronous Append interleaves without splitting one.
func TestAppendAsyncOrderAndSeqs(t *testing.T) {
	l, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type got struct{ first, last uint64 }
	var mu sync.Mutex
	var order []int
	res := map[int]got{}
	var wg sync.WaitGroup
	const calls = 200
	for i := 0; i < calls; i++ {
		wg.Add(1)
		evs := []Event{chatEvent(i), chatEvent(i)}
		if i%3 == 0 {
			evs = evs[:1]
		}
		i := i
		if err := l.AppendAsync(evs, func(first, last uint64, err error) {
			defer wg.Done()
			if err != nil {
				t.Errorf("call %d: %v", i, err)
			}
			mu.Lock()
			order = append(order, i)
			res[i] = got{first, last}
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			if _, _, err := l.Append(context.Background(), chatEvent(-1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	wg.Wait()
	var prevLast uint64
	for k, i := range order {
		if i != k {
			t.Fatalf("callback %d ran for call %d: callbacks out of order", k, i)
		}
		g := res[i]
		want := uint64(2)
		if i%3 == 0 {
			want = 1
		}
		if g.last-g.first+1 != want || g.first <= prevLast {
			t.Fatalf("call %d got records %d..%d after %d", i, g.first, g.last, prevLast)
		}
		prevLast = g.last
	}
	// The records read back are the calls' events in call order.
	it := 0
	for i := 0; i < calls; i++ {
		g := res[i]
		for s := g.first; s <= g.last; s++ {
			ev, err := l.Read(s)
			if err != nil {
				t.Fatal(err)
			}
			if b, ok := ev.Body.(*MessagePosted); !ok || b.ClientMsgID != fmt.Sprintf("cid-%d", i) {
				t.Fatalf("record %d is %s, want call %d's", s, ev.Body.Kind(), i)
			}
			it++
		}
	}
	if it == 0 {
		t.Fatal("nothing read back")
	}
}

// TestAppendAsyncAfterCloseAndOnPoison: a closed log refuses at once, and a
// write failure reaches the callback of every request in the failed commit.
func TestAppendAsyncAfterCloseAndOnPoison(t *testing.T) {
	fail := false
	l, err := Open(t.TempDir(), Options{NoSync: true, InjectFault: func(s FaultStage) error {
		if fail && s == FaultBeforeWrite {
			return errors.New("disk gone")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	fail = true
	done := make(chan error, 1)
	if err := l.AppendAsync([]Event{chatEvent(1)}, func(_, _ uint64, err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("a failed write was reported durable")
	}
	if err := l.AppendAsync([]Event{chatEvent(2)}, func(uint64, uint64, error) { t.Error("callback after a refusal") }); err == nil {
		t.Fatal("a poisoned log took an AppendAsync")
	}
	l.Close()
	if err := l.AppendAsync([]Event{chatEvent(3)}, func(uint64, uint64, error) { t.Error("callback after Close") }); !errors.Is(err, ErrClosed) && !errors.Is(err, ErrPoisoned) {
		t.Fatalf("AppendAsync after Close: %v", err)
	}
}
