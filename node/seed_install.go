package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/lowprio"
	"github.com/syncnet/syncnet/node/peer"
	"github.com/syncnet/syncnet/node/replica"
)

// seedIfEmpty runs before a node opens its WAL: if the WAL holds nothing
// and a peer has committed entries, it copies the peer's log (seed.go). It
// fails only on a local disk error; a peer that cannot be reached or a
// transfer that breaks off leaves the node to start empty and catch up
// through the replica, as before.
func seedIfEmpty(ctx context.Context, o Options) error {
	cfg, log := o.Config, o.Logger
	walDir := cfg.WALDir(o.ID)
	empty, err := walIsEmpty(walDir)
	if err != nil || !empty {
		return err
	}
	secret, err := cfg.SecretBytes()
	if err != nil {
		return err
	}
	var dials []peer.StreamDial
	if o.Join != "" {
		d, err := joinDial(ctx, o, secret)
		if err != nil {
			return fmt.Errorf("--join %s: %w; nothing was created", o.Join, err)
		}
		dials = append(dials, d)
	}
	for _, m := range cfg.Nodes {
		if m.ID != o.ID && (len(dials) == 0 || m.ID != dials[0].Peer) {
			dials = append(dials, peer.StreamDial{ID: o.ID, Secret: secret, Peer: m.ID, Addr: addr(m.Host, m.PeerPort),
				Timeout: cfg.Timing.ConnectTimeout.Duration, TLS: o.TLS})
		}
	}
	offers := askOffers(ctx, dials, log)
	if len(offers) == 0 {
		log.Info("WAL is empty and no peer has committed entries to copy; starting empty")
		return nil
	}
	var said []string
	for _, c := range offers {
		s := fmt.Sprintf("%s=%d", c.dial.Peer, c.offer.commit)
		if c.offer.leader {
			s += "(leader)"
		}
		said = append(said, s)
	}
	log.Info("WAL is empty; peers offer a copy of their log", "offers", strings.Join(said, " "))
	for _, c := range offers {
		err := seedFrom(ctx, o, c.dial, walDir)
		if err == nil {
			return nil
		}
		var disk *seedDiskError
		if errors.As(err, &disk) {
			return err
		}
		log.Warn("copying the log from a peer failed; trying the next", "peer", c.dial.Peer, "err", err)
	}
	log.Warn("no peer could send a copy of its log; starting empty and catching up through replication")
	return nil
}

// seedDiskError is a local failure while seeding: the node stops.
type seedDiskError struct{ err error }

func (e *seedDiskError) Error() string { return "seed: " + e.err.Error() }
func (e *seedDiskError) Unwrap() error { return e.err }

// walIsEmpty reports whether a WAL directory holds no record (or does not
// exist).
func walIsEmpty(dir string) (bool, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	l, err := eventlog.Open(dir, eventlog.Options{NoSync: true})
	if err != nil {
		return false, err
	}
	last := l.LastSeq()
	return last == 0, l.Close()
}

type offerFrom struct {
	dial  peer.StreamDial
	offer seedOffer
}

// offerWait bounds how long a peer may take to answer for its offer.
const offerWait = 2 * time.Second

// askOffers asks every peer at once what it can send and returns the ones
// with committed entries, best first: a follower within seedSlack entries
// of the most before the leader (the leader serves the cluster's writes),
// then by entries.
func askOffers(ctx context.Context, dials []peer.StreamDial, log *slog.Logger) []offerFrom {
	var mu sync.Mutex
	var out []offerFrom
	var wg sync.WaitGroup
	for _, d := range dials {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := peer.DialStream(ctx, d, seedRequest(seedAskOffer))
			if err != nil {
				log.Info("no offer from a peer", "peer", d.Peer, "err", err)
				return
			}
			defer s.Close()
			s.SetTimeout(offerWait)
			typ, p, err := s.Recv()
			if err == nil && typ != seedManifest {
				err = fmt.Errorf("%w: answer of type %d", errSeedFrame, typ)
			}
			var o seedOffer
			if err == nil {
				o, err = decodeSeedOffer(p)
			}
			if err != nil {
				log.Info("no offer from a peer", "peer", d.Peer, "err", err)
				return
			}
			if o.commit == 0 {
				return
			}
			mu.Lock()
			out = append(out, offerFrom{dial: d, offer: o})
			mu.Unlock()
		}()
	}
	wg.Wait()
	most := uint64(0)
	for _, c := range out {
		most = max(most, c.offer.commit)
	}
	rank := func(c offerFrom) int {
		if !c.offer.leader && c.offer.commit+seedSlack >= most {
			return 0
		}
		return 1
	}
	slices.SortFunc(out, func(a, b offerFrom) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		switch {
		case a.offer.commit > b.offer.commit:
			return -1
		case a.offer.commit < b.offer.commit:
			return 1
		}
		return 0
	})
	return out
}

