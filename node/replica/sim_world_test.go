package replica

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// This file is the simulated world around the replicas: a lossy network,
// disks that keep only what a Ready asked to persist, the node layer's
// state machine (dedup by client id), snapshots, and an election oracle
// that elects the way the ring will. Checks live in sim_check_test.go.
// In Storage mode (half the seeds) there are no snapshot transfers: each
// member reads its compacted prefix from its own disk (simStorage).

// simOpts are the per-seed knobs, drawn from the seed.
type simOpts struct {
	nodes, faultTicks, healTicks int
	drop, dup                    float64
	maxDelay                     int
	crash, crashMid, restart     float64
	partition, heal, elect       float64
	flap                         float64 // chance per tick to crash a leader (Figure-8 histories)
	compact                      bool
	clients                      int
	cfg                          Config

	// Storage mode (issue 12): every member has a Storage over its
	// simulated disk, compacts at random applied and durable points,
	// restarts from a snapshot of its applied state with only the entries
	// after it; reads fail now and then (the member stops on Err). With
	// lateJoin the last member starts with an empty disk at tick joinAt.
	storage     bool
	storageFail float64
	lateJoin    bool
	joinAt      int

	// Data loss (issue 12): the chance per fault tick that a member loses
	// its data directory (disk replaced) and restarts empty, as a learner
	// (Config.Learner), until the harness promotes it: promote is the
	// chance per tick once it may be promoted (long learner periods test
	// that its acks never count).
	loss, promote float64
}

func drawOpts(seed int64, soak bool) simOpts {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	o := simOpts{
		nodes:      3 + 2*int(seed%2),
		faultTicks: 150 + rng.IntN(150),
		healTicks:  250,
		drop:       []float64{0, 0.02, 0.1, 0.25}[rng.IntN(4)],
		dup:        []float64{0, 0.05, 0.2}[rng.IntN(3)],
		maxDelay:   1 + rng.IntN(4),
		crash:      []float64{0, 0.005, 0.02}[rng.IntN(3)],
		crashMid:   []float64{0, 0.01, 0.05}[rng.IntN(3)],
		restart:    0.05 + 0.2*rng.Float64(),
		partition:  []float64{0, 0.01, 0.03}[rng.IntN(3)],
		heal:       0.03 + 0.1*rng.Float64(),
		elect:      []float64{0, 0.005, 0.03}[rng.IntN(3)],
		compact:    rng.IntN(2) == 0,
		flap:       []float64{0, 0.03, 0.1}[rng.IntN(3)],
		clients:    1 + rng.IntN(4),
		cfg: Config{
			HeartbeatTicks:  1 + rng.IntN(3),
			MaxBatchEntries: []int{1, 3, 16, 256}[rng.IntN(4)],
			MaxBatchBytes:   []int{64, 512, 1 << 20}[rng.IntN(3)],
			MaxEntryBytes:   64,
			MaxInflight:     []int{1, 2, 8}[rng.IntN(3)],
		},
	}
	// Stall detection must exceed a round trip (2*maxDelay ticks here), as
	// Config.RetransmitTicks says; otherwise every slow ack re-probes.
	o.cfg.RetransmitTicks = max(4*o.cfg.HeartbeatTicks, 2*o.maxDelay+3)
	// Draws added later come from their own stream, so that the options
	// above stay what they were for every seed.
	rng2 := rand.New(rand.NewPCG(uint64(seed), 0xb01c))
	// Bulk catch-up off (the ordinary limits) or on; on, a round trip
	// carries at least as much as the ordinary window.
	o.cfg.CatchUpBatchEntries, o.cfg.CatchUpBatchBytes, o.cfg.CatchUpInflight = o.cfg.MaxBatchEntries, o.cfg.MaxBatchBytes, o.cfg.MaxInflight
	if rng2.IntN(3) != 0 {
		o.cfg.CatchUpBatchEntries = o.cfg.MaxBatchEntries * []int{2, 4, 8}[rng2.IntN(3)]
		o.cfg.CatchUpBatchBytes = o.cfg.MaxBatchBytes * 4
		o.cfg.CatchUpInflight = max(1, o.cfg.MaxInflight/[]int{1, 2}[rng2.IntN(2)])
	}
	if o.storage = rng2.IntN(2) == 0; o.storage {
		o.storageFail = []float64{0, 0, 0.002, 0.01}[rng2.IntN(4)]
		o.lateJoin = rng2.IntN(2) == 0
		o.joinAt = o.faultTicks/4 + rng2.IntN(o.faultTicks/2)
	}
	// Small batches held while 1 or 2 are in flight, or never (MaxInflight),
	// from a stream of its own.
	rng4 := rand.New(rand.NewPCG(uint64(seed), 0x5ba1))
	o.cfg.SmallBatchInflight = min(o.cfg.MaxInflight, []int{1, 2, o.cfg.MaxInflight}[rng4.IntN(3)])
	// Data loss in about half the seeds, from a stream of its own.
	rng3 := rand.New(rand.NewPCG(uint64(seed), 0x1055))
	o.loss = []float64{0, 0, 0.004, 0.015}[rng3.IntN(4)]
	o.promote = []float64{0.3, 0.05, 0.01}[rng3.IntN(3)]
	if soak {
		o.faultTicks *= 4
	}
	return o
}

