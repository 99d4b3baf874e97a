package ring

import (
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"testing"
)

// This file: a deterministic cluster of ring cores on a SimNetwork, with
// simulated logs, used by the random simulation and the named scenarios.

type simParams struct {
	Nodes                                       int
	HeartbeatTicks, FailureTicks, ElectionTicks int
	StaggerTicks                                int
	AppendProb, ReplicateProb                   float64 // per tick, simulated log growth
	// DataLoss: per tick, the chance that a node loses its data directory
	// (datalossim_test.go). It then restarts as a learner, or, with
	// UnsafeRejoin, as a member (the behaviour before issue 12).
	DataLoss     float64
	UnsafeRejoin bool
	// Membership (membersim_test.go): Nodes more ids exist as spares; the
	// cluster starts with Nodes voters, and per tick with ConfProb the
	// leader proposes a membership change. UnsafeConf drops the leader's
	// rules (one change at a time, after its own term's first commit).
	Membership bool
	ConfProb   float64
	UnsafeConf bool
}

var defaultSim = simParams{HeartbeatTicks: 2, FailureTicks: 8, ElectionTicks: 8, StaggerTicks: 3, AppendProb: 0.3, ReplicateProb: 0.5}

type simNode struct {
	id     string
	n      *Node // nil while crashed
	hs     HardState
	log    []uint64 // term of each entry; durable (acknowledged appends are fsynced)
	rand   *rand.Rand
	rounds int // rounds this node started (tokens it originated)
	// pausedUntil: the process is stopped (SIGSTOP, a long GC pause) until
	// this tick: it neither ticks nor steps; what reaches it waits in held
	// (its socket buffers) and is stepped, in order, when it resumes.
	pausedUntil int64
	held        []Envelope
	// busyUntil: the node's driver is behind its queue until this tick: it
	// ticks and sends, but the heartbeats that reach it wait in backlog
	// and are stepped when it catches up. With arrivals set, each is noted
	// as it arrives (Node.Arrived), as the real transport and driver do.
	busyUntil int64
	backlog   []Envelope
	arrivals  bool
	// learner: the node lost its data and was not promoted since; durable
	// (the caller's marker): a restart is a learner again. caughtUp: the
	// term of the leader whose whole log it last held (replicate).
	learner  bool
	caughtUp uint64
	// Membership (membersim_test.go): confs are the membership entries in
	// log (index, term, members), base the membership the log starts from
	// (the configured one, or for a node that joined the one it was told).
	// spare: never added yet; gone: removed, and stopped once that was
	// committed.
	confs       []simConf
	base        simConf
	spare, gone bool
}

type traceEntry struct {
	tick int64
	msg  *Message
	text string
}

type cluster struct {
	tb      testing.TB
	seed    int64
	p       simParams
	rnd     *rand.Rand
	ids     []string
	members []Member
	nodes   map[string]*simNode
	net     *SimNetwork
	now     int64

	leaders   map[uint64]string // every leader ever seen, by term (I1)
	accepted  map[uint64]string // every persisted (term, leader) (I1)
	committed []uint64          // committed log prefix (I3)
	tokenPos  map[string]Candidate
	elections int
	elMsgs    int // token + elected messages sent
	trace     []traceEntry
	record    func(string) // scenario transcript, nil in random runs
	failed    bool
	replay    string // the test to name in the replay line

	dataLosses, promotions, freshPromotions int
	confChanges                             int
	confsByID                               map[ConfID]simConf // every membership entry proposed
}

