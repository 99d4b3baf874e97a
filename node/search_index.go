package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/lowprio"
	"github.com/syncnet/syncnet/node/search"
)

// searchIndexer keeps the node's search index (node/search, in
// <node>/search) up to date with the applied log, on goroutines of its own:
// the apply goroutine only publishes events, as to any subscriber.
//
//   - At start it opens the index and checks that it is of this log (the
//     entry it covers up to must be this log's entry there; an index ahead
//     of the log, or of another log, is emptied). Then it catches up from
//     the entry after the one the index covers to the applied one, reading
//     the entries from the WAL (all of them after a rebuild) at low CPU
//     priority, with a log line before and after; searches meanwhile say
//     the index is behind.
//   - Then it follows the applied entries through a subscription: posts,
//     direct messages and edits (their new text) are added in batches. A
//     dropped subscription (the indexer fell too far behind) is caught up
//     from the WAL again. The index's memory segment is written to disk
//     every 65,536 texts and when the node stops; whatever a crash loses is
//     caught up from the WAL at the next start.
//
// Deletions need nothing: every hit is checked against the message as
// history shows it now (Node.Search), so the index only proposes.
type searchIndexer struct {
	n    *Node
	x    atomic.Pointer[search.Index]
	mu   sync.Mutex
	st   string // api.SearchStatus.State
	stop context.CancelFunc
	done chan struct{}
	// catchUps counts catch-ups from the WAL (the first, and one after
	// each dropped subscription): the benchmark's proof the index kept up.
	catchUps atomic.Int64
}

// searchBatch is how many entries a catch-up reads from the WAL at once.
const searchBatch = 4096

// startSearch starts the indexer; stop ends it and closes the index after
// writing what it holds in memory.
func (n *Node) startSearch(ctx context.Context) (stop func()) {
	s := &n.search
	s.n = n
	if n.opts.NoSearch {
		s.setState("off")
		return func() {}
	}
	s.setState("opening")
	ctx, s.stop = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		// The index's work (tokens, postings, merges) runs at low CPU
		// priority: on a busy machine posts come first and the index lags.
		_ = lowprio.Run(func() error { s.run(ctx); return nil })
	}()
	return func() {
		s.stop()
		<-s.done
	}
}

func (s *searchIndexer) setState(st string) {
	s.mu.Lock()
	s.st = st
	s.mu.Unlock()
}

func (s *searchIndexer) state() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st == "" {
		return "off"
	}
	return s.st
}

// index is the open index, or nil.
func (s *searchIndexer) index() *search.Index { return s.x.Load() }

func (s *searchIndexer) run(ctx context.Context) {
	n := s.n
	log := n.log.With("part", "search")
	dir := filepath.Join(n.cfg.NodeDir(n.id), "search")
	x, err := search.Open(dir, search.Options{Logger: log, Check: n.entryCheck,
		Background: func(fn func()) { _ = lowprio.Run(func() error { fn(); return nil }) }})
	if err != nil {
		s.setState("failed: " + err.Error())
		log.Error("search index: cannot open; search is off until the next start", "dir", dir, "err", err)
		return
	}
	defer func() {
		if err := x.Flush(); err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("search index: not written at stop; the next start catches up from the log", "err", err)
		}
		s.x.Store(nil)
		x.Close()
	}()
	if why := s.foreign(x); why != "" {
		log.Info("search index: not of this log; rebuilding", "why", why)
		if err := x.Reset(); err != nil {
			s.setState("failed: " + err.Error())
			log.Error("search index: cannot reset", "err", err)
			return
		}
	}
	s.x.Store(x)
	for ctx.Err() == nil {
		s.catchUps.Add(1)
		sub := n.subscribers.subscribe(api.Filter{}, 8192)
		err := s.catchUp(ctx, x, log)
		if err == nil {
			s.setState("ready")
			err = s.follow(ctx, x, sub)
		}
		sub.Close()
		if err != nil && ctx.Err() == nil {
			s.setState("failed: " + err.Error())
			log.Error("search index: stopped; search answers from what it holds until the next start", "err", err)
			return
		}
	}
}

// foreign says why x is not an index of this node's log, or "".
func (s *searchIndexer) foreign(x *search.Index) string {
	entry, check := x.Check()
	applied := s.n.applied.Load()
	if x.Covered() > applied {
		return fmt.Sprintf("it covers entry %d, beyond the %d applied", x.Covered(), applied)
	}
	if entry == 0 || check == (search.EntryCheck{}) {
		return ""
	}
	got, err := s.n.entryCheck(entry)
	if err != nil {
		return fmt.Sprintf("entry %d cannot be read: %v", entry, err)
	}
	if got != check {
		return fmt.Sprintf("entry %d differs from the one it was built from", entry)
	}
	return ""
}

