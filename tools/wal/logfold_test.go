package walcmd

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/state"
)

// randomRecords returns n WAL records as a follower's and a leader's logs
// mix them: entries, commit records (sometimes lagging, sometimes past the
// end), term records, discards of uncommitted suffixes, and now and then a
// record that breaks a rule (a gap, a rewrite, a term going back, a discard
// below the commit index or past the end).
func randomRecords(rng *rand.Rand, n int) []eventlog.Event {
	var out []eventlog.Event
	var last, commit, term uint64 = 0, 0, 1
	for len(out) < n {
		switch p := rng.IntN(100); {
		case p < 60:
			idx, t := last+1, term
			switch rng.IntN(40) {
			case 0:
				idx += 1 + uint64(rng.IntN(3)) // a gap
			case 1:
				if last > 0 {
					idx = 1 + uint64(rng.IntN(int(last))) // a rewrite
				}
			case 2:
				if t > 1 {
					t-- // a term going back
				}
			}
			out = append(out, eventlog.Event{Header: eventlog.Header{Origin: "node1", Term: t, Index: idx, Lamport: uint64(len(out))},
				Body: &eventlog.MessagePosted{Room: "general", From: "alice", Text: fmt.Sprint(len(out)), ClientMsgID: fmt.Sprint(len(out))}})
			if idx == last+1 && t >= term {
				last = idx
			}
		case p < 75:
			c := commit + uint64(rng.IntN(int(last-commit)+1))
			if rng.IntN(10) == 0 {
				c = last + uint64(rng.IntN(5)) // past the end: capped
			}
			out = append(out, eventlog.Event{Body: &eventlog.CommittedUpTo{Index: c}})
			commit = max(commit, min(c, last))
		case p < 85:
			from := commit + 1 + uint64(rng.IntN(int(last-commit)+1))
			switch rng.IntN(15) {
			case 0:
				from = uint64(rng.IntN(int(commit) + 1)) // at or below the commit index, or 0
			case 1:
				from = last + 2 + uint64(rng.IntN(3)) // past the end
			}
			out = append(out, eventlog.Event{Body: &eventlog.SuffixDiscarded{FromIndex: from, Term: term}})
			if from > commit && from <= last+1 {
				last = from - 1
			}
		case p < 90:
			term += uint64(rng.IntN(2))
			out = append(out, eventlog.Event{Body: &eventlog.TermStarted{Term: term + uint64(rng.IntN(2))}})
		default:
			out = append(out, eventlog.Event{Body: &eventlog.NodeSuspected{NodeEvent: eventlog.NodeEvent{Node: "node2"}}})
		}
	}
	return out
}

// logFold must compute what node/state.ReplicatedLog computes, record by
// record: the same errors, commit index, discard count, highest term and
// last index; the entries it has released must always be the effective
// log's first entries and covered by the commit index; it must hold no more
// than the uncommitted entries; and at the end it must have released the
// effective log exactly, each entry once, committed or not as it is.
func TestLogFoldMatchesReplicatedLog(t *testing.T) {
	var errs, discards, records int
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		recs := randomRecords(rng, 50+rng.IntN(2000))
		records += len(recs)
		var rl state.ReplicatedLog
		var released []state.Entry
		var flags []bool
		checked := 0
		lf := logFold{release: func(en state.Entry, _ []byte, committed bool) {
			released = append(released, en)
			flags = append(flags, committed)
		}}
		for i, ev := range recs {
			seq := uint64(i + 1)
			want, got := rl.Add(seq, ev), lf.Add(seq, ev)
			if fmt.Sprint(want) != fmt.Sprint(got) {
				t.Fatalf("seed %d record %d (%s): ReplicatedLog says %v, logFold %v", seed, seq, ev.Describe(), want, got)
			}
			if rl.Commit != lf.Commit || rl.Discarded != lf.Discarded || rl.MaxTerm != lf.MaxTerm || rl.LastIndex() != lf.LastIndex() {
				t.Fatalf("seed %d record %d: ReplicatedLog commit %d discarded %d max term %d last %d; logFold %d %d %d %d",
					seed, seq, rl.Commit, rl.Discarded, rl.MaxTerm, rl.LastIndex(), lf.Commit, lf.Discarded, lf.MaxTerm, lf.LastIndex())
			}
			// Entries at or below ReplicatedLog's commit index never change:
			// comparing each released entry once is enough.
			if uint64(len(released)) != rl.Commit || !sameEntries(released[checked:], rl.Entries[checked:len(released)]) {
				t.Fatalf("seed %d record %d: released %d entries, commit index %d, or not the log's first entries", seed, seq, len(released), rl.Commit)
			}
			checked = len(released)
			if want != nil {
				errs++
			}
			if _, ok := ev.Body.(*eventlog.SuffixDiscarded); ok && want == nil {
				discards++
			}
			if uint64(lf.win.len()) != rl.LastIndex()-rl.Commit {
				t.Fatalf("seed %d record %d: window holds %d entries, %d are uncommitted", seed, seq, lf.win.len(), rl.LastIndex()-rl.Commit)
			}
		}
		lf.finish()
		if !sameEntries(released, rl.Entries) {
			t.Fatalf("seed %d: released entries differ from the effective log", seed)
		}
		for i, c := range flags {
			if c != (uint64(i) < rl.Commit) {
				t.Fatalf("seed %d: entry %d released as committed=%v, commit index %d", seed, i+1, c, rl.Commit)
			}
		}
	}
	t.Logf("%d records, %d refused, %d discards", records, errs, discards)
	if errs == 0 || discards == 0 {
		t.Fatal("the random logs exercise neither refusals nor discards")
	}
}

func sameEntries(x, y []state.Entry) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i].Seq != y[i].Seq || !reflect.DeepEqual(x[i].Event, y[i].Event) {
			return false
		}
	}
	return true
}
