package eventlog

import (
	"errors"
	"fmt"
	"log"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Log. The zero value is the production default; every
// field documents its default.
type Options struct {
	// SegmentSize is the target size of a WAL segment file in bytes.
	// Default 20 MiB (tidwall/wal's default); at most 1 GiB.
	SegmentSize int
	// MaxBatchCount bounds how many records one group commit writes with one
	// fsync. Default 1024. One Append with more events is still written whole.
	MaxBatchCount int
	// MaxBatchBytes bounds the bytes of one group commit. Default 4 MiB,
	// capped at 32 MiB (torn-tail repair never cuts more than one batch).
	MaxBatchBytes int
	// NoSync skips fsync. Default false. For tests and benchmarks only: with
	// it, Append no longer means durable and I4 does not hold.
	NoSync bool
	// SnapshotKeep is how many snapshot files WriteSnapshot keeps (the
	// newest). Default 2.
	SnapshotKeep int
	// Logf receives the few lines the log writes (torn-tail repair).
	// Default log.Printf.
	Logf func(format string, args ...any)

	// Trust, if set, is a checkpoint the caller trusts, typically taken from
	// its newest snapshot (SnapshotInfo.Seq and .Hash): Open then verifies
	// only the segment file holding record Trust.Seq and every later one
	// (never reading the earlier files), and requires the chain hash of
	// record Trust.Seq to be Trust.Hash. If Trust.Seq is not in the log or
	// its hash differs, Open fails with an error wrapping ErrCheckpoint and
	// changes nothing; the caller then opens without Trust (full
	// verification). Default nil: verify every record.
	Trust *Checkpoint

	// InjectFault is for fault-injection tests only; production code leaves
	// it nil. If set, the Log's writer goroutine calls it at each FaultStage
	// of every group commit, one call at a time, and a non-nil error stands
	// for the disk failing at that stage: every Append of that commit fails
	// with it (wrapped, with ErrPoisoned) and the Log is poisoned, exactly as
	// for a real write or fsync error. It must not call Append or Close.
	InjectFault func(stage FaultStage) error
}

func (o Options) withDefaults() Options {
	if o.SegmentSize <= 0 {
		o.SegmentSize = 20 << 20
	}
	o.SegmentSize = min(o.SegmentSize, 1<<30) // the sparse index holds 32-bit offsets
	if o.MaxBatchCount <= 0 {
		o.MaxBatchCount = 1024
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = 4 << 20
	}
	o.MaxBatchBytes = min(o.MaxBatchBytes, 32<<20)
	if o.SnapshotKeep <= 0 {
		o.SnapshotKeep = 2
	}
	if o.Logf == nil {
		o.Logf = log.Printf
	}
	return o
}

// Checkpoint names a record and its chain hash (as HashAt returns it).
type Checkpoint struct {
	Seq  uint64
	Hash Hash
}

// Errors of a Log.
var (
	// ErrCheckpoint is wrapped by Open's error when Options.Trust does not
	// match the log: its record is not there or has another chain hash.
	ErrCheckpoint = errors.New("eventlog: checkpoint does not match the log")
	ErrClosed     = errors.New("eventlog: log closed")
	ErrNotFound   = errors.New("eventlog: no record at that sequence number")
	// ErrPoisoned is wrapped by every Append after a write or fsync error.
	// Nothing more is written until the Log is closed and reopened (which
	// repairs any torn tail the failed write left).
	ErrPoisoned = errors.New("eventlog: log poisoned by an earlier write error; reopen it")
)

// Log is the append-only event log of one node: checksummed, hash-chained
// records in a directory of tidwall/wal's layout (the Log writes its
// segment files itself: tailFile). Its methods are safe for concurrent use.
type Log struct {
	dir  string
	opts Options
	lock *os.File

	reqs    chan *request
	closing chan struct{}

	amu       sync.Mutex    // guards async and aclosed
	async     []*request    // AppendAsync's queue, in call order
	aclosed   bool          // Close began: AppendAsync refuses
	asyncWake chan struct{} // a request joined async (capacity 1)
	stopped   chan struct{}

	ix *segIndex // sparse offset index of the segment files; readers pread through it

	mu        sync.Mutex // guards the fields below
	verified  uint64     // first sequence number a trusted Open verified; 0: first
	first     uint64     // first sequence number (0 while empty)
	last      uint64     // last acknowledged (durable) sequence number
	head      Hash       // hash of record last
	poison    error      // sticky write error
	closed    bool
	closeOnce sync.Once
	closeErr  error

	snapMu   sync.Mutex     // serialises WriteSnapshot
	snapHook func(snapStep) // crash tests only: called after each step of a snapshot write

	batches atomic.Uint64                       // group commits written
	records atomic.Uint64                       // records written by them
	onSync  atomic.Pointer[func(time.Duration)] // ObserveSync: called with each fsync's duration

	// Owned by the writer goroutine (and Close, after it stopped).
	tail      *tailFile
	wbuf      []byte // one group commit's bytes as they go to the files
	cuts      []cut  // where in wbuf a new segment file starts
	tailBytes int    // bytes of the tail segment, counting the commit being built
	tailFirst uint64 // first sequence number of the tail segment
	ixEvents  []ixEvent
}

// Open opens (creating if needed) the log in dir. Before it appends to the
// directory it takes dir/LOCK, verifies every record (CRC,
// kind, hash chain; I8) — with Options.Trust, every record from the segment
// file holding the checkpoint on — and cuts a torn tail back to the last
// good record, logging one line. Damage anywhere it looked is a
// *CorruptError and Open fails; a checkpoint that does not match is
// ErrCheckpoint.
func Open(dir string, opts Options) (*Log, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("eventlog: create %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	l, err := open(dir, opts, lock)
	if err != nil {
		unlockDir(lock)
		return nil, err
	}
	return l, nil
}

func open(dir string, opts Options, lock *os.File) (*Log, error) {
	var (
		st  dirState
		err error
	)
	if opts.Trust != nil {
		st, err = verifyTrusted(dir, *opts.Trust)
	} else {
		st, err = verifyDir(dir, nil)
	}
	if err != nil {
		return nil, err
	}
	if st.torn != nil {
		if err := repairTail(st.torn); err != nil {
			return nil, err
		}
		opts.Logf("eventlog: repaired %s", st.torn)
	}
	l := &Log{dir: dir, opts: opts, lock: lock,
		reqs: make(chan *request), closing: make(chan struct{}), stopped: make(chan struct{}), asyncWake: make(chan struct{}, 1),
		first: st.first, last: st.last, head: st.head}
	if opts.Trust != nil {
		l.verified = st.segs[st.start].first
	}
	l.ix = newIndex(dir, st)
	last := l.ix.segs[len(l.ix.segs)-1]
	tail, err := openTail(dir, last.first, last.end, len(st.segs) == 0)
	if err != nil {
		return nil, err
	}
	l.tail, l.tailFirst, l.tailBytes = tail, last.first, int(last.end)
	go l.run()
	return l, nil
}

// verifyTrusted verifies the segment file holding record t.Seq and every
// later one, and checks t against the chain.
func verifyTrusted(dir string, t Checkpoint) (dirState, error) {
	segs, err := listSegments(dir)
	if err != nil {
		return dirState{}, err
	}
	start := sort.Search(len(segs), func(i int) bool { return segs[i].first > t.Seq }) - 1
	if t.Seq == 0 || start < 0 {
		first := uint64(0)
		if len(segs) > 0 {
			first = segs[0].first
		}
		return dirState{}, fmt.Errorf("%w: %s: record %d is not in the log (its first segment starts at %d)", ErrCheckpoint, dir, t.Seq, first)
	}
	st, err := verifySegs(segs, start, t.Seq, nil)
	if err != nil {
		return dirState{}, err
	}
	if t.Seq > st.last || !st.foundWant {
		return dirState{}, fmt.Errorf("%w: %s: record %d is not in the log (it holds %d..%d)", ErrCheckpoint, dir, t.Seq, st.first, st.last)
	}
	if st.want != t.Hash {
		return dirState{}, fmt.Errorf("%w: %s: record %d has chain hash %s, the checkpoint says %s", ErrCheckpoint, dir, t.Seq, st.want.Short(), t.Hash.Short())
	}
	return st, nil
}

// repairTail cuts the torn tail of a segment file and makes the cut durable.
func repairTail(t *TornTail) error {
	f, err := os.OpenFile(t.File, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("eventlog: repair torn tail: %w", err)
	}
	err = f.Truncate(t.Offset)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("eventlog: repair torn tail of %s: %w", t.File, err)
	}
	return nil
}

// Dir returns the directory the log lives in.
func (l *Log) Dir() string { return l.dir }

// FirstSeq returns the sequence number of the first record, 0 if empty.
func (l *Log) FirstSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first
}

