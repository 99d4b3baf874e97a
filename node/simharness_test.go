package node

// The whole-cluster simulation's world: N real node drivers (newNode over
// real eventlog WALs) wired to one seeded ring.SimNetwork, a fake clock,
// crashes and restarts, partitions, and retrying clients. One goroutine
// drives everything; the checks live in sim_test.go.

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/config"
	"github.com/syncnet/syncnet/node/peer"
	"github.com/syncnet/syncnet/node/state"
	"github.com/syncnet/syncnet/ring"
)

// simOpts is one seed's scenario, drawn from the seed.
type simOpts struct {
	nodes        int
	steps        int
	clients      int
	msgsPerCli   int
	faults       ring.SimConfig
	crashes      bool // crash and restart nodes
	majorityDown bool // allow crashing a majority (safety only until the final heal)
	partitions   bool
	fullRestart  bool // restart the whole cluster from disk before the final I7 phase
	midHeal      bool // also heal and check I7 halfway through
	pauses       bool // stop a process (SIGSTOP, a GC pause) and resume it with its queue
	diskFaults   bool // fail a WAL append before its write or at its fsync
	realSync     bool // fsync for real (NoSync off)
	maxBatch     int  // a node steps 1..maxBatch queued inputs before one Ready
	deafPhase    bool // three quarters in: heal, then one node deaf; the others must elect and commit
	mixed        bool // clients also join rooms, change presence, and u0 bans others
	// snapshotEvery is [storage] snapshot_every (0: the default, which a
	// run never reaches); memoryEntries is how many applied entries the
	// replica keeps in memory (0: the default): small values make nodes
	// snapshot, compact and read old entries from their WAL all the time.
	snapshotEvery, memoryEntries int
	// writesInFlight > 0 lowers the driver's bound on queued WAL writes.
	writesInFlight int
	badSnapshots   bool // damage or remove a node's newest snapshot now and then before it starts
	// dataLoss: a crashed node now and then comes back with its data
	// directory wiped (one at a time: until it is promoted from learner,
	// no other node loses its data).
	dataLoss bool
	// members: u0 also changes the membership (membership.go) — adds the
	// two spare nodes (their own cluster.toml lists them) as learners,
	// promotes them, removes voters down to three and learners — and the
	// harness starts an added node and retires a removed one.
	members bool
	// ring is each node's ring position (a permutation): successors on the
	// ring and the id tie-break of candidacies then relate in every way a
	// configuration allows. nil: ring position i for node i.
	ring []int
}

func (o simOpts) ringOrder(i int) int {
	if o.ring == nil {
		return i
	}
	return o.ring[i]
}

func drawSimOpts(seed int64, steps int) simOpts {
	r := rand.New(rand.NewSource(seed ^ 0x5eed))
	o := simOpts{nodes: 3, steps: steps, clients: 2 + r.Intn(15), msgsPerCli: 1000}
	if seed%2 == 1 {
		o.nodes = 5
	}
	o.faults = ring.SimConfig{
		Drop:      []float64{0, 0.02, 0.1, 0.3}[r.Intn(4)],
		Duplicate: []float64{0, 0.02, 0.05}[r.Intn(3)],
		MaxDelay:  []int{0, 1, 3, 6, 25}[r.Intn(5)], // 25: later than a failure timeout
	}
	o.crashes = r.Float64() < 0.8
	o.majorityDown = o.crashes && r.Float64() < 0.2
	o.partitions = r.Float64() < 0.7
	o.fullRestart = r.Float64() < 0.3
	o.midHeal = r.Float64() < 0.5
	o.pauses = r.Float64() < 0.6
	o.diskFaults = o.crashes && r.Float64() < 0.3
	o.realSync = r.Intn(50) == 0
	o.maxBatch = []int{1, 2, 4, 8, 64}[r.Intn(5)]
	o.deafPhase = r.Float64() < 0.3
	o.mixed = r.Float64() < 0.5
	o.ring = r.Perm(o.nodes)
	o.snapshotEvery = []int{0, 1, 7, 30, 100}[r.Intn(5)]
	o.memoryEntries = []int{0, 1, 4, 16}[r.Intn(4)]
	o.badSnapshots = o.snapshotEvery != 0 && r.Float64() < 0.3
	o.dataLoss = o.crashes && r.Float64() < 0.3
	o.members = r.Float64() < 0.3
	o.mixed = o.mixed || o.members // u0 asks for the changes among its other requests
	o.writesInFlight = []int{0, 1, 2, 4}[r.Intn(4)]
	return o
}

func (o simOpts) String() string {
	return fmt.Sprintf("nodes=%d steps=%d clients=%d faults=%+v crashes=%v majorityDown=%v partitions=%v fullRestart=%v midHeal=%v pauses=%v diskFaults=%v realSync=%v maxBatch=%d deafPhase=%v mixed=%v ring=%v snapshotEvery=%d memoryEntries=%d badSnapshots=%v dataLoss=%v members=%v writesInFlight=%d",
		o.nodes, o.steps, o.clients, o.faults, o.crashes, o.majorityDown, o.partitions, o.fullRestart, o.midHeal,
		o.pauses, o.diskFaults, o.realSync, o.maxBatch, o.deafPhase, o.mixed, o.ring, o.snapshotEvery, o.memoryEntries, o.badSnapshots, o.dataLoss, o.members, o.writesInFlight)
}

// simStats counts what the simulations did.
type simStats struct {
	Seeds, Steps, Ticks, Delivered, Sent                  int
	Proposals, Acks, Retries, Crashes, Restarts, Partitns int
	Terms, MaxLeaderTicks, MaxAckTicks, Committed         int
	Readys, Batched, MaxBatch, Pauses, Cuts, DiskFaults   int
	MaxDeafTicks, Refused                                 int
	// Deaf phases run, skipped (the others that vote are no majority) and
	// run with their bound starting once a hand-over ended (othersVote).
	DeafPhases, DeafSkipped, DeafWaits int
	// WAL writes completed by the schedule, completions the driver waited
	// for (its bound of writes in flight), writes lost in a crash.
	Writes, WriteWaits, LostWrites int
	// Snapshots written, starts from a snapshot, entries read back from a
	// WAL (by a leader for a follower, or for history).
	Snapshots, SnapshotStarts, WALReads int
	DataLosses, Promotions              int
	// Wiped nodes that copied a live peer's log before they started.
	SeededStarts int
	// Membership changes acked (simmembers_test.go), and removed nodes
	// that stopped by themselves once they applied their removal.
	MemberChanges, SelfStops int
}

