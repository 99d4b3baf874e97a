package search

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Options configure an Index. The zero value is valid.
type Options struct {
	// FlushDocs is how many documents the memory segment holds before it is
	// written as a segment (default 65,536); FlushBytes bounds its postings
	// (default 32 MiB; a pair posting waiting in the pair log counts its
	// record's 8 bytes).
	FlushDocs  int
	FlushBytes int
	// MergeFactor: this many consecutive segments of one size class are
	// merged into one (default 4).
	MergeFactor int
	// NoSync skips fsync (benchmarks, tests).
	NoSync bool
	// NoMerge keeps segments as flushed (tests of several segments).
	NoMerge bool
	// PairsAfter is how many documents the first memory segment holds
	// when the pair words are chosen from them (default 2,048).
	PairsAfter int
	// Logger gets the index's log lines; nil discards them.
	Logger *slog.Logger
	// Check identifies a log entry (EntryCheck); the manifest records it
	// for the last entry covered. Nil: no check is recorded.
	Check func(entry uint64) (EntryCheck, error)
	// Background runs fn, the background merges, until it returns (the
	// node runs it at low CPU priority); nil: on a goroutine of its own.
	Background func(fn func())
}

func (o Options) normalized() Options {
	if o.FlushDocs <= 0 {
		o.FlushDocs = 1 << 16
	}
	if o.FlushBytes <= 0 {
		o.FlushBytes = 32 << 20
	}
	if o.PairsAfter <= 0 {
		o.PairsAfter = 2048
	}
	if o.MergeFactor < 2 {
		o.MergeFactor = 4
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// manifest is the index's record of what it holds (manifest.json), written
// whole and renamed into place: the segments in entry order and the last
// entry they cover. Entries after Covered are indexed again from the log.
type manifest struct {
	Version   int           `json:"version"`
	Tokenizer int           `json:"tokenizer"`
	Covered   uint64        `json:"covered"`
	Check     EntryCheck    `json:"check"`
	Next      uint64        `json:"next"` // the next segment's number
	Segments  []manifestSeg `json:"segments"`
	// PairWords are the words whose pairs are filed as terms of their
	// own (pairTerm), chosen once from the first documents: the same for
	// every segment after that.
	PairWords   []string `json:"pair_words,omitempty"`
	PairsChosen bool     `json:"pairs_chosen,omitempty"`
}

// EntryCheck identifies the log entry the index covers up to, so an index
// kept beside another log (a data directory restored or replaced) is
// rebuilt, not believed. The caller fills it in.
type EntryCheck struct {
	Term uint64 `json:"term"`
	Sum  uint32 `json:"sum"`
}

type manifestSeg struct {
	Name  string `json:"name"`
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
	Docs  uint32 `json:"docs"`
}

const manifestVersion = 2 // 2: pair terms (PairWords, segMeta.PairsFrom)

// Index is a node's search index: immutable segments on disk, newest
// documents in a memory segment, merged in the background. Documents are
// added in log order by one writer (Add); any number of searches run
// beside it. The index is derived state: it can be deleted at any time
// and rebuilt from the log.
type Index struct {
	dir  string
	opts Options

	mu      sync.RWMutex
	segs    []*segment // entry order; each holds a reference for the index
	mem     *memSegment
	covered uint64     // every entry up to it is indexed (in segs or mem)
	durable uint64     // covered by segs, as the manifest says
	check   EntryCheck // of the entry at durable (zero: unknown)
	next    uint64
	closed  bool

	writeMu sync.Mutex // one writer of the manifest and of segments at a time
	lock    *os.File   // flock'ed while open

	pairWords []string          // manifest.PairWords; nil: not chosen yet
	pairSet   map[uint64]uint16 // their hashes, numbered (pairIndexes)

	mergeC   chan struct{}
	mergeEnd chan struct{}
	mergeErr error
	// closing tells a merge in progress to give up: Close waits for the
	// merge goroutine, and a merge of the largest segments takes long
	// enough (seconds to minutes, niced) to hold up a node's stop.
	closing atomic.Bool
}

// Open opens the index in dir, creating it if needed. What cannot be used
// is dropped with a log line: a manifest of other rules or that does not
// decode empties the index; a damaged segment is dropped with every later
// one, and Covered goes back to the end of the last good one.
func Open(dir string, o Options) (*Index, error) {
	o = o.normalized()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// One process at a time: Open removes files no manifest names, which
	// would be another process's merge in progress.
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("search index %s is in use by another process: %w", dir, err)
	}
	x := &Index{dir: dir, opts: o, lock: lock, mergeC: make(chan struct{}, 1), mergeEnd: make(chan struct{})}
	var m manifest
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		lock.Close()
		return nil, err
	default:
		if jerr := json.Unmarshal(data, &m); jerr != nil {
			o.Logger.Warn("search index: manifest unreadable; rebuilding from the log", "dir", dir, "err", jerr)
			m = manifest{}
		} else if m.Version != manifestVersion || m.Tokenizer != TokenizerVersion {
			o.Logger.Info("search index: built by other rules; rebuilding from the log", "dir", dir,
				"version", m.Version, "tokenizer", m.Tokenizer)
			m = manifest{}
		}
	}
	x.next = m.Next
	x.covered, x.check = m.Covered, m.Check
	if m.PairsChosen {
		x.setPairWords(m.PairWords)
	}
	x.mem = newMemSegment(x.pairSet)
	live := map[string]bool{}
	for i, ms := range m.Segments {
		s, err := openSegment(dir, ms.Name)
		if err == nil && (s.meta.First != ms.First || s.meta.Last != ms.Last || s.meta.Docs != ms.Docs ||
			(i > 0 && ms.First != m.Segments[i-1].Last+1)) {
			s.close()
			err = fmt.Errorf("segment %s: %w: it is not what the manifest says", ms.Name, errDamaged)
		}
		if err != nil {
			o.Logger.Warn("search index: segment unusable; indexing its entries again", "dir", dir, "err", err)
			x.covered, x.check = 0, EntryCheck{}
			if i > 0 {
				x.covered = m.Segments[i-1].Last
			}
			break
		}
		x.segs = append(x.segs, s)
		live[ms.Name] = true
	}
	if len(x.segs) > 0 && x.covered < x.segs[len(x.segs)-1].meta.Last {
		x.covered = x.segs[len(x.segs)-1].meta.Last
	}
	if len(x.segs) < len(m.Segments) {
		// The check was of the manifest's covered entry; it no longer applies.
		x.check = EntryCheck{}
	}
	x.durable = x.covered
	// Files of unfinished or merged-away segments.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		n := e.Name()
		if base, _, ok := strings.Cut(n, "."); ok && strings.HasPrefix(n, "seg-") && !live[base] {
			os.Remove(filepath.Join(dir, n))
		}
	}
	if o.Background != nil {
		go o.Background(x.mergeLoop)
	} else {
		go x.mergeLoop()
	}
	return x, nil
}