// entryCheck identifies entry i of this node's log for the index's
// manifest.
func (n *Node) entryCheck(i uint64) (search.EntryCheck, error) {
	if err := n.reader.waitDurable(i); err != nil {
		return search.EntryCheck{}, err
	}
	var c search.EntryCheck
	err := n.reader.events(i, i, func(ev eventlog.Event) error {
		var b []byte
		b = binary.LittleEndian.AppendUint64(b, ev.Lamport)
		b = binary.LittleEndian.AppendUint64(b, uint64(ev.Time))
		b = binary.LittleEndian.AppendUint16(b, uint16(ev.Kind()))
		b = append(b, ev.Author...)
		b = append(b, 0)
		b = append(b, ev.RequestID...)
		c = search.EntryCheck{Term: ev.Term, Sum: crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))}
		return nil
	})
	return c, err
}

// docOfEntry is the text an entry read from the WAL adds, if any.
func docOfEntry(ev eventlog.Event) (search.Doc, bool) {
	switch b := ev.Body.(type) {
	case *eventlog.MessagePosted:
		return search.Doc{Entry: ev.Index, Message: ev.Index, Conv: b.Room, From: b.From, Time: ev.Time, Text: b.Text}, true
	case *eventlog.DirectMessage:
		return search.Doc{Entry: ev.Index, Message: ev.Index, Conv: api.DMRoom(b.From, b.To), From: b.From, Time: ev.Time, Text: b.Text}, true
	case *eventlog.MessageEdited:
		return search.Doc{Entry: ev.Index, Message: b.Target, Conv: b.Conv, From: b.By, Text: b.Text}, true
	}
	return search.Doc{}, false
}

// docOfEvent is the text an applied event adds, if any.
func docOfEvent(e api.Event) (search.Doc, bool) {
	switch {
	case e.Kind == api.EventMessage:
		m := e.Message
		return search.Doc{Entry: e.Index, Message: e.Index, Conv: m.Room, From: m.From, Time: m.Time.UnixNano(), Text: m.Text}, true
	case e.Kind == api.EventMessageChanged && e.Change != nil && e.Change.Op == api.ChangeEdit:
		c := e.Change
		return search.Doc{Entry: e.Index, Message: c.Target, Conv: c.Conv, From: c.By, Text: c.Text}, true
	}
	return search.Doc{}, false
}

// catchUp indexes the entries after the index's covered one up to the
// applied one, from the WAL: one goroutine reads and decodes, another
// indexes, both at low priority.
func (s *searchIndexer) catchUp(ctx context.Context, x *search.Index, log interface {
	Info(string, ...any)
}) error {
	n := s.n
	from, to := x.Covered()+1, n.applied.Load()
	if from > to {
		return nil
	}
	what := "catching up"
	if from == 1 {
		what = "rebuilding"
	}
	s.setState(what)
	log.Info("search index: "+what+" from the log", "from", from, "to", to)
	began := time.Now()
	var texts int
	var err error
	if to-from+1 >= 2*searchChunk {
		texts, err = s.catchUpParallel(ctx, x, from, to)
	} else {
		texts, err = s.catchUpSerial(ctx, x, from, to)
	}
	if err != nil {
		return err
	}
	took := time.Since(began)
	log.Info("search index: caught up", "entries", to-from+1, "texts", texts, "took", took.Round(time.Millisecond),
		"entries_per_s", int(float64(to-from+1)/max(took.Seconds(), 1e-6)))
	return nil
}

// searchChunk is how many entries one builder of a long catch-up indexes
// into a segment of its own (a variable for tests).
var searchChunk uint64 = 1 << 16