func (s *simStats) add(o simStats) {
	s.Seeds += o.Seeds
	s.Steps += o.Steps
	s.Ticks += o.Ticks
	s.Delivered += o.Delivered
	s.Sent += o.Sent
	s.Proposals += o.Proposals
	s.Acks += o.Acks
	s.Retries += o.Retries
	s.Crashes += o.Crashes
	s.Restarts += o.Restarts
	s.Partitns += o.Partitns
	s.Terms += o.Terms
	s.Committed += o.Committed
	s.Readys += o.Readys
	s.Batched += o.Batched
	s.MaxBatch = max(s.MaxBatch, o.MaxBatch)
	s.Pauses += o.Pauses
	s.Cuts += o.Cuts
	s.DiskFaults += o.DiskFaults
	s.MaxDeafTicks = max(s.MaxDeafTicks, o.MaxDeafTicks)
	s.DeafPhases += o.DeafPhases
	s.DeafSkipped += o.DeafSkipped
	s.DeafWaits += o.DeafWaits
	s.Snapshots += o.Snapshots
	s.SnapshotStarts += o.SnapshotStarts
	s.WALReads += o.WALReads
	s.DataLosses += o.DataLosses
	s.SeededStarts += o.SeededStarts
	s.MemberChanges += o.MemberChanges
	s.SelfStops += o.SelfStops
	s.Promotions += o.Promotions
	s.Refused += o.Refused
	s.Writes += o.Writes
	s.WriteWaits += o.WriteWaits
	s.LostWrites += o.LostWrites
	s.MaxLeaderTicks = max(s.MaxLeaderTicks, o.MaxLeaderTicks)
	s.MaxAckTicks = max(s.MaxAckTicks, o.MaxAckTicks)
}

// simWorld is one seeded cluster.
type simWorld struct {
	seed    int64
	opts    simOpts
	rnd     *rand.Rand
	dir     string
	cfg     *config.Config
	clock   time.Time
	tickD   time.Duration
	net     *ring.SimNetwork
	due     []ring.Envelope      // deliverable now, not yet queued at the receiver
	cuts    map[[2]string]simCut // from→to links cut in one direction only
	nodes   []*simNode           // the members the harness runs and expects to converge
	spares  []*simNode           // with opts.members: not added yet
	removed map[string]bool      // removals acked: retired at the next heal
	newest  memberConf           // the newest membership any node applied (simmembers_test.go)
	byID    map[string]*simNode
	clients []*simClient
	step    int
	ticks   int
	trace   simTrace
	chk     *simChecker
	stats   simStats
	verbose func(string)
}

// simNode is one member: its current incarnation (nil while crashed) and
// the checker's cursors into that incarnation.
type simNode struct {
	id   string
	idx  int
	cfg  *config.Config // its cluster.toml: the world's, or a spare's own (members)
	n    *Node
	boot uint64 // incarnation: grows on every restart
	busy *simAttempt

	// inbox is what the process has received and not yet stepped (socket
	// buffers and channels); the driver steps a prefix of it, then one Ready.
	inbox       []input
	tickPending bool // a tick is in the inbox (a ticker holds at most one)
	pausedUntil int  // the process is stopped until this tick
	busyUntil   int  // the driver is in its fsync until this step: input queues up
	// diskFault arms the node's WAL: its next append fails at this stage.
	diskFault eventlog.FaultStage
	diskArmed bool
	// writes are the driver's WAL writes queued and not yet done (the
	// disk's queue); done ones wait in the inbox as inputs.
	writes []*walWrite
	// crashIn > 0: the process dies at its crashIn-th send from now, in the
	// middle of a Ready (a leader ships entries before its own WAL append,
	// so this also crashes a leader between sending and persisting).
	crashIn int

	// learnerWhenDown: the process crashed as a learner, or with an empty
	// WAL (a new cluster's node that wrote nothing yet has no learner
	// marker on disk and starts as a learner again), so it comes back as
	// one (someoneWiped).
	learnerWhenDown bool

	appliedChecked uint64 // applied entries compared with the global log
	histAfter      uint64 // last chat message index read from this incarnation
	logChecked     uint64 // log prefix (<= commit) already checked for I2
	leadTerm       uint64 // replica term this node leads, for I3
	leadChecked    uint64 // global committed entries checked against its log
}

// simPayload travels through the SimNetwork: a ring message or a peer frame,
// tagged with the receiver's incarnation (a restart loses what was in flight
// to the old process).
type simPayload struct {
	ring   *ring.Message
	typ    uint8
	data   []byte
	toBoot uint64
}

type simRingT struct {
	w  *simWorld
	id string
}

// simCrashNow unwinds a node's handleReady: the process died mid-Ready.
type simCrashNow struct{ id string }

func (w *simWorld) maybeDie(id string) {
	if sn := w.byID[id]; sn.crashIn > 0 {
		sn.crashIn--
		if sn.crashIn == 0 {
			panic(simCrashNow{id})
		}
	}
}

func (t *simRingT) Send(to string, m ring.Message) error {
	t.w.maybeDie(t.id)
	t.w.send(t.id, to, simPayload{ring: &m})
	return nil
}

func (t *simRingT) Recv() <-chan ring.Message { return nil }
func (t *simRingT) Close() error              { return nil }

type simPeerT struct {
	w  *simWorld
	id string
}

func (t *simPeerT) Send(to string, typ uint8, payload []byte) bool {
	t.w.maybeDie(t.id)
	t.w.send(t.id, to, simPayload{typ: typ, data: payload})
	return true
}

func (t *simPeerT) Recv() <-chan peer.Frame { return nil }
func (t *simPeerT) Close() error            { return nil }

// simTrace keeps the last lines for a failure report and a hash of all of
// them, so two runs of one seed can be compared (determinism).
type simTrace struct {
	lines []string
	next  int
	h     uint64
	n     int
}

const simTraceLines = 60