// Covered is the last entry the index covers: documents of later entries
// are not in it yet.
func (x *Index) Covered() uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.covered
}

// Check is the last entry the manifest covers and what Options.Check said
// of it when it was written (zero: unknown). The owner compares it with
// its log: another log's entry there means the index is not of this log.
func (x *Index) Check() (entry uint64, check EntryCheck) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.durable, x.check
}

// Stats describes the index.
type Stats struct {
	Covered  uint64 // last entry indexed
	Durable  uint64 // last entry in segments on disk
	Segments int
	Docs     uint64 // documents in segments and in memory
	MemDocs  int
	Bytes    int64 // segment files on disk
}

func (x *Index) Stats() Stats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	st := Stats{Covered: x.covered, Durable: x.durable, Segments: len(x.segs), MemDocs: len(x.mem.docs)}
	st.Docs = uint64(len(x.mem.docs))
	for _, s := range x.segs {
		st.Docs += uint64(s.meta.Docs)
		for _, f := range s.meta.Files {
			st.Bytes += f.Size
		}
	}
	return st
}

// Reset empties the index (to rebuild it from the first entry).
func (x *Index) Reset() error {
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	x.mu.Lock()
	old := x.segs
	x.pairWords, x.pairSet = nil, nil
	x.segs, x.mem, x.covered, x.durable, x.check = nil, newMemSegment(nil), 0, 0, EntryCheck{}
	x.mu.Unlock()
	err := x.writeManifest()
	for _, s := range old {
		s.obsolete.Store(true)
		s.release()
	}
	return err
}