type envelope struct {
	at int
	m  Message
}

type diskRec struct {
	kind uint8 // recEntry, recDiscard, recInstall
	e    Entry
	from uint64
	snap Snapshot
}

const (
	recEntry uint8 = iota
	recDiscard
	recInstall
)

// simDisk survives crashes. Only what a Ready asked to persist reaches it.
type simDisk struct {
	term, commit uint64
	recs         []diskRec
	snap         Snapshot // latest durable snapshot (local or installed)

	// base/terms: the folded log's terms, kept incrementally so checks can
	// ask "is (index, term) durable here?" cheaply; ents holds the entries
	// themselves (what a Storage over this disk serves).
	base  uint64
	terms []uint64
	ents  []Entry
}

func (d *simDisk) write(rec diskRec) {
	d.recs = append(d.recs, rec)
	switch rec.kind {
	case recInstall:
		d.base, d.terms, d.ents = rec.snap.Index, nil, nil
	case recDiscard:
		d.terms = d.terms[:min(len(d.terms), int(rec.from-d.base-1))]
		d.ents = d.ents[:len(d.terms)]
	case recEntry:
		d.terms = append(d.terms, rec.e.Term)
		d.ents = append(d.ents, rec.e)
	}
}

// durable reports whether entry (i, t) survives a crash of this node.
func (d *simDisk) durable(i, t uint64) bool {
	if i <= d.base || i <= d.snap.Index {
		return true // inside a snapshot, which holds only committed entries
	}
	k := i - d.base - 1
	return k < uint64(len(d.terms)) && d.terms[k] == t
}

// fold replays the records the way the WAL fold must: Install resets the
// log, Discard voids a suffix, entries append; then the latest local
// snapshot cuts the prefix.
func (d *simDisk) fold() (base Snapshot, ents []Entry, err error) {
	for _, rec := range d.recs {
		switch rec.kind {
		case recInstall:
			base, ents = rec.snap, nil
		case recDiscard:
			if rec.from <= base.Index {
				return base, nil, fmt.Errorf("disk: discard from %d inside snapshot %d", rec.from, base.Index)
			}
			ents = ents[:min(len(ents), int(rec.from-base.Index-1))]
		case recEntry:
			if want := base.Index + uint64(len(ents)) + 1; rec.e.Index != want {
				return base, nil, fmt.Errorf("disk: entry %d written where %d expected (missing Discard?)", rec.e.Index, want)
			}
			ents = append(ents, rec.e)
		}
	}
	if d.snap.Index > base.Index {
		drop := int(d.snap.Index - base.Index)
		if drop > len(ents) {
			return base, nil, fmt.Errorf("disk: snapshot %d beyond durable log %d", d.snap.Index, base.Index+uint64(len(ents)))
		}
		base, ents = d.snap, slices.Clone(ents[drop:])
	}
	return base, ents, nil
}

// simSM is the node's applied state: chat posts deduplicated by client id.
type simSM struct {
	applied uint64
	order   []string
	seen    map[string]bool
}

func (sm *simSM) encode() []byte {
	return []byte(strconv.FormatUint(sm.applied, 10) + "\n" + strings.Join(sm.order, "\n"))
}

func decodeSM(b []byte) simSM {
	sm := simSM{seen: map[string]bool{}}
	if len(b) == 0 {
		return sm
	}
	parts := strings.Split(string(b), "\n")
	sm.applied, _ = strconv.ParseUint(parts[0], 10, 64)
	for _, id := range parts[1:] {
		if id != "" {
			sm.order = append(sm.order, id)
			sm.seen[id] = true
		}
	}
	return sm
}

type simNode struct {
	id       string
	r        *Replica
	up       bool
	disk     simDisk
	sm       simSM
	snap     Snapshot // latest snapshot held (== disk.snap)
	recorded uint64   // commit index recorded from this node as leader
	late     bool     // not started yet (storage mode's late joiner)
	joinedAt uint64   // leader's last index when the late joiner started

	// Data loss: learner is the node's durable learner marker (it starts
	// with Config.Learner until promoted); lost are the disks it lost since
	// it last voted, kept until its promotion: lost[0] is the one it had
	// as a voter, whose acks a leader that has not heard from it since may
	// still count; later ones backed only acks it sent as a learner, which
	// a leader tracks (match) but never counts.
	learner bool
	lost    []*simDisk
}

// lostHeld reports whether a disk n lost since it last voted held (i, t):
// only the voter's disk (lost[0]) when counted is set.
func (n *simNode) lostHeld(i, t uint64, counted bool) bool {
	for k, d := range n.lost {
		if k > 0 && counted {
			break
		}
		if d.durable(i, t) {
			return true
		}
	}
	return false
}

// simClient posts one client id at a time and retries it (same id) until
// it sees it committed at the index it was given.
type simClient struct {
	name     string
	seq      int
	attempt  int
	pending  bool
	node     string
	index    uint64
	term     uint64
	deadline int
	wait     int // ticks until the next post
	done     bool
}