func (t *simTrace) add(s string) {
	if t.lines == nil {
		t.lines = make([]string, simTraceLines)
		t.h = 14695981039346656037
	}
	t.lines[t.next] = s
	t.next = (t.next + 1) % simTraceLines
	t.n++
	f := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(t.h >> (8 * i))
	}
	f.Write(b[:])
	f.Write([]byte(s))
	t.h = f.Sum64()
}

func (t *simTrace) String() string {
	var b strings.Builder
	for i := 0; i < simTraceLines; i++ {
		if l := t.lines[(t.next+i)%simTraceLines]; l != "" {
			b.WriteString("  " + l + "\n")
		}
	}
	return b.String()
}

func (w *simWorld) logf(format string, a ...any) {
	s := fmt.Sprintf("[%d t=%d] ", w.step, w.ticks) + fmt.Sprintf(format, a...)
	w.trace.add(s)
	if w.verbose != nil {
		w.verbose(s)
	}
}

func newSimWorld(seed int64, o simOpts, dir string) (*simWorld, error) {
	w := &simWorld{seed: seed, opts: o, rnd: rand.New(rand.NewSource(seed)), dir: dir,
		clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), byID: map[string]*simNode{}, cuts: map[[2]string]simCut{}}
	var b strings.Builder
	fmt.Fprintf(&b, "[cluster]\nname = \"sim\"\ndata_dir = %q\nsecret = \"sim-secret-0123456789\"\n", dir)
	// cluster.toml's timing: 20ms ticks, failure 20 ticks, election 15 ticks.
	b.WriteString("[timing]\nheartbeat_interval = \"100ms\"\nfailure_timeout = \"400ms\"\nelection_timeout = \"300ms\"\npost_timeout = \"2s\"\n")
	if o.snapshotEvery > 0 {
		fmt.Fprintf(&b, "[storage]\nsnapshot_every = %d\n", o.snapshotEvery)
	}
	for i := 0; i < o.nodes; i++ {
		fmt.Fprintf(&b, "[[node]]\nid = \"n%d\"\nhost = \"127.0.0.1\"\nssh_port = %d\npeer_port = %d\nheartbeat_port = %d\nelection_port = %d\nring = %d\n",
			i+1, 22000+i, 23000+i, 24000+i, 25000+i, o.ringOrder(i))
	}
	cfg, err := config.Parse("sim.toml", b.String())
	if err != nil {
		return nil, err
	}
	w.cfg = cfg
	w.tickD = cfg.Timing.HeartbeatInterval.Duration / ticksPerHeartbeat
	w.net = ring.NewSimNetwork(rand.New(rand.NewSource(seed*7919+1)), o.faults)
	w.chk = newSimChecker(w)
	for i, m := range cfg.Nodes {
		sn := &simNode{id: m.ID, idx: i, cfg: cfg}
		w.nodes = append(w.nodes, sn)
		w.byID[m.ID] = sn
	}
	w.removed = map[string]bool{}
	if o.members {
		for i := o.nodes; i < o.nodes+2; i++ {
			// A new host: its own cluster.toml lists the cluster and itself.
			id := fmt.Sprintf("n%d", i+1)
			sc := *cfg
			sc.Nodes = append(slices.Clone(cfg.Nodes), config.Node{ID: id, Host: "127.0.0.1", SSHPort: 22000 + i, PeerPort: 23000 + i,
				HeartbeatPort: 24000 + i, ElectionPort: 25000 + i, Ring: i})
			sn := &simNode{id: id, idx: i, cfg: &sc}
			w.spares = append(w.spares, sn)
			w.byID[id] = sn
			w.net.SetDown(id, true)
		}
	}
	for i := 0; i < o.clients; i++ {
		w.clients = append(w.clients, &simClient{user: fmt.Sprintf("u%d", i)})
	}
	for _, sn := range w.nodes {
		if err := w.start(sn); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func (w *simWorld) now() time.Time { return w.clock }

// start opens a node from its WAL dir: a fresh process that knows only
// what is on disk.
func (w *simWorld) start(sn *simNode) error {
	sn.boot++
	bootID := uint64(w.seed)<<24 | uint64(sn.idx)<<16 | sn.boot
	if w.opts.badSnapshots && w.rnd.Intn(3) == 0 {
		w.damageSnapshot(sn)
	}
	if w.opts.dataLoss && sn.boot > 1 && !w.someoneWiped() && w.rnd.Intn(4) == 0 {
		w.logf("%s loses its data directory", sn.id)
		if err := os.RemoveAll(w.cfg.NodeDir(sn.id)); err != nil {
			return err
		}
		w.stats.DataLosses++
		// What it persisted is gone, and that is the point: I1 is checked
		// across the loss by checkLeaders (one leader per term, ever).
		delete(w.chk.vote, sn.id)
		delete(w.chk.repTerm, sn.id)
		if w.rnd.Intn(2) == 0 {
			if err := w.seedFromPeer(sn); err != nil {
				return err
			}
		}
	}
	// PostRate -1: the simulated clients post as fast as the schedule lets
	// them; the leader's allowance has its own directed test
	// (TestRateLimitIsPerUserForTheCluster).
	o := Options{Config: sn.cfg, ID: sn.id, NoSync: !w.opts.realSync, inlineSnapshots: true, memoryEntries: w.opts.memoryEntries,
		PostRate: -1, writesInFlight: w.opts.writesInFlight}
	o.walFault = func(stage eventlog.FaultStage) error { return w.walFault(sn, stage) }
	n, err := newNode(o, w.now, bootID)
	if err != nil {
		return fmt.Errorf("restart %s: %w", sn.id, err)
	}
	n.ringNet = &simRingT{w: w, id: sn.id}
	n.peers = &simPeerT{w: w, id: sn.id}
	n.walq, n.durableC = &simWAL{w: w, sn: sn}, nil
	if n.recoveredFromSnapshot > 0 {
		w.stats.SnapshotStarts++
	}
	sn.n = n
	sn.inbox, sn.tickPending, sn.pausedUntil, sn.diskArmed, sn.writes = nil, false, 0, false, nil
	sn.appliedChecked, sn.histAfter, sn.logChecked, sn.leadTerm, sn.leadChecked = 0, 0, 0, 0, 0
	w.net.SetDown(sn.id, false)
	lt, li := n.replication.LastIndexTerm()
	w.logf("start %s boot=%d term=%d log=%d/%d commit=%d", sn.id, sn.boot, n.ring.Term(), lt, li, n.replication.Status().Commit)
	return nil
}

// seedFromPeer copies a live peer's log into a wiped node before it starts, with
// the production code on both ends (seed_serve.go, seed_install.go); the
// stream is a buffer of frames, filled and drained at this point of the
// schedule, so the run stays deterministic.
func (w *simWorld) seedFromPeer(sn *simNode) error {
	var from *simNode
	for _, p := range w.nodes {
		if p != sn && p.n != nil && (from == nil || p.n.applied.Load() > from.n.applied.Load()) {
			from = p
		}
	}
	if from == nil {
		return nil
	}
	o, state, _ := from.n.seedSnapshot() // no snapshot: entries only
	if o.commit == 0 {
		return nil
	}
	frames := &seedFrames{}
	if err := from.n.sendSeed(frames, o, state); err != nil {
		return fmt.Errorf("seed %s from %s: send: %w", sn.id, from.id, err)
	}
	staging := filepath.Join(w.cfg.NodeDir(sn.id), "seed.tmp")
	if err := os.MkdirAll(staging, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(staging)
	in := &seedInstall{o: Options{Config: w.cfg, ID: sn.id, NoSync: !w.opts.realSync, Logger: slog.New(slog.DiscardHandler)},
		staging: staging, from: from.id}
	if err := in.receive(frames); err != nil {
		return fmt.Errorf("seed %s from %s: %w", sn.id, from.id, err)
	}
	if err := in.install(w.cfg.WALDir(sn.id)); err != nil {
		return fmt.Errorf("seed %s from %s: install: %w", sn.id, from.id, err)
	}
	w.logf("%s copied %s's log: %d entries, state at %d", sn.id, from.id, o.commit, o.applied)
	w.stats.SeededStarts++
	return nil
}

// someoneWiped reports whether some node is a learner or may come back as
// one (it lost its data, or never got promoted in the new cluster): a
// second loss then could leave fewer voters than a majority with nothing
// committed to catch up from, which no rule can resolve safely (two nodes
// of three losing their data is data loss).
func (w *simWorld) someoneWiped() bool {
	for _, sn := range w.nodes {
		if sn.n != nil && sn.n.ring.Learner() || sn.n == nil && sn.learnerWhenDown {
			return true // seeds 63350, 73998: one never promoted, down; another wiped
		}
		if _, err := os.Stat(filepath.Join(w.cfg.NodeDir(sn.id), learnerMarker)); err == nil {
			return true
		}
	}
	return false
}

// damageSnapshot flips a byte of, or removes, a node's newest snapshot:
// the node must start from an older one or from the whole WAL.
func (w *simWorld) damageSnapshot(sn *simNode) {
	snaps, err := eventlog.Snapshots(w.cfg.WALDir(sn.id))
	if err != nil || len(snaps) == 0 {
		return
	}
	p := snaps[0].Path
	if w.rnd.Intn(2) == 0 {
		w.logf("remove %s's snapshot %s", sn.id, filepath.Base(p))
		if err := os.Remove(p); err != nil {
			w.chk.fail("remove snapshot: %v", err)
		}
		return
	}
	b, err := os.ReadFile(p)
	if err != nil {
		w.chk.fail("read snapshot: %v", err)
	}
	at := w.rnd.Intn(len(b))
	b[at] ^= 0x40
	w.logf("damage %s's snapshot %s at byte %d", sn.id, filepath.Base(p), at)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		w.chk.fail("write snapshot: %v", err)
	}
}

// crash ends a node's process: everything in memory is gone (its inbox
// too), its WAL stays.
func (w *simWorld) crash(sn *simNode) {
	w.logf("crash %s (term=%d role=%s)", sn.id, sn.n.ring.Term(), sn.n.ring.Role())
	w.harvest(sn)
	if len(sn.writes) > 0 {
		// The disk finished a prefix of the queued writes (perhaps none)
		// before the process died; the rest are lost.
		k := 0
		if w.rnd.Intn(2) == 0 {
			k = w.rnd.Intn(len(sn.writes) + 1)
		}
		for _, wr := range sn.writes[:k] {
			w.perform(sn, wr)
		}
		w.logf("%s: %d queued WAL writes reached the disk, %d are lost", sn.id, k, len(sn.writes)-k)
		w.stats.LostWrites += len(sn.writes) - k
		sn.writes = nil
	}
	sn.learnerWhenDown = sn.n.ring.Learner() || sn.n.wal.LastSeq() == 0
	if err := sn.n.closeStorage(); err != nil && !sn.diskArmed {
		w.chk.fail("close wal of %s: %v", sn.id, err)
	}
	sn.n = nil
	sn.busy = nil
	sn.crashIn = 0
	sn.inbox, sn.tickPending, sn.pausedUntil, sn.diskArmed, sn.writes = nil, false, 0, false, nil
	w.net.SetDown(sn.id, true)
	for _, c := range w.clients {
		c.dropAttemptsOn(sn)
	}
	w.stats.Crashes++
}

// simWAL is a simulated node's disk queue: the driver's writes wait in
// sn.writes until the schedule completes them (diskStep) or the process
// dies (crash loses a suffix of them).
type simWAL struct {
	w  *simWorld
	sn *simNode
}

func (q *simWAL) submit(wr *walWrite) error {
	if err := q.sn.n.wal.Err(); err != nil {
		return err
	}
	q.sn.writes = append(q.sn.writes, wr)
	return nil
}

// wait is the driver blocking for its oldest write: one already done and
// waiting in the inbox, else the disk finishes it now.
func (q *simWAL) wait() *walWrite {
	sn := q.sn
	for i, in := range sn.inbox {
		if in.kind == inputDurable {
			sn.inbox = slices.Delete(sn.inbox, i, i+1)
			return in.write
		}
	}
	if len(sn.writes) == 0 {
		panic(fmt.Sprintf("sim: %s waits for a WAL write but none is queued", sn.id))
	}
	wr := sn.writes[0]
	sn.writes = sn.writes[1:]
	q.w.perform(sn, wr)
	q.w.stats.WriteWaits++
	return wr
}

// perform writes wr to the node's WAL (it is durable once Append returns).
func (w *simWorld) perform(sn *simNode, wr *walWrite) {
	first, _, err := sn.n.wal.Append(context.Background(), wr.recs...)
	wr.first, wr.err = first, err
}

// diskStep completes the oldest queued write of a random node that has
// one: its completion joins the inbox. It reports whether it did.
func (w *simWorld) diskStep() bool {
	var ws []*simNode
	for _, sn := range w.live() {
		if len(sn.writes) > 0 {
			ws = append(ws, sn)
		}
	}
	if len(ws) == 0 {
		return false
	}
	sn := ws[w.rnd.Intn(len(ws))]
	wr := sn.writes[0]
	sn.writes = sn.writes[1:]
	w.perform(sn, wr)
	sn.inbox = append(sn.inbox, durableInput(wr))
	w.stats.Writes++
	if w.verbose != nil {
		w.logf("%s: WAL write %d done (%d records)", sn.id, wr.seq, len(wr.recs))
	}
	return true
}

// walFault is every simulated node's WAL fault hook: an armed node's next
// append fails at the armed stage (the log is then poisoned).
func (w *simWorld) walFault(sn *simNode, stage eventlog.FaultStage) error {
	if sn.diskArmed && sn.diskFault == stage {
		w.logf("%s: disk fault at %s", sn.id, stage)
		return fmt.Errorf("simulated disk fault at %s", stage)
	}
	return nil
}

// leader is a live node whose ring core leads, if any (the highest term).
func (w *simWorld) leader() *simNode {
	var best *simNode
	for _, sn := range w.live() {
		if sn.n.ring.Role() == ring.RoleLeader && (best == nil || sn.n.ring.Term() > best.n.ring.Term()) {
			best = sn
		}
	}
	return best
}

func (w *simWorld) live() []*simNode {
	var out []*simNode
	for _, sn := range w.nodes {
		if sn.n != nil {
			out = append(out, sn)
		}
	}
	return out
}

// harvest adds a process's counters to the run's stats before it ends.
func (w *simWorld) harvest(sn *simNode) {
	w.stats.Snapshots += sn.n.snaps.status().written
	w.stats.WALReads += int(sn.n.reader.reads.Load())
	w.stats.Promotions += sn.n.promotions
}

func (w *simWorld) closeAll() {
	for _, sn := range w.nodes {
		if sn.n != nil {
			w.harvest(sn)
			sn.n.closeStorage()
			sn.n = nil
		}
	}
}

// send puts one message in flight; peer frames are also shown to the
// checker (entries on the wire, for I2 with data).
func (w *simWorld) send(from, to string, p simPayload) {
	if sn := w.byID[to]; sn != nil {
		p.toBoot = sn.boot
	}
	w.stats.Sent++
	if p.ring == nil && p.typ == frameReplica {
		if m, err := decodeReplica(p.data); err == nil {
			w.chk.wireEntries(m)
		}
	}
	if w.verbose != nil {
		w.verbose("    send " + describePayload(from, to, p))
	}
	w.net.Send(from, to, p)
}

func describePayload(from, to string, p simPayload) string {
	if p.ring != nil {
		return p.ring.Describe()
	}
	switch p.typ {
	case frameReplica:
		if m, err := decodeReplica(p.data); err == nil {
			return m.Describe()
		}
	case frameForward:
		if f, err := decodeForward(p.data); err == nil {
			return fmt.Sprintf("%s->%s forward req=%d %s/%s", from, to, f.ReqID, f.User, f.MsgID)
		}
	case frameForwardR:
		if r, err := decodeForwardReply(p.data); err == nil {
			return fmt.Sprintf("%s->%s forward-reply req=%d index=%d term=%d err=%q", from, to, r.ReqID, r.Index, r.Term, r.Err)
		}
	}
	return fmt.Sprintf("%s->%s frame type %d (%d bytes)", from, to, p.typ, len(p.data))
}

// deliver hands one envelope to its receiver's process, if that process is
// the one it was sent to and the link carries it: it joins the inbox, to be
// stepped in some later batch.
func (w *simWorld) deliver(e ring.Envelope) {
	p := e.Payload.(simPayload)
	sn := w.byID[e.To]
	cut := w.cuts[[2]string{e.From, e.To}]
	if sn.n == nil || sn.boot != p.toBoot || !w.net.Connected(e.From, e.To) ||
		p.ring != nil && cut&cutRing != 0 || p.ring == nil && cut&cutFrames != 0 {
		w.logf("lost %s", describePayload(e.From, e.To, p))
		return
	}
	w.stats.Delivered++
	w.logf("deliver %s", describePayload(e.From, e.To, p))
	if p.ring != nil {
		m := *p.ring
		m.Passed = slices.Clone(m.Passed)
		sn.inbox = append(sn.inbox, ringInput(m))
		return
	}
	sn.inbox = append(sn.inbox, frameInput(peer.Frame{From: e.From, Type: p.typ, Payload: p.data}))
}

// tick advances the clock one driver tick; every live process's ticker
// fires, holding at most one tick until the process reads it (a stopped
// process finds one tick waiting when it resumes).
func (w *simWorld) tick() {
	w.clock = w.clock.Add(w.tickD)
	w.net.Tick()
	w.ticks++
	w.stats.Ticks++
	if w.verbose != nil {
		w.logf("tick")
	}
	for _, sn := range w.live() {
		if !sn.tickPending {
			sn.inbox = append(sn.inbox, tickInput())
			sn.tickPending = true
		}
		if sn.pausedUntil != 0 && w.ticks >= sn.pausedUntil {
			sn.pausedUntil = 0
			w.logf("%s resumes with %d queued inputs", sn.id, len(sn.inbox))
		}
	}
}

// settle collects what became deliverable, then answers clients and checks
// every invariant.
func (w *simWorld) settle() {
	w.due = append(w.due, w.net.Due()...)
	w.chk.checkNodes()
	w.pollClients()
}

// runNode is one turn of a process's driver, exactly as Node.loop does it:
// take the first k queued inputs (1 <= k <= maxBatch), step them all, then
// handle the Ready they made (Node.process). A WAL error stops the process,
// as it stops a real node.
func (w *simWorld) runNode(sn *simNode, k int) {
	k = min(k, len(sn.inbox))
	if k == 0 {
		return
	}
	batch := slices.Clone(sn.inbox[:k])
	sn.inbox = slices.Delete(sn.inbox, 0, k)
	for _, in := range batch {
		if in.kind == inputTick {
			sn.tickPending = false
		}
	}
	w.stats.Readys++
	w.stats.Batched += k
	w.stats.MaxBatch = max(w.stats.MaxBatch, k)
	if w.verbose != nil {
		w.logf("%s steps %d inputs", sn.id, k)
	}
	w.run(sn, func(n *Node) {
		if err := n.process(batch); err != nil {
			if errors.Is(err, ErrRemoved) {
				w.logf("%s stops: %v", sn.id, err)
				w.retire(sn)
				return
			}
			if !sn.diskArmed {
				w.chk.fail("%s stopped: %v", sn.id, err)
			}
			w.logf("%s stops: %v", sn.id, err)
			w.crash(sn)
		}
	})
}

// runnable are the live processes that are not stopped and have input.
func (w *simWorld) runnable() []*simNode {
	var out []*simNode
	for _, sn := range w.live() {
		if sn.pausedUntil == 0 && sn.busyUntil <= w.step && len(sn.inbox) > 0 {
			out = append(out, sn)
		}
	}
	return out
}

// pendingInput: some running process has input queued (it may be busy).
func (w *simWorld) pendingInput() bool {
	for _, sn := range w.live() {
		if sn.pausedUntil == 0 && (len(sn.inbox) > 0 || len(sn.writes) > 0) {
			return true
		}
	}
	return false
}

// runOne runs one random runnable process with a random batch size, or
// now and then (or when no process can run) lets a disk finish a write.
func (w *simWorld) runOne() bool {
	rs := w.runnable()
	if len(rs) == 0 || w.rnd.Intn(4) == 0 {
		if w.diskStep() {
			return true
		}
	}
	if len(rs) == 0 {
		return false
	}
	sn := rs[w.rnd.Intn(len(rs))]
	k := w.opts.maxBatch // the loop takes all that is queued, up to its bound
	if w.rnd.Float64() < 0.5 {
		k = 1 + w.rnd.Intn(k) // or input arrives while it drains
	}
	w.runNode(sn, k)
	// A pass takes a while; what arrives meanwhile forms the next batch.
	// (The WAL write it queued completes later, on its own: diskStep.)
	sn.busyUntil = w.step + w.rnd.Intn(6)
	return true
}

// run calls into a live node's driver; if the process dies inside (at an
// armed send), it is crashed there.
func (w *simWorld) run(sn *simNode, f func(n *Node)) {
	if sn.n == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			if c, ok := r.(simCrashNow); !ok || c.id != sn.id {
				panic(r)
			}
			w.logf("%s dies in the middle of its work", sn.id)
			w.crash(sn)
		}
	}()
	f(sn.n)
}