// seedSlack is how many entries fewer than the best offer a follower may
// have and still be preferred to the leader: the replica sends the rest.
const seedSlack = 65536

// seedBatchBytes is how many bytes of entries the receiver hands the WAL
// writer at a time.
const seedBatchBytes = 1 << 20

// seedLowWater is how many bytes wait on the transfer's socket before its
// receiver is woken (peer.Stream.SetReadLowWater; its read buffer's size).
const seedLowWater = 256 << 10

// seedFrom copies a peer's log into a staging directory and installs it.
func seedFrom(ctx context.Context, o Options, d peer.StreamDial, walDir string) error {
	nodeDir := o.Config.NodeDir(o.ID)
	staging := filepath.Join(nodeDir, "seed.tmp")
	if err := os.RemoveAll(staging); err != nil {
		return &seedDiskError{err}
	}
	if err := os.MkdirAll(staging, 0o700); err != nil {
		return &seedDiskError{err}
	}
	defer os.RemoveAll(staging)
	s, err := peer.DialStream(ctx, d, seedRequest(seedAskTransfer))
	if err != nil {
		return err
	}
	defer s.Close()
	// The sender only sends, then closes: the receiver may be woken once
	// per seedLowWater bytes instead of per TLS record.
	if err := s.SetReadLowWater(seedLowWater); err != nil {
		o.Logger.Debug("seed: no low-water mark on the stream", "err", err)
	}
	// The copy runs at low priority (the receiver and the WAL writer): this
	// node serves nothing yet, and on a shared machine the others' posts
	// come first.
	in := &seedInstall{o: o, staging: staging, from: d.Peer, lowPrio: true}
	if err := lowprio.Run(func() error { return in.receive(sharedStream{s}) }); err != nil {
		return err
	}
	return in.install(walDir)
}

// seedInstall is one transfer being received.
type seedInstall struct {
	o       Options
	staging string
	from    string

	// restore: the transfer comes from a backup (restore.go); newCluster:
	// every node of a new cluster is restored, none is a learner.
	restore, newCluster bool
	// lowPrio: the WAL writer runs at low priority too (lowprio).
	lowPrio bool
	// crashAfter, in tests, stops install after the named step as a crash
	// would (TestSeedInstallCrashAtEveryStep).
	crashAfter func(step string) bool

	offer   seedOffer
	state   []byte
	chunks  *os.File
	chunksN uint64
	bulk    *eventlog.Bulk
	base    uint64        // B: the snapshot's base entry (0: none)
	atBase  eventlog.Hash // chain hash of record B, for the trusted open
	hash    logHash
	next    uint64 // the next entry expected
	maxTerm uint64
	// members: the latest membership entry at or below the state's entry,
	// for the node's own snapshot (nil: the configured membership).
	members *memberConf

	// The WAL writer runs beside the receiver: one batch is appended (and
	// fsynced) while the next is received and checked. The writer hands
	// each batch back once written (free), and the receiver reuses it.
	batch   *seedBatch
	batches chan *seedBatch
	free    chan *seedBatch
	written chan struct{} // closed when the writer is done
	failed  atomic.Bool   // the writer met werr
	werr    error         // set by the writer before written is closed
}

// seedSource is the stream a transfer arrives on (a peer stream, a
// backup). A payload is only valid until the next Recv.
type seedSource interface {
	Recv() (uint8, []byte, error)
}

// sharedStream receives a peer stream's frames into one buffer.
type sharedStream struct{ *peer.Stream }

func (s sharedStream) Recv() (uint8, []byte, error) { return s.RecvShared() }

