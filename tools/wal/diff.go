package walcmd

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/state"
)

const diffHelp = `Compare the replicated logs of several nodes (give each node's wal or node
directory). Committed entries must be identical on every node: for every
cluster index up to each pair's smaller recorded commit index, the entries
must match in term, kind, origin, Lamport time, wall time and every field.
The first divergence is printed with each node's version of the entry (and
its WAL index), exit 1. Elections are compared too: two nodes naming
different leaders for one term is a problem, exit 1. Local-only records
(votes, term records, suspicions, commit and discard records) are a node's
own observations: they are listed as counts per node, never as divergence,
and uncommitted tails are shown but not compared. Agreement: exit 0, with
the log hash (hash@index, as 'wal verify' and 'status' show it) of the
history all the nodes committed.`

// node is one log in a diff.
type node struct {
	name  string
	src   *source
	a     *analysis
	err   error        // from opening or loading it
	env   env          // its own, so that its notes come out in node order
	notes bytes.Buffer // what it wrote on stderr
	stop  context.CancelFunc

	// Its committed entries, in index order, on their way to the comparison.
	ch    chan []state.Entry
	free  chan []state.Entry
	batch []state.Entry
	// Taken by the comparison.
	recv []state.Entry
	pos  int
}

// runDiff reads the logs side by side, each on its own goroutine: every log
// hands over its committed entries in index order as its commit records
// cover them (see logFold), and the comparison takes cluster index i from
// every log that commits it. Whether a log commits i is known once its
// stream yields i or ends, so nothing is held but each log's window and the
// batches in flight. Output comes after all logs are read, as if they had
// been read one after another: a log's problem (or a directory that cannot
// be opened) is reported instead of the comparison, the first in argument
// order, and the logs after it are not read to the end.
func runDiff(e *env, args []string) error {
	fs := newFlags(e, "diff", "DIR1 DIR2 [DIR...]", diffHelp)
	pos, err := parse(fs, args, 2, -1)
	if err != nil {
		return err
	}
	var nodes []*node
	for _, p := range pos {
		n := &node{env: *e}
		n.env.stderr, n.env.tty = &n.notes, false
		n.env.ctx, n.stop = context.WithCancel(e.ctx)
		defer n.stop()
		nodes = append(nodes, n)
		if n.src, n.err = openSource(&n.env, p); n.err != nil {
			break // the ones before it are still read: their problems come first
		}
	}
	var opened []*node
	for _, n := range nodes {
		if n.src != nil {
			opened = append(opened, n)
		}
	}
	var dirs []string
	for _, n := range opened {
		dirs = append(dirs, n.src.dir)
	}
	bar := newProgress(e, func() int64 {
		var total int64
		for _, n := range opened {
			total += n.src.estimateRecords()
		}
		return total
	}, "diff "+strings.Join(dirs, " "))
	for i, n := range opened {
		n.ch, n.free = make(chan []state.Entry, 4), make(chan []state.Entry, 5)
		go func() {
			defer close(n.ch)
			n.a, n.err = loadSource(&n.env, n.src, "diff", foldOpts{emit: n.send, bar: bar, hash: true})
			n.flush()
			if n.err != nil {
				for _, later := range opened[i+1:] {
					later.stop() // its output will not be shown
				}
			}
		}()
	}
	nameNodes(opened)
	divergence := compare(opened)
	bar.done()
	for _, n := range nodes {
		_, _ = e.stderr.Write(n.notes.Bytes())
		if n.err != nil {
			return n.err
		}
	}
	for _, n := range nodes {
		printNode(e, n)
	}
	var bad []string
	if divergence != "" {
		bad = append(bad, divergence)
	}
	bad = append(bad, leaderConflicts(nodes)...)
	if len(bad) > 0 {
		for _, b := range bad {
			fmt.Fprintf(e.stdout, "\n%s", b)
		}
		return exitf(ExitProblem, "diff: the logs disagree")
	}
	lo, hi := commitRange(nodes)
	fmt.Fprintf(e.stdout, "\nAGREE: committed entries identical on %d nodes up to cluster index %d (each pair compared up to its smaller commit index; highest %d); no conflicting leaders; log hash %s\n",
		len(nodes), lo, hi, commonHash(nodes))
	return nil
}

// diffBatch is how many entries a log sends to the comparison at a time.
const diffBatch = 256

// send queues a committed entry for the comparison (the log's goroutine).
func (n *node) send(en state.Entry) {
	if n.batch == nil {
		select {
		case n.batch = <-n.free:
		default:
			n.batch = make([]state.Entry, 0, diffBatch)
		}
	}
	n.batch = append(n.batch, en)
	if len(n.batch) == diffBatch {
		n.flush()
	}
}

