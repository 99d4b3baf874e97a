package walcmd

import (
	"fmt"
	"strings"

	"github.com/syncnet/syncnet/eventlog"
)

const dumpHelp = `Print every record of the WAL in sequence order, one per line: its WAL
sequence number, then the record: kind, origin, term, cluster index for
replicated entries, Lamport time, wall time ("-" for none: a new leader's
no-op has none), then the record's own fields (user text quoted, with
control characters escaped). --json prints one
JSON object per line instead (seq, kind, origin, term, index, lamport, time
in RFC 3339, hash = the record's chain hash, body = the kind's fields, text
exact). --from/--to select WAL sequence numbers, --kind one kind. The whole
log up to --to is verified while it is read; a torn tail is reported on
stderr and the good records before it are printed.`

func runDump(e *env, args []string) error {
	fs := newFlags(e, "dump", "[--json] [--from SEQ] [--to SEQ] [--kind K] DIR", dumpHelp)
	asJSON := fs.Bool("json", false, "one JSON object per line")
	from := fs.Uint64("from", 0, "first WAL sequence number to print")
	to := fs.Uint64("to", 0, "last WAL sequence number to print (0 = the end)")
	kindName := fs.String("kind", "", "print only records of this kind (e.g. message_posted)")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	var kind eventlog.Kind
	if *kindName != "" {
		k, ok := eventlog.ParseKind(*kindName)
		if !ok {
			return exitf(ExitUsage, "dump: unknown kind %q; kinds are: %s", *kindName, kindNames())
		}
		kind = k
	}
	src, err := openSource(e, pos[0])
	if err != nil {
		return err
	}
	if e.outTTY {
		e.tty = false // records stream to the same terminal: a bar would garble them
	}
	enc := newJSONWriter(e.stdout)
	rep, err := src.scan(e, "dump", nil, func(seq uint64, ev eventlog.Event, h eventlog.Hash) error {
		if *to != 0 && seq > *to {
			return errStop
		}
		if seq < *from || (kind != 0 && ev.Kind() != kind) {
			return nil
		}
		if *asJSON {
			return enc.encode(dumpRecord(seq, ev, h))
		}
		_, err := fmt.Fprintf(e.stdout, "%d %s\n", seq, describe(ev))
		return err
	})
	if err != nil {
		return readError(src, err)
	}
	warnTorn(e, rep)
	return nil
}

// dumpJSON is one line of `dump --json`. Header fields come first, in a fixed
// order; body fields are nested so that a body field named like a header
// field (term, index) cannot clash.
type dumpJSON struct {
	Seq     uint64         `json:"seq"`
	Kind    string         `json:"kind"`
	Origin  string         `json:"origin"`
	Term    uint64         `json:"term"`
	Index   uint64         `json:"index"`
	Lamport uint64         `json:"lamport"`
	Time    string         `json:"time"` // RFC 3339, "" if the record has none (no-ops)
	Hash    string         `json:"hash"`
	Body    map[string]any `json:"body"`
}

func dumpRecord(seq uint64, ev eventlog.Event, h eventlog.Hash) dumpJSON {
	d := dumpJSON{Seq: seq, Kind: ev.Kind().String(), Origin: ev.Origin, Term: ev.Term, Index: ev.Index,
		Lamport: ev.Lamport, Hash: h.String(), Body: ev.Fields()}
	if ev.Time != 0 {
		d.Time = fmtTime(ev.Time)
	}
	return d
}

// describe renders a record for dump and diff: eventlog's Describe, with
// the term once and a missing time as "-". An election record (and a
// discard; local records all) names its term in its body, which the node
// writes with the same term in the header; a header term that differs from the body's is
// shown apart, as header_term.
func describe(ev eventlog.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s origin=%q", ev.Kind(), ev.Origin)
	var bodyTerm uint64
	hasTerm := false
	if ev.Index == 0 { // only local records name a term in their body
		bodyTerm, hasTerm = ev.Fields()["term"].(uint64)
	}
	switch {
	case !hasTerm:
		fmt.Fprintf(&b, " term=%d", ev.Term)
	case bodyTerm != ev.Term:
		fmt.Fprintf(&b, " header_term=%d", ev.Term)
	}
	if ev.Index != 0 {
		fmt.Fprintf(&b, " index=%d", ev.Index)
	}
	fmt.Fprintf(&b, " lamport=%d time=%s", ev.Lamport, fmtTime(ev.Time))
	if ev.Author != "" || ev.RequestID != "" {
		fmt.Fprintf(&b, " author=%q request=%q", ev.Author, ev.RequestID)
	}
	if ev.Body != nil {
		if d := ev.Body.Describe(); d != "" {
			b.WriteByte(' ')
			b.WriteString(d)
		}
	}
	return b.String()
}

func kindNames() string {
	var names []string
	for _, k := range eventlog.Kinds() {
		names = append(names, k.String())
	}
	return strings.Join(names, ", ")
}
