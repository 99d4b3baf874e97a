package eventlog

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// A replicated entry travels between nodes in its entry form: the record
// AppendRecord makes of the event with Index and Term zero and a zero prev
// hash. Each node's WAL holds it in its stored form: the same event with
// Index and Term set, chained to that node's previous record. The two
// payloads differ only in the header's term (2) and index (3) fields, which
// follow the origin (1) and precede every other field in the canonical
// encoding, so converting between them is a splice of a few bytes rather
// than a decode and an encode: a leader serves a far-behind follower from
// its WAL with ToEntryForm, and a follower writes what it received with
// WithEntryRecord. Records that are not in the canonical layout (none that
// this package writes) are converted by decoding and encoding them.

// errNotCanonical sends a conversion to its slow path.
var errNotCanonical = errors.New("not canonical")

// headerSpans parses the top-level tags and lengths of payload (nothing
// else) and returns the term and index fields and where they lie: the
// payload is origin [0, originEnd), term and index [originEnd, stampEnd),
// the rest after.
func headerSpans(payload []byte) (originEnd, stampEnd int, term, index uint64, err error) {
	seenTerm, seenIndex := false, false
	for pos, i := 0, 0; pos < len(payload); i++ {
		num, typ, n := protowire.ConsumeTag(payload[pos:])
		if n < 0 {
			return 0, 0, 0, 0, fmt.Errorf("%w: field tag at byte %d: %v", ErrMalformed, pos, protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, payload[pos+n:])
		if m < 0 {
			return 0, 0, 0, 0, fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(m))
		}
		switch {
		case num == fieldOrigin && i == 0:
			originEnd, stampEnd = pos+n+m, pos+n+m
		case num == fieldTerm || num == fieldIndex:
			// Canonical: right after the origin (or at the start), term
			// before index, each at most once, as varints.
			if typ != protowire.VarintType || pos != stampEnd || seenIndex || (num == fieldTerm && seenTerm) {
				return 0, 0, 0, 0, errNotCanonical
			}
			v, _ := protowire.ConsumeVarint(payload[pos+n:])
			if num == fieldTerm {
				seenTerm, term = true, v
			} else {
				seenIndex, index = true, v
			}
			stampEnd = pos + n + m
		}
		pos += n + m
	}
	return originEnd, stampEnd, term, index, nil
}

// ToEntryForm appends to dst the entry form of a stored record rec (a
// replicated entry as a WAL holds it) and returns it with the entry's index
// and term and the record's kind. A local record (index 0) is returned with
// index 0 and nothing appended. rec's frame must be sound (ReadRecords checks
// it).
func ToEntryForm(dst, rec []byte) (out []byte, index, term uint64, k Kind, err error) {
	k, _, payload, err := checkFrame(rec)
	if err != nil {
		return dst, 0, 0, k, err
	}
	originEnd, stampEnd, term, index, err := headerSpans(payload)
	if errors.Is(err, errNotCanonical) {
		return toEntryFormSlow(dst, rec)
	}
	if err != nil || index == 0 {
		return dst, 0, 0, k, err
	}
	start := len(dst)
	dst = append(dst, make([]byte, recordHeaderSize)...)
	dst = append(dst, payload[:originEnd]...)
	dst = append(dst, payload[stampEnd:]...)
	return sealRecord(dst, start, k, Hash{}), index, term, k, nil
}

func toEntryFormSlow(dst, rec []byte) ([]byte, uint64, uint64, Kind, error) {
	r, err := DecodeRecord(rec)
	if err != nil {
		return dst, 0, 0, 0, err
	}
	ev := r.Event
	index, term, k := ev.Index, ev.Term, ev.Kind()
	if index == 0 {
		return dst, 0, 0, k, nil
	}
	ev.Index, ev.Term = 0, 0
	dst, err = AppendRecord(dst, Hash{}, ev)
	return dst, index, term, k, err
}

// appendStamped appends the stored-form payload of the entry-form record
// data with term and index inserted.
func appendStamped(dst, data []byte, k Kind, index, term uint64) ([]byte, error) {
	dk, _, payload, err := checkFrame(data)
	if err != nil {
		return dst, err
	}
	if dk != k {
		return dst, fmt.Errorf("%w: entry form of kind %s for an event of kind %s", errNotCanonical, dk, k)
	}
	originEnd, _, t, i, err := headerSpans(payload)
	if err != nil {
		return dst, err
	}
	if t != 0 || i != 0 {
		return dst, fmt.Errorf("%w: entry form carries term %d index %d", errNotCanonical, t, i)
	}
	dst = append(dst, payload[:originEnd]...)
	if term != 0 {
		dst = protowire.AppendTag(dst, fieldTerm, protowire.VarintType)
		dst = protowire.AppendVarint(dst, term)
	}
	if index != 0 {
		dst = protowire.AppendTag(dst, fieldIndex, protowire.VarintType)
		dst = protowire.AppendVarint(dst, index)
	}
	return append(dst, payload[originEnd:]...), nil
}

// WithEntryRecord returns ev marked as the decoded form of the entry-form
// record data stamped with ev.Index and ev.Term: Append then writes data's
// payload with the two fields inserted instead of encoding ev again (the
// bytes are the same; see the entry form above). The caller vouches that ev
// is data decoded; Append falls back to encoding ev when data is not in the
// canonical layout.
func WithEntryRecord(ev Event, data []byte) Event {
	ev.entry = data
	return ev
}