func newCluster(tb testing.TB, seed int64, p simParams) *cluster {
	c := &cluster{tb: tb, seed: seed, p: p, rnd: rand.New(rand.NewSource(seed)),
		nodes: map[string]*simNode{}, leaders: map[uint64]string{}, accepted: map[uint64]string{},
		tokenPos: map[string]Candidate{}, replay: "TestSimulation", confsByID: map[ConfID]simConf{}}
	c.net = NewSimNetwork(rand.New(rand.NewSource(seed^0x5eed)), SimConfig{})
	total := p.Nodes
	if p.Membership {
		total = 2 * p.Nodes
	}
	for i := 1; i <= total; i++ {
		id := fmt.Sprintf("n%d", i)
		c.ids = append(c.ids, id)
		if i <= p.Nodes {
			c.members = append(c.members, Member{ID: id, Ring: i})
		}
	}
	c.confsByID[ConfID{}] = simConf{members: c.members}
	for i, id := range c.ids {
		c.nodes[id] = &simNode{id: id, rand: rand.New(rand.NewSource(seed*31 + int64(i))),
			base: simConf{members: c.members}, spare: i >= p.Nodes}
		if c.nodes[id].spare {
			c.net.SetDown(id, true)
			continue
		}
		c.start(id)
	}
	return c
}

func (c *cluster) config(id string) Config {
	conf := c.confOf(c.nodes[id])
	return Config{ID: id, Members: conf.ringMembers(id), Conf: conf.id, HeartbeatTicks: c.p.HeartbeatTicks,
		FailureTicks: c.p.FailureTicks, ElectionTicks: c.p.ElectionTicks, StaggerTicks: c.p.StaggerTicks, Rand: c.nodes[id].rand,
		Learner:     c.nodes[id].learner,
		LogPosition: func() (uint64, uint64) { p := c.pos(c.nodes[id]); return p.LastTerm, p.LastIndex }}
}

func (c *cluster) start(id string) {
	sn := c.nodes[id]
	n, err := New(c.config(id), sn.hs)
	if err != nil {
		c.tb.Fatalf("seed %d: New(%s): %v", c.seed, id, err)
	}
	sn.n = n
	c.net.SetDown(id, false)
}

func (c *cluster) crash(id string) {
	c.nodes[id].n = nil
	c.nodes[id].pausedUntil, c.nodes[id].held = 0, nil
	c.net.SetDown(id, true)
	c.note("crash %s", id)
}

func (c *cluster) restart(id string) {
	c.start(id)
	c.note("restart %s from %s log=%s", id, c.nodes[id].hs.Describe(), c.pos(c.nodes[id]))
}

func (c *cluster) pos(sn *simNode) Candidate {
	cand := Candidate{ID: sn.id, LastIndex: uint64(len(sn.log)), Conf: c.confOf(sn).id}
	if len(sn.log) > 0 {
		cand.LastTerm = sn.log[len(sn.log)-1]
	}
	return cand
}

func (c *cluster) note(format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	c.trace = append(c.trace, traceEntry{tick: c.now, text: text})
	if c.record != nil {
		c.record(text)
	}
	c.trimTrace()
}

func (c *cluster) trimTrace() {
	if len(c.trace) > 400 {
		c.trace = append(c.trace[:0], c.trace[len(c.trace)-200:]...)
	}
}

func (c *cluster) fail(format string, args ...any) {
	c.tb.Helper()
	if c.failed {
		return
	}
	c.failed = true
	c.tb.Fatal(c.dump(fmt.Sprintf(format, args...)))
}

func (c *cluster) dump(what string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d (%d nodes), tick %d: %s\nreplay: go test ./ring -run '%s$' -seed=%d -dump -v\nlast steps:\n",
		c.seed, c.p.Nodes, c.now, what, c.replay, c.seed)
	tr := c.trace
	if len(tr) > 120 {
		tr = tr[len(tr)-120:]
	}
	for _, e := range tr {
		if e.msg != nil {
			fmt.Fprintf(&b, "  t=%d deliver %s\n", e.tick, e.msg.Describe())
		} else {
			fmt.Fprintf(&b, "  t=%d %s\n", e.tick, e.text)
		}
	}
	return b.String()
}

// pause stops node id for ticks ticks (see simNode.pausedUntil).
func (c *cluster) pause(id string, ticks int) {
	c.nodes[id].pausedUntil = c.now + int64(ticks)
	c.note("pause %s for %d ticks", id, ticks)
}