func (c *simClient) cur() string { return fmt.Sprintf("%s#%d", c.name, c.seq) }

// lazyMsg and lazyReady defer Describe to when a trace is printed: the
// trace ring records every step, but is rendered only on failure.
type lazyMsg struct{ m *Message }

func (l lazyMsg) String() string { return l.m.Describe() }

type lazyReady struct{ rd *Ready }

func (l lazyReady) String() string { return l.rd.Describe() }

type traceEv struct {
	tick int
	f    string
	args []any
}

type sim struct {
	seed   int64
	rng    *rand.Rand
	o      simOpts
	peers  []string
	tick   int
	nodes  []*simNode
	byID   map[string]*simNode
	net    []envelope
	group  map[string]int
	faults bool

	maxTerm     uint64
	leaderOf    map[uint64]string
	noLeader    int
	committed   []commitRec // by index; [0] unused
	canonical   []string
	acked       map[string]uint64
	registry    map[[2]uint64]regRec
	clients     []*simClient
	probeClient *simClient

	stats simStats

	trace   [48]traceEv
	traceN  int
	verbose func(string)
}

// simStats counts what a run exercised, so coverage of the rare paths
// (discards, installs, crashes mid-Ready) can be seen with -v.
type simStats struct {
	ticks, acked, elections, crashes, crashMid, discards, installs, snapReqs, lost, retries int
	// Storage mode: reads served, reads failed (member stopped), appends
	// bigger than an ordinary batch, late joiners caught up.
	storageReads, storageFails, bulkApps, joined int
	// Data loss: members that lost their data, learners promoted,
	// refusals that made a leader regress a follower's match, and
	// learners' answers stepped into a leader.
	losses, promotions, regressions, learnerAcks int
	probes                                       int // rejects that sent a pipeline back to probing
}

func (a *simStats) add(b simStats) {
	a.ticks += b.ticks
	a.acked += b.acked
	a.elections += b.elections
	a.crashes += b.crashes
	a.crashMid += b.crashMid
	a.discards += b.discards
	a.installs += b.installs
	a.snapReqs += b.snapReqs
	a.lost += b.lost
	a.retries += b.retries
	a.storageReads += b.storageReads
	a.storageFails += b.storageFails
	a.bulkApps += b.bulkApps
	a.joined += b.joined
	a.losses += b.losses
	a.promotions += b.promotions
	a.regressions += b.regressions
	a.probes += b.probes
	a.learnerAcks += b.learnerAcks
}

type commitRec struct {
	term, commitTerm uint64
	key              string
	ok               bool
}

type regRec struct {
	key      string
	prevTerm uint64
}

type simFailure struct{ msg string }

func (s *sim) fail(f string, args ...any) {
	panic(simFailure{fmt.Sprintf("tick %d: ", s.tick) + fmt.Sprintf(f, args...)})
}

func (s *sim) logf(f string, args ...any) {
	s.trace[s.traceN%len(s.trace)] = traceEv{s.tick, f, args}
	s.traceN++
	if s.verbose != nil {
		s.verbose(fmt.Sprintf("t%d ", s.tick) + fmt.Sprintf(f, args...))
	}
}

func (s *sim) traceTail() string {
	var b strings.Builder
	start := max(0, s.traceN-len(s.trace))
	for i := start; i < s.traceN; i++ {
		ev := s.trace[i%len(s.trace)]
		fmt.Fprintf(&b, "  t%d %s\n", ev.tick, fmt.Sprintf(ev.f, ev.args...))
	}
	return b.String()
}

func newSim(seed int64, o simOpts) *sim {
	s := &sim{
		seed: seed, o: o, rng: rand.New(rand.NewPCG(uint64(seed), 0xc0ffee)),
		byID: map[string]*simNode{}, group: map[string]int{}, leaderOf: map[uint64]string{},
		committed: []commitRec{{}}, acked: map[string]uint64{}, registry: map[[2]uint64]regRec{},
		faults: true,
	}
	for i := range o.nodes {
		s.peers = append(s.peers, fmt.Sprintf("n%d", i+1))
	}
	for i, id := range s.peers {
		n := &simNode{id: id}
		s.nodes = append(s.nodes, n)
		s.byID[id] = n
		if o.lateJoin && i == len(s.peers)-1 {
			n.late = true // joins at o.joinAt with an empty disk
			continue
		}
		s.start(n)
	}
	for i := range o.clients {
		s.clients = append(s.clients, &simClient{name: fmt.Sprintf("c%d", i+1)})
	}
	return s
}

func (s *sim) quorum() int { return len(s.peers)/2 + 1 }

