package walcmd

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncnet/syncnet/eventlog"
)

// A follower's uncommitted suffix overruled by a new leader: the discard
// record and the replacements are accepted by verify, and replay shows the
// replacements, never the discarded entries.
func TestDiscardAndReplacement(t *testing.T) {
	b := newBuilder(t, filepath.Join(t.TempDir(), "node3", "wal"), 0)
	b.newTerm(1, "node1")
	b.msg("general", "alice", "one", "1").msg("general", "alice", "two", "2").commit() // 1..3 committed
	b.msg("general", "alice", "lost four", "4").msg("general", "alice", "lost five", "5")
	b.term, b.origin = 2, "node2" // as a follower writes it: term, discard, then the new leader's entries
	b.local(&eventlog.TermStarted{Term: 2, Candidate: "node2"})
	b.discard(4)
	b.noop()
	b.msg("general", "bob", "new five", "b5").commit()
	dir := b.close()

	r := wal(t, "verify", dir)
	if r.code != 0 {
		t.Fatalf("verify: %+v", r)
	}
	mustContain(t, "verify", r.stdout, "cluster log 1..5, committed 5, discarded 2, last term 2")

	r = wal(t, "export", "--room", "general", "--format", "txt", dir)
	if r.code != 0 {
		t.Fatalf("export: %+v", r)
	}
	mustContain(t, "export", r.stdout, "<alice> one", "<alice> two", "#5 ", "<bob> new five")
	if strings.Contains(r.stdout, "lost") {
		t.Errorf("export shows a discarded entry:\n%s", r.stdout)
	}
}

// A discard that reaches into the committed prefix breaks the log's rules.
func TestDiscardBelowCommit(t *testing.T) {
	b := newBuilder(t, t.TempDir(), 0)
	b.newTerm(1, "node1")
	b.msg("general", "alice", "one", "1").msg("general", "alice", "two", "2").commit()
	b.newTerm(2, "node2")
	b.discard(2)
	b.msg("general", "bob", "other two", "b2")
	dir := b.close()

	r := wal(t, "verify", dir)
	if r.code != ExitProblem {
		t.Fatalf("exit %d: %+v", r.code, r)
	}
	mustContain(t, "verify", r.stdout, "discards from index 2, below the recorded commit index 3")
	if r := wal(t, "replay", dir); r.code != ExitProblem || !strings.Contains(r.msg, "verify --all") {
		t.Errorf("replay of a log that breaks its rules: %+v", r)
	}
}

// Lamport times that stop growing, a gap in the cluster indexes, a term that
// goes back, and two leaders in one term: verify stops at the first, --all
// lists them all.
func TestInvariantViolations(t *testing.T) {
	b := newBuilder(t, t.TempDir(), 0)
	b.newTerm(2, "node1")
	b.msg("general", "alice", "one", "1")
	b.lamport = 0
	b.msg("general", "alice", "stale clock", "2")
	b.local(&eventlog.LeaderElected{Term: 2, Leader: "node2"})
	b.term = 1
	b.msg("general", "alice", "old term", "3")
	b.term = 2
	b.next++
	b.msg("general", "alice", "after a gap", "4")
	b.commit()
	dir := b.close()
	seg := segments(t, dir)[0]

	r := wal(t, "verify", dir)
	if r.code != ExitProblem || strings.Count(r.stdout, "FAIL") != 1 {
		t.Fatalf("verify: exit %d, want 1 with one problem:\n%s", r.code, r.stdout)
	}
	r = wal(t, "verify", "--all", dir)
	if r.code != ExitProblem {
		t.Fatalf("verify --all: exit %d", r.code)
	}
	golden(t, "verify-all-invariants.txt", r.transcript([]string{"verify", "--all", dir}, dir))
	mustContain(t, "verify --all", r.stdout,
		fmt.Sprintf("FAIL %s index 7: two leaders in term 2: \"node1\" (record 3) and \"node2\" (I1)", seg),
		fmt.Sprintf("FAIL %s index 8: wal record 8: term 1 at index 4 is below term 2", seg),
		"wal record 9 holds cluster index 6 but the log only reaches 3",
		"Lamport time 1 at cluster index 3 does not grow past 1 at index 2 (I6)")
	mustContain(t, "verify --all", r.msg, "4 problem(s)")
}

// replicated builds a node's log of n committed messages whose text at index
// diverge (if not 0) differs, with local records of its own.
func replicated(t *testing.T, name string, n int, diverge uint64, commit int) string {
	b := newBuilder(t, filepath.Join(t.TempDir(), name, "wal"), 0)
	b.newTerm(1, "node1")
	b.local(&eventlog.NodeSuspected{NodeEvent: eventlog.NodeEvent{Node: name + "-peer"}})
	for i := 0; i < n; i++ {
		text := fmt.Sprintf("message %d", i)
		if b.next == diverge {
			text += " (" + name + "'s version)"
		}
		b.msg("general", "alice", text, fmt.Sprint(i))
		if int(b.next-1) == commit {
			b.commit()
		}
	}
	return b.close()
}

