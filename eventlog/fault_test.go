package eventlog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

var errDisk = errors.New("disk failure (injected by test)")

// faultAt returns an InjectFault hook that fails stage from the commit
// numbered failAt on (1-based; 0 never), and counts the calls per stage.
type faultAt struct {
	stage  FaultStage
	failAt atomic.Int64
	calls  [3]atomic.Int64 // by stage
	trace  []FaultStage    // only read after the writer is done
}

func (f *faultAt) hook(stage FaultStage) error {
	n := f.calls[stage].Add(1)
	f.trace = append(f.trace, stage)
	if stage == f.stage && f.failAt.Load() != 0 && n >= f.failAt.Load() {
		return errDisk
	}
	return nil
}

// TestInjectFaultStages: the hook sees every commit's stages in order, with
// real fsync and with NoSync, and a hook that returns nil changes nothing.
func TestInjectFaultStages(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoSync=%v", noSync), func(t *testing.T) {
			dir := t.TempDir()
			var f faultAt
			l := openT(t, dir, Options{NoSync: noSync, SegmentSize: 1024, InjectFault: f.hook})
			appendN(t, l, 0, 12, 2) // 6 commits, several segment rolls
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			want := []FaultStage{}
			for range 6 {
				want = append(want, FaultBeforeWrite, FaultBeforeSync)
			}
			if !reflect.DeepEqual(f.trace, want) {
				t.Fatalf("stages %v, want %v", f.trace, want)
			}
			checkAll(t, dir, 12, t.Logf)
		})
	}
	if s := fmt.Sprint(FaultBeforeWrite, FaultBeforeSync, FaultStage(9)); s != "FaultBeforeWrite FaultBeforeSync FaultStage(9)" {
		t.Errorf("String: %s", s)
	}
}

// TestFaultPoisons: a failure at either stage fails that Append with the
// injected error and ErrPoisoned, poisons the Log for every later Append,
// and reports nothing of the batch as appended. Reopened, the log holds
// all of the failed batch (fsync failed after the write) or none of it
// (the write failed), and appends go on.
func TestFaultPoisons(t *testing.T) {
	for _, stage := range []FaultStage{FaultBeforeWrite, FaultBeforeSync} {
		for _, noSync := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/NoSync=%v", stage, noSync), func(t *testing.T) {
				dir := t.TempDir()
				f := faultAt{stage: stage}
				l := openT(t, dir, Options{NoSync: noSync, InjectFault: f.hook})
				appendN(t, l, 0, 10, 3)
				_, head := l.Head()
				seg := segPaths(t, dir)[0]
				before, _ := os.Stat(seg)

				f.failAt.Store(f.calls[stage].Load() + 1)
				evs := []Event{chatEvent(10), chatEvent(11), chatEvent(12)}
				first, last, err := l.Append(context.Background(), evs...)
				if !errors.Is(err, errDisk) || !errors.Is(err, ErrPoisoned) || first != 0 || last != 0 {
					t.Fatalf("failing Append = %d, %d, %v", first, last, err)
				}
				if !strings.Contains(err.Error(), stage.String()) {
					t.Errorf("error does not name the stage: %v", err)
				}
				f.failAt.Store(0) // the disk is fine again: the log stays poisoned
				if _, _, err := l.Append(context.Background(), chatEvent(10)); !errors.Is(err, ErrPoisoned) {
					t.Fatalf("Append after failure: %v, want ErrPoisoned", err)
				}
				if !errors.Is(l.Err(), errDisk) {
					t.Fatalf("Err() = %v", l.Err())
				}
				if seq, h := l.Head(); seq != 10 || h != head || l.LastSeq() != 10 {
					t.Fatalf("head moved to %d after a failed Append", seq)
				}
				if _, err := l.Read(11); !errors.Is(err, ErrNotFound) {
					t.Fatalf("Read(11) = %v, want ErrNotFound", err)
				}
				n := 0
				if err := l.Iter(1, func(uint64, Event) error { n++; return nil }); err != nil || n != 10 {
					t.Fatalf("Iter saw %d records, err %v", n, err)
				}
				after, _ := os.Stat(seg)
				if stage == FaultBeforeWrite && after.Size() != before.Size() {
					t.Fatalf("write failed but the file grew %d -> %d", before.Size(), after.Size())
				}
				if stage == FaultBeforeSync && after.Size() <= before.Size() {
					t.Fatalf("fsync failed after the write but the file did not grow (%d)", after.Size())
				}
				if err := l.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}

				want := 10
				if stage == FaultBeforeSync {
					want = 13 // written, then closed (tidwall/wal's Close fsyncs)
				}
				checkAll(t, dir, want, t.Logf)
				l2 := openT(t, dir, Options{NoSync: noSync})
				appendN(t, l2, want, 2, 1)
				l2.Close()
				checkAll(t, dir, want+2, t.Logf)
			})
		}
	}
}

