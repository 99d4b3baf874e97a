package walcmd

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/syncnet/syncnet/eventlog"
)

const diffHelp = `Compare the replicated logs of several nodes (give each node's wal or node
directory). Committed entries must be identical on every node (I2, I3):
for every cluster index up to each pair's smaller recorded commit index, the
entries must match in term, kind, origin, Lamport time, wall time and every
body field. The first divergence is printed with each node's version of the
entry (and its WAL index), exit 1. Elections are compared too: two nodes
naming different leaders for one term break I1, exit 1. Local-only records
(votes, term records, suspicions, commit and discard records) are a node's
own observations: they are listed as counts per node, never as divergence,
and uncommitted tails are shown but not compared. Agreement: exit 0.`

// node is one log in a diff.
type node struct {
	name string
	a    *analysis
}

func runDiff(e *env, args []string) error {
	fs := newFlags(e, "diff", "DIR1 DIR2 [DIR...]", diffHelp)
	pos, err := parse(fs, args, 2, -1)
	if err != nil {
		return err
	}
	nodes := make([]node, 0, len(pos))
	for _, p := range pos {
		a, err := load(e, p, "diff", nil)
		if err != nil {
			return err
		}
		nodes = append(nodes, node{a: a})
	}
	nameNodes(nodes)
	for _, n := range nodes {
		printNode(e, n)
	}
	var bad []string
	if d := firstDivergence(nodes); d != "" {
		bad = append(bad, d)
	}
	bad = append(bad, leaderConflicts(nodes)...)
	if len(bad) > 0 {
		for _, b := range bad {
			fmt.Fprintf(e.stdout, "\n%s", b)
		}
		return exitf(ExitProblem, "diff: the logs disagree")
	}
	lo, hi := commitRange(nodes)
	fmt.Fprintf(e.stdout, "\nAGREE: committed entries identical on %d nodes up to cluster index %d (each pair compared up to its smaller commit index; highest %d); no conflicting leaders\n",
		len(nodes), lo, hi)
	return nil
}

// nameNodes names each node by its node directory's name, or by the
// argument as given when two would share a name.
func nameNodes(nodes []node) {
	seen := map[string]int{}
	for _, n := range nodes {
		seen[n.a.src.label()]++
	}
	for i := range nodes {
		nodes[i].name = nodes[i].a.src.label()
		if seen[nodes[i].name] > 1 {
			nodes[i].name = nodes[i].a.src.arg
		}
	}
}

func printNode(e *env, n node) {
	a := n.a
	fmt.Fprintf(e.stdout, "%-10s %s: cluster log %s, committed %d; local-only records %s\n",
		n.name, a.src.dir, span(1, a.log.LastIndex()), a.log.Commit, localCounts(a.local))
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

func commitRange(nodes []node) (lo, hi uint64) {
	lo = nodes[0].a.log.Commit
	for _, n := range nodes {
		lo, hi = min(lo, n.a.log.Commit), max(hi, n.a.log.Commit)
	}
	return lo, hi
}

// firstDivergence walks the cluster indexes in order; at each, the nodes
// that have committed it must hold the same entry.
func firstDivergence(nodes []node) string {
	_, hi := commitRange(nodes)
	for i := uint64(1); i <= hi; i++ {
		var have []node
		for _, n := range nodes {
			if n.a.log.Commit >= i {
				have = append(have, n)
			}
		}
		for _, n := range have[1:] {
			if !sameEntry(have[0].a.log.Entries[i-1].Event, n.a.log.Entries[i-1].Event) {
				return divergence(i, have)
			}
		}
	}
	return ""
}

func divergence(index uint64, have []node) string {
	var b strings.Builder
	fmt.Fprintf(&b, "DIVERGE at cluster index %d (committed on every node listed):\n", index)
	for _, n := range have {
		en := n.a.log.Entries[index-1]
		fmt.Fprintf(&b, "  %-10s WAL index %d: %s\n", n.name, en.Seq, en.Event.Describe())
	}
	return b.String()
}

// sameEntry compares two replicated entries field by field (the chain hashes
// differ between nodes, since each WAL interleaves its own local records):
// the header, then the bodies, which must be of one type with equal fields.
func sameEntry(x, y eventlog.Event) bool {
	return x.Header == y.Header && reflect.DeepEqual(x.Body, y.Body)
}

// leaderConflicts lists terms for which two nodes recorded different leaders.
func leaderConflicts(nodes []node) []string {
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
