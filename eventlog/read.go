package eventlog

import (
	"fmt"
)

// readRaw returns the stored record at seq. tidwall reads are serialised
// (see Log.rmu); the returned slice is a private copy.
func (l *Log) readRaw(seq uint64) ([]byte, error) {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	rec, err := l.w.Read(seq)
	if err != nil {
		return nil, fmt.Errorf("eventlog: read %s index %d: %w", l.dir, seq, err)
	}
	return rec, nil
}

func (l *Log) corrupt(seq uint64, reason string) error {
	return &CorruptError{File: l.dir, Index: seq, Reason: reason}
}

// Read returns the event at sequence number seq. The record's CRC is checked,
// and its hash against the prev field of the record after it (or the head),
// so a record changed on disk since Open is reported as a *CorruptError (I8).
func (l *Log) Read(seq uint64) (Event, error) {
	first, last, head, err := l.bounds()
	if err != nil {
		return Event{}, err
	}
	if seq == 0 || seq < first || seq > last {
		return Event{}, fmt.Errorf("%w: %d (log holds %d..%d)", ErrNotFound, seq, first, last)
	}
	rec, err := l.readRaw(seq)
	if err != nil {
		return Event{}, err
	}
	want := head
	if seq < last {
		next, err := l.readRaw(seq + 1)
		if err != nil {
			return Event{}, err
		}
		if len(next) < recordHeaderSize {
			return Event{}, l.corrupt(seq+1, "record too short")
		}
		want = Hash(next[offPrev : offPrev+32])
	}
	d := decoderPool.Get().(*decoder)
	defer decoderPool.Put(d)
	r, err := d.decodeRecord(rec)
	if err != nil {
		return Event{}, l.corrupt(seq, err.Error())
	}
	if HashRecord(rec) != want {
		return Event{}, l.corrupt(seq, "record hash does not match the chain")
	}
	return r.Event, nil
}

// HashAt returns the chain hash of the record at seq (the zero hash for 0).
func (l *Log) HashAt(seq uint64) (Hash, error) {
	first, last, head, err := l.bounds()
	switch {
	case err != nil:
		return Hash{}, err
	case seq == 0:
		return Hash{}, nil
	case seq == last:
		return head, nil
	case seq < first || seq > last:
		return Hash{}, fmt.Errorf("%w: %d (log holds %d..%d)", ErrNotFound, seq, first, last)
	}
	next, err := l.readRaw(seq + 1)
	if err != nil {
		return Hash{}, err
	}
	if _, prev, _, err := checkFrame(next); err != nil {
		return Hash{}, l.corrupt(seq+1, err.Error())
	} else {
		return prev, nil
	}
}

// Iter calls fn for every record from sequence number from (clamped to the
// first) up to the last record durable when Iter was called, in order. Each
// record's CRC and its link to the one before are checked; the last one's
// hash is checked against the head. An error from fn stops the iteration and
// is returned.
func (l *Log) Iter(from uint64, fn func(seq uint64, ev Event) error) error {
	return l.iter(from, 0, fn)
}

// iter is Iter bounded by to (0 = the current last record).
func (l *Log) iter(from, to uint64, fn func(seq uint64, ev Event) error) error {
	first, last, head, err := l.bounds()
	if err != nil {
		return err
	}
	if to != 0 && to < last {
		last = to
		if head, err = l.HashAt(to); err != nil {
			return err
		}
	}
	if from < first {
		from = first
	}
	if last == 0 || from > last {
		return nil
	}
	var prev Hash
	havePrev := false
	if from > first {
		if prev, err = l.HashAt(from - 1); err != nil {
			return err
		}
		havePrev = true
	}
	d := new(decoder)
	for seq := from; seq <= last; seq++ {
		rec, err := l.readRaw(seq)
		if err != nil {
			return err
		}
		k, p, payload, err := checkFrame(rec)
		if err != nil {
			return l.corrupt(seq, err.Error())
		}
		if havePrev && p != prev {
			return l.corrupt(seq, errChainBreak.Error())
		}
		if !k.Known() {
			return fmt.Errorf("eventlog: %s index %d: %w", l.dir, seq, &UnknownKindError{Kind: k, Version: rec[0]})
		}
		ev, err := d.decodePayload(k, payload)
		if err != nil {
			return l.corrupt(seq, err.Error())
		}
		prev, havePrev = HashRecord(rec), true
		if err := fn(seq, ev); err != nil {
			return err
		}
	}
	if prev != head {
		return l.corrupt(last, "record hash does not match the head of the chain")
	}
	return nil
}