func (c *cluster) paused(sn *simNode) bool { return sn.n != nil && c.now < sn.pausedUntil }

// deaf reports whether id currently receives nothing.
func (c *cluster) deaf(id string) bool { d, _ := c.net.Cut(id); return d }

// tick runs one tick: every live core ticks (a node that resumes from a
// pause first steps what waited for it; like the real driver it does not
// replay the ticks it missed), then messages due are delivered until none
// is left for this tick, then logs grow.
func (c *cluster) tick() {
	c.now++
	c.net.Tick()
	for _, id := range c.ids {
		sn := c.nodes[id]
		if sn.n == nil || c.paused(sn) {
			continue
		}
		if len(sn.held) > 0 {
			held := sn.held
			sn.held = nil
			c.note("resume %s: stepping %d held messages", id, len(held))
			for _, e := range held {
				c.step(sn, e)
			}
		}
		if c.now >= sn.busyUntil && len(sn.backlog) > 0 {
			backlog := sn.backlog
			sn.backlog = nil
			for _, e := range backlog {
				c.step(sn, e)
			}
		}
		sn.n.Tick()
		c.handleReady(sn)
	}
	c.deliver()
	c.replicate()
	c.promoteLearners()
	c.checkInvariants()
}

func (c *cluster) deliver() {
	for round := 0; round < 100; round++ {
		due := c.net.Due()
		if len(due) == 0 {
			return
		}
		for _, e := range due {
			sn := c.nodes[e.To]
			if sn.n == nil {
				continue
			}
			if c.paused(sn) {
				sn.held = append(sn.held, e)
				continue
			}
			if m := e.Payload.(Message); c.now < sn.busyUntil && m.Type == MsgHeartbeat {
				sn.backlog = append(sn.backlog, e)
				if sn.arrivals {
					sn.n.Arrived(m.From)
				}
				continue
			}
			c.step(sn, e)
		}
	}
	c.fail("delivery did not settle within 100 rounds")
}

// step hands one envelope to a running node. Like UDPTransport, the
// receiver's side acknowledges a token or elected once it is taken in (the
// ack travels back through the network, subject to its faults) and the
// sender's side steps the ack into its core with the acknowledged message.
func (c *cluster) step(sn *simNode, e Envelope) {
	m := e.Payload.(Message)
	if m.Type != MsgHeartbeat {
		c.trace = append(c.trace, traceEntry{tick: c.now, msg: &m})
		c.trimTrace()
		if c.record != nil && m.Type != MsgAck {
			c.record("deliver " + m.Describe())
		}
	}
	before := sn.n.HardState()
	if err := sn.n.Step(m); err != nil && !(c.p.Membership && errors.Is(err, ErrUnknownSender)) {
		c.fail("step %s: %v", m.Describe(), err) // with Membership: a sender not (or no longer) in its membership
	}
	c.checkTokenCompletion(sn, m, before)
	c.handleReady(sn)
	if m.Type == MsgToken || m.Type == MsgElected {
		c.net.Send(m.To, m.From, Message{Type: MsgAck, From: m.To, To: m.From, Acked: m.Type,
			Term: m.Term, Origin: m.Origin, Leader: m.Leader})
	}
}

// handleReady does the caller's duties in order: persist, send, apply, advance.
func (c *cluster) handleReady(sn *simNode) {
	for sn.n.HasReady() {
		rd := sn.n.Ready()
		if rd.HardState != nil {
			c.persist(sn, *rd.HardState)
		}
		for _, m := range rd.Messages {
			if m.From != sn.id {
				c.fail("%s sent a message from %q", sn.id, m.From)
			}
			if m.Type == MsgToken && m.Origin == sn.id {
				sn.rounds++
			}
			if m.Type == MsgToken && sn.n.Learner() && (m.Origin == sn.id || slices.Contains(m.Passed, sn.id)) {
				c.fail("learner %s sent a token with its own vote: %s", sn.id, m.Describe())
			}
			if m.Type == MsgToken {
				c.tokenPos[fmt.Sprintf("%d/%s/%s", m.Term, m.Origin, sn.id)] = c.pos(sn)
			}
			if m.Type == MsgToken || m.Type == MsgElected {
				c.elMsgs++
			}
			c.net.Send(sn.id, m.To, m)
		}
		if rd.SoftState != nil {
			c.applySoft(sn, *rd.SoftState)
		}
		for _, e := range rd.MemberChanges {
			if c.record != nil {
				c.note("%s: %s", sn.id, e.Describe())
			}
		}
		sn.n.Advance(rd)
	}
}