// Add and Flush are called by one goroutine, the writer.

// Add indexes docs, the documents of the entries after Covered up to and
// including covered, in entry order. When the memory segment is full it is
// written out as a segment.
func (x *Index) Add(docs []Doc, covered uint64) error {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return errors.New("search index closed")
	}
	if covered < x.covered {
		x.mu.Unlock()
		return fmt.Errorf("search index: entries up to %d added after %d", covered, x.covered)
	}
	for _, d := range docs {
		if d.Entry <= x.covered || d.Entry > covered {
			x.mu.Unlock()
			return fmt.Errorf("search index: document of entry %d outside %d..%d", d.Entry, x.covered+1, covered)
		}
	}
	if x.mem.first == 0 {
		x.mem.first = x.covered + 1
	}
	for _, d := range docs {
		x.mem.add(d)
		if x.pairWords == nil && len(x.mem.docs) == x.opts.PairsAfter {
			x.setPairWords(x.mem.pairWords())
			x.mem.setPairs(x.pairSet)
		}
	}
	x.mem.last = covered
	x.covered = covered
	full := len(x.mem.docs) >= x.opts.FlushDocs || x.mem.bytes >= x.opts.FlushBytes
	x.mu.Unlock()
	if full {
		return x.Flush()
	}
	return nil
}

// Flush writes the memory segment as a segment and records it in the
// manifest. Called by the writer (Add calls it when the memory is full; the
// owner calls it when idle or stopping).
func (x *Index) Flush() error {
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	x.mu.RLock()
	m := x.mem
	covered := x.covered
	x.mu.RUnlock()
	if covered == x.durable {
		return nil
	}
	check, err := x.entryCheck(covered)
	if err != nil {
		return err
	}
	if m.empty() {
		// Only entries without text: the manifest moves, no segment.
		x.mu.Lock()
		if x.mem == m {
			x.mem = newMemSegment(x.pairSet)
		}
		x.durable, x.check = covered, check
		x.mu.Unlock()
		return x.writeManifest()
	}
	x.mu.Lock()
	name := fmt.Sprintf("seg-%06d", x.next)
	x.next++
	x.mu.Unlock()
	// m is only read from here on: the writer (our caller) adds to the
	// next memory segment after we swap it.
	if err := writeMem(x.dir, name, m, !x.opts.NoSync); err != nil {
		return fmt.Errorf("search index: write %s: %w", name, err)
	}
	s, err := openSegment(x.dir, name)
	if err != nil {
		return fmt.Errorf("search index: reopen %s: %w", name, err)
	}
	x.mu.Lock()
	x.segs = append(x.segs, s)
	if x.mem == m {
		x.mem = newMemSegment(x.pairSet)
	}
	x.durable, x.check = m.last, check
	x.mu.Unlock()
	if err := x.writeManifest(); err != nil {
		return err
	}
	x.kickMerge()
	return nil
}

// setPairWords fixes the pair words. Holds mu for writing, or at Open.
func (x *Index) setPairWords(ws []string) {
	if ws == nil {
		ws = []string{}
	}
	x.pairWords, x.pairSet = ws, pairIndexes(ws)
}

func (x *Index) entryCheck(entry uint64) (EntryCheck, error) {
	if x.opts.Check == nil || entry == 0 {
		return EntryCheck{}, nil
	}
	c, err := x.opts.Check(entry)
	if err != nil {
		return c, fmt.Errorf("search index: check of entry %d: %w", entry, err)
	}
	return c, nil
}

