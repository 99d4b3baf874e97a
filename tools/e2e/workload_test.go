package e2e

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// workload is a set of posters, each a goroutine that posts unique client
// ids through the nodes in turn and retries an unacknowledged id, unchanged,
// on the next node until it is acknowledged (I5 makes that safe).
type workload struct {
	c      *cluster
	prefix string

	mu        sync.Mutex
	acked     map[string]ack  // client id -> what the post returned
	attempted map[string]bool // sent at least once (acked or not)
	rooms     map[string]bool
	errors    int
	resends   int             // acknowledged ids posted again
	problems  []string        // found while posting
	avoid     map[string]bool // nodes the posters leave alone for now
	sides     int             // side posts started (sidePost)

	stopping chan struct{}
	wg       sync.WaitGroup
}

type ack struct {
	room  string
	index uint64
	node  string    // the node whose post command acknowledged it
	at    time.Time // when the acknowledgement arrived
}

// perRoom keeps each room under history's limit in long soaks.
const perRoom = 2000

// pacing keeps a poster under the per-user rate limit (10/s sustained).
const pacing = 120 * time.Millisecond

// startPosters starts n posters; their ids start with prefix.
func (c *cluster) startPosters(n int, prefix string) *workload {
	w := &workload{c: c, prefix: prefix, acked: map[string]ack{}, attempted: map[string]bool{},
		rooms: map[string]bool{}, stopping: make(chan struct{})}
	c.t.Logf("start %d posters (%s)", n, prefix)
	for i := 0; i < n; i++ {
		w.wg.Add(1)
		go w.poster(i)
	}
	return w
}

func (w *workload) poster(i int) {
	defer w.wg.Done()
	user := fmt.Sprintf("%s-poster%d", w.prefix, i)
	node := i
	for k := 0; ; k++ {
		select {
		case <-w.stopping:
			return
		default:
		}
		room := fmt.Sprintf("%s-r%d-%d", w.prefix, i, k/perRoom)
		id := fmt.Sprintf("%s-%d-%d", w.prefix, i, k)
		w.mu.Lock()
		w.attempted[id], w.rooms[room] = true, true
		w.mu.Unlock()
		node = w.deliver(user, room, id, node)
		if k%10 == 3 {
			w.resend(user, room, id, node+1) // I5: a retry of a committed id returns its index
		}
		node++
		time.Sleep(pacing)
	}
}