func (c *cluster) persist(sn *simNode, hs HardState) {
	if hs.Term < sn.hs.Term {
		c.fail("%s persisted term %d after %d: terms must never go back", sn.id, hs.Term, sn.hs.Term)
	}
	if sn.n.Learner() && hs.Vote != "" {
		c.fail("learner %s persisted a vote: %s", sn.id, hs.Describe())
	}
	sn.hs = hs
	if c.record != nil {
		c.note("%s: persist %s", sn.id, hs.Describe())
	}
	if hs.Leader == "" {
		return
	}
	if prev, ok := c.accepted[hs.Term]; ok && prev != hs.Leader {
		c.fail("I1: %s accepted leader %s for term %d, another node accepted %s", sn.id, hs.Leader, hs.Term, prev)
	}
	c.accepted[hs.Term] = hs.Leader
}

func (c *cluster) applySoft(sn *simNode, s SoftState) {
	c.note("%s: %s", sn.id, s.Describe())
	if s.Role != RoleLeader {
		return
	}
	c.elections++
	if prev, ok := c.leaders[s.Term]; ok && prev != sn.id {
		c.fail("I1: two leaders in term %d: %s and %s", s.Term, prev, sn.id)
	}
	c.leaders[s.Term] = sn.id
	if len(sn.log) < len(c.committed) || !slices.Equal(sn.log[:len(c.committed)], c.committed) {
		c.fail("I3: new leader %s of term %d lacks committed entries: log %v, committed %v", sn.id, s.Term, sn.log, c.committed)
	}
}

// checkTokenCompletion: when a round completes at its origin, the winner's
// position must be at least that of every member the token passed (a
// majority that persisted the term), as each had it when it forwarded.
func (c *cluster) checkTokenCompletion(sn *simNode, m Message, before HardState) {
	if m.Type != MsgToken || m.Origin != sn.id || before.Leader != "" {
		return
	}
	hs := sn.n.HardState()
	if hs.Leader == "" || hs.Term != m.Term {
		return
	}
	// A majority of the voters of the winner's membership (with Membership:
	// the one the winner held when it put itself on the token).
	voters := c.confOf(sn).voters()
	if c.p.Membership {
		voters = c.confsByID[m.Best.Conf].voters()
		if p, ok := c.tokenPos[fmt.Sprintf("%d/%s/%s", m.Term, m.Origin, m.Best.ID)]; !ok || p.Conf != m.Best.Conf {
			c.fail("round for term %d won by %s: it passed the token holding membership %v", m.Term, m.Best, p.Conf)
		}
	}
	if countIn(m.Passed, voters) < len(voters)/2+1 {
		c.fail("round for term %d won with %v of voters %v", m.Term, m.Passed, voters)
	}
	for _, id := range m.Passed {
		p, ok := c.tokenPos[fmt.Sprintf("%d/%s/%s", m.Term, m.Origin, id)]
		if !ok {
			c.fail("token for term %d claims %s passed it, but %s never sent it", m.Term, id, id)
		}
		if p.Beats(m.Best) {
			c.fail("I3: term %d winner %s is behind %s (%s) which passed the token", m.Term, m.Best, id, p)
		}
	}
}