// start (re)builds a node's replica and state machine from its disk.
func (s *sim) start(n *simNode) {
	base, ents, err := n.disk.fold()
	if err != nil {
		s.fail("%s restart: %v", n.id, err)
	}
	cfg := s.o.cfg
	cfg.ID, cfg.Peers, cfg.Learner = n.id, s.peers, n.learner
	if s.o.storage {
		cfg.Storage = &simStorage{s: s, n: n}
	}
	st := State{HardState: HardState{Term: n.disk.term, Commit: max(n.disk.commit, base.Index)}, Snapshot: base, Entries: ents}
	r, err := New(cfg, st)
	if err != nil {
		s.fail("%s restart: %v", n.id, err)
	}
	n.r, n.up, n.snap, n.recorded, n.late = r, true, base, 0, false
	n.sm = decodeSM(base.Data)
	n.sm.applied = base.Index
	s.checkSM(n)
	s.logf("%s start term=%d snap=%d ents=%d commit=%d learner=%v", n.id, n.disk.term, base.Index, len(ents), st.HardState.Commit, n.learner)
}

func (s *sim) crash(n *simNode) {
	s.stats.crashes++
	n.up, n.r = false, nil
	for _, c := range s.clients {
		if c.pending && c.node == n.id {
			c.pending = false // the client sees the connection drop; it retries the same id
		}
	}
	s.logf("%s CRASH", n.id)
}

func (s *sim) connected(a, b string) bool { return s.group[a] == s.group[b] }

// send puts m on the simulated network (maybe dropped, duplicated, delayed).
func (s *sim) send(m Message) {
	if s.faults && s.rng.Float64() < s.o.drop {
		s.logf("drop %v", lazyMsg{&m})
		return
	}
	copies := 1
	if s.faults && s.rng.Float64() < s.o.dup {
		copies = 2
	}
	for range copies {
		s.net = append(s.net, envelope{at: s.tick + 1 + s.rng.IntN(s.o.maxDelay), m: m})
	}
}

// deliver steps every message due now, in random order (reordering).
func (s *sim) deliver() {
	var due []Message
	keep := s.net[:0]
	for _, e := range s.net {
		if e.at <= s.tick {
			due = append(due, e.m)
		} else {
			keep = append(keep, e)
		}
	}
	s.net = keep
	s.rng.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
	for i := range due {
		m := &due[i]
		n := s.byID[m.To]
		if !n.up || !s.connected(m.From, m.To) {
			continue
		}
		s.logf("deliver %v", lazyMsg{m})
		var before uint64
		var wasReplicating bool
		if pr := n.r.prs[m.From]; pr != nil {
			before, wasReplicating = pr.match, pr.state == stateReplicate
		}
		if err := n.r.Step(*m); err != nil {
			if errors.Is(err, ErrStorage) && n.r.Err() != nil {
				s.stopOnErr(n)
				continue
			}
			s.fail("%s Step(%s): %v", n.id, m.Describe(), err)
		}
		if pr := n.r.prs[m.From]; pr != nil && m.Type == MsgAppResp && m.Term == n.r.term {
			if m.Reject && pr.match < before {
				s.stats.regressions++
			}
			if m.Reject && wasReplicating && pr.state == stateProbe {
				s.stats.probes++
			}
			if m.Learner {
				s.stats.learnerAcks++
			}
		}
	}
}

// handleReady plays the node driver: persist, send, apply, advance, then
// answer snapshot requests. It may crash the node part-way (crashMid).
func (s *sim) handleReady(n *simNode) {
	rd := n.r.Ready()
	s.logf("%s %v", n.id, lazyReady{&rd})
	s.checkReady(n, rd)
	crashAt := -1
	if s.faults && s.rng.Float64() < s.o.crashMid {
		crashAt = s.rng.IntN(len(rd.Entries) + 5)
	}
	op := 0
	crashNow := func() bool {
		op++
		if op == crashAt {
			s.stats.crashMid++
			s.crash(n)
			return true
		}
		return false
	}
	d := &n.disk
	if rd.HardState != nil {
		d.term = rd.HardState.Term
	}
	if rd.Snapshot != nil {
		s.stats.installs++
		d.write(diskRec{kind: recInstall, snap: *rd.Snapshot})
		d.snap = *rd.Snapshot
	}
	if rd.Discard != nil {
		s.stats.discards++
		d.write(diskRec{kind: recDiscard, from: rd.Discard.FromIndex})
	}
	if crashNow() {
		return
	}
	for _, e := range rd.Entries {
		d.write(diskRec{kind: recEntry, e: e})
		if crashNow() {
			return
		}
	}
	if rd.HardState != nil {
		d.commit = rd.HardState.Commit
	}
	var snapReqs []string
	for _, m := range rd.Messages {
		if s.o.storage && (m.Type == MsgSnapshotNeeded || m.Type == MsgSnap || rd.Snapshot != nil) {
			s.fail("%s: snapshot path with Storage: %s", n.id, m.Describe())
		}
		if m.Type == MsgApp && len(m.Entries) > s.o.cfg.MaxBatchEntries {
			s.stats.bulkApps++
		}
		if m.Type == MsgSnapshotNeeded {
			s.stats.snapReqs++
			snapReqs = append(snapReqs, m.To)
			continue
		}
		s.send(m)
	}
	if crashNow() {
		return
	}
	if rd.Snapshot != nil {
		n.snap = *rd.Snapshot
		n.sm = decodeSM(rd.Snapshot.Data)
		n.sm.applied = rd.Snapshot.Index
		s.checkSM(n)
	}
	for _, e := range rd.CommittedEntries {
		s.apply(n, e)
	}
	if crashNow() {
		return
	}
	n.r.Advance(rd)
	for _, to := range snapReqs {
		if err := n.r.SendSnapshot(to, n.snap); err != nil {
			s.logf("%s SendSnapshot(%s): %v", n.id, to, err)
		}
	}
}

