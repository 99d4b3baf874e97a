package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/certs"
	"github.com/syncnet/syncnet/node/config"
	"github.com/syncnet/syncnet/node/lowprio"
	"github.com/syncnet/syncnet/node/peer"
	"github.com/syncnet/syncnet/node/replica"
	"github.com/syncnet/syncnet/node/state"
	"github.com/syncnet/syncnet/ring"
)

// ticksPerHeartbeat sets the driver's tick: heartbeat_interval/5. Ticks are
// the only time the protocol cores see.
const ticksPerHeartbeat = 5

// Options configure one node.
type Options struct {
	Config *config.Config
	ID     string
	Logger *slog.Logger
	// Listeners, when set, are used instead of binding the configured ports
	// (tests bind 127.0.0.1:0 and pass them in: no find-then-bind race).
	Listeners *Listeners
	// NoSync turns off fsync (benchmarks of the network path only).
	NoSync bool
	// NoSearch runs the node without its search index (search_index.go):
	// searches fail. For benchmarks of what the index costs.
	NoSearch bool
	// NoSeed keeps a node whose WAL is empty from copying a peer's log
	// before it starts (seed.go): it catches up entry by entry through the
	// replica instead (tests of that path).
	NoSeed bool
	// Join ("HOST:PEER_PORT", or "ID@HOST:PEER_PORT" without TLS) names a
	// member to copy the log from when the WAL is empty: the node then
	// learns the membership from that log (membership.go), and its
	// cluster.toml need list only itself. It refuses to start unless the
	// copied log's membership holds it (an admin ran `member add` first).
	Join string
	// walFault injects disk faults into the WAL (the cluster simulation).
	walFault func(eventlog.FaultStage) error
	// inlineSnapshots writes snapshots on the driver goroutine instead of
	// a background one (the cluster simulation, to stay deterministic).
	inlineSnapshots bool
	// memoryEntries overrides how many applied entries the replica keeps
	// in memory (the cluster simulation uses a handful).
	memoryEntries int
	// writesInFlight, when > 0, lowers maxWritesInFlight (the simulation
	// makes the driver wait for its disk this way).
	writesInFlight int
	// PostRate is each user's allowance of posts and direct messages per
	// second for the whole cluster, enforced by the leader (0: the
	// config's limits.post_rate; negative: no limit). PostBurst is how
	// many may go at once (0: limits.post_burst). SetPostLimits changes them.
	PostRate  float64
	PostBurst int
	// TLS, when set, runs the peer links and the catch-up streams over
	// mutual TLS with these credentials (node/peer, tls.go) and seals ring
	// datagrams with keys of those links; nil: HMAC only (tests, and
	// tls.insecure). tools/serve loads it from the config.
	TLS *certs.Store
}

// Listeners are pre-bound sockets for a node. The SSH front end's listener
// is not among them: the node serves no front end (the program that runs it
// does, see tools/serve).
type Listeners struct {
	Peer      net.Listener
	Heartbeat *net.UDPConn
	Election  *net.UDPConn
}