func (in *seedInstall) receive(s seedSource) error {
	typ, p, err := s.Recv()
	if err != nil {
		return err
	}
	if typ == seedError {
		return fmt.Errorf("%w: %s", errSeedRefused, p)
	}
	if typ != seedManifest {
		return fmt.Errorf("%w: frame type %d before the manifest", errSeedFrame, typ)
	}
	if in.offer, err = decodeSeedOffer(p); err != nil {
		return err
	}
	o := in.offer
	what := "copying the log from a peer (this node's WAL is empty)"
	if in.restore {
		what = "restoring the log from a backup"
	}
	in.o.Logger.Info(what, "from", in.from, "entries", o.commit,
		"snapshot_applied", o.applied, "state_bytes", o.stateLen, "chunk_bytes", o.chunksLen)
	if in.chunks, err = os.OpenFile(filepath.Join(in.staging, "chunks"), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600); err != nil {
		return &seedDiskError{err}
	}
	defer in.chunks.Close()
	if in.bulk, err = eventlog.CreateBulk(filepath.Join(in.staging, "wal"), eventlog.Options{NoSync: in.o.NoSync}); err != nil {
		return &seedDiskError{err}
	}
	in.base = o.applied / entrySample * entrySample
	in.batches, in.free, in.written = make(chan *seedBatch, 4), make(chan *seedBatch, 6), make(chan struct{})
	if in.lowPrio {
		lowprio.Go(in.writer)
	} else {
		go in.writer()
	}
	err = in.entries(s)
	close(in.batches)
	<-in.written
	if in.werr != nil {
		err = in.werr
	}
	if cerr := in.bulk.Close(); err == nil && cerr != nil {
		err = &seedDiskError{cerr}
	}
	if err == nil {
		err = in.finish()
	}
	return err
}

// entries receives everything after the manifest up to seedEnd.
func (in *seedInstall) entries(s seedSource) error {
	o := in.offer
	in.next = 1
	began, lastLog := time.Now(), time.Now()
	for {
		typ, p, err := s.Recv()
		if err != nil {
			return err
		}
		switch typ {
		case seedState:
			if uint64(len(in.state)+len(p)) > o.stateLen || in.chunksN > 0 || in.next > 1 {
				return fmt.Errorf("%w: state bytes out of place", errSeedFrame)
			}
			in.state = append(in.state, p...)
		case seedChunks:
			if uint64(len(in.state)) != o.stateLen || in.chunksN+uint64(len(p)) > o.chunksLen || in.next > 1 {
				return fmt.Errorf("%w: chunk file bytes out of place", errSeedFrame)
			}
			if _, err := in.chunks.Write(p); err != nil {
				return &seedDiskError{err}
			}
			in.chunksN += uint64(len(p))
		case seedEntries:
			if uint64(len(in.state)) != o.stateLen || in.chunksN != o.chunksLen {
				return fmt.Errorf("%w: entries before the state", errSeedFrame)
			}
			if err := decodeSeedEntries(p, in.entry); err != nil {
				return err
			}
			if time.Since(lastLog) >= 2*time.Second {
				lastLog = time.Now()
				done := in.next - 1
				in.o.Logger.Info("copying the log", "peer", in.from, "entries", done, "of", o.commit,
					"percent", done*100/max(o.commit, 1), "per_second", int(float64(done)/time.Since(began).Seconds()))
			}
		case seedEnd:
			c, k := binary.Uvarint(p)
			if k <= 0 || c != o.commit || in.next != o.commit+1 {
				return fmt.Errorf("%w: transfer ended at entry %d of %d", errSeedFrame, in.next-1, o.commit)
			}
			if err := in.flush(); err != nil {
				return err
			}
			in.o.Logger.Info("log copied", "peer", in.from, "entries", o.commit, "took", time.Since(began).Round(time.Millisecond))
			return nil
		case seedError:
			return fmt.Errorf("%w: %s", errSeedRefused, p)
		default:
			return fmt.Errorf("%w: frame type %d", errSeedFrame, typ)
		}
	}
}

