package eventlog

import (
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
)

// A scan that does not decode still checks that every payload would decode
// (checkPayload). What a decode can refuse, besides bytes that do not parse,
// is a field it reads whose last occurrence has another wire type. Rather
// than look every field up as a decode does (one search of the fields per
// field read), checkFast parses the payload and its body once and compares
// each field's wire type with a table of what the kind's fields are (made
// once per kind by running its Wire); on any doubt it gives way to the
// decoder's own check, so the errors are exactly a decode's.

// wireTable maps the field numbers a body's Wire visits to their wire type
// plus one (0: not visited). ok is false if Wire visits a number twice
// with different types: such a kind is checked the slow way.
type wireTable struct {
	types [maxFieldNum + 1]uint8
	ok    bool
}

func (t *wireTable) note(num int, typ protowire.Type) {
	checkNum(num)
	want := uint8(typ) + 1
	if t.types[num] != 0 && t.types[num] != want {
		t.ok = false
	}
	t.types[num] = want
}

func (t *wireTable) String(num int, _ *string) { t.note(num, protowire.BytesType) }
func (t *wireTable) Uint(num int, _ *uint64)   { t.note(num, protowire.VarintType) }
func (t *wireTable) Int(num int, _ *int64)     { t.note(num, protowire.VarintType) }

var wireTables sync.Map // Kind -> *wireTable

func tableOf(k Kind) *wireTable {
	if t, ok := wireTables.Load(k); ok {
		return t.(*wireTable)
	}
	t := &wireTable{ok: true}
	k.info().newBody().Wire(t)
	wireTables.Store(k, t)
	return t
}

// headerTypes are the header's fields and the body's, as in wireTable.
var headerTypes = func() (t wireTable) {
	for num, typ := range map[int]protowire.Type{
		fieldOrigin: protowire.BytesType, fieldTerm: protowire.VarintType, fieldIndex: protowire.VarintType,
		fieldLamport: protowire.VarintType, fieldTime: protowire.VarintType, fieldAuthor: protowire.BytesType,
		fieldReqID: protowire.BytesType, fieldBody: protowire.BytesType,
	} {
		t.types[num] = uint8(typ) + 1
	}
	t.ok = true
	return t
}()

// checkFast is checkPayload for a payload that decodes; ok is false when it
// could not vouch for it (then checkPayload decides, with the decode's own
// error).
func (d *decoder) checkFast(k Kind, payload []byte) (h Header, ok bool) {
	if d.table == nil || d.tableKind != k {
		d.table, d.tableKind = tableOf(k), k
	}
	t := d.table
	if !t.ok || d.parse(payload, 0) != nil {
		return h, false
	}
	var seen uint64 // top-level field numbers below 64 already met, from the end
	body, hasBody := rawField{}, false
	for i := len(d.fields) - 1; i >= 0; i-- {
		f := d.fields[i]
		if f.num >= 64 || seen&(1<<f.num) != 0 {
			continue // not a header field, or not its last occurrence
		}
		seen |= 1 << f.num
		want := headerTypes.types[f.num]
		if want == 0 {
			continue
		}
		if want != uint8(f.typ)+1 {
			return h, false
		}
		switch f.num {
		case fieldTerm:
			h.Term = f.v
		case fieldIndex:
			h.Index = f.v
		case fieldLamport:
			h.Lamport = f.v
		case fieldTime:
			h.Time = protowire.DecodeZigZag(f.v)
		case fieldBody:
			body, hasBody = f, true
		}
	}
	if !hasBody {
		return h, true
	}
	if d.parse(payload[body.lo:body.hi], body.lo) != nil {
		return h, false
	}
	seen = 0
	for i := len(d.fields) - 1; i >= 0; i-- {
		f := d.fields[i]
		if f.num >= 64 {
			if f.num > maxFieldNum {
				continue // a decode never asks for it
			}
			return h, false // rare: let the decoder judge
		}
		if seen&(1<<f.num) != 0 {
			continue // not the last occurrence
		}
		seen |= 1 << f.num
		if want := t.types[f.num]; want != 0 && want != uint8(f.typ)+1 {
			return h, false
		}
	}
	return h, true
}