// TestFaultConcurrent: many appenders, small segments, the fault hits one
// commit in the middle. Every acknowledged record is 1..LastSeq of the
// poisoned handle, every Append after the failure fails, and after reopening
// each failed Append is wholly present or wholly absent (absent for a write
// failure), right after the acknowledged ones.
func TestFaultConcurrent(t *testing.T) {
	for _, stage := range []FaultStage{FaultBeforeWrite, FaultBeforeSync} {
		t.Run(stage.String(), func(t *testing.T) {
			dir := t.TempDir()
			f := faultAt{stage: stage}
			f.failAt.Store(25)
			l := openT(t, dir, Options{SegmentSize: 4096, InjectFault: f.hook})
			type call struct {
				ids         []string
				first, last uint64
				err         error
			}
			var (
				mu    sync.Mutex
				calls []call
				wg    sync.WaitGroup
			)
			for g := range 6 {
				wg.Go(func() {
					for i := 0; ; i++ {
						evs := make([]Event, 1+(g+i)%3)
						c := call{}
						for j := range evs {
							evs[j] = chatEvent(i)
							id := fmt.Sprintf("g%d-%d-%d", g, i, j)
							evs[j].Body.(*MessagePosted).ClientMsgID = id
							c.ids = append(c.ids, id)
						}
						c.first, c.last, c.err = l.Append(context.Background(), evs...)
						mu.Lock()
						calls = append(calls, c)
						mu.Unlock()
						if c.err != nil {
							return
						}
					}
				})
			}
			wg.Wait()
			last := l.LastSeq()
			acked := map[uint64]string{}
			failed := map[string]int{} // id -> index of its call
			nFailed := 0
			for ci, c := range calls {
				if c.err != nil {
					nFailed++
				}
				if c.err == nil {
					for j, id := range c.ids {
						acked[c.first+uint64(j)] = id
					}
					continue
				}
				if !errors.Is(c.err, ErrPoisoned) {
					t.Fatalf("failed Append: %v", c.err)
				}
				for _, id := range c.ids {
					failed[id] = ci
				}
			}
			if uint64(len(acked)) != last || last == 0 {
				t.Fatalf("%d acknowledged records, LastSeq %d", len(acked), last)
			}
			for seq := uint64(1); seq <= last; seq++ {
				if _, ok := acked[seq]; !ok {
					t.Fatalf("seq %d not acknowledged but below LastSeq %d", seq, last)
				}
			}
			if _, _, err := l.Append(context.Background(), chatEvent(0)); !errors.Is(err, ErrPoisoned) {
				t.Fatalf("Append after failure: %v", err)
			}
			l.Close()

			l2 := openT(t, dir, Options{NoSync: true})
			seen := map[int]int{} // call index -> its records found after last
			err := l2.Iter(1, func(seq uint64, ev Event) error {
				id := ev.Body.(*MessagePosted).ClientMsgID
				if seq <= last {
					if acked[seq] != id {
						return fmt.Errorf("seq %d holds %s, acknowledged %s", seq, id, acked[seq])
					}
					return nil
				}
				ci, ok := failed[id]
				if !ok {
					return fmt.Errorf("seq %d holds %s, which no failed Append wrote", seq, id)
				}
				seen[ci]++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for ci, n := range seen {
				if n != len(calls[ci].ids) {
					t.Fatalf("failed Append of %d events: %d of them after reopen", len(calls[ci].ids), n)
				}
			}
			extra := l2.LastSeq() - last
			if stage == FaultBeforeWrite && extra != 0 {
				t.Fatalf("write failed, yet %d records of it after reopen", extra)
			}
			if stage == FaultBeforeSync && extra == 0 {
				t.Fatal("fsync failed after the write, yet nothing of the batch after reopen")
			}
			t.Logf("%d acknowledged, %d failed Appends, %d records of the failed batch after reopen", last, nFailed, extra)
		})
	}
}

// TestFaultThenTornWrite: the fsync failed, and a crash lost part of what
// was written: whatever prefix of the failed batch reached the disk, the
// reopened log holds whole records only, never part of one.
func TestFaultThenTornWrite(t *testing.T) {
	src := t.TempDir()
	f := faultAt{stage: FaultBeforeSync}
	l := openT(t, src, Options{InjectFault: f.hook})
	appendN(t, l, 0, 4, 2)
	seg := segPaths(t, src)[0]
	fi, _ := os.Stat(seg)
	good := int(fi.Size())
	f.failAt.Store(f.calls[FaultBeforeSync].Load() + 1)
	if _, _, err := l.Append(context.Background(), chatEvent(4), chatEvent(5), chatEvent(6)); !errors.Is(err, errDisk) {
		t.Fatalf("Append: %v", err)
	}
	l.Close()
	data, _ := os.ReadFile(seg)
	offs := append(entryOffsets(data), len(data))
	dir := copyDir(t, src)
	path := filepath.Join(dir, filepath.Base(seg))
	for cut := good; cut <= len(data); cut++ {
		near := false // every byte next to a record boundary, every 5th elsewhere
		for _, o := range offs {
			near = near || (cut >= o-2 && cut <= o+2)
		}
		if !near && cut%5 != 0 {
			continue
		}
		if err := os.WriteFile(path, data[:cut], 0o640); err != nil {
			t.Fatal(err)
		}
		whole := 0
		for _, o := range offs[1:] {
			if o <= cut {
				whole++
			}
		}
		var lines logLines
		checkAll(t, dir, whole, lines.logf)
		atBoundary := false
		for _, o := range offs {
			atBoundary = atBoundary || o == cut
		}
		if !atBoundary && !strings.Contains(lines.String(), "repaired torn tail") {
			t.Fatalf("cut %d inside a record, but no repair: %q", cut, lines.String())
		}
	}
}