// Node is one running SyncNet node: its WAL, the ring election, the
// replicated log and the plugins' state, driven by one goroutine.
type Node struct {
	opts   Options
	cfg    *config.Config
	self   config.Node
	id     string
	log    *slog.Logger
	wal    *eventlog.Log
	start  time.Time
	bootID uint64
	now    func() time.Time

	ring        *ring.Node
	ringNet     ringTransport
	replication *replica.Replica
	peers       peerTransport

	state       *state.State
	subscribers *subscribers
	index       *entryIndex      // where each entry is in the WAL
	reader      *entryReader     // old entries and messages, read from the WAL
	chunks      *state.ChunkFile // the rooms' full index chunks (node dir index/chunks)
	snaps       *snapshotter     // writes snapshots of the applied state
	appliedTerm uint64           // term of the last applied entry (driver)
	verify      verifyState      // the background verification of the WAL
	search      searchIndexer    // the full-text index (search_index.go)
	// recoveredFromSnapshot is the applied index of the snapshot this
	// process started from (0: it replayed the whole WAL).
	recoveredFromSnapshot uint64
	// learner bookkeeping (learner.go), driver-only
	learnerTarget  learnerTarget
	promoted       string      // why, between a promotion and its marker's removal
	promotions     int         // for the simulation's stats
	freshPromotion bool        // the promotion was PromoteFresh: record it
	learnerNow     atomic.Bool // for Status, from any goroutine

	// membership (membership.go), driver-only but membersView
	membersApplied memberConf   // the latest applied membership entry, else the configured one
	membersPending []memberConf // membership entries above the applied index, in log order
	membersNow     memberConf   // what the cores and transports hold
	membersNowBase ring.ConfID  // membersApplied when membersNow was installed
	leaving        map[string]leavingNode
	membersView    atomic.Pointer[memberConf]

	lamport atomic.Uint64 // the node's Lamport clock (I6)
	clock   ringClock     // ticks and the heartbeat path's stats (ringwire.go)
	seal    *ring.Sealer  // ring datagram keys from the TLS peer links; nil without TLS (ringseal.go)

	// inputs to the driver goroutine
	proposeC chan *proposal

	// proposals: owned by the driver goroutine alone
	pending   map[*proposal]struct{} // every proposal not yet answered
	waiters   map[uint64][]*proposal // by proposed index
	fwdWait   map[uint64]*proposal   // forwarded, by request id
	inflight  map[dedupKey]*proposal // leader: placed and not yet applied
	posts     *postLimiter           // leader: each user's allowance of posts
	nextReqID uint64
	nextSeq   uint64

	// state the driver publishes for readers (sessions, status)
	mu   sync.RWMutex
	view view

	clientCount atomic.Pointer[func() int] // front-end sessions on this node, for status (SetClientCount)
	applied     atomic.Uint64
	stopped     chan struct{}
	// caughtUp is closed once the node has applied every entry its WAL
	// recorded as committed: before that its state is older than what it
	// already acknowledged, so it serves no reads and takes no posts.
	caughtUp chan struct{}

	// driver-only bookkeeping
	electionOnDisk    ring.HardState            // last persisted election state
	replicaTermOnDisk uint64                    // last persisted replica term
	replicaLeader     string                    // leader the replica follows
	hash              logHash                   // chain over applied entries, for status
	decoded           map[uint64]eventlog.Event // entries persisted and not yet applied, decoded once
	commitRecorded    uint64
	commitRecordAt    time.Time
	refused           map[string]uint64    // peer input refused, by "peer/what"
	refusedLogAt      map[string]time.Time // when each kind of refusal was last logged
	// fatal, once set, stops the driver after the current batch: this node
	// can never make progress (it cannot apply a committed entry).
	fatal error
	// The WAL writes in flight (persist.go): the queue, how many were
	// queued and completed, the marks of the last completed one, the
	// messages waiting for one, and the first write error.
	walq         walQueue
	durableC     <-chan *walWrite // production: completions, into the loop
	writesQueued uint64
	writesDone   uint64
	durable      durableMarks
	held         []heldSends
	walErr       error
	// received holds the entries checkEntries decoded in this batch, so the
	// Ready that persists them does not decode them again; cleared after
	// every batch.
	received map[uint64]receivedEntry
}

// view is what readers see of the driver's state.
type view struct {
	term    uint64
	leader  string
	quorum  bool
	commit  uint64
	members []ring.MemberStatus
	// down are the members this node does not hear as alive (the same
	// rule as Status's Online): presence they report is not shown.
	down map[string]bool
}

// New opens the node's WAL, rebuilds its state from it and binds its sockets.
func New(o Options) (*Node, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	fresh := false
	if o.Join != "" {
		if err := checkJoinAddr(o.Join); err != nil {
			return nil, err
		}
		empty, err := walIsEmpty(o.Config.WALDir(o.ID))
		if err != nil {
			return nil, err
		}
		fresh = empty
	}
	if !o.NoSeed {
		if err := seedIfEmpty(context.Background(), o); err != nil {
			return nil, err
		}
	}
	n, err := newNode(o, time.Now, uint64(time.Now().UnixNano()))
	if err != nil {
		return nil, err
	}
	if err := n.checkJoined(); err != nil {
		n.closeStorage()
		if fresh {
			// What this start copied goes: the next start copies the
			// log again, with the membership entry that adds it.
			if rerr := os.RemoveAll(o.Config.NodeDir(o.ID)); rerr != nil {
				err = fmt.Errorf("%w (and removing what it copied: %v)", err, rerr)
			}
		}
		return nil, err
	}
	if err := n.openNetwork(); err != nil {
		n.closeStorage()
		return nil, err
	}
	return n, nil
}

