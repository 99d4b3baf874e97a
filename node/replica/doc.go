// Package replica is SyncNet's replication core: a pure, deterministic state
// machine in the style of etcd's raft package. It sequences entries on the
// leader, streams them to followers (pipelined and batched), counts durable
// acknowledgements, advances and propagates the commit index, catches up
// lagging, restarted or new followers (in bulk from the node's durable log
// through Storage, or from a snapshot when the log start moved and there is
// no Storage), and tells its caller, through Ready, exactly what to persist,
// send and apply, in which order.
//
// # What it owns and what it does not
//
// It owns: the in-memory log view (entries after a compaction point, the
// durable prefix, commit and apply positions), per-follower replication
// progress, the append/ack protocol, commit counting (learners excluded),
// and discard records.
// It reads, but does not own, the node's durable log below the compaction
// point (Config.Storage).
//
// It does not own: elections and terms (the ring decides; the core is told
// BecomeLeader(term) / BecomeFollower(term, leader) and reports
// LastIndexTerm for the ring's comparison), deciding who is a learner and
// when one is promoted (the node and the ring: Config.Learner,
// SetLearner), failure detection, clocks (time
// is Tick), sockets and framing, the WAL and its encoding, snapshots' content
// (opaque Data), the state machine and client dedup, and forwarding posts
// from followers to the leader. No goroutines, no IO, no randomness.
//
// # Caller duties, in order, for every Ready
//
//	for r.HasReady() {   // after Step/Tick/Propose/Become*
//		rd := r.Ready()
//		1. persist, then fsync:  rd.HardState.Term (if rd.HardState != nil),
//		   rd.Snapshot (it voids the whole log on disk), rd.Discard (a record:
//		   entries >= FromIndex are void; never rewrite the log),
//		   rd.Entries, then rd.HardState.Commit (may be lazy: a lower commit
//		   after restart only means re-applying).
//		2. send rd.Messages, except MsgSnapshotNeeded (keep those for 5).
//		3. if rd.Snapshot != nil, load it into the state machine; then apply
//		   rd.CommittedEntries in index order (skip EntryNoop's Data).
//		4. r.Advance(rd).
//		5. for each MsgSnapshotNeeded m: r.SendSnapshot(m.To, latest snapshot)
//		   (never with Config.Storage).
//	}
//	if r.Err() != nil { stop }   // with Config.Storage: a failed disk read
//
// A driver that overlaps its fsync with sending may send the early half of
// rd.SplitMessages() before step 1 completes (leaders' appends; Raft
// §10.2.1); the rest, acks above all, only after.
//
// A driver that does not wait for its disk at all calls Accept(rd) instead
// of Advance once it has queued rd's records (in order, after everything
// queued before), sent the early messages and applied rd.CommittedEntries;
// it may then Step and take the next Ready at once. When the write of rd's
// records completes it calls StableTo(last entry's index and term), and only
// then sends rd's other messages — an ack claims the entries before it are
// on this disk. StableTo of an entry a later discard voided is ignored; a
// leader counts its own entries toward a commit only after StableTo.
// Advance is Accept followed by StableTo.
//
// Between Ready and Advance (or Accept) nothing else may be called (it
// panics): this is what makes "acks leave only after their entries are on
// disk" hold, since every ack created before Ready is in rd.Messages and
// every entry it covers is in rd.Entries or in an earlier Ready's, queued
// before them. WAL folding must honour Discard
// (drop entries >= FromIndex, later entries replace them) and Snapshot.
//
// On restart, New(cfg, State) takes the folded log (contiguous entries after
// the snapshot base), the persisted HardState and optionally the applied
// index; the replica starts as a follower of the persisted term with no
// known leader until the ring says otherwise or a MsgApp of that term arrives.
// A node whose data directory was lost starts it with Config.Learner (see
// "Data loss and learners").
//
// # The log on disk and in memory (Config.Storage)
//
// SyncNet keeps its whole log on disk (the WAL is the product) and never
// transfers snapshots; it does not keep the whole log in memory. With
// Config.Storage set:
//
//   - Restart: the node restores its applied state from its own snapshot at
//     index A and calls New with State{Snapshot: {Index: A, Term: term of A},
//     Entries: the folded entries after A, HardState, Applied: A}. A is the
//     compaction point: Storage serves 1..A, memory holds A+1.. . New
//     reads Storage.Term(A) and refuses a restart point Storage contradicts.
//   - Compact(i) (i applied and durable on this node) drops entries <= i
//     from memory; Storage must serve them from then on. Any member may
//     compact everything it applied, the leader included: a follower that
//     needs older entries gets them in MsgApp read from Storage, never
//     through MsgSnapshotNeeded/MsgSnap (a MsgSnap that would need
//     installing is refused, RejectSnapshotUnsupported). Keeping a small
//     slack in memory (entries above the lowest follower Match in
//     Progress()) spares disk reads for followers just behind.
//     FirstIndex() is the first index still in memory. Compact is O(1)
//     amortised per dropped entry: call it as often as convenient.
//   - Terms below the compaction point come from Storage.Term: the checks
//     of an append against committed history (prev entry, and the last
//     carried entry below the point), the follower's reject hint and the
//     leader's back-off, which binary-search Storage (terms never decrease
//     along a log) so a conflict deep in the past costs O(log n) reads.
//   - A Storage failure is never a panic: the replica records it (Err,
//     wrapping ErrStorage), sends nothing built from the failed read, and
//     from then on Step and Propose return it and Tick does nothing. The
//     node persists what the pending Ready holds and stops.
//
// Without Storage nothing changes: compacted entries are gone, and a
// follower that needs them gets a snapshot (next section).
//
// # Bulk catch-up
//
// A follower is catching up when its next index is at or below the
// leader's compaction point, or it is at least MaxBatchEntries*MaxInflight
// entries behind the leader's last index (a new empty member, one back from
// a long outage, one that fell behind a burst). It then gets batches of up
// to CatchUpBatchEntries entries / CatchUpBatchBytes bytes, at most
// CatchUpInflight unacknowledged (defaults 16384, 4 MiB, 4: about 65k
// entries of 200 bytes per round trip instead of 16k, in 4 messages and 4
// large sequential Storage reads instead of 64 each); within a window of
// the end it gets ordinary batches again. Validate keeps a batch under the
// peer frame limit (MaxCatchUpBatchBytes, MaxCatchUpBatchEntries) and the
// window under the peer queue (MaxCatchUpInflightBytes). Batches read from
// Storage go out at most two between Advances (catchUpBurst: one pass of the
// node's driver): the reads run inside Step, and a whole window of them at
// once, or one per ack when many acks arrived together, held up every other
// input and the node's heartbeats; acks and Ticks send the next ones, so
// the window still fills. The follower side is unchanged. Progress is per follower: each Ready still carries the
// appends to up-to-date followers, so commits keep flowing while one
// follower catches up; the leader's extra cost is at most CatchUpInflight
// Storage reads per catching-up follower per round trip.
//
// # Snapshots
//
// (Without Config.Storage only.) The node takes snapshots of its applied state when it likes, makes them
// durable, then calls Compact(index) to let the replica forget the prefix.
// When a follower needs entries below the leader's first index, the leader's
// Ready carries a local MsgSnapshotNeeded (To = follower); the node answers
// after Advance with SendSnapshot(to, snap) where snap is committed and at
// or after the leader's log start (its latest snapshot qualifies). The
// follower's Ready then carries Snapshot: persist it, load it, continue.
// A lost snapshot is re-requested after SnapshotRetryTicks.
//
// # Data loss and learners
//
// A member whose data directory was lost (disk replaced) restarts with an
// empty log and term 0 while the others remember it. Two things follow.
//
// Catching up. Its leader may still hold match = m for it from before the
// loss. The member refuses every append at prev >= m with a hint at or
// below its (short) log's end. A follower that still holds the leader's
// entry at match always hints at or above match, so a current-term refusal
// whose hint (after the leader's own back-off search) is below match means
// the follower lost entries, or is an old refusal that overtook newer acks.
// Either way the leader regresses: match drops to what the refusal proves
// the follower holds — the hint entry, if it is the leader's (same index
// and term; by log matching its whole prefix; the refusal left after the
// follower's fsync) — else 0; next becomes hint+1; the pipeline, a pending
// snapshot and bulk catch-up restart from there (with Storage, entries
// below the in-memory window are read from it). For a stale refusal this is
// merely a resend. Lowering match never lowers the commit index; it only
// makes counting more conservative. (Before this, such refusals were taken
// as stale and the member never caught up.)
//
// Learners. Before the loss the member may have acknowledged entries it no
// longer holds, and voted with a log it no longer has; the ring therefore
// runs it as a learner (no vote) until the node promotes it, and its
// acknowledgements must not count towards a commit either: counting a
// learner's acks of an older term's entries can commit an entry that a
// leader elected with the learner's lost pre-loss vote does not hold.
// A replica with Config.Learner (or after SetLearner(true)) follows as
// usual but marks every MsgAppResp it sends, accept or refusal, with
// Message.Learner; it never leads (BecomeLeader returns ErrLearner). A
// leader learns who is a learner only from the answers themselves — it may
// not have seen the learner's heartbeat yet: it records the flag of each
// current-term answer, keeps tracking the learner's progress (so it keeps
// replicating to it) and counts it in maybeCommit as holding nothing; the
// quorum stays a majority of all members, so with one voter of three down
// nothing commits. Once answers arrive with Learner false (after
// SetLearner(false)) the member counts again, immediately, even on an
// answer that acknowledges nothing new. Status().Learner and
// Progress()[id].Learner show it.
//
// What remains, and why it is safe: until the leader hears the learner's
// first answer it still counts the match its pre-loss acks established (it
// cannot know of the loss). A learner neither votes nor counts again
// before it durably holds the log of the leader that promotes it up to
// that leader's commit index (the ring's promotion rule), which holds
// every entry committed so far; so a majority that such a count relied on
// still intersects every later election. Known limit (shared with the
// ring): an ack the lost disk sent that is still in flight when the member
// restarts arrives without the Learner flag and counts; the node's peer
// connections break when it goes down, which makes that practically
// impossible.
//
// The node's duties: start the replica with Config.Learner whenever it
// starts the ring as a learner (the ring's learner marker is set); call
// SetLearner(false) once the ring's promotion (Promote's HardState) is
// durable, before the marker is removed; carry Message.Learner on the wire
// for MsgAppResp; Propose and BecomeLeader are never called on a learner
// (the ring never elects one).
//
// # Proposals that lost their index
//
// Propose (leader only) returns (index, term). The proposal committed iff a
// CommittedEntries entry with that index has that term. It failed iff the
// entry committed at that index has another term (the proposer sees this
// even after stepping down, because it applies the winner's entry there); a
// Discard with FromIndex <= index on the proposer is an early hint. On
// failure, or a timeout without either, the node retries with the same
// client id; duplicates are removed when applying (I5 is the node's).
//
// # Invariants and why they hold
//
// I1 (one leader per term) is the ring's. The core checks it: a MsgApp/MsgSnap
// from a second leader of its term, or one received while leading, is
// refused (RejectSecondLeader) and changes nothing; see below.
//
// Stale terms: a MsgApp/MsgSnap with a term below ours is refused with a
// MsgAppResp carrying our term. A MsgApp/MsgSnap of a higher term moves us
// to it (its sender leads it); a MsgAppResp of a higher term is dropped,
// not adopted: terms are the ring's, and a peer's may be a candidacy the
// ring's pre-vote gate refused — a leader that moved to it could no longer
// lead the term its ring still leads. The peer keeps refusing our appends
// until the ring settles the term. A new term is in Ready.HardState and must be durable
// before that Ready's messages are sent, so a replica that acknowledged in
// term T never, even after a crash, accepts a leader of a term below T.
//
// I2 (log matching): a leader appends each index once per term, so
// (index, term) names one entry; a follower appends only after the entry
// before the batch matches (PrevIndex, PrevTerm), and only replaces a
// suffix from the first index whose term differs (conflicts never reach
// committed entries: asserted). By induction equal (index, term) means
// equal prefixes. Entries at or below the follower's commit are skipped, not
// compared, since they are identical by I3.
//
// I3 (leader completeness): the leader commits index i only if (a) a
// majority holds entries through i durably — learners' acks never count
// (see "Data loss and learners"), followers ack only lastNew,
// the highest index the message proved to match, in a message sent after
// their fsync, queued acks for entries a later discard voided are dropped,
// and the leader counts itself only up to what StableTo confirmed durable —
// and (b) entry i is of the leader's own term (Raft §5.4.2, so earlier-term
// entries commit only beneath one; the leader's no-op makes that prompt).
// The ring elects only a candidate whose (lastTerm, lastIndex) is at least
// that of each member of a majority that adopted the term; that majority
// intersects the one holding i, so the winner's log contains i.
//
// I4 (durability) follows from (a): a committed entry is on the disk of a
// majority (a member that lost its data counts by the disk it lost until
// its promotion, see "Data loss and learners"); commit indexes handed out
// never exceed durable entries.
//
// I6 (order): CommittedEntries come in index order, once each per process
// lifetime (from Applied or the snapshot on restart), and every node
// commits the same entry at each index (I2 + I3).
//
// I7 (liveness): the leader heartbeats every HeartbeatTicks with an empty
// MsgApp carrying its commit; probes are retried each heartbeat; a
// pipeline whose acks stall for RetransmitTicks (lost messages, restarted
// follower) is probed again at the leader's last index; rejections carry
// (HintIndex, HintTerm) so back-off jumps to the follower's real end and
// skips whole terms, and a hint below match (a follower that lost its data)
// regresses match instead of being ignored; after commit advances,
// followers get an empty append carrying it without waiting for the
// heartbeat.
//
// # Refusing what a peer sends
//
// Peers are authenticated, but one may be buggy, wrong about the election,
// or run a newer version; it must never take this node (and with it the
// cluster) down. The rule: a panic is only for this node's own invariants,
// things no input can break and only a bug in this process (the replica or
// its driver) can: calls out of the Ready/Advance order, and the log's
// assertions (append out of sequence, truncating a committed entry,
// committing beyond the last index, slicing outside the log). Anything that
// depends on what a message says is checked in Step (check, validate,
// checkAppend, checkSnapshot) before any state changes, so that no message
// reaches those assertions. A message that fails is refused: Step returns a
// *RejectError naming the peer and the reason, wrapping
//
//   - ErrBadMessage when the message is wrong in itself: not for us, from a
//     non-member, a type that is never stepped, or inconsistent (entries out
//     of sequence, terms above the message's, a hint above the rejected
//     index, an index beyond any real log); or
//   - ErrRejected when it contradicts what this replica knows: a second
//     leader of our term (I1), an entry or snapshot that differs from our
//     committed history (I2/I3), an ack for entries this leader never had.
//
// The replica is then exactly as before (not even its term moves), and the
// refusal is counted by reason in Rejected for the driver to log and
// export. Refusing is always safe: the message is treated as lost, which
// every protocol here tolerates. Messages that are merely late (an older
// term, an ack below what is known, a refusal of an append the leader no
// longer has) are not refusals: Step handles them as the protocol says.
// New checks go in check, never as panics deep in the log, and the fuzz
// test (FuzzStep) asserts both halves: no panic, no change on refusal.
//
// # Limits
//
// One MsgApp carries at most MaxBatchEntries entries and MaxBatchBytes of
// entries (MaxEntryBytes <= MaxBatchBytes, so one entry always fits), or
// CatchUpBatchEntries and CatchUpBatchBytes to a follower catching up; at
// most MaxInflight unacked batches per follower (CatchUpInflight while it
// catches up), and a batch that is not full goes only while fewer than
// SmallBatchInflight are unacked (else its entries wait for the ack that
// frees a slot, or for a re-probe after RetransmitTicks if acks stop: a
// heartbeat still carries the commit index); Propose refuses entries
// over MaxEntryBytes and more than MaxUncommittedEntries uncommitted;
// CommittedEntries holds at most MaxApplyEntries. Messages per Ready are at
// most one response per Step plus, per follower, MaxInflight appends and
// one heartbeat. MsgSnap carries the node's snapshot whole: its size is the
// node's to bound.
package replica