func entryKey(e Entry) string {
	if e.Type == EntryNoop {
		return "noop"
	}
	return string(e.Data)
}

func clientID(e Entry) string {
	k := string(e.Data)
	return k[:strings.IndexByte(k, '|')]
}

// apply is the node's state machine: dedup by client id (I5).
func (s *sim) apply(n *simNode, e Entry) {
	if e.Index != n.sm.applied+1 {
		s.fail("%s applies %d after %d (order)", n.id, e.Index, n.sm.applied)
	}
	s.checkCommitted(n.id, e, 0)
	n.sm.applied = e.Index
	if e.Type == EntryNormal {
		id := clientID(e)
		if !n.sm.seen[id] {
			n.sm.seen[id] = true
			n.sm.order = append(n.sm.order, id)
			s.checkCanonical(n, len(n.sm.order)-1)
		}
	}
	for _, c := range s.allClients() {
		if !c.pending || c.node != n.id || c.index != e.Index {
			continue
		}
		c.pending = false
		if e.Term != c.term {
			s.stats.lost++
			s.logf("%s lost index %d (term %d, now %d): retry", c.cur(), e.Index, c.term, e.Term)
			continue
		}
		if clientID(e) != c.cur() {
			s.fail("%s acked at %d but entry holds %s", c.cur(), e.Index, clientID(e))
		}
		s.acked[c.cur()] = e.Index
		s.stats.acked++
		s.logf("%s ACK at %d", c.cur(), e.Index)
		c.seq, c.attempt, c.wait = c.seq+1, 0, s.rng.IntN(4)
		if c == s.probeClient {
			c.done = true
		}
	}
}

func (s *sim) allClients() []*simClient {
	if s.probeClient != nil {
		return append(s.clients[:len(s.clients):len(s.clients)], s.probeClient)
	}
	return s.clients
}

// propose: a client hands its post to a node that believes it leads (the
// node layer forwards; possibly to a stale leader).
func (s *sim) propose(c *simClient) {
	if c.pending && s.tick < c.deadline {
		return
	}
	if c.wait > 0 {
		c.wait--
		return
	}
	var leaders []*simNode
	for _, n := range s.nodes {
		if n.up && n.r.role == Leader {
			leaders = append(leaders, n)
		}
	}
	if len(leaders) == 0 {
		return
	}
	n := leaders[s.rng.IntN(len(leaders))]
	c.attempt++
	if c.attempt > 1 {
		s.stats.retries++
	}
	data := fmt.Appendf(nil, "%s|%d|%s", c.cur(), c.attempt, n.id)
	idx, term, err := n.r.Propose(data)
	if err != nil {
		s.logf("%s propose at %s: %v", c.cur(), n.id, err)
		return
	}
	c.pending, c.node, c.index, c.term, c.deadline = true, n.id, idx, term, s.tick+40
	s.logf("%s proposed at %s -> %d/%d", c.cur(), n.id, idx, term)
}

// effectiveLeader reports whether some live leader of the newest term can
// reach a majority of live nodes.
func (s *sim) effectiveLeader() bool {
	for _, n := range s.nodes {
		if !n.up || n.r.role != Leader || n.r.term != s.maxTerm {
			continue
		}
		reach := 0
		for _, m := range s.nodes {
			if m.up && !m.learner && s.connected(n.id, m.id) {
				reach++ // a learner's acks do not count
			}
		}
		return reach >= s.quorum()
	}
	return false
}