// peerTransport is what the driver needs from the peer network; the real one
// is node/peer, simulations pass their own.
type peerTransport interface {
	Send(to string, typ uint8, payload []byte) bool
	Recv() <-chan peer.Frame
	Close() error
}

// newNode builds a node without its network: the WAL, the state rebuilt from
// it and the protocol cores. now is the clock for proposal deadlines and
// wall times (never for protocol decisions); bootID seeds the election's
// random backoff and identifies this incarnation.
func newNode(o Options, now func() time.Time, bootID uint64) (*Node, error) {
	self, err := o.Config.Node(o.ID)
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{
		opts: o, cfg: o.Config, self: self, id: o.ID, log: o.Logger, start: now(), now: now,
		bootID:   bootID,
		proposeC: make(chan *proposal, 4096),
		pending:  map[*proposal]struct{}{}, waiters: map[uint64][]*proposal{},
		fwdWait: map[uint64]*proposal{}, inflight: map[dedupKey]*proposal{},
		posts:       newPostLimiter(o),
		subscribers: newSubscribers(), stopped: make(chan struct{}), caughtUp: make(chan struct{}), decoded: map[uint64]eventlog.Event{},
		refused: map[string]uint64{}, refusedLogAt: map[string]time.Time{},
	}
	n.subscribers.canRead = func(user, conv string) bool { return n.state.CanRead(user, conv) }
	n.index = newEntryIndex()
	n.reader = &entryReader{idx: n.index}
	n.membersApplied = n.configuredMembers() // until a snapshot or the log says otherwise
	if err := n.openLog(); err != nil {
		if n.chunks != nil {
			n.chunks.Close()
		}
		return nil, err
	}
	return n, nil
}

func (n *Node) tick() time.Duration {
	return n.cfg.Timing.HeartbeatInterval.Duration / ticksPerHeartbeat
}

func (n *Node) ticks(d config.Duration) int {
	return max(1, int(d.Duration/n.tick()))
}

func (n *Node) memberIDs() []string {
	var ids []string
	for _, m := range n.cfg.Nodes {
		ids = append(ids, m.ID)
	}
	return ids
}