// VerifiedFrom returns the first sequence number whose record Open verified:
// FirstSeq after a full verification, the first record of the segment file
// holding the checkpoint after a trusted Open (Options.Trust). Records
// before it were checked only by the checkpoint's hash,
// which vouches for them through the chain; ReadRange still checks each
// record it reads, and VerifyChain checks them all.
func (l *Log) VerifiedFrom() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.verified == 0 {
		return l.first
	}
	return l.verified
}

// LastSeq returns the sequence number of the last durable record, 0 if empty.
func (l *Log) LastSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// Head returns the last durable record's sequence number and chain hash
// (0 and the zero hash if empty). Status shows it as the node's log hash.
func (l *Log) Head() (uint64, Hash) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last, l.head
}

// Err returns the sticky write error that poisoned the log, or nil.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.poison
}

func (l *Log) bounds() (first, last uint64, head Hash, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, 0, Hash{}, ErrClosed
	}
	return l.first, l.last, l.head, nil
}

// Stats counts the writer's work since Open.
type Stats struct {
	Batches uint64 // group commits (WriteBatch + fsync)
	Records uint64 // records they wrote
}

// Stats returns the writer's counters since Open.
func (l *Log) Stats() Stats {
	return Stats{Batches: l.batches.Load(), Records: l.records.Load()}
}

// ObserveSync has f called, on the writer goroutine, with the duration of
// every group commit's fsync (for a metrics histogram; f must be quick).
// nil stops it.
func (l *Log) ObserveSync(f func(time.Duration)) {
	if f == nil {
		l.onSync.Store(nil)
		return
	}
	l.onSync.Store(&f)
}

// Close stops the writer (appends still queued get ErrClosed), closes the
// WAL and releases the directory lock. It is safe to call more than once.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		l.amu.Lock()
		l.aclosed = true
		l.amu.Unlock()
		close(l.closing)
		<-l.stopped
		for _, r := range l.takeAsync() { // queued, never written
			r.answer(ErrClosed)
		}
		err := l.tail.close()
		if err != nil && l.Err() == nil {
			l.closeErr = fmt.Errorf("eventlog: close %s: %w", l.dir, err)
		}
		if err := l.ix.closeFiles(); err != nil && l.closeErr == nil {
			l.closeErr = fmt.Errorf("eventlog: close %s: %w", l.dir, err)
		}
		if err := unlockDir(l.lock); err != nil && l.closeErr == nil {
			l.closeErr = fmt.Errorf("eventlog: unlock %s: %w", l.dir, err)
		}
	})
	return l.closeErr
}
