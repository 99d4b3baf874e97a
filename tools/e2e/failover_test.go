package e2e

import (
	"testing"
	"time"
)

// others is ids without id.
func others(ids []string, id string) []string {
	var out []string
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

// TestLeaderFailure: kill -9 the leader under load; a survivor leads, posts
// continue, survivors agree on every acknowledged post; the killed node
// restarts and catches up.
func TestLeaderFailure(t *testing.T) {
	c := start(t, 3)
	w := c.startPosters(3, "lf")
	w.waitAcked(10, 30*time.Second)

	old := c.waitLeader()
	c.kill9(old)
	leader := c.waitLeader()
	if leader == old {
		t.Fatalf("killed leader %s still named leader", old)
	}
	w.waitAcked(15, 30*time.Second)
	w.stop()
	survivors := others(c.ids, old)
	if v := w.check(survivors); v.lost+v.duplicated > 0 {
		t.Fatalf("survivors: %d lost, %d duplicated", v.lost, v.duplicated)
	}

	c.restart(old)
	w.check(c.ids)
}

// TestRollingRestart: every node in turn is stopped (SIGTERM for the first,
// kill -9 for the others) and started again under continuous posting.
func TestRollingRestart(t *testing.T) {
	c := start(t, 3)
	w := c.startPosters(3, "rr")
	w.waitAcked(5, 30*time.Second)
	for i, id := range c.ids {
		if i == 0 {
			c.term(id)
		} else {
			c.kill9(id)
		}
		c.waitLeader()
		w.waitAcked(5, 30*time.Second)
		c.restart(id)
		c.waitLeader()
		w.waitAcked(5, 30*time.Second)
	}
	w.stop()
	if v := w.check(c.ids); v.lost+v.duplicated > 0 {
		t.Fatalf("%d lost, %d duplicated", v.lost, v.duplicated)
	}
}

// TestWholeClusterRestart: posts, then kill -9 of every node at once, then a
// restart of all: the history is intact everywhere (I4).
func TestWholeClusterRestart(t *testing.T) {
	c := start(t, 3)
	w := c.startPosters(3, "wc")
	w.waitAcked(30, 60*time.Second)
	w.stop()
	before := w.check(c.ids)
	t.Logf("before: %d acknowledged", before.acked)
	for _, id := range c.ids {
		c.kill9(id)
	}
	for _, id := range c.ids {
		c.launch(id, nil)
	}
	for _, id := range c.ids {
		c.waitUp(id)
	}
	c.waitLeader()
	after := w.check(c.ids)
	if after.lost+after.duplicated > 0 {
		t.Fatalf("after whole-cluster restart: %d lost, %d duplicated", after.lost, after.duplicated)
	}
	if d := diff(before.history, after.history); d != "" {
		t.Fatalf("history changed across the restart: %s", d)
	}
	for i, m := range before.history {
		if a := after.history[i]; a != m {
			t.Fatalf("message changed across the restart: %+v became %+v", m, a)
		}
	}
	// The restarted cluster still commits.
	w2 := c.startPosters(1, "wc2")
	w2.waitAcked(3, 30*time.Second)
	w2.stop()
	w2.check(c.ids)
}

// TestPausedLeader: SIGSTOP the leader for 2x failure_timeout and more; a
// new leader commits; after SIGCONT the old one follows a later term. No
// term ever has two leaders (I1).
func TestPausedLeader(t *testing.T) {
	c := start(t, 3)
	mon := c.monitorLeaders()
	w := c.startPosters(3, "pl")
	w.waitAcked(5, 30*time.Second)

	old := c.waitLeader()
	oldSt, err := c.status(old)
	if err != nil {
		t.Fatal(err)
	}
	c.stop(old)
	time.Sleep(2 * failureTimeout)
	leader := c.waitLeader()
	if leader == old {
		t.Fatalf("paused leader %s still named leader", old)
	}
	w.waitAcked(10, 30*time.Second)
	c.cont(old)

	// The old leader must learn of the later term and follow.
	var st status
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err = c.status(old)
		if err == nil && st.Term > oldSt.Term && st.Leader != "" && st.Leader != old {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after SIGCONT: still term %d leader %q (was term %d), err %v", old, st.Term, st.Leader, oldSt.Term, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%s stepped down: term %d leader %s", old, st.Term, st.Leader)
	w.waitAcked(5, 30*time.Second)
	w.stop()
	mon.finish()
	if v := w.check(c.ids); v.lost+v.duplicated > 0 {
		t.Fatalf("%d lost, %d duplicated", v.lost, v.duplicated)
	}
}