// randomStep is one step of the random phase.
func (w *simWorld) randomStep() {
	w.step++
	r := w.rnd.Float64()
	switch {
	case len(w.due) > 0 && r < 0.45:
		w.deliverOne()
	case r < 0.70:
		if !w.runOne() {
			w.tick()
		}
	case r < 0.86:
		w.tick()
	case r < 0.98:
		w.clientStep()
	default:
		w.faultStep()
	}
	w.settle()
}

func (w *simWorld) deliverOne() {
	i := 0
	if w.rnd.Float64() < 0.2 {
		i = w.rnd.Intn(min(len(w.due), 4)) // a little extra reordering
	}
	e := w.due[i]
	w.due = append(w.due[:i], w.due[i+1:]...)
	w.deliver(e)
}

func (w *simWorld) faultStep() {
	o := w.opts
	live := w.live()
	dead := len(w.nodes) - len(live)
	down := dead
	for _, sn := range live {
		if sn.crashIn > 0 || sn.diskArmed {
			down++ // about to die
		}
	}
	minority := (len(w.nodes) - 1) / 2
	switch k := w.rnd.Intn(12); {
	case k <= 1 && o.crashes && len(live) > 0 && (down < minority || o.majorityDown && len(live) > 1):
		victim := w.victim(live)
		if victim.crashIn > 0 || victim.diskArmed {
			return
		}
		switch r := w.rnd.Float64(); {
		case o.diskFaults && r < 0.3:
			victim.diskArmed = true
			victim.diskFault = []eventlog.FaultStage{eventlog.FaultBeforeWrite, eventlog.FaultBeforeSync}[w.rnd.Intn(2)]
			w.stats.DiskFaults++
			w.logf("%s's disk will fail at its next append (%s)", victim.id, victim.diskFault)
		case r < 0.55:
			victim.crashIn = 1 + w.rnd.Intn(4)
			w.logf("%s will die at its send #%d", victim.id, victim.crashIn)
		default:
			w.crash(victim)
		}
	case k <= 2 && dead > 0:
		var dead []*simNode
		for _, sn := range w.nodes {
			if sn.n == nil {
				dead = append(dead, sn)
			}
		}
		sn := dead[w.rnd.Intn(len(dead))]
		if err := w.start(sn); err != nil {
			w.chk.fail("%v", err)
		}
		w.stats.Restarts++
	case k == 3 && o.partitions:
		w.partition()
	case k == 4:
		w.net.Heal()
		clear(w.cuts)
		w.logf("heal")
	case k == 5 && o.partitions:
		w.cutOneWay()
	case k == 6 && o.pauses && len(live) > 0:
		// A process stops (SIGSTOP, a long GC pause): it hears, sends and
		// ticks nothing, and resumes with everything that queued up. Up to
		// three failure timeouts, so others suspect it and elect meanwhile.
		w.pause(w.victim(live))
	case k >= 7 && o.partitions && w.leader() != nil:
		// The leader's heartbeats and election messages (UDP) are lost
		// while its appends (TCP) still flow, sometimes after a pause: the
		// others elect a new leader while the old one still replicates.
		l := w.leader()
		if w.rnd.Float64() < 0.5 && o.pauses {
			w.pause(l)
		}
		for _, o := range w.nodes {
			if o != l {
				w.cuts[[2]string{l.id, o.id}] |= cutRing
			}
		}
		w.stats.Cuts++
		w.logf("leader %s's UDP is lost, its TCP flows", l.id)
	default:
		f := o.faults
		if w.rnd.Float64() < 0.5 {
			f = ring.SimConfig{}
		}
		w.net.SetFaults(f)
		w.logf("faults %+v", f)
	}
}

