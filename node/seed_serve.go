package node

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/lowprio"
	"github.com/syncnet/syncnet/node/peer"
	"github.com/syncnet/syncnet/node/replica"
)

// serveSeed answers a peer's seed request (seed.go) on the peer
// transport's goroutine for that connection, beside the driver: it reads
// only what is durable and immutable (a snapshot file, the chunk file up to
// its size at the start, committed entries through the entry index), so
// the driver never waits for it.
func (n *Node) serveSeed(from string, req []byte, s *peer.Stream) error {
	req = req[min(len(req), peer.RequestNonceLen):]
	if len(req) != 2 || req[0] != seedVersion || (req[1] != seedAskOffer && req[1] != seedAskTransfer) {
		err := fmt.Errorf("seed request %x from %s: this build serves version %d", req, from, seedVersion)
		s.Send(seedError, []byte(err.Error()))
		return err
	}
	if req[1] == seedAskOffer {
		o, _ := n.seedOfferNow()
		return s.Send(seedManifest, o.encode())
	}
	began := time.Now()
	n.log.Info("sending a copy of the log to a node that starts empty", "to", from)
	o, state, err := n.seedSnapshot()
	if err != nil {
		n.log.Warn("seed: no usable snapshot; sending entries only (the node will replay them)", "to", from, "err", err)
	}
	// At low priority: on a busy machine the copy takes what the node's
	// own work leaves over (its reads, and TLS, run on this goroutine).
	// Paced (storage.copy_rate): the receiver's writes share the disk with
	// the others' fsyncs when nodes share a machine.
	var sink seedSink = s
	if mib := n.cfg.Storage.CopyRate; mib > 0 {
		sink = newPacedSink(s, float64(mib)*(1<<20), time.Now, time.Sleep)
	}
	if err := lowprio.Run(func() error { return n.sendSeed(sink, o, state) }); err != nil {
		n.log.Warn("seed transfer ended early", "to", from, "err", err)
		s.Send(seedError, []byte(err.Error()))
		return err
	}
	n.log.Info("seed transfer done", "to", from, "entries", o.commit, "snapshot_applied", o.applied,
		"took", time.Since(began).Round(time.Millisecond))
	return nil
}

// seedOfferNow says how many committed entries this node can send (the
// ones it applied and holds durably), and the applied entry of its newest
// snapshot.
func (n *Node) seedOfferNow() (seedOffer, uint64) {
	durable, _ := n.index.durable()
	n.mu.RLock()
	leader := n.view.leader == n.id
	n.mu.RUnlock()
	return seedOffer{leader: leader, commit: min(n.applied.Load(), durable)}, n.snaps.status().applied
}

// seedSnapshot finds the snapshot file of the state this process knows
// consistent with its chunk file (the one it recovered from, or the newest
// it wrote) and returns the offer it makes with it, and the state section.
// Without one the offer carries entries only.
func (n *Node) seedSnapshot() (seedOffer, []byte, error) {
	o, want := n.seedOfferNow()
	if want < entrySample || want > o.commit {
		return o, nil, fmt.Errorf("no snapshot (applied %d)", want)
	}
	files, err := eventlog.Snapshots(n.cfg.WALDir(n.id))
	if err != nil {
		return o, nil, err
	}
	for _, f := range files {
		_, sections, err := eventlog.ReadSnapshot(f.Path)
		if err != nil {
			continue // being pruned, or damaged: an older one may do
		}
		var img nodeImage
		var state []byte
		for _, sec := range sections {
			switch sec.Name {
			case sectionNode:
				img, err = decodeNodeImage(sec.Data)
			case sectionState:
				state = sec.Data
			}
		}
		if err != nil || state == nil || img.applied != want {
			continue
		}
		o.applied, o.term, o.lamport, o.hash = img.applied, img.appliedTerm, img.lamport, img.hash
		o.stateLen, o.chunksLen = uint64(len(state)), uint64(n.chunks.Size())
		return o, state, nil
	}
	return o, nil, fmt.Errorf("the snapshot of applied entry %d is no longer on disk", want)
}

// seedReadSpan is how many entries sendSeed reads at a time (about 6 MiB
// at 1M messages' sizes). A variable for tests.
var seedReadSpan uint64 = 16384