// catchUpParallel indexes a long run of entries on every core: one
// goroutine reads and decodes chunks of searchChunk entries, two build a
// segment of each, and this one appends them in entry order. All at low
// priority.
func (s *searchIndexer) catchUpParallel(ctx context.Context, x *search.Index, from, to uint64) (int, error) {
	if err := x.Flush(); err != nil { // Append needs the memory segment empty
		return 0, err
	}
	type chunk struct {
		seq         int
		docs        []search.Doc
		first, last uint64
	}
	type result struct {
		seq   int
		b     *search.Built
		texts int
		err   error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan chunk, 1)
	results := make(chan result, 4)
	readErr := make(chan error, 1)
	go func() {
		readErr <- lowprio.Run(func() error {
			defer close(chunks)
			for seq, first := 0, from; first <= to; seq, first = seq+1, first+searchChunk {
				last := min(to, first+searchChunk-1)
				var docs []search.Doc
				for b := first; b <= last; b += searchBatch {
					var err error
					if docs, err = s.readDocs(b, min(last, b+searchBatch-1), docs); err != nil {
						return err
					}
				}
				if seq == 0 {
					x.ChoosePairs(docs) // before any Build
				}
				select {
				case chunks <- chunk{seq, docs, first, last}:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	}()
	var builders sync.WaitGroup
	for range 2 {
		builders.Add(1)
		go func() {
			defer builders.Done()
			_ = lowprio.Run(func() error {
				for ch := range chunks {
					if err := ctx.Err(); err != nil {
						// Stopping: build nothing more (a build is
						// seconds of niced CPU, and the node's stop
						// waits for this goroutine).
						results <- result{seq: ch.seq, err: err}
						continue
					}
					b, err := x.Build(ch.docs, ch.first, ch.last)
					results <- result{seq: ch.seq, b: b, texts: len(ch.docs), err: err}
				}
				return nil
			})
		}()
	}
	go func() {
		builders.Wait()
		close(results)
	}()
	pending := map[int]result{}
	next, texts := 0, 0
	var err error
	for r := range results {
		if r.err == nil {
			r.err = ctx.Err() // stopping: append nothing more
		}
		switch {
		case err != nil || r.err != nil:
			if err == nil {
				err = r.err
				cancel()
			}
			if r.b != nil {
				r.b.Discard()
			}
			continue
		}
		pending[r.seq] = r
		for p, ok := pending[next]; ok; p, ok = pending[next] {
			delete(pending, next)
			next++
			if aerr := x.Append(p.b); aerr != nil {
				err = aerr
				cancel()
				break
			}
			texts += p.texts
		}
	}
	for _, p := range pending {
		p.b.Discard()
	}
	if rerr := <-readErr; err == nil && rerr != nil && !errors.Is(rerr, context.Canceled) {
		err = rerr
	}
	if err == nil && x.Covered() < to {
		err = fmt.Errorf("search index: catch-up ended at entry %d of %d", x.Covered(), to)
	}
	return texts, err
}

// catchUpSerial indexes a short run of entries: one goroutine reads,
// decodes and tokenizes, another files the tokens.
func (s *searchIndexer) catchUpSerial(ctx context.Context, x *search.Index, from, to uint64) (int, error) {
	batches := make(chan []search.Doc, 4)
	lasts := make(chan uint64, 4)
	readErr := make(chan error, 1)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		readErr <- lowprio.Run(func() error {
			defer close(batches)
			prep := search.NewPreparer()
			for first := from; first <= to; first += searchBatch {
				last := min(to, first+searchBatch-1)
				docs, err := s.readDocs(first, last, make([]search.Doc, 0, searchBatch))
				if err != nil {
					return err
				}
				prep.Prepare(docs) // the tokens, here: the indexer only files them
				select {
				case batches <- docs:
					lasts <- last
				case <-rctx.Done():
					return rctx.Err()
				}
			}
			return nil
		})
	}()
	texts := 0
	err := lowprio.Run(func() error {
		for docs := range batches {
			last := <-lasts
			if err := x.Add(docs, last); err != nil {
				return err
			}
			texts += len(docs)
		}
		return nil
	})
	cancel()
	if rerr := <-readErr; err == nil && !errors.Is(rerr, context.Canceled) {
		err = rerr
	}
	return texts, err
}

// readDocs reads the texts of entries first..last from the WAL.
func (s *searchIndexer) readDocs(first, last uint64, docs []search.Doc) ([]search.Doc, error) {
	if err := s.n.reader.waitDurable(last); err != nil {
		return docs, err
	}
	err := s.n.reader.events(first, last, func(ev eventlog.Event) error {
		if d, ok := docOfEntry(ev); ok {
			docs = append(docs, d)
		}
		return nil
	})
	if err != nil {
		return docs, fmt.Errorf("search index: reading entries %d..%d: %w", first, last, err)
	}
	return docs, nil
}

// follow adds the texts of applied entries as their events come, until
// the subscription is dropped (nil: catch up again) or ctx ends.
//
// Events come in index order, and every applied entry after the first
// event has its events in the queue; but an entry applied while the
// subscription was made may have been published just before it. So the
// entries between the index's last one and the first event are read from
// the WAL. The index covers up to the last event seen: entries without
// events after it are covered when the next event comes.
func (s *searchIndexer) follow(ctx context.Context, x *search.Index, sub *subscription) error {
	var docs []search.Doc
	first := true
	for {
		var e api.Event
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case e, ok = <-sub.C():
		}
		docs = docs[:0]
		last := x.Covered()
		for ok {
			if e.Index > last {
				if first && e.Index > last+1 {
					var err error
					if docs, err = s.readDocs(last+1, e.Index-1, docs); err != nil {
						return err
					}
				}
				first = false
				if d, ok := docOfEvent(e); ok {
					docs = append(docs, d)
				}
				last = e.Index
			}
			if len(docs) >= searchBatch {
				break
			}
			select {
			case e, ok = <-sub.C():
				continue
			default:
			}
			break
		}
		if err := x.Add(docs, last); err != nil {
			return err
		}
		if !ok {
			return nil // dropped: catch up from the WAL
		}
	}
}

// searchStatus is what SearchStatus reports.
func (s *searchIndexer) status(applied uint64) api.SearchStatus {
	st := api.SearchStatus{State: s.state(), Applied: applied}
	if x := s.index(); x != nil {
		is := x.Stats()
		st.Indexed, st.Docs, st.Segments, st.Bytes = is.Covered, is.Docs, is.Segments, is.Bytes
	}
	return st
}
