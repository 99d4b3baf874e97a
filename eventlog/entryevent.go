package eventlog

import "fmt"

// EntryEvent returns the event that the entry-form record data stands
// for, stamped with index and term, ready for Append, without decoding its
// body: Append splices data's payload (see the entry form in
// entryform.go). It checks what a stored record needs: the frame (version,
// length, CRC), a kind this build knows, and the canonical header with no
// term or index yet. A record that is sound but not in the canonical
// layout (none that this package writes) is decoded instead, and Append
// encodes it: the bytes come out the same.
//
// The event's body is a stand-in that knows only its kind: the event is
// for Append, not for reading (ev.Body cannot describe the message).
func EntryEvent(data []byte, index, term uint64) (Event, error) {
	k, _, payload, err := checkFrame(data)
	if err != nil {
		return Event{}, err
	}
	if !k.Known() {
		return Event{}, &UnknownKindError{Kind: k, Version: RecordVersion}
	}
	_, _, t, i, err := headerSpans(payload)
	if err == errNotCanonical {
		rec, err := DecodeRecord(data)
		if err != nil {
			return Event{}, err
		}
		ev := rec.Event
		ev.Index, ev.Term = index, term
		return ev, nil
	}
	if err != nil {
		return Event{}, err
	}
	if t != 0 || i != 0 {
		return Event{}, fmt.Errorf("%w: entry form carries term %d index %d", ErrMalformed, t, i)
	}
	ev := Event{Body: kindOnly(k)}
	ev.Index, ev.Term, ev.entry = index, term, data
	return ev, nil
}

// kindOnly stands in for the body of an entry whose record Append splices
// (EntryEvent): it is never encoded.
type kindOnly Kind

func (k kindOnly) Kind() Kind       { return Kind(k) }
func (k kindOnly) Describe() string { return fmt.Sprintf("%s entry (not decoded)", Kind(k)) }
func (k kindOnly) Wire(Wire)        {}