// elect is the election oracle, electing the way the ring does: a fresh
// term; each reachable live node adopts it (at most one candidate per term)
// only if the candidate's (lastTerm, lastIndex) is at least its own; the
// term is durable before the vote counts; a majority of adopters wins.
// Learners neither stand nor vote; a reachable one may move to the term
// (the ring relays the token through it).
func (s *sim) elect() {
	var ups, voters []*simNode
	for _, n := range s.nodes {
		if n.up {
			ups = append(ups, n)
			if !n.learner {
				voters = append(voters, n)
			}
		}
	}
	if len(voters) == 0 {
		return
	}
	cand := voters[s.rng.IntN(len(voters))]
	s.maxTerm++
	s.stats.elections++
	T := s.maxTerm
	ct, ci := cand.r.LastIndexTerm()
	adopters := 0
	for _, n := range ups {
		if !s.connected(n.id, cand.id) || (n != cand && s.faults && s.rng.Float64() < 0.1) {
			continue
		}
		if n.learner {
			if s.rng.IntN(2) == 0 {
				if err := n.r.BecomeFollower(T, ""); err != nil {
					s.fail("learner %s BecomeFollower(%d): %v", n.id, T, err)
				}
			}
			continue
		}
		nt, ni := n.r.LastIndexTerm()
		adopt := n == cand || ct > nt || (ct == nt && ci >= ni)
		if !adopt && s.rng.IntN(2) == 0 {
			continue // some refusers keep their old term
		}
		n.disk.term = T
		if adopt {
			adopters++
		}
		if n != cand {
			if err := n.r.BecomeFollower(T, ""); err != nil {
				s.fail("%s BecomeFollower(%d): %v", n.id, T, err)
			}
		}
	}
	if adopters < s.quorum() {
		s.logf("election t%d: %s lost (%d adopters)", T, cand.id, adopters)
		if err := cand.r.BecomeFollower(T, ""); err != nil {
			s.fail("%v", err)
		}
		return
	}
	if prev, ok := s.leaderOf[T]; ok {
		s.fail("I1: term %d already led by %s", T, prev)
	}
	s.leaderOf[T] = cand.id
	s.logf("election t%d: %s LEADS (%d adopters, log %d/%d)", T, cand.id, adopters, ct, ci)
	if err := cand.r.BecomeLeader(T); err != nil {
		s.fail("%s BecomeLeader(%d): %v", cand.id, T, err)
	}
	s.checkLeaderComplete(cand)
}

// maybeCompact plays the node's snapshotting: capture the applied state,
// make it durable, then let the replica forget the prefix.
func (s *sim) maybeCompact(n *simNode) {
	if s.o.storage {
		s.maybeCompactStored(n)
		return
	}
	if !s.o.compact || n.sm.applied < n.snap.Index+8 || s.rng.IntN(10) != 0 {
		return
	}
	t, ok := n.r.Term(n.sm.applied)
	if !ok {
		s.fail("%s: no term for applied %d", n.id, n.sm.applied)
	}
	snap := Snapshot{Index: n.sm.applied, Term: t, Data: n.sm.encode()}
	n.disk.snap, n.snap = snap, snap
	if err := n.r.Compact(snap.Index); err != nil {
		s.fail("%s Compact(%d): %v", n.id, snap.Index, err)
	}
	s.logf("%s compact to %d", n.id, snap.Index)
}

// maybeCompactStored is the node with Storage: now and then it snapshots
// its applied state (its restart point), and it compacts the replica at a
// random point that is applied and durable; the replica reads below it
// from a Storage over this member's disk.
func (s *sim) maybeCompactStored(n *simNode) {
	if s.rng.IntN(5) != 0 {
		return
	}
	if s.rng.IntN(3) == 0 && n.sm.applied > n.snap.Index {
		t, ok := n.r.Term(n.sm.applied)
		if !ok {
			s.fail("%s: no term for applied %d", n.id, n.sm.applied)
		}
		snap := Snapshot{Index: n.sm.applied, Term: t, Data: n.sm.encode()}
		n.disk.snap, n.snap = snap, snap
		s.logf("%s snapshot at %d", n.id, snap.Index)
	}
	st := n.r.Status()
	from, hi := st.FirstIndex-1, min(st.Applied, st.Stable)
	if hi <= from {
		return
	}
	i := from + 1 + uint64(s.rng.IntN(int(hi-from)))
	if err := n.r.Compact(i); err != nil {
		s.fail("%s Compact(%d): %v", n.id, i, err)
	}
	s.logf("%s compact to %d (applied %d)", n.id, i, st.Applied)
}

// simStorage is a member's Storage: its simulated disk's folded log. It
// fails the run if the replica asks for an index above its compaction
// point or the disk serves an entry that is not the committed one, and
// fails reads now and then (storageFail) while faults are on.
type simStorage struct {
	s *sim
	n *simNode
}

func (st *simStorage) read(lo, hi uint64) error {
	s, n := st.s, st.n
	s.stats.storageReads++
	limit := n.disk.snap.Index // New reads the restart point
	if n.r != nil {
		limit = n.r.log.snapIndex
	}
	if n.disk.base != 0 || lo == 0 || lo >= hi || hi-1 > limit || hi-1 > uint64(len(n.disk.ents)) {
		s.fail("%s: storage asked for [%d,%d), compaction point %d, disk base %d holds %d", n.id, lo, hi, limit, n.disk.base, len(n.disk.ents))
	}
	if s.faults && n.r != nil && s.rng.Float64() < s.o.storageFail {
		s.logf("%s storage read [%d,%d) FAILS", n.id, lo, hi)
		return fmt.Errorf("simulated read error at %d", lo)
	}
	for i := lo; i < hi; i++ {
		s.checkCommitted(n.id, n.disk.ents[i-1], 0)
	}
	return nil
}

func (st *simStorage) Term(i uint64) (uint64, error) {
	if err := st.read(i, i+1); err != nil {
		return 0, err
	}
	return st.n.disk.ents[i-1].Term, nil
}

func (st *simStorage) Entries(lo, hi uint64, maxBytes int) ([]Entry, error) {
	if err := st.read(lo, hi); err != nil {
		return nil, err
	}
	out := st.n.disk.ents[lo-1 : hi-1]
	size := 0
	for k, e := range out {
		if size += len(e.Data); k > 0 && size > maxBytes {
			out = out[:k]
			break
		}
	}
	return out[:len(out):len(out)], nil
}

