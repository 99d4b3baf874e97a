package node

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/syncnet/syncnet/node/replica"
)

// Seeding: how a node with an empty log gets a copy of a peer's instead of
// catching up entry by entry through the replica (docs/ARCHITECTURE.md,
// "Bulk catch-up of an empty node").
//
// Before it opens its WAL, a node whose WAL is empty asks every peer what
// it could send (an offer: how many committed entries, and the applied
// index of its newest snapshot), picks one, and asks it for the copy over a
// peer stream (peer.DialStream). The answer is, in order:
//
//	seedManifest   the offer again, now binding: entries 1..C follow, and
//	               the state at entry A (the peer's newest snapshot) with its
//	               applied-log hash
//	seedState*     the snapshot's "state" section, as the peer stored it
//	seedChunks*    the peer's index chunk file, which that state refers to
//	seedEntries*   entries 1..C in their entry form, in index order
//	seedEnd        C again
//
// The node checks every entry record (frame, CRC, kind, layout) and writes
// it into a new WAL in large fsynced batches without decoding it, computes
// the applied-log hash as it goes and requires the peer's at A, writes a
// snapshot of its own (its WAL positions, the peer's state), records C as
// committed, and only then moves the new WAL into place, after its LEARNER
// marker: it is a learner like any node that lost its data, and takes part
// once it has caught up. Entries A+1..C are applied when the node opens its
// WAL; what was committed after C comes through the replica as usual.

// seedVersion is the layout of the request and the answers.
const seedVersion = 1

// Request modes.
const (
	seedAskOffer    = 1 // what could you send?
	seedAskTransfer = 2 // send it
)

// Answer frame types on the stream.
const (
	seedManifest uint8 = 1
	seedState    uint8 = 2
	seedChunks   uint8 = 3
	seedEntries  uint8 = 4
	seedEnd      uint8 = 5
	seedError    uint8 = 6
)

// seedPart bounds a state, chunk or entries frame.
const seedPart = 1 << 20

// seedOffer is what a peer offers, and with a transfer the manifest.
type seedOffer struct {
	leader    bool   // the peer was the leader when it answered
	commit    uint64 // C: entries 1..C are committed and follow
	applied   uint64 // A: the snapshot's applied entry (0: no snapshot, replay 1..C)
	term      uint64 // the term of entry A
	lamport   uint64 // the snapshot's Lamport clock
	hash      logHash
	stateLen  uint64 // bytes of the state section
	chunksLen uint64 // bytes of the index chunk file
}

func (o *seedOffer) encode() []byte {
	b := []byte{seedVersion}
	lead := uint64(0)
	if o.leader {
		lead = 1
	}
	for _, v := range []uint64{lead, o.commit, o.applied, o.term, o.lamport, o.hash.index, o.hash.checkpoint, o.stateLen, o.chunksLen} {
		b = binary.AppendUvarint(b, v)
	}
	b = append(b, o.hash.h[:]...)
	return append(b, o.hash.atCheck[:]...)
}

var errSeedFrame = errors.New("malformed seed frame")

func decodeSeedOffer(b []byte) (seedOffer, error) {
	var o seedOffer
	if len(b) == 0 || b[0] != seedVersion {
		return o, fmt.Errorf("%w: manifest version %v, this build reads %d", errSeedFrame, b[:min(1, len(b))], seedVersion)
	}
	b = b[1:]
	var lead uint64
	for _, p := range []*uint64{&lead, &o.commit, &o.applied, &o.term, &o.lamport, &o.hash.index, &o.hash.checkpoint, &o.stateLen, &o.chunksLen} {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return o, fmt.Errorf("%w: truncated manifest", errSeedFrame)
		}
		*p, b = v, b[n:]
	}
	if len(b) != 64 {
		return o, fmt.Errorf("%w: manifest hash of %d bytes", errSeedFrame, len(b))
	}
	copy(o.hash.h[:], b)
	copy(o.hash.atCheck[:], b[32:])
	o.leader = lead == 1
	switch {
	case o.applied > o.commit:
		return o, fmt.Errorf("%w: state at entry %d beyond the %d entries offered", errSeedFrame, o.applied, o.commit)
	case o.applied != 0 && (o.hash.index != o.applied || o.applied < entrySample):
		return o, fmt.Errorf("%w: state at entry %d with its hash at %d", errSeedFrame, o.applied, o.hash.index)
	case o.applied == 0 && (o.stateLen != 0 || o.chunksLen != 0):
		return o, fmt.Errorf("%w: state bytes without a state", errSeedFrame)
	}
	return o, nil
}

// seedRequest is the payload after the stream's nonce.
func seedRequest(mode byte) []byte { return []byte{seedVersion, mode} }

// appendSeedEntries encodes consecutive entries: the first index, then per
// entry its term, type and entry form.
func appendSeedEntries(b []byte, ents []replica.Entry) []byte {
	b = binary.AppendUvarint(b, ents[0].Index)
	for _, e := range ents {
		b = binary.AppendUvarint(b, e.Term)
		b = append(b, byte(e.Type))
		b = binary.AppendUvarint(b, uint64(len(e.Data)))
		b = append(b, e.Data...)
	}
	return b
}

// decodeSeedEntries calls fn for every entry of a seedEntries frame; the
// entries' data alias b.
func decodeSeedEntries(b []byte, fn func(e replica.Entry) error) error {
	first, k := binary.Uvarint(b)
	if k <= 0 || first == 0 {
		return fmt.Errorf("%w: entries frame without a first index", errSeedFrame)
	}
	b = b[k:]
	for i := first; len(b) > 0; i++ {
		term, k := binary.Uvarint(b)
		if k <= 0 || len(b) < k+1 {
			return fmt.Errorf("%w: entry %d truncated", errSeedFrame, i)
		}
		typ := replica.EntryType(b[k])
		b = b[k+1:]
		size, k := binary.Uvarint(b)
		if k <= 0 || size > uint64(len(b)-k) {
			return fmt.Errorf("%w: entry %d truncated", errSeedFrame, i)
		}
		data := b[k : k+int(size) : k+int(size)]
		b = b[k+int(size):]
		if err := fn(replica.Entry{Index: i, Term: term, Type: typ, Data: data}); err != nil {
			return err
		}
	}
	return nil
}

var errSeedRefused = errors.New("the peer refused")
