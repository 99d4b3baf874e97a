package eventlog

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Header is carried by every event.
type Header struct {
	// Origin is the id of the node that created the event.
	Origin string
	// Term is the election term in which the event was created (0 before any
	// election).
	Term uint64
	// Index is the replicated cluster index. 0 means a local-only record (a
	// node's own observation, such as NodeSuspected or VoteCast) that is never
	// replicated. It is distinct from the local WAL sequence number (seq).
	Index uint64
	// Lamport is the Lamport time of the event (I6).
	Lamport uint64
	// Time is the wall-clock time of creation, in Unix nanoseconds, stamped
	// by the leader that sequenced the event. Ordering never depends on it;
	// timed bans and mutes are decided against it, so every node decides
	// alike (node/state).
	Time int64
	// Author and RequestID name the request a replicated event carries out:
	// the user on whose behalf it was proposed and the id that request got
	// (random unless the user chose one). A retry of a request carries the
	// same pair, and node/state applies only the first entry with it
	// (exactly once, I5). Both are empty in local records, and in records
	// written before these fields existed: there a MessagePosted's or
	// DirectMessage's ClientMsgID (with its From) stands for them.
	Author    string
	RequestID string
}

// Event is one typed record of the log: a header and a body. Construct one
// with a pointer body:
//
//	ev := eventlog.Event{
//		Header: eventlog.Header{Origin: "node1", Term: 3, Lamport: 9, Time: now},
//		Body:   &eventlog.MessagePosted{Room: "general", From: "alice", Text: "hi"},
//	}
//
// and dispatch on it with a type switch on ev.Body or a switch on ev.Kind().
type Event struct {
	Header
	Body Body
	// entry, when set, is this event's entry-form record (WithEntryRecord).
	entry []byte
}

// Body is the kind-specific part of an event. Built-in bodies are the pointer
// types in this package; plugins may add their own with RegisterKind.
type Body interface {
	// Kind returns the body's kind; it is constant for a type.
	Kind() Kind
	// Describe returns a one-line, human-readable summary for logs and dumps.
	// User-supplied text is quoted with %q so control characters are escaped.
	Describe() string
	// Wire visits every field with its field number. The codec uses it both
	// to encode and to decode, so it must visit the same fields every time.
	// Field numbers are forever: add new ones, never renumber or reuse.
	Wire(w Wire)
}

// Wire is the visitor a Body's Wire method calls for each field. Field numbers
// must be in 1..1000. Zero values are not stored, so a field added later
// decodes as its zero value from older records.
type Wire interface {
	String(num int, p *string)
	Uint(num int, p *uint64)
	Int(num int, p *int64)
}

// Kind returns the kind of the event's body, or KindInvalid if it has none.
func (e Event) Kind() Kind {
	if e.Body == nil {
		return KindInvalid
	}
	return e.Body.Kind()
}

// Describe returns a one-line summary: header then body.
func (e Event) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s origin=%q term=%d", e.Kind(), e.Origin, e.Term)
	if e.Index != 0 {
		fmt.Fprintf(&b, " index=%d", e.Index)
	}
	fmt.Fprintf(&b, " lamport=%d time=%s", e.Lamport, time.Unix(0, e.Time).UTC().Format(time.RFC3339Nano))
	if e.Author != "" || e.RequestID != "" {
		fmt.Fprintf(&b, " author=%q request=%q", e.Author, e.RequestID)
	}
	if e.Body != nil {
		if d := e.Body.Describe(); d != "" {
			b.WriteByte(' ')
			b.WriteString(d)
		}
	}
	return b.String()
}

// Fields returns the body's fields by their JSON names (snake_case), for
// generic tools such as `wal dump --json`. Values keep their Go types (string,
// uint64, int64).
func (e Event) Fields() map[string]any {
	m := map[string]any{}
	if e.Body != nil {
		collectFields(reflect.ValueOf(e.Body), m)
	}
	return m
}

func collectFields(v reflect.Value, m map[string]any) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			collectFields(v.Field(i), m)
			continue
		}
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = v.Field(i).Interface()
	}
}

// eventJSON is the JSON shape of an event.
type eventJSON struct {
	Kind    string         `json:"kind"`
	Origin  string         `json:"origin"`
	Term    uint64         `json:"term"`
	Index   uint64         `json:"index"`
	Lamport uint64         `json:"lamport"`
	Time    int64          `json:"time"`
	Author  string         `json:"author,omitempty"`
	Request string         `json:"request_id,omitempty"`
	Body    map[string]any `json:"body"`
}

// MarshalJSON renders the event as
// {"kind":..., "origin":..., "term":..., "index":..., "lamport":..., "time":unix_nanos, "body":{...}},
// with "author" and "request_id" after "time" when the event has them.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(eventJSON{
		Kind: e.Kind().String(), Origin: e.Origin, Term: e.Term, Index: e.Index,
		Lamport: e.Lamport, Time: e.Time, Author: e.Author, Request: e.RequestID, Body: e.Fields(),
	})
}