func (n *node) flush() {
	if len(n.batch) > 0 {
		n.ch <- n.batch
		n.batch = nil
	}
}

// next returns the log's next committed entry, or false once it has no more
// (its scan is over: it does not commit this index).
func (n *node) next() (state.Entry, bool) {
	if n.pos == len(n.recv) {
		if n.recv != nil {
			clear(n.recv)
			select {
			case n.free <- n.recv[:0]:
			default:
			}
		}
		b, ok := <-n.ch
		if !ok {
			n.recv, n.pos = nil, 0
			return state.Entry{}, false
		}
		n.recv, n.pos = b, 0
	}
	n.pos++
	return n.recv[n.pos-1], true
}

// compare walks the cluster indexes in order; at each, the logs that commit
// it must hold the same entry. It returns the first divergence ("" if
// none), having taken every log's entries to the end.
func compare(nodes []*node) string {
	var found string
	have := make([]*node, 0, len(nodes))
	at := make([]state.Entry, len(nodes))
	for i := uint64(1); ; i++ {
		have = have[:0]
		for _, n := range nodes {
			if en, ok := n.next(); ok {
				at[len(have)] = en
				have = append(have, n)
			}
		}
		if len(have) == 0 {
			return found
		}
		if found != "" {
			continue // read on: the logs' own problems come first
		}
		for k := 1; k < len(have); k++ {
			if !sameEntry(at[0].Event, at[k].Event) {
				found = describeDivergence(i, have, at)
				break
			}
		}
	}
}

func describeDivergence(index uint64, have []*node, at []state.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "DIVERGE at cluster index %d (committed on every node listed):\n", index)
	for k, n := range have {
		fmt.Fprintf(&b, "  %-10s WAL index %d: %s\n", n.name, at[k].Seq, describe(at[k].Event))
	}
	return b.String()
}

// nameNodes names each node by its node directory's name, or by the
// argument as given when two would share a name.
func nameNodes(nodes []*node) {
	seen := map[string]int{}
	for _, n := range nodes {
		seen[n.src.label()]++
	}
	for _, n := range nodes {
		n.name = n.src.label()
		if seen[n.name] > 1 {
			n.name = n.src.arg
		}
	}
}

func printNode(e *env, n *node) {
	a := n.a
	fmt.Fprintf(e.stdout, "%-10s %s: cluster log %s, committed %d; local-only records %s; log hash %s\n",
		n.name, a.src.dir, span(1, a.log.LastIndex()), a.log.Commit, localCounts(a.local), a.hash.String())
}

// commonHash is the log hash at the smallest commit index: the logs agree
// up to it, so it is every node's hash there, and the hash of the node that
// committed least.
func commonHash(nodes []*node) string {
	least := nodes[0]
	for _, n := range nodes {
		if n.a.log.Commit < least.a.log.Commit {
			least = n
		}
	}
	return least.a.hash.String()
}

func localCounts(m []uint64) string {
	var total uint64
	var parts []string
	for _, k := range eventlog.Kinds() {
		if m[k] > 0 {
			total += m[k]
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	if total == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

func commitRange(nodes []*node) (lo, hi uint64) {
	lo = nodes[0].a.log.Commit
	for _, n := range nodes {
		lo, hi = min(lo, n.a.log.Commit), max(hi, n.a.log.Commit)
	}
	return lo, hi
}

// sameEntry compares two replicated entries field by field (the chain hashes
// differ between nodes, since each WAL interleaves its own local records):
// the header, then the bodies, which must be of one type with equal fields.
func sameEntry(x, y eventlog.Event) bool {
	return x.Header == y.Header && reflect.DeepEqual(x.Body, y.Body)
}

// leaderConflicts lists terms for which two nodes recorded different leaders.
func leaderConflicts(nodes []*node) []string {
	type claim struct{ node, leader string }
	byTerm := map[uint64][]claim{}
	for _, n := range nodes {
		for t, ti := range n.a.terms {
			if ti.leader != "" {
				byTerm[t] = append(byTerm[t], claim{n.name, ti.leader})
			}
		}
	}
	var terms []uint64
	for t := range byTerm {
		terms = append(terms, t)
	}
	sort.Slice(terms, func(i, j int) bool { return terms[i] < terms[j] })
	var out []string
	for _, t := range terms {
		cs := byTerm[t]
		for _, c := range cs[1:] {
			if c.leader != cs[0].leader {
				var parts []string
				for _, c := range cs {
					parts = append(parts, fmt.Sprintf("%s says %q", c.node, c.leader))
				}
				out = append(out, fmt.Sprintf("TWO LEADERS in term %d (I1): %s\n", t, strings.Join(parts, ", ")))
				break
			}
		}
	}
	return out
}
