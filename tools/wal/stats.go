package walcmd

import (
	"fmt"
	"sort"

	"github.com/syncnet/syncnet/eventlog"
)

const statsHelp = `Summarise a WAL: size on disk, record counts per kind (replicated entries
and local-only records apart), the wall-clock span, the effective cluster log
(last index, recorded commit index, entries voided by discards), the timeline
of election terms (when this node started each, who was elected, which
cluster indexes the term's entries hold), and, from the committed entries
folded with the node's own plugins, rooms with message and member counts and
the users seen. The log is verified while it is read; a log that breaks its
invariants is refused (see 'wal verify').`

func runStats(e *env, args []string) error {
	fs := newFlags(e, "stats", "DIR", statsHelp)
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	f := startFolder(until{})
	defer f.close()
	a, err := load(e, pos[0], "stats", foldOpts{fold: f})
	if err != nil {
		return err
	}
	printOverview(e, a)
	printKinds(e, a)
	printTerms(e, a)
	r := f.result(a)
	fmt.Fprintf(e.stdout, "\nchat (committed entries, folded with node/state):\n")
	r.printRooms(e)
	return nil
}

func printOverview(e *env, a *analysis) {
	w, s := e.stdout, a.src
	fmt.Fprintf(w, "wal       %s\n", s.dir)
	fmt.Fprintf(w, "size      %d bytes in %d segment file(s); snapshots: %d file(s), %d bytes\n", s.bytes, len(s.segments), s.snaps, s.snapSize)
	var local uint64
	for _, n := range a.local {
		local += n
	}
	fmt.Fprintf(w, "records   %d (WAL index %s): %d replicated, %d local-only\n",
		a.records, span(a.rep.FirstSeq, a.rep.LastSeq), a.records-local, local)
	fmt.Fprintf(w, "time      %s .. %s\n", fmtTime(a.first), fmtTime(a.last))
	fmt.Fprintf(w, "cluster   log %s, committed %d, uncommitted %d, discarded %d\n",
		span(1, a.log.LastIndex()), a.log.Commit, a.log.LastIndex()-a.log.Commit, a.log.Discarded)
}

func printKinds(e *env, a *analysis) {
	fmt.Fprintf(e.stdout, "\n%-20s %10s %12s\n", "KIND", "REPLICATED", "LOCAL-ONLY")
	for _, k := range eventlog.Kinds() {
		total, local := a.kinds[k], a.local[k]
		if total == 0 {
			continue
		}
		fmt.Fprintf(e.stdout, "%-20s %10d %12d\n", k, total-local, local)
	}
}

// termRow is one line of the term timeline.
type termRow struct {
	term        uint64
	info        termInfo
	entries     uint64
	first, last uint64 // cluster indexes of the term's entries
}

func printTerms(e *env, a *analysis) {
	rows := termRows(a)
	fmt.Fprintf(e.stdout, "\n%-6s %-12s %-12s %-36s %8s  %s\n", "TERM", "LEADER", "VOTED", "STARTED HERE", "ENTRIES", "INDEXES")
	for _, r := range rows {
		idx := "-"
		if r.entries > 0 {
			idx = fmt.Sprintf("%d..%d", r.first, r.last)
		}
		started := fmtTime(r.info.startTime)
		if r.info.startSeq == 0 {
			started = "-"
		}
		fmt.Fprintf(e.stdout, "%-6d %-12s %-12s %-36s %8d  %s\n", r.term, orDash(clean(r.info.leader)),
			orDash(clean(r.info.vote)), started, r.entries, idx)
	}
}

// termRows merges the term records with the terms of the effective log.
func termRows(a *analysis) []termRow {
	byTerm := map[uint64]*termRow{}
	row := func(t uint64) *termRow {
		if byTerm[t] == nil {
			byTerm[t] = &termRow{term: t}
			if ti := a.terms[t]; ti != nil {
				byTerm[t].info = *ti
			}
		}
		return byTerm[t]
	}
	for t := range a.terms {
		row(t)
	}
	for t, sp := range a.spans.byTerm {
		r := row(t)
		r.entries, r.first, r.last = sp.entries, sp.first, sp.last
	}
	out := make([]termRow, 0, len(byTerm))
	for _, r := range byTerm {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].term < out[j].term })
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printRooms prints rooms, messages per room and users of a rebuilt state.
func (r *rebuilt) printRooms(e *env) {
	w := e.stdout
	rooms := r.st.Chat.Rooms()
	fmt.Fprintf(w, "%-20s %8s %8s  %s\n", "ROOM", "MESSAGES", "MEMBERS", "TOPIC")
	for _, ri := range rooms {
		fmt.Fprintf(w, "%-20s %8d %8d  %s\n", clean(ri.Name), r.roomCount(ri.Name), ri.Members, clean(ri.Topic))
	}
	fmt.Fprintf(w, "rooms %d, messages %d (%d direct), users %d: %s\n",
		len(rooms), r.st.Chat.Count(), r.directCount(rooms), len(r.users), cleanJoin(capList(r.users, maxNames)))
}