func addr(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

func (n *Node) openNetwork() error {
	secret, err := n.cfg.SecretBytes()
	if err != nil {
		return err
	}
	ls := n.opts.Listeners
	if ls == nil {
		ls = &Listeners{}
	}
	if ls.Peer == nil {
		if ls.Peer, err = net.Listen("tcp", addr(n.self.Host, n.self.PeerPort)); err != nil {
			return fmt.Errorf("bind peer_port: %w", err)
		}
	}
	peers := map[string]string{}
	for _, m := range n.cfg.Nodes {
		peers[m.ID] = addr(m.Host, m.PeerPort)
	}
	if n.opts.TLS != nil {
		n.seal = ring.NewSealer(n.id) // before the links: they bring its keys
	}
	n.peers, err = peer.New(peer.Config{ID: n.id, Secret: secret, Peers: peers, Listener: ls.Peer,
		ConnectTimeout: n.cfg.Timing.ConnectTimeout.Duration, Logger: n.log.With("part", "peer"), Streams: n.serveSeed,
		TLS: n.opts.TLS, LinkKeys: n.linkKey})
	if err != nil {
		return err
	}
	if err := n.openRing(secret, ls); err != nil {
		return err
	}
	// The transports follow the membership the log holds, which may not
	// be the configured one (membership.go).
	return n.installMembers(n.membersNow)
}

// Serve runs the driver until ctx ends, then shuts down in order: stop
// taking input, flush, close the WAL last.
func (n *Node) Serve(ctx context.Context) error {
	defer close(n.stopped)
	st := n.replication.Status()
	n.log.Info("node started", "term", n.ring.Term(), "last_index", st.LastIndex,
		"commit", st.Commit, "peer", n.self.PeerPort, "ssh", n.self.SSHPort)
	vctx, stopVerify := context.WithCancel(ctx)
	verified := make(chan struct{})
	go func() {
		defer close(verified)
		n.verifyInBackground(vctx)
	}()
	stopSearch := n.startSearch(ctx)
	err := n.loop(ctx)
	stopVerify()
	<-verified // before the WAL closes under it
	stopSearch()
	n.peers.Close()
	n.ringNet.Close()
	n.finalSnapshot()
	if cerr := n.closeStorage(); cerr != nil && err == nil {
		err = cerr
	}
	n.log.Info("node stopped")
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// finalSnapshot writes a snapshot of everything applied, so the next start
// replays next to nothing, unless the log is poisoned.
func (n *Node) finalSnapshot() {
	if n.wal.Err() != nil {
		return
	}
	if j, ok := n.captureSnapshot(true); ok {
		n.snaps.write(j, n.now())
	}
	n.snaps.wait()
}

// CaughtUp is closed once the node has applied every entry its WAL recorded
// as committed (at once for an empty log). Before that its state is older
// than what it already acknowledged: history would be stale and a ban not
// yet re-applied, so a front end must not serve until it is closed.
func (n *Node) CaughtUp() <-chan struct{} { return n.caughtUp }

// Applied is the index of the last entry applied on this node.
func (n *Node) Applied() uint64 { return n.applied.Load() }

// SetClientCount tells the node how to count the sessions its front end
// serves here, for Status and its heartbeats; until then (or with nil) it
// reports none. Safe to call at any time, from any goroutine.
func (n *Node) SetClientCount(sessions func() int) {
	if sessions == nil {
		n.clientCount.Store(nil)
		return
	}
	n.clientCount.Store(&sessions)
}

// input is one thing the driver reacts to: a tick of its clock, a ring
// datagram, a peer frame or a proposal. It is held by value, so a batch
// reuses one slice and stepping an input allocates nothing.
type input struct {
	kind    inputKind
	ring    ring.Message
	frame   peer.Frame
	prop    *proposal
	write   *walWrite
	arrived []string // a tick: members heard since the last (ringwire.go)
}

type inputKind uint8

const (
	inputTick inputKind = iota + 1
	inputRing
	inputFrame
	inputProposal
	inputDurable // a WAL write completed (persist.go)
)

func tickInput() input                { return input{kind: inputTick} }
func ringInput(m ring.Message) input  { return input{kind: inputRing, ring: m} }
func frameInput(f peer.Frame) input   { return input{kind: inputFrame, frame: f} }
func proposalInput(p *proposal) input { return input{kind: inputProposal, prop: p} }
func durableInput(w *walWrite) input  { return input{kind: inputDurable, write: w} }

// loop is the one goroutine that owns the ring core and the replica core. It
// waits for one input, takes everything else already queued (up to
// maxDrain), and hands the batch to process. The cluster simulation calls
// process with batches of its own choosing, so both run the same code.
func (n *Node) loop(ctx context.Context) error {
	t := time.NewTicker(n.tick())
	defer t.Stop()
	batch := make([]input, 0, maxDrain+1)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			n.shutdown()
			return ctx.Err()
		case <-t.C:
			batch = n.appendTicks(batch)
		case m := <-n.ringNet.Recv():
			batch = append(batch, ringInput(m))
		case f := <-n.peers.Recv():
			batch = append(batch, frameInput(f))
		case p := <-n.proposeC:
			batch = append(batch, proposalInput(p))
		case w := <-n.durableC:
			batch = append(batch, durableInput(w))
		}
		batch = n.drainInputs(batch)
		err := n.process(batch)
		clear(batch) // keep no frame payload or proposal alive until overwritten
		if err != nil {
			return err
		}
	}
}

// maxDrain bounds how many queued inputs join one Ready: everything that
// arrived meanwhile is handled in one pass, so one WAL write covers them
// all; and the WAL's writer puts the writes queued while its last fsync ran
// into one commit. This is the group commit of the replicated log.
const maxDrain = 4096

func (n *Node) drainInputs(batch []input) []input {
	for len(batch) <= maxDrain {
		select {
		case m := <-n.ringNet.Recv():
			batch = append(batch, ringInput(m))
		case f := <-n.peers.Recv():
			batch = append(batch, frameInput(f))
		case p := <-n.proposeC:
			batch = append(batch, proposalInput(p))
		case w := <-n.durableC:
			batch = append(batch, durableInput(w))
		default:
			return batch
		}
	}
	return batch
}