// writeManifest records the segments and what they cover. Holds writeMu.
func (x *Index) writeManifest() error {
	x.mu.RLock()
	m := manifest{Version: manifestVersion, Tokenizer: TokenizerVersion, Covered: x.durable, Next: x.next, Check: x.check,
		PairWords: x.pairWords, PairsChosen: x.pairWords != nil}
	for _, s := range x.segs {
		m.Segments = append(m.Segments, manifestSeg{Name: s.name, First: s.meta.First, Last: s.meta.Last, Docs: s.meta.Docs})
	}
	x.mu.RUnlock()
	data, _ := json.MarshalIndent(m, "", " ")
	tmp := filepath.Join(x.dir, "manifest.json.tmp")
	if err := writeFileSync(tmp, data, !x.opts.NoSync); err != nil {
		return fmt.Errorf("search index: manifest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(x.dir, "manifest.json")); err != nil {
		return fmt.Errorf("search index: manifest: %w", err)
	}
	if !x.opts.NoSync {
		if d, err := os.Open(x.dir); err == nil {
			d.Sync()
			d.Close()
		}
	}
	return nil
}

func (x *Index) kickMerge() {
	if x.opts.NoMerge {
		return
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return
	}
	select {
	case x.mergeC <- struct{}{}:
	default:
	}
}

// sizeClass groups segments for merging: a flush's size and below is 0,
// then a class per MergeFactor times more documents.
func (x *Index) sizeClass(docs uint32) int {
	c := 0
	for n := uint64(x.opts.FlushDocs); uint64(docs) > n; n *= uint64(x.opts.MergeFactor) {
		c++
	}
	return c
}

// mergeLoop merges segments in the background: whenever the newest
// MergeFactor segments of one size class are consecutive, they become one.
// So a history of N documents is O(log N) segments, and every document is
// rewritten O(log N) times.
func (x *Index) mergeLoop() {
	defer close(x.mergeEnd)
	for range x.mergeC {
		for {
			merged, err := x.mergeOnce()
			if err != nil {
				x.opts.Logger.Warn("search index: merge failed; segments kept as they are", "dir", x.dir, "err", err)
				x.mu.Lock()
				x.mergeErr = err
				x.mu.Unlock()
				break
			}
			if !merged {
				break
			}
		}
	}
}

// mergeOnce merges one run of segments if there is one.
func (x *Index) mergeOnce() (bool, error) {
	x.writeMu.Lock()
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		x.writeMu.Unlock()
		return false, nil
	}
	f := x.opts.MergeFactor
	var run []*segment
	for end := len(x.segs); end >= f; end-- {
		c := x.sizeClass(x.segs[end-1].meta.Docs)
		k := end - 1
		for k > 0 && end-k < f && x.sizeClass(x.segs[k-1].meta.Docs) == c {
			k--
		}
		if end-k == f {
			run = append(run, x.segs[k:end]...)
			break
		}
	}
	if run == nil {
		x.mu.Unlock()
		x.writeMu.Unlock()
		return false, nil
	}
	for _, s := range run {
		s.acquire()
	}
	name := fmt.Sprintf("seg-%06d", x.next)
	x.next++
	x.mu.Unlock()
	// Flushes wait while the merge runs (writeMu); searches and Add do not.
	// A merge of the largest classes takes seconds, which Add's next flush
	// (at most FlushDocs later) may wait out.
	x.writeMu.Unlock()
	err := mergeSegments(x.dir, name, run, !x.opts.NoSync, &x.closing)
	var s *segment
	if err == nil {
		s, err = openSegment(x.dir, name)
	}
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	for _, r := range run {
		defer r.release()
	}
	if err != nil {
		removeSegment(x.dir, name)
		if errors.Is(err, errMergeStopped) {
			return false, nil // closing: the run stays as it was
		}
		return false, err
	}
	x.mu.Lock()
	i := 0
	for i < len(x.segs) && x.segs[i] != run[0] {
		i++
	}
	if i+len(run) > len(x.segs) || x.segs[i+len(run)-1] != run[len(run)-1] || x.closed {
		x.mu.Unlock() // reset or closed meanwhile
		s.obsolete.Store(true)
		s.release()
		return false, nil
	}
	segs := append([]*segment{}, x.segs[:i]...)
	segs = append(segs, s)
	segs = append(segs, x.segs[i+len(run):]...)
	x.segs = segs
	x.mu.Unlock()
	if err := x.writeManifest(); err != nil {
		return false, err
	}
	for _, r := range run {
		r.obsolete.Store(true)
		r.release() // the index's own reference
	}
	x.opts.Logger.Debug("search index: merged", "segments", len(run), "into", name, "docs", s.meta.Docs)
	return true, nil
}