// entry checks one received entry and adds it to the batch.
func (in *seedInstall) entry(e replica.Entry) error {
	if e.Index != in.next || e.Index > in.offer.commit {
		return fmt.Errorf("%w: entry %d where %d was due (of %d)", errSeedFrame, e.Index, in.next, in.offer.commit)
	}
	if e.Term < in.maxTerm {
		return fmt.Errorf("%w: entry %d of term %d after term %d", errSeedFrame, e.Index, e.Term, in.maxTerm)
	}
	b := in.batch
	if b == nil {
		b = in.newBatch()
	}
	var ev eventlog.Event
	switch e.Type {
	case replica.EntryNoop:
		ev = eventlog.Event{Header: eventlog.Header{Index: e.Index, Term: e.Term}, Body: &eventlog.NoOp{}}
	case replica.EntryNormal:
		// The event refers to its data until the writer is done with the
		// batch, and e.Data to a frame the next Recv may overwrite: the
		// data is copied into the batch's buffer first.
		data := b.hold(e.Data)
		var err error
		if ev, err = eventlog.EntryEvent(data, e.Index, e.Term); err != nil {
			return fmt.Errorf("entry %d from %s: %w", e.Index, in.from, err)
		}
		if ev.Kind() == eventlog.KindMembershipChanged && e.Index <= in.offer.applied {
			// The snapshot's state does not hold the membership; the
			// node's own snapshot must (membership.go): the latest
			// membership entry at or below it, decoded (they are few).
			full, err := entryEvent(replica.Entry{Index: e.Index, Term: e.Term, Data: data})
			if err != nil {
				return fmt.Errorf("entry %d from %s: %w", e.Index, in.from, err)
			}
			c, err := membersOf(e.Index, e.Term, full.Body.(*eventlog.MembershipChanged))
			if err != nil {
				return fmt.Errorf("entry %d from %s: %w", e.Index, in.from, err)
			}
			in.members = &c
		}
	default:
		return fmt.Errorf("%w: entry %d of type %d", errSeedFrame, e.Index, e.Type)
	}
	in.hash.add(e)
	if e.Index == in.offer.applied && in.hash != in.offer.hash {
		return fmt.Errorf("the entries do not hash to the state's applied-log hash at entry %d: the peer's snapshot is not of its log", e.Index)
	}
	in.maxTerm = e.Term
	in.next++
	in.batch = b
	b.evs = append(b.evs, ev)
	// A batch ends at B, so the writer can note record B's chain hash.
	if b.size += len(e.Data) + 64; b.size >= seedBatchBytes || e.Index == in.base {
		return in.flush()
	}
	return nil
}

// seedBatch is the entries handed to the writer at once, with the buffer
// their data was copied into.
type seedBatch struct {
	evs  []eventlog.Event
	buf  []byte
	size int
}

// newBatch takes a batch the writer has handed back, or makes one.
func (in *seedInstall) newBatch() *seedBatch {
	select {
	case b := <-in.free:
		return b
	default:
		return &seedBatch{buf: make([]byte, 0, seedBatchBytes+seedBatchBytes/2)}
	}
}

// hold copies p into the batch's buffer and returns the copy. A buffer
// that is full is replaced, not grown: the events already in the batch
// refer to it.
func (b *seedBatch) hold(p []byte) []byte {
	if len(b.buf)+len(p) > cap(b.buf) {
		b.buf = make([]byte, 0, max(cap(b.buf), len(p)))
	}
	start := len(b.buf)
	b.buf = append(b.buf, p...)
	return b.buf[start:len(b.buf):len(b.buf)]
}

// flush hands the batch to the writer.
func (in *seedInstall) flush() error {
	if in.failed.Load() {
		return errSeedWriter // receive reports the writer's own error
	}
	if b := in.batch; b != nil && len(b.evs) > 0 {
		in.batches <- b
		in.batch = nil
	}
	return nil
}

var errSeedWriter = errors.New("the WAL writer failed")

// writer appends the batches in order, until its input ends or an append
// fails (werr).
func (in *seedInstall) writer() {
	defer close(in.written)
	next := uint64(1)
	for b := range in.batches {
		if in.werr != nil {
			continue
		}
		evs := b.evs
		first, last, err := in.bulk.Append(evs...)
		switch {
		case err != nil:
			in.werr = &seedDiskError{err}
		case first != next || last != evs[len(evs)-1].Index:
			in.werr = &seedDiskError{fmt.Errorf("seed WAL records %d..%d hold entries %d..%d", first, last, evs[0].Index, evs[len(evs)-1].Index)}
		}
		if in.werr != nil {
			in.failed.Store(true)
		}
		if last == in.base {
			_, in.atBase = in.bulk.Head()
		}
		next = last + 1
		clear(b.evs) // drop the references before the batch waits for reuse
		b.evs, b.buf, b.size = b.evs[:0], b.buf[:0], 0
		select {
		case in.free <- b:
		default:
		}
	}
}