// process steps every input of a batch in order, sends what the writes
// completed in it held, then handles the Ready they produced: one WAL write
// (queued, not waited for) for the whole batch.
func (n *Node) process(batch []input) error {
	for i := range batch {
		n.step(&batch[i])
	}
	n.releaseHeld() // what the writes completed in this batch held
	n.maybePromote()
	err := n.handleReady()
	n.received = nil // a fresh map next time: clear would cost its largest size every batch
	if err != nil {
		return err
	}
	if err := n.afterPromotion(); err != nil {
		return err
	}
	if err := n.replication.Err(); err != nil {
		// A committed entry could not be read back from this node's WAL.
		return fmt.Errorf("replication: %w", err)
	}
	n.compactMemory()
	if j, ok := n.captureSnapshot(false); ok {
		if n.opts.inlineSnapshots {
			n.snaps.write(j, n.now())
		} else {
			// Encoding and writing a snapshot is tens of MB when the
			// exactly-once window is full; at full load it would take a
			// core from the posts in bursts. At low priority it waits for
			// an idle moment instead (the next one is not captured before
			// it ends), and the WAL stays whole meanwhile.
			now := n.now()
			lowprio.Go(func() { n.snaps.write(j, now) })
		}
	}
	return n.fatal
}

// Entries the replica keeps in memory below the applied one, and how far
// past that it may run before it drops the older ones: lagging followers
// read older entries from the WAL (entryReader), a follower a few batches
// behind from memory.
const memoryEntries = 4096

// compactMemory lets the replica forget entries that are applied and
// durable here, keeping memoryEntries of them; it compacts once that many
// more have accumulated, so each compaction's copy is amortised.
func (n *Node) compactMemory() {
	keep := memoryEntries
	if n.opts.memoryEntries > 0 {
		keep = n.opts.memoryEntries
	}
	durable, _ := n.index.durable()
	upTo := min(n.applied.Load(), durable)
	if upTo < n.replication.FirstIndex()+2*uint64(keep) {
		return
	}
	if err := n.replication.Compact(upTo - uint64(keep)); err != nil {
		n.log.Warn("compact the in-memory log", "err", err)
	}
}

// step feeds one input to the cores. After anything that may move the ring's
// term, the replica follows it before the next input is stepped.
func (n *Node) step(in *input) {
	switch in.kind {
	case inputTick:
		n.stepTick(in)
		n.syncTerm()
		n.replication.Tick()
		n.expireWaiters()
	case inputRing:
		n.noteRingDelay(&in.ring)
		if err := n.ring.Step(in.ring); err != nil {
			n.log.Debug("ring message dropped", "msg", in.ring.Describe(), "err", err)
		}
		n.syncTerm()
	case inputFrame:
		n.handleFrame(in.frame)
	case inputProposal:
		n.handlePropose(in.prop)
	case inputDurable:
		n.onDurable(in.write)
	}
	// The log may have gained or lost a membership entry: the cores hold
	// the latest before anything else is stepped (membership.go).
	n.syncMembers()
}

// syncTerm moves the replica to the ring's term as soon as the ring adopts
// it, before any further input is stepped. A node that forwarded an election
// token for term T put its log position in it; accepting an append from a
// leader of an older term afterwards, or letting an ack to one leave, could
// let that leader commit an entry the new winner lacks (I3). Like a Raft
// vote, adopting the term makes the replica refuse such appends and drop the
// acks it had queued for them (the ring/replica contract, ring/doc.go).
func (n *Node) syncTerm() {
	rt := n.ring.Term()
	if st := n.replication.Status(); rt > st.Term {
		if err := n.replication.BecomeFollower(rt, n.ring.Leader()); err != nil {
			n.log.Warn("adopt term", "term", rt, "err", err)
		}
	}
}