// stopOnErr stops a member whose replica reported a Storage failure, as
// the node does (what was not persisted is lost, like a crash).
func (s *sim) stopOnErr(n *simNode) {
	if n.up && n.r.Err() != nil {
		s.stats.storageFails++
		s.logf("%s STOPS: %v", n.id, n.r.Err())
		s.crash(n)
	}
}

// loseData replaces n's disk by an empty one: it crashes (if up) and, when
// it restarts, it is a learner with an empty log and term 0, until
// maybePromote promotes it. At most nodes-quorum members are learners at
// once: with more, no majority could vote or count. Messages in flight to
// or from it are lost (it was down while its disk was replaced; its
// connections broke), so no ack of the lost disk arrives after the loss.
func (s *sim) loseData(n *simNode) {
	learners := 0
	for _, m := range s.nodes {
		if m.learner || m == n {
			learners++
		}
	}
	if n.late || learners > len(s.nodes)-s.quorum() {
		return
	}
	if n.up {
		s.crash(n)
	}
	s.stats.losses++
	lost := n.disk
	n.lost = append(n.lost, &lost)
	n.disk, n.snap, n.learner = simDisk{}, Snapshot{}, true
	keep := s.net[:0]
	for _, e := range s.net {
		if e.m.From != n.id && e.m.To != n.id {
			keep = append(keep, e)
		}
	}
	s.net = keep
	s.logf("%s LOSES its data directory: restarts empty, as a learner", n.id)
	if s.rng.IntN(2) == 0 {
		s.start(n) // at once: its leader is likely still in office and remembers its match
	}
}

// maybePromote plays the node layer's promotion of a learner (ring doc,
// "Data loss"): once a live leader L of the newest term has committed an
// entry of its own term and the learner durably holds L's entry at L's
// commit index (so, by log matching, L's whole log up to it), the harness
// promotes it, at a random later tick. L's log holds every committed entry
// (I3) below its commit index, so the promoted member holds every one:
// checked here.
func (s *sim) maybePromote() {
	var l *simNode
	for _, n := range s.nodes {
		if n.up && n.r.role == Leader && n.r.term == s.maxTerm {
			l = n
		}
	}
	if l == nil {
		return
	}
	c := l.r.log.committed
	ct, ok := l.r.log.term(c)
	if !ok || ct != l.r.term {
		return
	}
	for _, n := range s.nodes {
		if !n.up || !n.learner || !n.disk.durable(c, ct) || s.rng.Float64() >= s.o.promote {
			continue
		}
		for i := 1; i < len(s.committed); i++ {
			if e := s.committed[i]; e.ok && !n.disk.durable(uint64(i), e.term) {
				s.fail("learner %s promoted (holds %s's %d/%d) lacks committed entry %d/%d", n.id, l.id, c, ct, i, e.term)
			}
		}
		if n.r.term < l.r.term {
			if err := n.r.BecomeFollower(l.r.term, l.id); err != nil {
				s.fail("%s BecomeFollower(%d): %v", n.id, l.r.term, err)
			}
		}
		n.r.SetLearner(false)
		n.learner, n.lost = false, nil
		s.stats.promotions++
		s.logf("%s PROMOTED: holds %s's log to its commit %d/%d", n.id, l.id, c, ct)
	}
}

// chaos injects crashes, restarts, partitions and spontaneous elections.
func (s *sim) chaos() {
	for _, n := range s.nodes {
		switch {
		case n.up && s.rng.Float64() < s.o.crash:
			s.crash(n)
		case !n.up && !n.late && s.rng.Float64() < s.o.restart:
			s.start(n)
		}
	}
	if s.rng.Float64() < s.o.partition {
		for _, id := range s.peers {
			s.group[id] = s.rng.IntN(2)
		}
		s.logf("partition %v", s.group)
	} else if len(s.group) > 0 && s.rng.Float64() < s.o.heal {
		clear(s.group)
		s.logf("heal")
	}
	if s.o.loss > 0 && s.rng.Float64() < s.o.loss {
		s.loseData(s.nodes[s.rng.IntN(len(s.nodes))])
	}
	if s.rng.Float64() < s.o.elect {
		s.elect()
	}
	if s.rng.Float64() < s.o.flap {
		for _, n := range s.nodes {
			if n.up && n.r.role == Leader {
				s.crash(n)
				break
			}
		}
	}
}

