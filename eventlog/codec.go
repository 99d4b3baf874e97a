package eventlog

import (
	"errors"
	"fmt"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
)

// The payload of a record is a protobuf-wire message:
//
//	1 origin  (string)     2 term (varint)   3 index (varint)
//	4 lamport (varint)     5 time (zigzag varint, Unix ns)
//	6 author  (string)     7 request id (string)
//	15 body   (bytes: a nested message whose fields the Body's Wire names)
//
// Zero values are omitted. Unknown field numbers are skipped, so a field
// added later is ignored by older readers and reads as zero from older
// records.

const (
	fieldOrigin  = 1
	fieldTerm    = 2
	fieldIndex   = 3
	fieldLamport = 4
	fieldTime    = 5
	fieldAuthor  = 6
	fieldReqID   = 7
	fieldBody    = 15
	maxFieldNum  = 1000
)

// ErrMalformed is wrapped by errors for payloads that do not parse.
var ErrMalformed = errors.New("malformed record")

// encoder implements Wire by appending fields.
type encoder struct{ b []byte }

// checkNum asserts a field number chosen by a Body's author: a bad one is a
// programmer mistake that would corrupt every record of the kind.
func checkNum(num int) {
	if num < 1 || num > maxFieldNum {
		panic(fmt.Sprintf("eventlog: field number %d out of range 1..%d", num, maxFieldNum))
	}
}

func (e *encoder) String(num int, p *string) {
	checkNum(num)
	if *p != "" {
		e.b = protowire.AppendTag(e.b, protowire.Number(num), protowire.BytesType)
		e.b = protowire.AppendString(e.b, *p)
	}
}

func (e *encoder) Uint(num int, p *uint64) {
	checkNum(num)
	if *p != 0 {
		e.b = protowire.AppendTag(e.b, protowire.Number(num), protowire.VarintType)
		e.b = protowire.AppendVarint(e.b, *p)
	}
}

func (e *encoder) Int(num int, p *int64) {
	checkNum(num)
	if *p != 0 {
		e.b = protowire.AppendTag(e.b, protowire.Number(num), protowire.VarintType)
		e.b = protowire.AppendVarint(e.b, protowire.EncodeZigZag(*p))
	}
}

func (h *Header) wire(w Wire) {
	w.String(fieldOrigin, &h.Origin)
	w.Uint(fieldTerm, &h.Term)
	w.Uint(fieldIndex, &h.Index)
	w.Uint(fieldLamport, &h.Lamport)
	w.Int(fieldTime, &h.Time)
	w.String(fieldAuthor, &h.Author)
	w.String(fieldReqID, &h.RequestID)
}

// appendPayload appends the wire form of ev (header and body) to dst.
func appendPayload(dst []byte, ev *Event) []byte {
	e := encoder{b: dst}
	h := ev.Header
	h.wire(&e)
	// The body is nested with a length prefix; encode it in place after a
	// reserved maximal-size prefix would need a copy, so encode it separately
	// into the tail of the same buffer and then move it.
	mark := len(e.b)
	ev.Body.Wire(&e)
	body := e.b[mark:]
	if len(body) == 0 {
		return e.b
	}
	n := len(body)
	prefix := protowire.SizeTag(fieldBody) + protowire.SizeVarint(uint64(n))
	for range prefix {
		e.b = append(e.b, 0)
	}
	copy(e.b[mark+prefix:], e.b[mark:mark+n])
	p := protowire.AppendTag(e.b[mark:mark], fieldBody, protowire.BytesType)
	protowire.AppendVarint(p, uint64(n))
	return e.b
}

// rawField is one parsed field: a varint value, or a string window [lo,hi)
// into the decoder's source.
type rawField struct {
	num    protowire.Number
	typ    protowire.Type
	v      uint64
	lo, hi int
}

// decoder implements Wire by looking fields up in a parsed message. src is
// one string holding the whole payload, so every decoded string is a
// substring of it: one allocation per record, not one per field.
type decoder struct {
	src    string
	fields []rawField
	buf    [16]rawField
	err    error
	// check makes a decode only check the payload: every field is looked
	// up and its wire type checked as a decode does, but no string is
	// made (src stays empty) and the body is a scratch one of its kind,
	// reused (scratch), so checking allocates nothing (checkPayload).
	check   bool
	scratch map[Kind]Body
	// table is the wire table of tableKind, for checkFast.
	table     *wireTable
	tableKind Kind
}

var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

