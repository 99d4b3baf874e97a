package replica

import (
	"fmt"
	"testing"
)

// ents builds entries starting at index from with the given terms.
func ents(from uint64, terms ...uint64) []Entry {
	out := make([]Entry, len(terms))
	for i, t := range terms {
		out[i] = Entry{Index: from + uint64(i), Term: t, Data: fmt.Appendf(nil, "e%d/%d", from+uint64(i), t)}
	}
	return out
}

func newR(t testing.TB, id string, peers []string, st State, mod ...func(*Config)) *Replica {
	t.Helper()
	cfg := Config{ID: id, Peers: peers}
	for _, m := range mod {
		m(&cfg)
	}
	r, err := New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// cycle takes one Ready, "persists" it, and advances; it returns the Ready.
func cycle(r *Replica) Ready {
	rd := r.Ready()
	r.Advance(rd)
	return rd
}

// msgsOf returns rd's messages of type typ.
func msgsOf(rd Ready, typ MsgType) []Message {
	var out []Message
	for _, m := range rd.Messages {
		if m.Type == typ {
			out = append(out, m)
		}
	}
	return out
}

// memCluster is a loss-free in-memory cluster driven in lock step: used by
// the catch-up tests and the benchmark.
type memCluster struct {
	ids     []string
	rs      map[string]*Replica
	queue   []Message
	applied map[string]uint64
	msgs    int
	snaps   map[string]Snapshot // each node's latest snapshot (for MsgSnapshotNeeded)
}

func newMemCluster(t testing.TB, n int, mod ...func(*Config)) *memCluster {
	c := &memCluster{rs: map[string]*Replica{}, applied: map[string]uint64{}, snaps: map[string]Snapshot{}}
	for i := range n {
		c.ids = append(c.ids, fmt.Sprintf("n%d", i+1))
	}
	for _, id := range c.ids {
		c.rs[id] = newR(t, id, c.ids, State{}, mod...)
	}
	return c
}

// pump handles every Ready once (persist is a no-op here), queueing messages.
func (c *memCluster) pump() bool {
	any := false
	for _, id := range c.ids {
		r := c.rs[id]
		if !r.HasReady() {
			continue
		}
		any = true
		rd := r.Ready()
		var need []string
		for _, m := range rd.Messages {
			if m.Type == MsgSnapshotNeeded {
				need = append(need, m.To)
				continue
			}
			c.queue = append(c.queue, m)
		}
		if rd.Snapshot != nil {
			c.snaps[id] = *rd.Snapshot
		}
		if n := len(rd.CommittedEntries); n > 0 {
			c.applied[id] = rd.CommittedEntries[n-1].Index
		}
		r.Advance(rd)
		for _, to := range need {
			if err := r.SendSnapshot(to, c.snaps[id]); err != nil {
				panic(err)
			}
		}
	}
	return any
}

// deliver steps every queued message; it returns how many.
func (c *memCluster) deliver() int {
	q := c.queue
	c.queue = nil
	for _, m := range q {
		if err := c.rs[m.To].Step(m); err != nil {
			panic(err)
		}
	}
	c.msgs += len(q)
	return len(q)
}

// settle pumps and delivers until the cluster is quiet (bounded rounds).
func (c *memCluster) settle(t testing.TB, maxRounds int) int {
	for round := range maxRounds {
		p := c.pump()
		if c.deliver() == 0 && !p {
			return round
		}
	}
	t.Fatalf("cluster not quiet after %d rounds", maxRounds)
	return 0
}
