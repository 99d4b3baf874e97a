package walcmd

import (
	"fmt"
	"sort"

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

// analysis is one WAL folded: the effective replicated log (logFold, which
// applies node/state.ReplicatedLog's rules in a window; see there) plus what
// the audit needs on top. Nothing in it grows with the number of records:
// per-kind counts, one termInfo and one termSpan per election term, the
// first maxListed problems.
type analysis struct {
	src     *source
	rep     eventlog.ScanReport
	log     logFold
	records uint64
	kinds   []uint64 // records per kind, indexed by kind
	local   []uint64 // local-only records (Index 0) per kind
	terms   map[uint64]*termInfo
	spans   termSpans // the effective log's entries per term
	first   int64     // wall times of the first and last timed record
	last    int64

	opts     foldOpts
	problems problems

	lampLast  uint64 // the last Lamport time seen along committed entries
	lampIndex uint64 // and its cluster index

	// hash is the log hash over the committed entries (with opts.hash).
	hash logHash
	data []byte // an entry's entry form, for the hash; reused
}

// foldOpts says what analyze does besides folding.
type foldOpts struct {
	// all keeps going after a problem (verify --all).
	all bool
	// fold, if not nil, is fed every committed entry as soon as the
	// CommittedUpTo record covering it is read, and then, with tail, the
	// uncommitted tail when the scan is over. It is closed and waited for
	// before analyze returns.
	fold *folder
	tail bool
	// emit, if not nil, is called with every committed entry in index
	// order, on the scan's goroutine (diff).
	emit func(state.Entry)
	// bar, if not nil, is the progress bar the scan advances (diff's one
	// bar for all its logs); otherwise the scan makes its own.
	bar *progress
	// hash computes the log hash of the committed entries (verify, diff).
	hash bool
}

// analyze scans src once, folding every record. Without opts.all it stops at
// the first invariant violation. A scan error (corruption, unreadable record)
// is returned as is; records before it have been folded.
func analyze(e *env, src *source, what string, opts foldOpts) (*analysis, error) {
	a := &analysis{src: src, opts: opts, kinds: make([]uint64, 1<<16), local: make([]uint64, 1<<16),
		terms: map[uint64]*termInfo{}}
	a.log.release = a.final
	// The fold and diff need every entry's event; verify needs the events
	// of the local records only, and of the entries their headers and (for
	// the log hash) their entry form, spliced from the record.
	decode := opts.fold != nil || opts.emit != nil
	rep, r, err := src.scanChecked(e, what, opts.bar, opts.fold != nil, decode, a.addChecked)
	if r != nil {
		opts.fold.msgs.setReader(r) // closed by folder.close
	}
	a.rep = rep
	a.log.finish()
	if f := opts.fold; f != nil {
		f.wait()
	}
	probeMemory()
	return a, err
}

// addChecked folds one record, decoding its event only when something
// reads more than its header: a local record (the fold and the election
// checks read their bodies), or any record when the scan decodes them all.
func (a *analysis) addChecked(r *eventlog.CheckedRecord) error {
	var ev eventlog.Event
	if r.Index == 0 || a.decodes() {
		var err error
		if ev, err = r.Event(); err != nil {
			return err
		}
	} else {
		ev.Header = eventlog.Header{Term: r.Term, Index: r.Index, Lamport: r.Lamport, Time: r.Time}
	}
	var data []byte
	if a.opts.hash && r.Index != 0 && r.Kind != eventlog.KindNoOp {
		var err error
		if a.data, err = r.AppendEntryForm(a.data[:0]); err != nil {
			return fmt.Errorf("eventlog: %s index %d: entry form: %w", a.src.dir, r.Seq, err)
		}
		data = a.data
	}
	return a.add(r.Seq, r.Kind, ev, data)
}

func (a *analysis) decodes() bool { return a.opts.fold != nil || a.opts.emit != nil }

// add folds one record of kind k (ev's body may be left out for an entry
// when nothing reads it), with data its entry form when the log hash is
// computed; it returns errStop at the first problem unless all.
func (a *analysis) add(seq uint64, k eventlog.Kind, ev eventlog.Event, data []byte) error {
	a.records++
	a.kinds[k]++
	if ev.Time != 0 {
		if a.first == 0 {
			a.first = ev.Time
		}
		a.last = ev.Time
	}
	if ev.Index == 0 {
		a.local[k]++
		a.addLocal(seq, ev)
	}
	if err := a.log.addData(seq, ev, data); err != nil {
		a.report(seq, err.Error())
	}
	a.log.settle() // final releases what the commit index now covers
	if a.problems.n > 0 && !a.opts.all {
		return errStop
	}
	return nil
}

// final receives the entries of the effective log from logFold, once each,
// in index order, as they become final.
func (a *analysis) final(en state.Entry, data []byte, committed bool) {
	a.spans.add(en.Event)
	if committed {
		a.checkLamport(en)
		if a.opts.hash {
			a.hash.addData(en.Event.Index, en.Event.Term, data)
		}
		if a.opts.emit != nil {
			a.opts.emit(en)
		}
	}
	if f := a.opts.fold; f != nil && (committed || a.opts.tail) && a.problems.n == 0 {
		f.add(en)
	}
}

func (a *analysis) report(seq uint64, reason string) {
	a.problems.add(problem{file: a.src.fileOf(seq), seq: seq, reason: reason})
}

// problems keeps the first maxListed problems in WAL order (a Lamport
// problem is found when its entry is committed, after problems of later
// records may have been) and counts them all: with --all, one missing entry
// makes every later one a problem.
type problems struct {
	list  []problem // sorted by seq, stable: in the order found for one seq
	n     int       // problems found
	found problem   // the first one found
}

func (p *problems) add(pr problem) {
	if p.n == 0 {
		p.found = pr
	}
	p.n++
	i := sort.Search(len(p.list), func(i int) bool { return p.list[i].seq > pr.seq })
	if i == maxListed {
		return
	}
	p.list = append(p.list, problem{})
	copy(p.list[i+1:], p.list[i:])
	p.list[i] = pr
	if len(p.list) > maxListed {
		p.list = p.list[:maxListed]
	}
}

// termSpan is what the effective log holds of one term: how many entries,
// and the cluster indexes of its first and last.
type termSpan struct{ entries, first, last uint64 }

// termSpans counts the effective log's entries per term as they become
// final, in index order.
type termSpans struct {
	byTerm  map[uint64]*termSpan
	cur     *termSpan // the last term seen: terms never decrease along the log
	curTerm uint64
}

func (s *termSpans) add(ev eventlog.Event) {
	if s.cur == nil || ev.Term != s.curTerm {
		if s.byTerm == nil {
			s.byTerm = map[uint64]*termSpan{}
		}
		s.cur, s.curTerm = s.byTerm[ev.Term], ev.Term
		if s.cur == nil {
			s.cur = &termSpan{first: ev.Index}
			s.byTerm[ev.Term] = s.cur
		}
	}
	s.cur.entries++
	s.cur.last = ev.Index
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
// entries (I6), each as it is committed: entries at or below the commit
// index never change again. Entries with Lamport 0 (a leader's no-op) carry
// no time and are skipped.
func (a *analysis) checkLamport(en state.Entry) {
	if en.Event.Lamport == 0 {
		return
	}
	if en.Event.Lamport <= a.lampLast {
		a.report(en.Seq, fmt.Sprintf("Lamport time %d at cluster index %d does not grow past %d at index %d (I6)",
			en.Event.Lamport, en.Event.Index, a.lampLast, a.lampIndex))
	}
	a.lampLast, a.lampIndex = en.Event.Lamport, en.Event.Index
}

// firstProblem turns the first problem into the exit error that replay,
// export, stats and diff give: their output would be built on a log that
// breaks its own rules.
func (a *analysis) firstProblem() error {
	if a.problems.n == 0 {
		return nil
	}
	return exitf(ExitProblem, "%s\n(the log breaks its invariants; 'syncnet wal verify --all %s' lists every problem)",
		a.problems.found, a.src.arg)
}

// load opens and analyzes DIR for the subcommands that need a sound log.
func load(e *env, arg, what string, opts foldOpts) (*analysis, error) {
	src, err := openSource(e, arg)
	if err != nil {
		return nil, err
	}
	return loadSource(e, src, what, opts)
}

// loadSource is load of an opened source.
func loadSource(e *env, src *source, what string, opts foldOpts) (*analysis, error) {
	a, err := analyze(e, src, what, opts)
	if err != nil {
		return nil, readError(src, err)
	}
	if err := a.firstProblem(); err != nil {
		return nil, err
	}
	warnTorn(e, a.rep)
	return a, nil
}