// pause stops a process for 1..60 ticks, or for about a failure timeout.
func (w *simWorld) pause(sn *simNode) {
	if sn.pausedUntil == 0 {
		d := 1 + w.rnd.Intn(60)
		if w.rnd.Float64() < 0.5 {
			// About one failure timeout: the process resumes just as the
			// others start electing, the narrowest window.
			ft := sn.n.ticks(w.cfg.Timing.FailureTimeout)
			d = ft - 2 + w.rnd.Intn(8)
		}
		sn.pausedUntil = w.ticks + d
		w.stats.Pauses++
		w.logf("%s pauses until tick %d", sn.id, sn.pausedUntil)
	}
}

// victim picks a live node for a fault, the leader half the time: leader
// faults are the interesting ones.
func (w *simWorld) victim(live []*simNode) *simNode {
	if l := w.leader(); l != nil && w.rnd.Float64() < 0.5 {
		return l
	}
	return live[w.rnd.Intn(len(live))]
}

// simCut says what a one-way cut drops: ring datagrams (UDP), peer frames
// (TCP) or both.
type simCut uint8

const (
	cutRing simCut = 1 << iota
	cutFrames
	cutAll = cutRing | cutFrames
)

func (c simCut) String() string {
	switch c {
	case cutRing:
		return "UDP only"
	case cutFrames:
		return "TCP only"
	}
	return "UDP and TCP"
}