// parse splits b (a window [off, off+len(b)) of d.src) into fields.
func (d *decoder) parse(b []byte, off int) error {
	d.fields = d.buf[:0]
	pos := 0
	for pos < len(b) {
		num, typ, n := protowire.ConsumeTag(b[pos:])
		if n < 0 {
			return fmt.Errorf("%w: field tag at byte %d: %v", ErrMalformed, pos, protowire.ParseError(n))
		}
		pos += n
		f := rawField{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b[pos:])
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(n))
			}
			f.v = v
			pos += n
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b[pos:])
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(n))
			}
			f.lo = off + pos + n - len(v)
			f.hi = off + pos + n
			pos += n
		default:
			n := protowire.ConsumeFieldValue(num, typ, b[pos:])
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(n))
			}
			pos += n
			continue // unknown wire types carry nothing we read
		}
		d.fields = append(d.fields, f)
	}
	return nil
}

// find returns the last occurrence of num (protobuf: last one wins).
func (d *decoder) find(num int, typ protowire.Type) (rawField, bool) {
	for i := len(d.fields) - 1; i >= 0; i-- {
		f := d.fields[i]
		if f.num != protowire.Number(num) {
			continue
		}
		if f.typ != typ && d.err == nil {
			d.err = fmt.Errorf("%w: field %d has wire type %d, want %d", ErrMalformed, num, f.typ, typ)
		}
		return f, f.typ == typ
	}
	return rawField{}, false
}

func (d *decoder) String(num int, p *string) {
	if f, ok := d.find(num, protowire.BytesType); ok && !d.check {
		*p = d.src[f.lo:f.hi]
	}
}

func (d *decoder) Uint(num int, p *uint64) {
	if f, ok := d.find(num, protowire.VarintType); ok {
		*p = f.v
	}
}

func (d *decoder) Int(num int, p *int64) {
	if f, ok := d.find(num, protowire.VarintType); ok {
		*p = protowire.DecodeZigZag(f.v)
	}
}

// decodePayload decodes a payload of kind k. The caller has checked that k is
// known.
func (d *decoder) decodePayload(k Kind, payload []byte) (Event, error) {
	ev, err := d.decodePayload1(k, payload)
	d.src, d.fields = "", nil // do not pin the payload from a pooled decoder
	return ev, err
}

func (d *decoder) decodePayload1(k Kind, payload []byte) (Event, error) {
	var ev Event
	if !d.check {
		d.src = string(payload)
	}
	d.err = nil
	if err := d.parse(payload, 0); err != nil {
		return ev, err
	}
	// Concrete calls, not h.wire(d): through the Wire interface the event
	// would escape to the heap, one more allocation per record.
	h := &ev.Header
	d.String(fieldOrigin, &h.Origin)
	d.Uint(fieldTerm, &h.Term)
	d.Uint(fieldIndex, &h.Index)
	d.Uint(fieldLamport, &h.Lamport)
	d.Int(fieldTime, &h.Time)
	d.String(fieldAuthor, &h.Author)
	d.String(fieldReqID, &h.RequestID)
	body, hasBody := d.find(fieldBody, protowire.BytesType)
	if d.err != nil {
		return ev, d.err
	}
	if d.check {
		ev.Body = d.scratchBody(k)
	} else {
		ev.Body = k.info().newBody()
	}
	if hasBody {
		if err := d.parse(payload[body.lo:body.hi], body.lo); err != nil {
			return ev, fmt.Errorf("body: %w", err)
		}
		ev.Body.Wire(d)
		if d.err != nil {
			return ev, fmt.Errorf("body: %w", d.err)
		}
	}
	return ev, nil
}

// checkPayload checks that a payload of kind k decodes, with exactly the
// checks and errors of decodePayload, and returns its header's numbers
// (Origin, Author and RequestID stay empty), allocating nothing once the
// decoder has seen the kind. The caller has checked that k is known.
func (d *decoder) checkPayload(k Kind, payload []byte) (Header, error) {
	if h, ok := d.checkFast(k, payload); ok {
		d.fields = nil
		return h, nil
	}
	d.check = true
	ev, err := d.decodePayload1(k, payload)
	d.check, d.fields = false, nil
	return ev.Header, err
}

// scratchBody is the body checkPayload decodes a kind into: one per kind,
// reused, whose contents mean nothing (its strings are never set).
func (d *decoder) scratchBody(k Kind) Body {
	b := d.scratch[k]
	if b == nil {
		if d.scratch == nil {
			d.scratch = map[Kind]Body{}
		}
		b = k.info().newBody()
		d.scratch[k] = b
	}
	return b
}