// finish opens the new WAL (verifying it from record B on, or whole
// without a snapshot), records the commit and writes this node's snapshot
// of the peer's state.
func (in *seedInstall) finish() error {
	opts := eventlog.Options{NoSync: in.o.NoSync}
	if in.base > 0 {
		opts.Trust = &eventlog.Checkpoint{Seq: in.base, Hash: in.atBase}
	}
	l, err := eventlog.Open(filepath.Join(in.staging, "wal"), opts)
	if err != nil {
		return &seedDiskError{err}
	}
	err = in.record(l)
	if cerr := l.Close(); err == nil && cerr != nil {
		err = &seedDiskError{cerr}
	}
	return err
}

func (in *seedInstall) record(l *eventlog.Log) error {
	o := in.offer
	ev := eventlog.Event{Header: eventlog.Header{Origin: in.o.ID, Time: time.Now().UnixNano()},
		Body: &eventlog.CommittedUpTo{Index: o.commit}}
	if _, _, err := l.Append(context.Background(), ev); err != nil {
		return &seedDiskError{err}
	}
	if in.restore && in.maxTerm > 0 {
		// The restored node's elections start above every term of its
		// log (a leader of a lower term would be refused by its replica).
		ts := eventlog.Event{Header: eventlog.Header{Origin: in.o.ID, Time: time.Now().UnixNano()},
			Body: &eventlog.TermStarted{Term: in.maxTerm}}
		if _, _, err := l.Append(context.Background(), ts); err != nil {
			return &seedDiskError{err}
		}
	}
	if err := in.chunks.Sync(); err != nil && !in.o.NoSync {
		return &seedDiskError{err}
	}
	if o.applied == 0 {
		return nil // no snapshot: the node replays the entries
	}
	// This WAL holds entry i at record i, so the entry index is every
	// entrySample-th record.
	samples := make([]uint64, in.base/entrySample)
	for i := range samples {
		samples[i] = uint64(i+1) * entrySample
	}
	img := nodeImage{applied: o.applied, appliedTerm: o.term, lamport: o.lamport, replicaTerm: o.term,
		commit: o.commit, hash: o.hash, samples: samples, base: in.base, baseSeq: in.base}
	secs := []eventlog.Section{{Name: sectionNode, Data: img.encode()}, {Name: sectionState, Data: in.state}}
	if in.members != nil {
		secs = append(secs, eventlog.Section{Name: sectionMembers, Data: encodeMembers(*in.members)})
	}
	if _, err := l.WriteSnapshot(in.base, secs); err != nil {
		return &seedDiskError{err}
	}
	return nil
}

// install moves the staged WAL and chunk file into place, after the
// learner marker.
func (in *seedInstall) install(walDir string) error {
	nodeDir := in.o.Config.NodeDir(in.o.ID)
	if in.newCluster {
		if err := os.Remove(filepath.Join(nodeDir, learnerMarker)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return &seedDiskError{err}
		}
	} else if err := writeMarker(filepath.Join(nodeDir, learnerMarker)); err != nil {
		return &seedDiskError{fmt.Errorf("write learner marker: %w", err)}
	}
	if in.crashed("marker") {
		return errCrashed
	}
	// The WAL goes last: until it is in place the node is still empty and
	// seeds again; a chunk file without its snapshot is only refused.
	indexDir := filepath.Join(nodeDir, "index")
	if err := os.MkdirAll(indexDir, 0o700); err != nil {
		return &seedDiskError{err}
	}
	if err := os.Rename(filepath.Join(in.staging, "chunks"), filepath.Join(indexDir, "chunks")); err != nil {
		return &seedDiskError{err}
	}
	if err := syncDir(indexDir); err != nil {
		return &seedDiskError{err}
	}
	if in.crashed("chunks") {
		return errCrashed
	}
	empty, err := walIsEmpty(walDir)
	if err != nil || !empty {
		return &seedDiskError{fmt.Errorf("WAL %s is no longer empty (%v): not replacing it", walDir, err)}
	}
	if err := os.RemoveAll(walDir); err != nil {
		return &seedDiskError{err}
	}
	if in.crashed("emptied") {
		return errCrashed
	}
	if err := os.Rename(filepath.Join(in.staging, "wal"), walDir); err != nil {
		return &seedDiskError{err}
	}
	if in.crashed("wal") {
		return errCrashed
	}
	if err := syncDir(nodeDir); err != nil {
		return &seedDiskError{err}
	}
	return nil
}

// errCrashed is install's answer when a test stops it after a step.
var errCrashed = errors.New("stopped after a step, as by a crash (test)")

func (in *seedInstall) crashed(step string) bool { return in.crashAfter != nil && in.crashAfter(step) }