func (n *Node) handleFrame(f peer.Frame) {
	switch f.Type {
	case frameReplica:
		m, err := decodeReplica(f.Payload)
		if err == nil && m.From != f.From {
			err = fmt.Errorf("sender %q inside a frame from %q", m.From, f.From)
		}
		if err == nil {
			err = n.checkEntries(m)
		}
		if err != nil {
			n.refuse(f.From, "replica", err)
			return
		}
		n.syncTerm()
		err = n.replication.Step(m)
		if err == nil && m.Type == replica.MsgApp {
			n.noteLeaderCommit(m.From, m.Term, m.Commit)
			n.appendedMembers(m)
		}
		if err != nil {
			if errors.Is(err, replica.ErrStorage) {
				// Our own WAL failed a read, not the peer: process stops
				// on replication.Err after this batch.
				return
			}
			n.refuse(f.From, "replica step", err)
		}
	case frameForward:
		fw, err := decodeForward(f.Payload)
		if err != nil {
			n.refuse(f.From, "forward", err)
			return
		}
		n.handleForward(f.From, fw)
	case frameForwardR:
		r, err := decodeForwardReply(f.Payload)
		if err != nil {
			n.refuse(f.From, "forward reply", err)
			return
		}
		n.handleForwardReply(r)
	default:
		n.refuse(f.From, "frame", fmt.Errorf("unknown frame type %d", f.Type))
	}
}

// checkEntries decodes every entry a leader sends before the replica sees
// it: an entry this node could not store or apply is refused here, with the
// whole message, instead of stopping the node later. An entry of a kind this
// build does not know, at an index the leader says is committed, is the one
// case that cannot be refused away: the node stops with the upgrade message
// (set in n.fatal), since it can never apply the log past it.
func (n *Node) checkEntries(m replica.Message) error {
	for _, e := range m.Entries {
		if e.Type == replica.EntryNoop {
			continue
		}
		ev, err := entryEvent(e)
		if err == nil {
			if n.received == nil {
				n.received = make(map[uint64]receivedEntry, len(m.Entries))
			}
			n.received[e.Index] = receivedEntry{ev: ev, data: e.Data}
		}
		var uk *eventlog.UnknownKindError
		switch {
		case errors.As(err, &uk):
			err = fmt.Errorf("upgrade this node: entry %d has kind %d, this build knows up to %d", e.Index, uk.Kind, maxKind)
			if e.Index <= m.Commit && n.fatal == nil {
				n.fatal = fmt.Errorf("upgrade this node: committed entry %d has kind %d, this build knows up to %d", e.Index, uk.Kind, maxKind)
			}
			return err
		case err != nil:
			return fmt.Errorf("entry %d/%d: %w", e.Index, e.Term, err)
		case !replicated(ev.Body.Kind()):
			return fmt.Errorf("entry %d/%d has kind %s, which is never replicated", e.Index, e.Term, ev.Body.Kind())
		}
	}
	return nil
}

// refuse drops one input a peer sent that this node will not act on: it is
// logged (at most once a second per peer and reason, so a broken peer cannot
// flood the log) and counted, and nothing else changes.
func (n *Node) refuse(from, what string, err error) {
	key := from + "/" + what
	n.refused[key]++
	now := n.now()
	if last, ok := n.refusedLogAt[key]; ok && now.Sub(last) < time.Second {
		return
	}
	n.refusedLogAt[key] = now
	n.log.Warn("refused input from peer", "peer", from, "what", what, "err", err, "refused_so_far", n.refused[key])
}

func (n *Node) observeLamport(l uint64) {
	for {
		cur := n.lamport.Load()
		if l <= cur || n.lamport.CompareAndSwap(cur, l) {
			return
		}
	}
}

// nextLamport ticks the clock past both itself and seen.
func (n *Node) nextLamport(seen uint64) uint64 {
	for {
		cur := n.lamport.Load()
		next := max(cur, seen) + 1
		if n.lamport.CompareAndSwap(cur, next) {
			return next
		}
	}
}

// Close releases what New opened, for a node that never served.
func (n *Node) Close() {
	if n.peers != nil {
		n.peers.Close()
	}
	if n.ringNet != nil {
		n.ringNet.Close()
	}
	n.closeStorage()
}

// closeStorage closes the WAL and the index chunk file.
func (n *Node) closeStorage() error {
	err := n.wal.Close()
	if n.chunks != nil {
		if cerr := n.chunks.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
