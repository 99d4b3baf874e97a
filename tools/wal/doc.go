// Package walcmd implements `syncnet wal`, the offline audit tools for
// SyncNet write-ahead logs: dump, verify, stats, replay, diff and export.
//
// What it owns: reading WAL directories for people (auditors, operators) and
// turning them into reports, transcripts and exit codes that scripts can
// rely on.
//
// What it does not own: the record format and its checks (eventlog), the
// rebuilding of the replicated log and the plugins' state (node/state). It
// calls both, so an audit sees exactly what a node would compute, with one
// exception: node/state.ReplicatedLog keeps every entry of the log, so the
// tools fold with logFold, which applies ReplicatedLog's rules (and words
// its errors) the same way while holding only the entries that may still
// change; a test feeds both the same records and compares them after each.
//
// Invariants:
//   - Read-only. Every subcommand reads through eventlog.Scan, which takes no
//     lock and writes nothing; eventlog.Open is never called on a target
//     directory, so the tools are safe on a live node's directory (whose tail
//     may then look torn because a write is in flight).
//   - Committed means "at or below the last CommittedUpTo record of this WAL".
//     A node writes that record at most every 100ms while busy, and again
//     when it goes idle and when it stops cleanly: the WAL of a running or
//     killed node may lag what the cluster had committed, a cleanly stopped
//     node's holds every entry it knew committed. replay, export and diff
//     default to it and say so (replay and export: --include-uncommitted).
//   - Text from the log is untrusted, whatever field it is in (names, rooms,
//     topics, reasons, ids, texts). No output carries a character a
//     terminal acts on (C0, C1, DEL, bidi controls, line separators) raw:
//     human-readable output and csv show escapes (clean, cleanCSV), JSON
//     output \u escapes that decode to the exact text (jsonWriter).
//
// How a log is read: one eventlog.ScanChecked (CRC, kind, hash chain, and
// that every payload decodes), each record folded into the effective
// cluster log (logFold) plus the audit's own checks (analysis). verify
// decodes only the local records (the fold and the election checks read
// their bodies): of an entry it folds the header's numbers, checked
// without decoding, and hashes its entry form spliced from the stored
// record, the bytes the node hashed; its scan reads, hashes and checks on
// a second goroutine while this one folds and computes the log hash. The
// other subcommands have every record decoded on a third goroutine of the
// scan, between the reader and this one. All in constant memory: logFold
// holds only the
// entries above the last recorded commit index, and hands every entry on,
// once, in index order, when it can no longer change (its doc comment has
// the argument). Replay, export and stats apply the committed ones to
// node/state's plugins on a goroutine of their own (folder), a batch at a
// time as one state.ApplyRun (the node's admission and plugin code, each
// lock taken once a batch), with each entry's request key and digest
// computed ahead on this goroutine (state.Preparer); diff reads its logs
// side by side, one goroutine each. Replay, export and stats build
// node/state with the WAL itself as its MessageSource (walMessages): the
// chat keeps of each message only where it is (about 2.5 bytes) and no
// cache of recent messages, the tool a sparse index of WAL positions (0.5
// bytes an entry), and the messages replay --room and export print are
// read back from the segment files through an eventlog.Reader that the
// scan hands over (read-only, each record's CRC and chain links checked
// again). The exactly-once table
// is bounded by the once window, which is node/state's default (24h): the
// WAL does not record the cluster's (Storage.DedupeWindow in its config),
// so on a cluster configured with another window a retry near its edge may
// be deduplicated differently than the nodes did. The GC runs at 200 while
// at most 64 MiB is live and at Go's default beyond (gctune.Roomy, checked after
// every cycle; GOGC or GOMEMLIMIT in the environment win): about 6% less
// CPU for a replay of 10M records; a heap above 192 MiB is never more
// than twice what is live, as before.
//
// Which hash to compare: each WAL record is chained to the one before, but
// a WAL also holds its node's local records, so that chain's head differs
// between nodes. verify and diff also recompute the log hash each node
// keeps over the entries it applies (logHash): the same on every node at a
// given cluster index, and shown by status at its checkpoints.
//
// Exit codes (the same for every subcommand):
//
//	0  clean / agree
//	1  a problem in the log: corruption, an invariant violated, logs that
//	   diverge, a record this build cannot read
//	2  usage error (bad flags or arguments)
//	3  verify only: the log is clean except for a torn tail (what the node
//	   would cut on its next start; normal for a node killed mid-write or a
//	   live directory)
//	4  the input could not be read: missing directory, not a SyncNet WAL,
//	   I/O error
package walcmd
