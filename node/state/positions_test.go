package state

import (
	"reflect"
	"strings"
	"testing"

	"github.com/syncnet/syncnet/eventlog"
)

// A WAL as the fold sees it: records at seq 1.., some entries written, a
// discard, the discarded indexes written again. Read finds the last version
// of each, and a gap in the writes makes every read fail.
func TestEntryPositions(t *testing.T) {
	var wal []eventlog.Event // wal[seq-1]
	var p EntryPositions
	write := func(index, term uint64) {
		wal = append(wal, eventlog.Event{Header: eventlog.Header{Index: index, Term: term}})
		p.Wrote(index, uint64(len(wal)))
	}
	local := func() { wal = append(wal, eventlog.Event{}) } // a local record, no index
	for i := uint64(1); i <= 40; i++ {
		write(i, 1)
		if i%7 == 0 {
			local()
		}
	}
	p.Discard(30)
	local()
	for i := uint64(30); i <= 50; i++ {
		write(i, 2)
	}
	read := func(lo, hi uint64, fn func(uint64, eventlog.Event) error) error {
		for s := lo; s <= hi; s++ {
			if err := fn(s, wal[s-1]); err != nil {
				return err
			}
		}
		return nil
	}
	want := []uint64{1, 2, 16, 29, 30, 31, 32, 48, 50}
	evs, err := p.Read(want, read)
	if err != nil {
		t.Fatal(err)
	}
	for k, ev := range evs {
		term := uint64(1)
		if want[k] >= 30 {
			term = 2
		}
		if ev.Index != want[k] || ev.Term != term {
			t.Errorf("entry %d: got %d/%d, want term %d", want[k], ev.Index, ev.Term, term)
		}
	}
	if _, err := p.Read([]uint64{51}, read); err == nil {
		t.Error("read beyond the last entry")
	}
	p.Wrote(53, uint64(len(wal)+1)) // 51 and 52 never written
	if _, err := p.Read([]uint64{5}, read); err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Errorf("read after a gap: %v", err)
	}
}

// WroteAll records what Wrote one entry at a time records, gaps and
// rewrites after a discard included.
func TestEntryPositionsWroteAll(t *testing.T) {
	var one, all EntryPositions
	seqs := []uint64{}
	for i := uint64(1); i <= 70; i++ {
		seqs = append(seqs, 3*i)
		one.Wrote(i, 3*i)
	}
	all.WroteAll(1, seqs[:40])
	all.WroteAll(41, seqs[40:])
	one.Discard(33)
	all.Discard(33)
	for i := uint64(33); i <= 49; i++ {
		one.Wrote(i, 500+i)
	}
	all.WroteAll(33, []uint64{533, 534, 535, 536, 537, 538, 539, 540, 541, 542, 543, 544, 545, 546, 547, 548, 549})
	if !reflect.DeepEqual(one.samples, all.samples) || one.last != all.last || one.lastSeq != all.lastSeq || one.first != all.first || one.broken || all.broken {
		t.Fatalf("WroteAll: %+v\nWrote: %+v", &all, &one)
	}
	one.Wrote(60, 1000)
	all.WroteAll(60, []uint64{1000})
	if !one.broken || !all.broken {
		t.Fatal("a gap not noticed")
	}
}