// Close stops the background merge and closes the segments. It does not
// flush: the owner calls Flush first if it wants the memory segment kept.
func (x *Index) Close() error {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return nil
	}
	x.closed = true
	x.closing.Store(true)
	close(x.mergeC)
	x.mu.Unlock()
	<-x.mergeEnd
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, s := range x.segs {
		s.release()
	}
	x.segs = nil
	return x.lock.Close() // releases the flock
}

// Built is a segment Build wrote that is not yet part of the index.
type Built struct {
	s           *segment
	first, last uint64
}

// ChoosePairs fixes the pair words from docs (the first documents of a
// rebuild, before Build), if they are not chosen yet.
func (x *Index) ChoosePairs(docs []Doc) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.pairWords != nil {
		return
	}
	m := newMemSegment(nil)
	for _, d := range docs[:min(len(docs), x.opts.PairsAfter)] {
		d.prep = nil
		m.add(d)
	}
	x.setPairWords(m.pairWords())
}

// Build writes the documents of entries first..last as a segment, on the
// caller's goroutine, without touching the index: several Builds may run
// at once (a rebuild on every core). Append adds them in entry order.
func (x *Index) Build(docs []Doc, first, last uint64) (*Built, error) {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return nil, errors.New("search index closed")
	}
	pairs := x.pairSet
	name := fmt.Sprintf("seg-%06d", x.next)
	x.next++
	x.mu.Unlock()
	m := newMemSegment(pairs)
	m.first, m.last = first, last
	for _, d := range docs {
		if d.Entry < first || d.Entry > last {
			return nil, fmt.Errorf("search index: document of entry %d outside %d..%d", d.Entry, first, last)
		}
		m.add(d)
	}
	if err := writeMem(x.dir, name, m, !x.opts.NoSync); err != nil {
		return nil, fmt.Errorf("search index: write %s: %w", name, err)
	}
	s, err := openSegment(x.dir, name)
	if err != nil {
		return nil, fmt.Errorf("search index: reopen %s: %w", name, err)
	}
	return &Built{s: s, first: first, last: last}, nil
}

// Append adds a built segment: it must start right after Covered, with
// nothing in the memory segment (the writer Flushes first).
func (x *Index) Append(b *Built) error {
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	check, err := x.entryCheck(b.last)
	if err != nil {
		b.Discard()
		return err
	}
	x.mu.Lock()
	if x.closed || b.first != x.covered+1 || !x.mem.empty() {
		covered, closed := x.covered, x.closed
		x.mu.Unlock()
		b.Discard()
		return fmt.Errorf("search index: a built segment of entries %d..%d does not follow %d (closed %v)", b.first, b.last, covered, closed)
	}
	x.segs = append(x.segs, b.s)
	x.covered, x.durable, x.check = b.last, b.last, check
	x.mem = newMemSegment(x.pairSet)
	x.mu.Unlock()
	if err := x.writeManifest(); err != nil {
		return err
	}
	x.kickMerge()
	return nil
}

// Discard removes a built segment that will not be appended.
func (b *Built) Discard() {
	b.s.obsolete.Store(true)
	b.s.release()
}