// cutOneWay cuts links in one direction only: one link, or everything a
// node receives (deaf: it still sends and is still heard), or everything it
// sends (mute); all traffic, or only the ring's UDP datagrams while peer
// frames flow, or the reverse.
func (w *simWorld) cutOneWay() {
	what := []simCut{cutAll, cutRing, cutFrames}[w.rnd.Intn(3)]
	x := w.nodes[w.rnd.Intn(len(w.nodes))]
	if l := w.leader(); l != nil && w.rnd.Float64() < 0.5 {
		x = l
	}
	cut := func(from, to *simNode) {
		if from != to {
			w.cuts[[2]string{from.id, to.id}] |= what
		}
	}
	w.stats.Cuts++
	switch w.rnd.Intn(3) {
	case 0:
		for _, o := range w.nodes {
			cut(o, x)
		}
		w.logf("%s is deaf (%s): it hears nobody, everybody hears it", x.id, what)
	case 1:
		for _, o := range w.nodes {
			cut(x, o)
		}
		w.logf("%s is mute (%s): nobody hears it, it hears everybody", x.id, what)
	default:
		y := w.nodes[w.rnd.Intn(len(w.nodes))]
		cut(y, x)
		w.logf("cut %s->%s (one way, %s)", y.id, x.id, what)
	}
}