// deliver posts id until acknowledged, moving to another node after each
// failure; after stop it keeps trying for finishWithin, then gives up (the
// id stays "attempted": it may be present at most once).
func (w *workload) deliver(user, room, id string, node int) int {
	var giveUp time.Time
	for {
		target := w.c.ids[node%len(w.c.ids)]
		if w.c.live(target) && !w.avoiding(target) {
			idx, err := w.c.post(target, user, room, "text-"+id, id)
			if err == nil {
				w.mu.Lock()
				w.acked[id] = ack{room: room, index: idx, node: target, at: time.Now()}
				w.mu.Unlock()
				return node
			}
			w.mu.Lock()
			w.errors++
			w.mu.Unlock()
		}
		node++
		select {
		case <-w.stopping:
			if giveUp.IsZero() {
				giveUp = time.Now().Add(finishWithin)
			}
			if time.Now().After(giveUp) {
				return node
			}
		default:
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const finishWithin = 30 * time.Second

// resend posts an acknowledged id again through another node, as a client
// that never saw the first reply would; it must get the same index and
// create no second entry (I5). A failed resend is only counted.
func (w *workload) resend(user, room, id string, node int) {
	target := w.c.ids[node%len(w.c.ids)]
	if !w.c.live(target) {
		return
	}
	idx, err := w.c.post(target, user, room, "text-"+id, id)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.resends++
	if err != nil {
		w.errors++
		return
	}
	if a := w.acked[id]; a.index != idx {
		w.problems = append(w.problems, fmt.Sprintf("id %s: acknowledged at index %d, its retry through %s at index %d (I5)", id, a.index, target, idx))
	}
}

// setAvoid makes the posters post through nodes other than ids (none:
// every node again), e.g. while ids are cut off, so that their attempts are
// not spent waiting for post_timeout there. An id already in flight through
// such a node is not affected.
func (w *workload) setAvoid(ids ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.avoid = map[string]bool{}
	for _, id := range ids {
		w.avoid[id] = true
	}
}

func (w *workload) avoiding(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.avoid[id]
}

// sideUser is the user of side posts; sideRoom their room.
func (w *workload) sideUser() string { return w.prefix + "-side" }
func (w *workload) sideRoom() string { return w.prefix + "-side" }

// bindSide binds the side posts' user name with one acknowledged post
// through a healthy cluster, so that a side post through a node in trouble
// tests the post itself, not a first registration of the name.
func (w *workload) bindSide() {
	w.c.t.Helper()
	w.mu.Lock()
	id := fmt.Sprintf("%s-side-%d", w.prefix, w.sides)
	w.sides++
	w.attempted[id], w.rooms[w.sideRoom()] = true, true
	w.mu.Unlock()
	w.deliver(w.sideUser(), w.sideRoom(), id, 0)
	w.mu.Lock()
	_, ok := w.acked[id]
	w.mu.Unlock()
	if !ok {
		w.c.t.Fatalf("could not bind the side user %s", w.sideUser())
	}
}

// sidePost posts one new id through node in the background, once (no
// retry), whatever state node is in: stopped (the kernel accepts the
// connection and the node reads it when it resumes), cut off, or stale.
// An acknowledged side post joins the set check like any other: it must be
// in every node's log exactly once; an unacknowledged one may be there at
// most once. stop waits for it; so can the caller, on the returned channel.
func (w *workload) sidePost(node string) <-chan struct{} {
	w.mu.Lock()
	id := fmt.Sprintf("%s-side-%d", w.prefix, w.sides)
	w.sides++
	w.attempted[id], w.rooms[w.sideRoom()] = true, true
	w.mu.Unlock()
	w.wg.Add(1)
	done := make(chan struct{})
	go func() {
		defer w.wg.Done()
		defer close(done)
		idx, err := w.c.post(node, w.sideUser(), w.sideRoom(), "text-"+id, id)
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			w.errors++
			w.c.t.Logf("side post %s through %s: not acknowledged: %v", id, node, err)
			return
		}
		w.acked[id] = ack{room: w.sideRoom(), index: idx, node: node, at: time.Now()}
		w.c.t.Logf("side post %s through %s: acknowledged at index %d", id, node, idx)
	}()
	return done
}

// stop ends the posters; each finishes (acknowledges) the id in flight.
func (w *workload) stop() {
	close(w.stopping)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.c.t.Logf("posters stopped: %d acknowledged, %d attempted, %d failed attempts (retried), %d acknowledged ids posted again",
		len(w.acked), len(w.attempted), w.errors, w.resends)
}

// ackedCount is how many posts have been acknowledged so far.
func (w *workload) ackedCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// waitAcked waits until n more posts are acknowledged (proof of progress).
func (w *workload) waitAcked(more int, within time.Duration) {
	w.c.t.Helper()
	target := w.ackedCount() + more
	deadline := time.Now().Add(within)
	for w.ackedCount() < target {
		if time.Now().After(deadline) {
			w.c.t.Fatalf("posts stalled: %d acknowledged, wanted %d within %s", w.ackedCount(), target, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// verdict is the outcome of the set check.
type verdict struct {
	acked, lost, duplicated int
	problems                []string
	history                 []message // the first node's, all rooms in index order
}

// check is the Jepsen-style set check on nodes: it waits until they hold the
// same history, then requires every acknowledged id exactly once at the index
// its post returned, no id twice, no id never sent, identical (index, id)
// sequences and Lamport times growing along the log.
func (w *workload) check(nodes []string) verdict {
	w.c.t.Helper()
	w.mu.Lock()
	rooms := sortedKeys(w.rooms)
	w.mu.Unlock()
	hist := w.c.converged(nodes, rooms, 30*time.Second)
	v := w.judge(nodes, rooms, hist)
	v.history = hist[nodes[0]]
	w.c.t.Logf("set check on %v: %d acknowledged, %d lost, %d duplicated", nodes, v.acked, v.lost, v.duplicated)
	for _, p := range v.problems {
		w.c.t.Error(p)
	}
	return v
}

// converged polls nodes until their histories of rooms are identical
// (followers may lag) or the deadline passes; it returns the last reading.
func (c *cluster) converged(nodes, rooms []string, within time.Duration) map[string][]message {
	c.t.Helper()
	var hist map[string][]message
	var why string
	for deadline := time.Now().Add(within); ; time.Sleep(200 * time.Millisecond) {
		hist, why = c.readAll(nodes, rooms)
		if why == "" || time.Now().After(deadline) {
			break
		}
	}
	if why != "" {
		c.t.Errorf("nodes did not converge within %s: %s", within, why)
	}
	return hist
}

// readAll reads every room from every node; hist is keyed by node, messages
// of all rooms merged in index order. why says how they differ ("" if not).
func (c *cluster) readAll(nodes, rooms []string) (map[string][]message, string) {
	hist := map[string][]message{}
	for _, id := range nodes {
		for _, room := range rooms {
			msgs, err := c.history(id, room)
			if err != nil {
				return hist, err.Error()
			}
			hist[id] = append(hist[id], msgs...)
		}
		sort.SliceStable(hist[id], func(i, j int) bool { return hist[id][i].Index < hist[id][j].Index })
	}
	ref := nodes[0]
	for _, id := range nodes[1:] {
		if d := diff(hist[ref], hist[id]); d != "" {
			return hist, fmt.Sprintf("%s vs %s: %s", ref, id, d)
		}
	}
	return hist, ""
}

// diff describes the first difference of two (index, id) sequences.
func diff(a, b []message) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i].Index != b[i].Index || a[i].ID != b[i].ID {
			return fmt.Sprintf("position %d: index %d id %s vs index %d id %s", i, a[i].Index, a[i].ID, b[i].Index, b[i].ID)
		}
	}
	if len(a) != len(b) {
		return fmt.Sprintf("%d vs %d messages", len(a), len(b))
	}
	return ""
}

func (w *workload) judge(nodes, rooms []string, hist map[string][]message) verdict {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.judgeLocked(nodes, hist, append([]string(nil), w.problems...), nil)
}

// judgeLocked checks each node's history against the acknowledged set;
// problems are those found before (kept first); explained(node, id), if not
// nil, tells of a missing id that problems already describe (still counted
// as lost). w.mu is held.
func (w *workload) judgeLocked(nodes []string, hist map[string][]message, problems []string, explained func(node, id string) bool) verdict {
	v := verdict{acked: len(w.acked), problems: problems}
	lost, dup := map[string]bool{}, map[string]bool{}
	for _, id := range nodes {
		msgs := hist[id]
		count := map[string]int{}
		for i, m := range msgs {
			count[m.ID]++
			if !w.attempted[m.ID] {
				v.problems = append(v.problems, fmt.Sprintf("%s: index %d holds id %q that no poster sent", id, m.Index, m.ID))
			}
			if i > 0 && m.Lamport <= msgs[i-1].Lamport {
				v.problems = append(v.problems, fmt.Sprintf("%s: Lamport time does not grow (I6): index %d lamport %d after index %d lamport %d",
					id, m.Index, m.Lamport, msgs[i-1].Index, msgs[i-1].Lamport))
			}
			if a, ok := w.acked[m.ID]; ok && a.index != m.Index && count[m.ID] == 1 {
				v.problems = append(v.problems, fmt.Sprintf("%s: id %s acknowledged at index %d but stored at index %d", id, m.ID, a.index, m.Index))
			}
		}
		for cid, n := range count {
			if n > 1 {
				dup[cid] = true
				v.problems = append(v.problems, fmt.Sprintf("%s: id %s present %d times (I5)", id, cid, n))
			}
		}
		for cid, a := range w.acked {
			if count[cid] == 0 {
				lost[cid] = true
				if explained != nil && explained(id, cid) {
					continue
				}
				v.problems = append(v.problems, fmt.Sprintf("%s: acknowledged id %s is missing (I4): acknowledged by %s at %s with index %d; %s",
					id, cid, a.node, a.at.Format("15:04:05.000"), a.index, around(msgs, a.index)))
			}
		}
	}
	v.lost, v.duplicated = len(lost), len(dup)
	if len(v.problems) > 20 {
		v.problems = append(v.problems[:20], fmt.Sprintf("… and %d more problems", len(v.problems)-20))
	}
	return v
}

// around describes what msgs hold next to index.
func around(msgs []message, index uint64) string {
	i := sort.Search(len(msgs), func(i int) bool { return msgs[i].Index >= index })
	var parts []string
	for j := max(0, i-1); j < min(len(msgs), i+2); j++ {
		parts = append(parts, fmt.Sprintf("index %d id %s lamport %d", msgs[j].Index, msgs[j].ID, msgs[j].Lamport))
	}
	return "the log there holds: " + strings.Join(parts, "; ")
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// leaderMonitor polls status --json of every live node and records which
// leader each node names in which term; two leaders in one term break I1.
type leaderMonitor struct {
	c    *cluster
	done chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	byTerm   map[uint64]string // term -> leader, first seen
	seenBy   map[uint64]string // term -> node that reported it
	problems []string
	polls    int
}

func (c *cluster) monitorLeaders() *leaderMonitor {
	m := &leaderMonitor{c: c, done: make(chan struct{}), byTerm: map[uint64]string{}, seenBy: map[uint64]string{}}
	m.wg.Add(1)
	go m.loop()
	return m
}

func (m *leaderMonitor) loop() {
	defer m.wg.Done()
	for {
		for _, id := range m.c.liveIDs() {
			select {
			case <-m.done:
				return
			default:
			}
			st, err := m.c.statusWithin(id, time.Second)
			if err == nil {
				m.record(id, st)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (m *leaderMonitor) record(from string, st status) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.polls++
	if st.Leader == "" {
		return
	}
	prev, ok := m.byTerm[st.Term]
	switch {
	case !ok:
		m.byTerm[st.Term], m.seenBy[st.Term] = st.Leader, from
	case prev != st.Leader:
		m.problems = append(m.problems, fmt.Sprintf("two leaders in term %d (I1): %s per %s, %s per %s",
			st.Term, prev, m.seenBy[st.Term], st.Leader, from))
	}
}

// finish stops polling and fails the test on any term with two leaders.
func (m *leaderMonitor) finish() {
	close(m.done)
	m.wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	var terms []string
	for term, l := range m.byTerm {
		terms = append(terms, fmt.Sprintf("%d:%s", term, l))
	}
	sort.Strings(terms)
	m.c.t.Logf("leader monitor: %d status polls, terms seen %s", m.polls, strings.Join(terms, " "))
	for _, p := range m.problems {
		m.c.t.Error(p)
	}
}