// step runs one tick of the world.
func (s *sim) step() {
	s.tick++
	for _, n := range s.nodes {
		if n.late && s.tick >= s.o.joinAt {
			s.start(n) // an empty log, far behind
			s.stats.joined++
			for _, l := range s.nodes {
				if l.up && l.r.role == Leader {
					n.joinedAt = max(n.joinedAt, l.r.log.lastIndex())
				}
			}
			s.logf("%s JOINS empty, leader at %d", n.id, n.joinedAt)
		}
	}
	if s.faults {
		s.chaos()
	}
	if s.effectiveLeader() {
		s.noLeader = 0
	} else if s.noLeader++; s.noLeader >= 3 {
		s.noLeader = 0
		s.elect()
	}
	for _, c := range s.allClients() {
		if !c.done {
			s.propose(c)
		}
	}
	s.deliver()
	for _, n := range s.nodes {
		if n.up {
			n.r.Tick()
			s.stopOnErr(n)
		}
	}
	for range 3 {
		for _, n := range s.nodes {
			if n.up && n.r.HasReady() {
				s.handleReady(n)
				if n.up {
					s.stopOnErr(n)
				}
			}
		}
	}
	// Record what leaders committed before anyone compacts it away.
	s.recordLeaderCommits()
	s.maybePromote()
	for _, n := range s.nodes {
		if n.up {
			s.maybeCompact(n)
		}
	}
	s.checkStep()
}

// run executes the fault phase, then heals everything and demands progress.
func (s *sim) run() (err error) {
	defer func() {
		if p := recover(); p != nil {
			msg := fmt.Sprint(p)
			if f, ok := p.(simFailure); ok {
				msg = f.msg
			}
			err = fmt.Errorf("seed %d (%+v): %s\nlast steps:\n%s", s.seed, s.o, msg, s.traceTail())
		}
	}()
	for s.tick < s.o.faultTicks {
		s.step()
	}
	s.faults = false
	clear(s.group)
	for _, n := range s.nodes {
		if !n.up {
			s.start(n)
		}
	}
	s.logf("HEAL ALL")
	s.probeClient = &simClient{name: "probe"}
	// Committing the probe post needs a majority to hold the leader's whole
	// log, so the bound grows with the uncommitted tail and the batching.
	bound := s.o.healTicks + s.catchUpBound()
	healed := s.tick
	for !s.probeClient.done || !s.clientsDone() {
		if s.tick-healed > bound {
			s.fail("no progress: posts not committed %d ticks after healing (I7)", bound)
		}
		s.stopNewPosts()
		s.step()
	}
	// Full convergence needs every follower caught up; its bound scales
	// with the log length and the batching limits. It assumes a full
	// pipeline, but deliver reorders: an append that overtakes the one
	// before it is refused and sends the leader back to probing, which
	// costs a round trip before the pipeline refills (peer links are TCP in
	// production: this is the simulation's harsher network). Each such
	// probe adds a round trip (seed 508: 60 probes, 200 ticks against 176;
	// soak seed 19943, one-entry batches and delays of up to 3 ticks: 319
	// probes, 817 ticks against 404). What keeps that from excusing a
	// leader that only ever probes is the stall bound: some node applies
	// a new entry at least every stall ticks.
	base, start, p0 := s.catchUpBound(), s.tick, s.stats.probes
	rtt := 2*s.o.maxDelay + 2
	stall := 100 + 2*s.o.cfg.RetransmitTicks
	progress, applied := s.tick, s.appliedSum()
	for !s.converged() {
		if grace := rtt * (s.stats.probes - p0); s.tick > start+base+grace {
			s.fail("followers not caught up within %d ticks after commit (%d for the log, %d for %d probes)", base+grace, base, grace, s.stats.probes-p0)
		}
		if a := s.appliedSum(); a != applied {
			progress, applied = s.tick, a
		} else if s.tick-progress > stall {
			s.fail("followers not caught up: no node applied an entry for %d ticks (%d probes so far)", stall, s.stats.probes-p0)
		}
		s.step()
	}
	s.checkFinal()
	s.stats.ticks = s.tick
	return nil
}

func (s *sim) clientsDone() bool {
	for _, c := range s.clients {
		if !c.done {
			return false
		}
	}
	return true
}

// stopNewPosts: after healing, clients finish the post in progress only.
func (s *sim) stopNewPosts() {
	for _, c := range s.clients {
		if !c.pending && c.wait == 0 && c.attempt == 0 {
			c.done = true
		}
	}
}

// appliedSum: the entries applied on all nodes together, which grows
// whenever any of them catches up by one.
func (s *sim) appliedSum() uint64 {
	var sum uint64
	for _, n := range s.nodes {
		sum += n.sm.applied
	}
	return sum
}

// catchUpBound: ticks for a follower to fetch the whole log, given entries
// per batch and batches in flight per round trip (plus slack).
func (s *sim) catchUpBound() int {
	perBatch := max(1, min(s.o.cfg.MaxBatchEntries, s.o.cfg.MaxBatchBytes/(entryOverhead+16)))
	var last uint64
	for _, n := range s.nodes {
		last = max(last, n.r.log.lastIndex())
	}
	rtt := 2*s.o.maxDelay + 2
	return 100 + rtt*(int(last)/(perBatch*s.o.cfg.MaxInflight)+1)
}

// converged: every node applied everything the leader committed.
func (s *sim) converged() bool {
	var commit uint64
	for _, n := range s.nodes {
		commit = max(commit, n.r.log.committed)
	}
	for _, n := range s.nodes {
		if n.sm.applied != commit {
			return false
		}
	}
	return true
}