// partition cuts the cluster in two random groups (sometimes one node alone).
func (w *simWorld) partition() {
	ids := make([]string, 0, len(w.nodes))
	for _, sn := range w.nodes {
		ids = append(ids, sn.id)
	}
	w.rnd.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	if l := w.leader(); l != nil && w.rnd.Float64() < 0.5 {
		// cut the leader off with a minority (or alone)
		i := slices.Index(ids, l.id)
		ids[0], ids[i] = ids[i], ids[0]
	}
	k := 1 + w.rnd.Intn(len(ids)-1)
	if k > len(ids)/2 {
		k = len(ids) - k
	}
	a, b := ids[:k], ids[k:]
	w.net.Partition(a, b)
	w.stats.Partitns++
	w.logf("partition %v | %v", a, b)
}

// simClient is one user posting messages one after another; a message it
// got no answer for is retried with the same client id, possibly on another
// node, until acked.
type simClient struct {
	user     string
	seq      int
	id       string // current request, "" when idle
	kind     simRequest
	text     string // a post's text; a join's room; a presence status; a ban's target
	until    int64  // a ban's end (Unix ns)
	seen     uint64 // Lamport time the author had seen when writing it (I6)
	attempts []*simAttempt
	since    int // tick of the first attempt of the current request
}

// simRequest is what a client asks for. Every kind goes through the same
// proposal path with its (author, request id), so every kind must be
// exactly once; bans make the authorization at apply time visible.
type simRequest uint8

const (
	reqPost simRequest = iota
	reqJoin
	reqPresence
	reqBan
	reqMember // u0, with opts.members: text is "add ID", "promote ID" or "remove ID"
)

func (k simRequest) String() string {
	return [...]string{"post", "join", "presence", "ban", "member"}[k]
}

type simAttempt struct {
	c    *simClient
	id   string
	kind simRequest
	text string // the request's text at submission (a join's room)
	sn   *simNode
	boot uint64
	p    *proposal
	at   int
}

func (c *simClient) dropAttemptsOn(sn *simNode) {
	c.attempts = slices.DeleteFunc(c.attempts, func(a *simAttempt) bool { return a.sn == sn })
}

// freeNodes are the live nodes a client may post through: all of them, or
// with -sim.onepernode only those with no post outstanding (the mode that
// kept runs deterministic while expireWaiters re-placed proposals in map
// order).
func (w *simWorld) freeNodes() []*simNode {
	var out []*simNode
	for _, sn := range w.live() {
		if sn.busy == nil || !*flagSimOnePerNode {
			out = append(out, sn)
		}
	}
	return out
}

func (w *simWorld) clientStep() { w.clientStepFor(w.clients[w.rnd.Intn(len(w.clients))]) }