func TestDiffAgree(t *testing.T) {
	a := replicated(t, "node1", 20, 0, 21)
	b := replicated(t, "node2", 20, 0, 15)
	c := replicated(t, "node3", 18, 0, 19)
	r := wal(t, "diff", a, filepath.Dir(b), c)
	if r.code != 0 {
		t.Fatalf("diff: %+v", r)
	}
	mustContain(t, "diff", r.stdout,
		"node1      "+a+": cluster log 1..21, committed 21; local-only records 5 (term_started 1, leader_elected 1, vote_cast 1, node_suspected 1, committed_up_to 1)",
		"node2      "+b+": cluster log 1..21, committed 15;",
		"AGREE: committed entries identical on 3 nodes up to cluster index 15 (each pair compared up to its smaller commit index; highest 21)")
}

func TestDiffDiverge(t *testing.T) {
	a := replicated(t, "node1", 20, 0, 21)
	b := replicated(t, "node2", 20, 12, 21)
	c := replicated(t, "node3", 20, 0, 10) // has not committed 12: not compared there
	r := wal(t, "diff", a, b, c)
	if r.code != ExitProblem {
		t.Fatalf("diff: exit %d: %+v", r.code, r)
	}
	tr := r.transcript([]string{"diff", a, b, c}, "")
	for _, d := range []string{a, b, c} {
		tr = strings.ReplaceAll(tr, tmpOf(d), "$TMP")
	}
	golden(t, "diff-diverge.txt", tr)
	mustContain(t, "diff", r.stdout,
		"DIVERGE at cluster index 12 (committed on every node listed):\n"+
			"  node1      WAL index 16: message_posted origin=\"node1\" term=1 index=12 lamport=11 time=2026-11-26T14:00:12Z room=\"general\" from=\"alice\" text=\"message 10\" id=\"10\"\n"+
			"  node2      WAL index 16: message_posted origin=\"node1\" term=1 index=12 lamport=11 time=2026-11-26T14:00:12Z room=\"general\" from=\"alice\" text=\"message 10 (node2's version)\" id=\"10\"\n")
	if strings.Contains(r.stdout, "  node3 ") {
		t.Errorf("node3 has not committed index 12 but is listed:\n%s", r.stdout)
	}
}

func TestDiffTwoLeaders(t *testing.T) {
	a := replicated(t, "node1", 3, 0, 4)
	b := newBuilder(t, filepath.Join(t.TempDir(), "node2", "wal"), 0)
	b.newTerm(1, "node2")
	for i := 0; i < 3; i++ {
		b.msg("general", "alice", fmt.Sprintf("message %d", i), fmt.Sprint(i))
	}
	b.origin = "node1"
	r := wal(t, "diff", a, b.close())
	if r.code != ExitProblem {
		t.Fatalf("diff: exit %d: %+v", r.code, r)
	}
	mustContain(t, "diff", r.stdout, `TWO LEADERS in term 1 (I1): node1 says "node1", node2 says "node2"`)
}

// diff reads its logs side by side but reports as if it read them one after
// another: notes in argument order, and the first log (in argument order)
// that cannot be read or breaks its rules decides the outcome; the logs
// after it are not reported on.
func TestDiffReportsInArgumentOrder(t *testing.T) {
	a := replicated(t, "node1", 5, 0, 6)
	b := replicated(t, "node2", 5, 0, 6)
	bad := chatLog(t)
	seg := segments(t, bad)[1]
	data := readFile(t, seg)
	recs, _ := entrySpans(data)
	data[recs[2][0]+45] ^= 0x10
	writeFile(t, seg, data)
	missing := filepath.Join(t.TempDir(), "missing")

	r := wal(t, "diff", filepath.Dir(a), filepath.Dir(b))
	if r.code != 0 {
		t.Fatalf("diff: %+v", r)
	}
	want := fmt.Sprintf("syncnet wal: %s is a node directory; reading its wal directory %s\nsyncnet wal: %s is a node directory; reading its wal directory %s\n",
		filepath.Dir(a), a, filepath.Dir(b), b)
	if r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}

	r = wal(t, "diff", filepath.Dir(a), missing, bad)
	if r.code != ExitInput || !strings.Contains(r.msg, missing+": no such directory") || r.stdout != "" {
		t.Errorf("diff with a missing second directory: %+v", r)
	}
	mustContain(t, "stderr", r.stderr, "is a node directory; reading its wal directory "+a)

	r = wal(t, "diff", a, bad, missing)
	if r.code != ExitProblem || !strings.Contains(r.msg, "corrupt: "+seg) || r.stdout != "" {
		t.Errorf("diff with a corrupt second log: %+v", r)
	}
	r = wal(t, "diff", bad, filepath.Dir(a))
	if r.code != ExitProblem || !strings.Contains(r.msg, "corrupt: "+seg) || r.stderr != "" {
		t.Errorf("diff with a corrupt first log: %+v (a later log's notes must not show)", r)
	}
}