// sendEntries sends consecutive entries as entries frames of at most
// seedPart bytes (an entry larger than that alone in its frame), encoded
// in buf, which it returns for the next call.
func sendEntries(s seedSink, ents []replica.Entry, buf []byte) ([]byte, error) {
	for len(ents) > 0 {
		k, size := 1, seedEntryBytes(ents[0])
		for k < len(ents) && size+seedEntryBytes(ents[k]) <= seedPart {
			size += seedEntryBytes(ents[k])
			k++
		}
		buf = appendSeedEntries(buf[:0], ents[:k])
		if err := s.Send(seedEntries, buf); err != nil {
			return buf, err
		}
		ents = ents[k:]
	}
	return buf, nil
}

// seedEntryBytes bounds an entry's size in an entries frame, the frame's
// first index included.
func seedEntryBytes(e replica.Entry) int { return len(e.Data) + 3*binary.MaxVarintLen64 + 1 }

// seedSink is where a transfer goes: a peer stream, or the simulation's
// frame buffer. Send must not keep payload after it returns.
type seedSink interface {
	Send(typ uint8, payload []byte) error
	Flush() error
}

// pacedSink sends at most rate bytes a second on average: each frame waits
// until the frames before it have had their time. A stall (the receiver
// stopped, the network slow) earns no credit: the frames after it go at
// the rate again, not in a burst that makes up for it, since a burst of
// writes on the receiver is what the pacing is there to avoid
// (docs/BENCHMARKS.md, "The copy's pace").
type pacedSink struct {
	seedSink
	rate  float64 // bytes per second
	next  time.Time
	now   func() time.Time
	sleep func(time.Duration)
}

func newPacedSink(s seedSink, rate float64, now func() time.Time, sleep func(time.Duration)) *pacedSink {
	return &pacedSink{seedSink: s, rate: rate, now: now, sleep: sleep}
}

func (p *pacedSink) Send(typ uint8, payload []byte) error {
	now := p.now()
	if d := p.next.Sub(now); d > 0 {
		p.sleep(d)
	} else {
		p.next = now
	}
	p.next = p.next.Add(time.Duration(float64(len(payload)) / p.rate * float64(time.Second)))
	return p.seedSink.Send(typ, payload)
}

// sendSeed sends the manifest, the state and chunk file, and entries
// 1..o.commit.
func (n *Node) sendSeed(s seedSink, o seedOffer, state []byte) error {
	if err := s.Send(seedManifest, o.encode()); err != nil {
		return err
	}
	for off := 0; off < len(state); off += seedPart {
		if err := s.Send(seedState, state[off:min(len(state), off+seedPart)]); err != nil {
			return err
		}
	}
	buf := make([]byte, seedPart)
	for off := int64(0); off < int64(o.chunksLen); {
		k := min(int64(len(buf)), int64(o.chunksLen)-off)
		if _, err := n.chunks.ReadAt(buf[:k], off); err != nil {
			return fmt.Errorf("read index chunk file: %w", err)
		}
		if err := s.Send(seedChunks, buf[:k]); err != nil {
			return err
		}
		off += k
	}
	// The entries are read as the replica's reader reads them (the
	// effective record of each, spliced into its entry form), in spans of
	// seedReadSpan and into buffers kept from one span to the next: through
	// Entries (4,096 at a time, fresh buffers each), a copy of 10M entries
	// made 11-14 GB of garbage on the serving node, 380-460 GC cycles whose
	// marking runs at normal priority beside the node's own work.
	//
	// Entries up to the snapshot's (A) are read unchained: each record's
	// CRC is checked (ToEntryForm) but it is not hashed again for its
	// chain link, which was 9% of the serving node's CPU during a copy of
	// 10M entries. The receiver proves those entries anyway: it recomputes
	// the applied-log hash over them and refuses the transfer unless it is
	// the snapshot's at A, which this node computed when it applied them.
	// Entries after A have no such proof and are read with the chain
	// checked, as every other read of the WAL.
	var sc entryScratch
	var payload []byte
	for next := uint64(1); next <= o.commit; {
		last := min(o.commit, next+seedReadSpan-1)
		if next <= o.applied && last > o.applied {
			last = o.applied
		}
		sc.unchained = last <= o.applied
		ents, err := n.reader.entryRecordsInto(&sc, next, last)
		if err != nil {
			return fmt.Errorf("read entries %d..%d: %w", next, last, err)
		}
		if payload, err = sendEntries(s, ents, payload); err != nil {
			return err
		}
		next = last + 1
	}
	if err := s.Send(seedEnd, binary.AppendUvarint(nil, o.commit)); err != nil {
		return err
	}
	return s.Flush()
}