// clientStepFor lets client c act: compose its next request, retry one that
// has no attempt in flight, or, when impatient, send it again elsewhere.
func (w *simWorld) clientStepFor(c *simClient) {
	free := w.freeNodes()
	if len(free) == 0 {
		return
	}
	sn := free[w.rnd.Intn(len(free))]
	switch {
	case c.id == "" && c.seq < w.opts.msgsPerCli:
		c.seq++
		c.id = fmt.Sprintf("%s-%d", c.user, c.seq)
		c.kind, c.text = reqPost, fmt.Sprintf("msg %d of %s", c.seq, c.user)
		if r := w.rnd.Float64(); w.opts.mixed {
			switch {
			case c.user == "u0" && r < 0.4:
				// u0 moderates: a short ban of another user, so posts that
				// nodes propose without having applied it are refused at
				// apply time, the same way on every node.
				c.kind, c.text = reqBan, fmt.Sprintf("u%d", 1+w.rnd.Intn(len(w.clients)-1))
				c.until = w.clock.Add(time.Duration(20+w.rnd.Intn(80)) * w.tickD).UnixNano()
			case c.user == "u0" && r < 0.7 && w.opts.members:
				if op := w.memberOp(sn); op != "" {
					c.kind, c.text = reqMember, op
				}
			case r < 0.1:
				c.kind, c.text = reqJoin, fmt.Sprintf("r%d", w.rnd.Intn(3))
			case r < 0.2:
				c.kind, c.text = reqPresence, []string{"online", "away", "offline"}[w.rnd.Intn(3)]
			}
		}
		c.seen = 0
		h, err := sn.n.state.Chat.History(state.GeneralRoom, 0, 1)
		if err != nil {
			w.chk.fail("%s: history: %v", sn.id, err)
		}
		if len(h) > 0 {
			c.seen = h[0].Lamport // the author read the room on this node
		}
		c.since = w.ticks
		if c.kind == reqPost {
			w.chk.composed(c)
		}
		w.submit(c, sn)
	case c.id != "" && len(c.attempts) == 0:
		w.stats.Retries++
		w.submit(c, sn)
	case c.id != "" && len(c.attempts) == 1 && w.ticks-c.attempts[0].at > 40 && c.attempts[0].sn != sn:
		// impatient: the same post again through another node, concurrently
		w.stats.Retries++
		w.submit(c, sn)
	}
}

// submit hands a post to a node's driver the way Post does (propose), but
// without blocking: the client reads done later.
func (w *simWorld) submit(c *simClient, sn *simNode) {
	n := sn.n
	var b eventlog.Body
	switch c.kind {
	case reqPost:
		b = &eventlog.MessagePosted{Room: state.GeneralRoom, From: c.user, Text: c.text, ClientMsgID: c.id, ReplyLamport: c.seen}
	case reqJoin:
		b = &eventlog.MemberJoinedRoom{RoomMember: eventlog.RoomMember{Room: c.text, User: c.user}}
	case reqPresence:
		b = &eventlog.PresenceChanged{User: c.user, Node: sn.id, Status: c.text}
	case reqBan:
		b = &eventlog.UserBanned{Moderation: eventlog.Moderation{Target: c.text, By: c.user, Reason: "sim", Until: c.until}}
	case reqMember:
		mb, err := w.memberRequest(sn, c)
		if err != nil {
			w.logf("member %s/%s via %s: %v: given up", c.user, c.id, sn.id, err)
			c.id = ""
			return
		}
		b = mb
	}
	ev := requestEvent(b, c.user, c.id)
	ev.Origin = n.id
	p := &proposal{ev: ev, user: c.user, msgID: c.id, seen: c.seen,
		deadline: n.now().Add(n.cfg.Timing.PostTimeout.Duration), done: make(chan result, 1)}
	a := &simAttempt{c: c, id: c.id, kind: c.kind, text: c.text, sn: sn, boot: sn.boot, p: p, at: w.ticks}
	c.attempts = append(c.attempts, a)
	sn.busy = a
	w.stats.Proposals++
	w.logf("%s %s/%s via %s seen=%d %s", c.kind, c.user, c.id, sn.id, c.seen, c.text)
	sn.inbox = append(sn.inbox, proposalInput(p))
}

// pollClients reads every outstanding answer without blocking.
func (w *simWorld) pollClients() {
	for _, c := range w.clients {
		for _, a := range slices.Clone(c.attempts) {
			var r result
			select {
			case r = <-a.p.done:
			default:
				continue
			}
			c.attempts = slices.DeleteFunc(c.attempts, func(x *simAttempt) bool { return x == a })
			if a.sn.busy == a {
				a.sn.busy = nil
			}
			if r.err != nil {
				w.logf("post %s/%s via %s failed: %v", c.user, a.id, a.sn.id, r.err)
				if a.kind == reqMember && c.id == a.id && strings.HasPrefix(r.err.Error(), "membership:") {
					// The leader's rules refused it: ask something else
					// later. Also "handing over leadership first", which
					// ChangeMembers asks again: u0 gives up like an admin
					// whose command timed out, so the old leader hands over
					// until it hears of a new leader (ten failure timeouts
					// at most), and deaf phases meet such hand-overs (seeds
					// 3589 and 4581; asking again, no seed of 0-5,999 does).
					c.id = ""
				}
				continue
			}
			// What became of the request, as the Backend reads it (mutate):
			// refused at apply time, or applied at its first index.
			if o, ok := a.sn.n.state.Lookup(c.user, a.id); ok && o.Refusal != nil {
				w.logf("refused %s %s/%s via %s index=%d: %v", a.kind, c.user, a.id, a.sn.id, o.Index, o.Refusal)
				w.chk.refusedAt(c.user, a.id, o.Index, a.kind)
				w.stats.Refused++
			} else {
				w.logf("ack %s %s/%s via %s index=%d", a.kind, c.user, a.id, a.sn.id, r.index)
				w.chk.acked(c.user, a.id, r.index, a.sn, a.kind)
				if a.kind == reqJoin {
					w.chk.joined[simKey{c.user, a.id}] = a.text
				}
				if a.kind == reqMember && c.id == a.id {
					w.noteNewest(a.sn)
					w.memberAcked(a.text)
				}
			}
			if c.id == a.id {
				w.stats.Acks++
				w.stats.MaxAckTicks = max(w.stats.MaxAckTicks, w.ticks-c.since)
				c.id = ""
			}
		}
	}
}

// removeDir deletes a seed's WAL directories.
func removeDir(dir string) { os.RemoveAll(filepath.Clean(dir)) }
