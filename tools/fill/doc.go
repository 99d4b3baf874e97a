// Package fill writes a cluster's data directories holding a replicated
// history of N chat messages, as if a leader had posted them and every node
// had replicated and committed them: `syncnet fill`, for tests and
// benchmarks that need a large log without posting it message by message.
//
// What it owns: the shape of a generated history and writing it fast. For
// every [[node]] of the config it creates <data_dir>/<id>/wal and appends,
// through eventlog (the same writer a node uses, so the frame, the CRC and
// the hash chain are the node's own), the records that node's driver would
// have written (see node/ready.go):
//
//   - the election of term 1, as every node records it: TermStarted and
//     VoteCast for the starter's token (the member at ring position 0), the
//     replica's own TermStarted, and LeaderElected for the winner (the
//     largest id, as the ring's candidacy picks among empty logs);
//   - cluster index 1, the no-op of the leader taking office (index and
//     term only, no origin, time or Lamport time, like node.entryEvent);
//   - one MessagePosted per message at indexes 2..N+1, term 1, stamped the
//     way placeAsLeader stamps a proposal: Lamport time index-1 (one more
//     than the entry before it), the leader's wall time (growing, spread
//     over Options.Period and ending at Options.End), Origin the node the
//     author is connected to, and the request in the header (Author, a
//     random 16-byte RequestID in hex, which is also the ClientMsgID, as
//     node.Post does);
//   - CommittedUpTo records: after index 1, every commitEvery entries and
//     at the end (N+1), so a node restarted on the directory re-applies
//     everything and the audit tools see every message committed.
//
// Every node's log holds the same entries (same index, term and bytes), so
// `syncnet wal diff` agrees; only the local records (their Origin and time)
// differ. Messages go to rooms and come from users drawn uniformly; a post
// needs no membership in node/state (Authorize checks only bans and mutes),
// so no joins are written and the commit index is exactly N+1.
//
// What it does not own: the record format (eventlog), the fold that reads
// it back (node/state), the node's recovery (node/recover.go). Tests check
// the result through all three.
//
// Invariants:
//   - Never overwrites: every <data_dir>/<id> must not exist; Fill checks
//     all of them before writing anything, creates each with os.Mkdir, and
//     on any error or cancellation removes what it created.
//   - Deterministic: the same Options (Seed and End included) give the same
//     entries byte for byte.
//   - Durable when it returns: appends use eventlog's NoSync (tidwall/wal
//     still fsyncs each segment it fills), Close fsyncs the tail segment,
//     then the new directories are fsynced.
//
// Speed: one generator goroutine draws each batch of entries once and hands
// the same (read-only) events to one writer goroutine per node, which
// appends them in batches of batchSize with one Append each.
package fill
