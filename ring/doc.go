// Package ring detects failures with UDP heartbeats, keeps the ring of live
// members, elects a leader with LCR (Le Lann–Chang–Roberts) extended with
// terms and a majority, and authenticates every peer datagram.
//
// # Owns
//
//   - Node: the deterministic core (failure detector, ring view, election).
//     Ticks and messages in; Ready out. No goroutines, sockets, clocks or
//     global randomness: time is Tick, randomness is Config.Rand.
//   - The wire format of ring messages (codec.go) with HMAC-SHA256 over
//     every byte, and Guard, which rejects forged, malformed, misdirected,
//     unknown-sender, replayed and stale datagrams and counts them in Metrics.
//   - The ring view: a member's successor is the next member on the ring
//     that it heard within the failure timeout and whose heartbeats echo
//     that it hears this member too (Message.Hears), so a member that is
//     heard but cannot hear ("deaf") gets no token. A token or elected
//     announcement whose receiver shows no sign of it within AckTicks (no
//     transport ack, no heartbeat in its term) moves on to the next member
//     (relay.go).
//   - Learners (learner.go, issue 12): a node started with Config.Learner
//     (its data directory was lost) relays tokens unchanged, never votes,
//     starts no round and never leads, and says so in its heartbeats
//     (StatusInfo.Learner), until Promote or PromoteFresh. No member counts
//     a learner towards the pre-vote majority that lets it start a round.
//   - Transport: UDPTransport (heartbeats on heartbeat_port; tokens and
//     elected announcements on election_port with acks and retransmission;
//     it acknowledges only what it queued for its core and tells its core
//     of every ack) and SimNetwork, a seeded in-memory network with drop,
//     delay, duplication, reordering, partitions and one-way cuts (deaf,
//     mute) that carries opaque payloads.
//
// # Does not own
//
// The log, replication, commit, disk layout, config files, chat and SSH.
// ring imports neither eventlog nor node. It asks its caller to persist
// HardState and reads the log position through Config.LogPosition.
//
// # Invariants
//
//   - I1: at most one leader per term. Each member forwards at most one token
//     per term (HardState.Vote) and accepts at most one leader per term
//     (HardState.Leader), both persisted before anything is sent; a round
//     wins only if a majority of the voters of its winner's membership
//     passed its token (membership.go: the caller keeps every node's
//     membership the latest in its log and changes it one voter at a time,
//     so any two memberships a winner can hold have intersecting
//     majorities). None of this depends on the path: a
//     token moved on past a silent member, or sent again, is the same vote
//     (same term, same origin) going to another member. Passed only ever
//     holds members that persisted that vote (each appends itself when it
//     forwards; validToken rejects duplicates), so copies of one token
//     cannot add up to a majority that did not vote for its origin; a
//     skipped member is simply not counted. The origin completes a term
//     once (its persisted Leader rejects any later copy), so at most one
//     elected value exists per term.
//     A node that lost its HardState forgot its votes; it must not vote in
//     a term it may have voted in. It runs as a learner, which is never in
//     Passed (it relays a token without signing it) and never originates
//     one; Promote makes it a member with {T, L, L} for a term T whose
//     leader L it learned as a learner, so its one vote in T is the winning
//     one and it can vote only in terms above T. PromotionState offers T
//     only once a majority of the others was heard, none above T: every
//     term this node held before the loss that can still matter is held by
//     someone in such a majority (see PromotionState). Known limit: a token
//     it signed before the loss that is still travelling, and whose origin
//     it does not hear, is not seen; and a majority that lost its data at
//     once cannot be helped (PromoteFresh then starts a new cluster).
//   - I3 (ring's part): the winner is the best (last log term, last log
//     index, id) among a majority that persisted the term, so it holds every
//     committed entry. See docs/ARCHITECTURE.md (Leader election) for the argument and what it needs
//     from the caller. A learner's candidacy is never on a token, and an
//     announcement naming it (a token of before its loss) is not followed:
//     it never leads that term, not even once promoted.
//   - I7: while a majority is up and connected both ways a leader is
//     elected within the failure timeout plus about one ring round, also
//     when the others are cut off one way (deaf: hears nobody; mute: heard
//     by nobody); rounds are staggered along the ring so they rarely
//     collide. A token only goes to a member with evidence both ways
//     (heard by us, and its echo says it hears us), and moves on if even so
//     it shows no sign of arrival, so it passes every member of the
//     connected majority and gets back to its origin. A deaf leader hears
//     no majority and steps down; a deaf member does not count towards the
//     pre-vote (no echo) and starts no rounds (its own peers' reports go
//     stale), so it cannot stop or disrupt the majority; a mute leader
//     adopts the new term from the heartbeats of those who elected it.
//   - I8: nothing is stepped that the Guard did not authenticate; rejected
//     input never changes a term or a leader and never panics.
//
// # Caller's duties, in order, for every Ready
//
//  1. Persist rd.HardState durably (fsync) if non-nil. If that fails, stop:
//     send nothing.
//  2. Send rd.Messages (Transport.Send(m.To, m)).
//  3. Apply rd.SoftState (leader, term, role and the reason, e.g. "lost
//     quorum") and log rd.MemberChanges (suspected/dead/alive).
//  4. Call Advance(rd).
//
// And at all times:
//
//   - The ring/replica contract (I3). Config.LogPosition returns the last
//     entry of the local log as it is in memory at the moment of the call,
//     durable or not; the core reads it whenever it puts this node's
//     candidacy on a token. So a token never under-reports an entry this
//     node appended before stepping it, and the caller sends the token only
//     once everything it stepped before it is durable, so it never
//     over-reports either.
//   - Once Node.Term() has moved past T, no acknowledgement of an append of
//     a term below Node.Term() may leave this node, not even one queued
//     before the term moved: the caller moves its replication layer to the
//     new term after every Step and Tick, before the next input, and drops
//     such queued acks (node's driver asserts this on every send). And it
//     rejects appends from leaders whose term is below Node.Term(), checked
//     in the same goroutine that steps the Node.
//   - Act as leader only while Role() == RoleLeader, i.e. after the Ready
//     that made it so was persisted; a leader counts replicas for commit only
//     for entries of its own term.
//   - Restart a Node with New(cfg, lastPersistedHardState); it always
//     restarts as a follower.
//   - Data loss (issue 12). When the data directory (HardState and log) is
//     lost, start the Node with Config.Learner = true and an empty
//     HardState, and record durably that it is a learner (a marker) before
//     its first Ready: after any crash until the promotion is persisted,
//     restart it with Config.Learner = true again, from the HardState it
//     persisted meanwhile. While it is a learner (Node.Learner()), no
//     acknowledgement of an append from it may count towards a commit (the
//     safest: it acknowledges nothing as durable; the leader may not have
//     its learner heartbeat yet): it may hold a term below one it voted in
//     before the loss, and a leader elected with that old vote lacks what
//     it acknowledges now (I3). Promote it when both hold:
//     PromotionState() is ok, giving hs = {T, L, L}, and its log is caught
//     up: it durably holds the log of T's leader L up to L's commit index
//     as L reported it after this node restarted (that log holds every
//     entry committed before, including those it acknowledged before the
//     loss). Then call Promote(hs): hs comes out in the next
//     Ready.HardState and is persisted by the usual rule (before the
//     messages); remove the marker only after that. In a cluster that
//     never wrote anything (a brand-new one: every data directory empty,
//     every node a learner) call PromoteFresh once CanPromoteFresh() is
//     true: every other member heard with an empty log and no leader; the
//     node then holds the highest reported term with a vote for itself
//     (term 0 in a new cluster: nothing to persist). Status().Members[i].Term and .Status.Learner show each
//     member's last reported term and whether it is a learner.
//   - Give the transport an Incarnation that grows across restarts.
//   - Step every message the transport delivers, acks included (they tell
//     the core that a token arrived; see Transport.Recv).
//   - Fill StatusInfo.MaxKind (SetLocalStatus) with the highest event kind
//     this build applies, and before a leader first proposes a new kind,
//     check Status.Supports(kind): every member announces it. The ring
//     fills StatusInfo.Proto and StatusInfo.Learner itself.
package ring
