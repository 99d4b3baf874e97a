package eventlog

import (
	"errors"
	"fmt"
)

// CheckedRecord is one record as ScanChecked hands it over: its frame, CRC,
// kind and chain link checked, its payload checked to decode (exactly as
// DecodeRecord decodes it), and the numbers of its header read. Rec is the
// record as stored, valid only during the call, like the CheckedRecord.
type CheckedRecord struct {
	Seq  uint64
	Kind Kind
	// Term, Index, Lamport and Time are the header's (Event's Header).
	Term, Index, Lamport uint64
	Time                 int64
	Rec                  []byte // the stored record
	Hash                 Hash   // its chain hash

	d       *decoder
	ev      Event // decoded by the scan (ScanChecked with decode)
	decoded bool
}

// Event returns the record's event: the one the scan decoded (with decode),
// or decoded now, which allocates its strings and body.
func (r *CheckedRecord) Event() (Event, error) {
	if r.decoded {
		return r.ev, nil
	}
	ev, err := r.d.decodePayload(r.Kind, r.payload())
	if err != nil { // the scan checked it: only a bug gets here
		return ev, fmt.Errorf("eventlog: index %d: %s record: %w", r.Seq, r.Kind, err)
	}
	return ev, nil
}

func (r *CheckedRecord) payload() []byte {
	return r.Rec[recordHeaderSize : len(r.Rec)-recordTrailerSize]
}

// AppendEntryForm appends the record's entry form to dst, as ToEntryForm
// does (index and term spliced out of the payload, a zero prev hash, a new
// CRC; the canonical layout every record this package writes has), without
// checking the frame again. A local record (index 0) appends nothing.
func (r *CheckedRecord) AppendEntryForm(dst []byte) ([]byte, error) {
	if r.Index == 0 {
		return dst, nil
	}
	payload := r.payload()
	originEnd, stampEnd, _, _, err := headerSpans(payload)
	if errors.Is(err, errNotCanonical) {
		dst, _, _, _, err = toEntryFormSlow(dst, r.Rec)
		return dst, err
	}
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, make([]byte, recordHeaderSize)...)
	dst = append(dst, payload[:originEnd]...)
	dst = append(dst, payload[stampEnd:]...)
	return sealRecord(dst, start, r.Kind, Hash{}), nil
}

// ScanChecked is Scan for readers that need the whole event of only some
// records (an audit that checks every record but folds only the headers
// of most): every record is verified as Scan verifies it (CRC, kind, hash
// chain) and its payload checked to decode as Scan decodes it, a failure
// being the same error Scan gives, but fn gets a CheckedRecord whose event
// is decoded only when asked for (Event), unless decode is set: then the
// scan decodes every record, once, as Scan does. Checking a payload without
// decoding it allocates nothing. The reading, CRC, hashing and checking
// run on a second goroutine while fn runs on the caller's; with decode,
// decoding runs on a third, between them.
func ScanChecked(dir string, decode bool, fn func(r *CheckedRecord) error) (ScanReport, error) {
	_, rep, err := scanChecked(dir, decode, fn)
	return rep, err
}

// ScanCheckedReader is ScanChecked, and also returns a Reader over the good
// records when the scan succeeds, as ScanReader does.
func ScanCheckedReader(dir string, decode bool, fn func(r *CheckedRecord) error) (ScanReport, *Reader, error) {
	st, rep, err := scanChecked(dir, decode, fn)
	if err != nil {
		return ScanReport{}, nil, err
	}
	return rep, newReader(dir, st), nil
}

func scanChecked(dir string, decode bool, fn func(r *CheckedRecord) error) (dirState, ScanReport, error) {
	pd := new(decoder) // the reading goroutine's
	d := new(decoder)  // the caller's, for Event
	var cr CheckedRecord
	return scanVisit(dir, &scanPipe{
		staged: decode,
		prep: func(seq uint64, rec []byte, ev *Event) error {
			// walkSegment checked the frame and that the kind is known.
			k := recordKind(rec)
			var err error
			if decode {
				*ev, err = pd.decodePayload(k, rec[recordHeaderSize:len(rec)-recordTrailerSize])
			} else {
				ev.Header, err = pd.checkPayload(k, rec[recordHeaderSize:len(rec)-recordTrailerSize])
			}
			if err != nil {
				return fmt.Errorf("eventlog: %s index %d: %w", dir, seq, fmt.Errorf("%s record: %w", k, err))
			}
			return nil
		},
		deliver: func(seq uint64, rec []byte, h Hash, k Kind, ev *Event) error {
			cr = CheckedRecord{Seq: seq, Kind: k, Rec: rec, Hash: h, d: d,
				Term: ev.Term, Index: ev.Index, Lamport: ev.Lamport, Time: ev.Time}
			if decode {
				cr.ev, cr.decoded = *ev, true
			}
			return fn(&cr)
		},
	})
}

func recordKind(rec []byte) Kind { return Kind(uint16(rec[offKind])<<8 | uint16(rec[offKind+1])) }
