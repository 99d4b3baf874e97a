package walcmd

import (
	"fmt"
	"strings"
)

const verifyHelp = `Check a WAL the way a node checks it when it starts, without repairing
anything: every record's framing, CRC and hash-chain link, across segment
files; that every payload decodes; and the log's own rules, checked with the
node's own code: cluster indexes contiguous (a discarded, never committed
suffix is allowed), terms never decreasing along the log, no discard
reaching a committed entry, Lamport times strictly growing along committed
entries, at most one leader and one vote per election term. Clean: an OK
line, exit 0. Otherwise the file, WAL index and reason of the first
problem, exit 1 (--all: every problem; corruption still stops the scan,
since nothing after it can be trusted). A torn tail (a write cut short;
what the node would cut on its next start) is reported apart from
corruption: exit 3 if it is the only finding. On a live node's directory a
torn tail may just be a write in flight. A clean log also prints its log
hash: a hash chained over the committed entries, hash@index of the last
one, the same on every node of the cluster at that index; the checkpoint,
which 'status' shows as LOGHASH; and this WAL file's own chain head, which
also covers the node's local records and so differs between nodes.`

// maxListed bounds how many problems --all prints: one missing entry makes
// every later one fail to line up.
const maxListed = 100

func runVerify(e *env, args []string) error {
	fs := newFlags(e, "verify", "[--all] DIR", verifyHelp)
	all := fs.Bool("all", false, "report every problem, not only the first")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	src, err := openSource(e, pos[0])
	if err != nil {
		return err
	}
	a, scanErr := analyze(e, src, "verify", foldOpts{all: *all, hash: true})
	if scanErr != nil {
		if _, ok := logProblem(scanErr); !ok {
			return readError(src, scanErr)
		}
	}
	// In WAL order (a Lamport problem is found when its entry is committed).
	for _, p := range a.problems.list {
		fmt.Fprintf(e.stdout, "FAIL %s\n", p)
	}
	if a.problems.n > maxListed {
		fmt.Fprintf(e.stdout, "... and %d more problems\n", a.problems.n-maxListed)
	}
	if scanErr != nil {
		fmt.Fprintf(e.stdout, "FAIL %s\n", describeErr(src, scanErr))
	}
	if a.rep.Torn != nil {
		fmt.Fprintf(e.stdout, "%s\n", tornLine(a.rep.Torn))
	}
	switch n := a.problems.n; {
	case scanErr != nil || n > 0:
		if scanErr != nil {
			n++
		}
		return exitf(ExitProblem, "verify %s: %d problem(s) found", src.dir, n)
	case a.rep.Torn != nil:
		fmt.Fprintf(e.stdout, "%s\n", okLine(a))
		return exitf(ExitTornOnly, "verify %s: clean up to a torn tail", src.dir)
	}
	fmt.Fprintf(e.stdout, "%s\n", okLine(a))
	return nil
}

// okLine is verify's report of a clean log: the OK line, then the hashes
// an auditor compares: the log hash of the committed history (the same on
// every node that committed that index), the checkpoint `status` shows,
// and this file's own chain head.
func okLine(a *analysis) string {
	head := "-"
	if a.rep.LastSeq != 0 {
		head = fmt.Sprintf("%s@%d", a.rep.Head.Short(), a.rep.LastSeq)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "OK %s: %d records in %d segment(s) (WAL index %s); cluster log %s, committed %d, discarded %d, last term %d\n",
		a.src.dir, a.records, a.rep.Segments, span(a.rep.FirstSeq, a.rep.LastSeq),
		span(1, a.log.LastIndex()), a.log.Commit, a.log.Discarded, a.log.MaxTerm)
	fmt.Fprintf(&b, "  log hash   %-18s the committed history up to that cluster index: equal on every node\n", a.hash.String())
	fmt.Fprintf(&b, "  checkpoint %-18s what status shows as LOGHASH for that index (taken every %d entries)\n", a.hash.Checkpoint(), hashEvery)
	fmt.Fprintf(&b, "  file chain %-18s this node's WAL file with its local records (differs between nodes)", head)
	return b.String()
}
