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
//   - Transport: UDPTransport (heartbeats on heartbeat_port; tokens and
//     elected announcements on election_port with acks and retransmission)
//     and SimNetwork, a seeded in-memory network with drop, delay,
//     duplication, reordering and partitions that carries opaque payloads.
//   - Runner: a thin real-time driver (one goroutine: ticker + transport →
//     Step/Tick → Ready handled in order).
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
//     wins only if a majority of the configured members passed its token,
//     and two majorities intersect.
//   - I3 (ring's part): the winner is the best (last log term, last log
//     index, id) among a majority that persisted the term, so it holds every
//     committed entry. See docs/ARCHITECTURE.md (Leader election) for the argument and what it needs
//     from the caller.
//   - I7: while a majority is up and connected a leader is elected within
//     the failure timeout plus about one ring round; rounds are staggered
//     along the ring so they rarely collide.
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
//     node appended before stepping it, and the caller persists the whole
//     Ready before sending the token, so it never over-reports either.
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
//   - Give the transport an Incarnation that grows across restarts.
package ring