// replicate simulates the log layer: a leader appends entries of its term
// and copies its log to connected followers in the same term; an entry of
// the leader's term held by a majority is committed.
func (c *cluster) replicate() {
	for _, id := range c.ids {
		sn := c.nodes[id]
		if sn.n == nil || sn.n.Role() != RoleLeader || c.paused(sn) {
			continue
		}
		term := sn.n.Term()
		if c.rnd.Float64() < c.p.AppendProb {
			sn.log = append(sn.log, term)
		}
		if c.p.Membership && c.rnd.Float64() < c.p.ConfProb {
			c.proposeChange(sn)
		}
		for _, fid := range c.ids {
			f := c.nodes[fid]
			if fid == id || f.n == nil || f.n.Term() != term || c.paused(f) ||
				!c.net.Connected(id, fid) || !c.net.Connected(fid, id) || !c.confOf(sn).has(fid) {
				continue
			}
			if c.rnd.Float64() < c.p.ReplicateProb && !slices.Equal(f.log, sn.log) {
				f.log = slices.Clone(sn.log)
				f.confs = slices.Clone(sn.confs)
				c.syncMembers(f)
			}
			if f.learner && slices.Equal(f.log, sn.log) {
				f.caughtUp = term
			}
		}
		c.commit(sn, term)
	}
}

func (c *cluster) commit(leader *simNode, term uint64) {
	for idx := len(leader.log) - 1; idx >= len(c.committed); idx-- {
		if leader.log[idx] != term {
			return // a leader counts replicas only for entries of its own term
		}
		count := 0
		voters := c.confOf(leader).voters() // the latest membership in its log (Raft §4.1)
		for _, id := range voters {
			sn := c.nodes[id]
			if sn.learner {
				continue // a learner's acknowledgements do not count (doc.go, Caller's duties)
			}
			if len(sn.log) > idx && slices.Equal(sn.log[:idx+1], leader.log[:idx+1]) {
				count++
			}
		}
		if count >= len(voters)/2+1 {
			if !slices.Equal(leader.log[:len(c.committed)], c.committed) {
				c.fail("I3: leader %s commits %d but lacks earlier committed entries", leader.id, idx+1)
			}
			c.committed = slices.Clone(leader.log[:idx+1])
			c.retireRemoved(leader)
			return
		}
	}
}

func (c *cluster) checkInvariants() {
	for _, id := range c.ids {
		sn := c.nodes[id]
		if sn.n == nil {
			continue
		}
		if sn.n.Learner() && sn.n.Role() != RoleFollower {
			c.fail("learner %s is %s in term %d", id, sn.n.Role(), sn.n.Term())
		}
		if sn.n.Role() == RoleLeader {
			if l, ok := c.leaders[sn.n.Term()]; !ok || l != id {
				c.fail("I1: %s leads term %d but the history says %q", id, sn.n.Term(), l)
			}
		}
	}
}

// agreedLeader returns the leader every live node follows, "" if they do
// not all agree or that node does not lead. A deaf node (it hears nobody,
// so it cannot know) does not count and cannot be that leader.
func (c *cluster) agreedLeader() string {
	leader := ""
	var term uint64
	for _, id := range c.ids {
		sn := c.nodes[id]
		if sn.n == nil || c.deaf(id) {
			continue
		}
		l := sn.n.Leader()
		if l == "" || (leader != "" && (l != leader || sn.n.Term() != term)) {
			return ""
		}
		leader, term = l, sn.n.Term()
	}
	if ln := c.nodes[leader]; ln == nil || ln.n == nil || ln.n.Role() != RoleLeader || c.deaf(leader) {
		return ""
	}
	return leader
}

// runUntilLeader ticks until every live node follows one leader; it returns
// the ticks it took, or -1 if max passed.
func (c *cluster) runUntilLeader(max int) int {
	for i := 1; i <= max; i++ {
		c.tick()
		if c.agreedLeader() != "" {
			return i
		}
	}
	return -1
}

func (c *cluster) live() []string {
	var out []string
	for _, id := range c.ids {
		if c.nodes[id].n != nil {
			out = append(out, id)
		}
	}
	return out
}

func (c *cluster) crashed() []string {
	var out []string
	for _, id := range c.ids {
		if sn := c.nodes[id]; sn.n == nil && !sn.spare && !sn.gone {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}
