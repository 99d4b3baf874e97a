package walcmd

import (
	"fmt"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/state"
)

// problem is one violation found in a log.
type problem struct {
	file   string
	seq    uint64 // WAL sequence number, 0 if not about one record
	reason string
}

func (p problem) String() string {
	if p.seq == 0 {
		return fmt.Sprintf("%s: %s", p.file, p.reason)
	}
	return fmt.Sprintf("%s index %d: %s", p.file, p.seq, p.reason)
}

// termInfo is what one WAL says about one election term.
type termInfo struct {
	startSeq  uint64 // first TermStarted record for it (0 if none)
	startTime int64
	leader    string // from LeaderElected
	leaderSeq uint64
	vote      string // from VoteCast
	voteSeq   uint64
}

// analysis is one WAL folded: the effective replicated log (node/state's
// own fold, honouring SuffixDiscarded) plus what the audit needs on top.
type analysis struct {
	src     *source
	rep     eventlog.ScanReport
	log     state.ReplicatedLog
	records uint64
	kinds   []uint64 // records per kind, indexed by kind
	local   []uint64 // local-only records (Index 0) per kind
	terms   map[uint64]*termInfo
	first   int64 // wall times of the first and last timed record
	last    int64

	all      bool // keep going after a problem (verify --all)
	problems []problem

	fold *folder // if not nil, fed committed entries during the scan
	sent uint64  // entries fed to it

	lampNext  uint64 // entries checked by checkLamport
	lampLast  uint64 // the last Lamport time seen along them
	lampIndex uint64 // and its cluster index
}

// analyze scans src once, folding every record. Without all it stops at the
// first invariant violation. A scan error (corruption, unreadable record) is
// returned as is; records before it have been folded. If f is not nil,
// committed entries are applied to it as the scan finds their commit record;
// it is closed and waited for before analyze returns.
func analyze(e *env, src *source, what string, all bool, f *folder) (*analysis, error) {
	a := &analysis{src: src, all: all, kinds: make([]uint64, 1<<16), local: make([]uint64, 1<<16),
		terms: map[uint64]*termInfo{}, fold: f}
	// Sized up front: growing a slice of a million entries costs more than
	// decoding them.
	a.log.Entries = make([]state.Entry, 0, src.estimateRecords())
	rep, err := src.scan(e, what, a.add)
	a.rep = rep
	if f != nil {
		f.wait()
	}
	return a, err
}

// add folds one record; it returns errStop at the first problem unless all.
func (a *analysis) add(seq uint64, ev eventlog.Event, _ eventlog.Hash) error {
	a.records++
	a.kinds[ev.Kind()]++
	if ev.Time != 0 {
		if a.first == 0 {
			a.first = ev.Time
		}
		a.last = ev.Time
	}
	if ev.Index == 0 {
		a.local[ev.Kind()]++
		a.addLocal(seq, ev)
	}
	if err := a.log.Add(seq, ev); err != nil {
		a.report(seq, err.Error())
	}
	a.checkLamport()
	if a.fold != nil && a.log.Commit > a.sent && len(a.problems) == 0 {
		// Entries[sent:Commit] are final: later appends and discards only
		// touch slots above the commit index, so the goroutine may read them.
		a.fold.feed <- a.log.Entries[a.sent:a.log.Commit]
		a.sent = a.log.Commit
	}
	if len(a.problems) > 0 && !a.all {
		return errStop
	}
	return nil
}

func (a *analysis) report(seq uint64, reason string) {
	a.problems = append(a.problems, problem{file: a.src.fileOf(seq), seq: seq, reason: reason})
}

func (a *analysis) term(t uint64) *termInfo {
	ti := a.terms[t]
	if ti == nil {
		ti = &termInfo{}
		a.terms[t] = ti
	}
	return ti
}

// addLocal checks election records: one leader and one vote per term in any
// one node's log (I1).
func (a *analysis) addLocal(seq uint64, ev eventlog.Event) {
	switch b := ev.Body.(type) {
	case *eventlog.TermStarted:
		if ti := a.term(b.Term); ti.startSeq == 0 {
			ti.startSeq, ti.startTime = seq, ev.Time
		}
	case *eventlog.LeaderElected:
		ti := a.term(b.Term)
		if ti.leader != "" && ti.leader != b.Leader {
			a.report(seq, fmt.Sprintf("two leaders in term %d: %q (record %d) and %q (I1)", b.Term, ti.leader, ti.leaderSeq, b.Leader))
			return
		}
		ti.leader, ti.leaderSeq = b.Leader, seq
	case *eventlog.VoteCast:
		ti := a.term(b.Term)
		if ti.vote != "" && ti.vote != b.Candidate {
			a.report(seq, fmt.Sprintf("two votes in term %d: for %q (record %d) and for %q (I1)", b.Term, ti.vote, ti.voteSeq, b.Candidate))
			return
		}
		ti.vote, ti.voteSeq = b.Candidate, seq
	}
}

// checkLamport checks that Lamport times grow strictly along the committed
// entries (I6), as far as the commit index has reached: entries at or below
// it never change again. Entries with Lamport 0 (a leader's no-op) carry no
// time and are skipped.
func (a *analysis) checkLamport() {
	for ; a.lampNext < a.log.Commit; a.lampNext++ {
		en := a.log.Entries[a.lampNext]
		if en.Event.Lamport == 0 {
			continue
		}
		if en.Event.Lamport <= a.lampLast {
			a.report(en.Seq, fmt.Sprintf("Lamport time %d at cluster index %d does not grow past %d at index %d (I6)",
				en.Event.Lamport, en.Event.Index, a.lampLast, a.lampIndex))
		}
		a.lampLast, a.lampIndex = en.Event.Lamport, en.Event.Index
	}
}

// firstProblem turns the first problem into the exit error that replay,
// export, stats and diff give: their output would be built on a log that
// breaks its own rules.
func (a *analysis) firstProblem() error {
	if len(a.problems) == 0 {
		return nil
	}
	return exitf(ExitProblem, "%s\n(the log breaks its invariants; 'syncnet wal verify --all %s' lists every problem)",
		a.problems[0], a.src.arg)
}

// load opens and analyzes DIR for the subcommands that need a sound log,
// feeding f (if not nil) on the way.
func load(e *env, arg, what string, f *folder) (*analysis, error) {
	src, err := openSource(e, arg)
	if err != nil {
		return nil, err
	}
	a, err := analyze(e, src, what, false, f)
	if err != nil {
		return nil, readError(src, err)
	}
	if err := a.firstProblem(); err != nil {
		return nil, err
	}
	warnTorn(e, a.rep)
	return a, nil
}
