// Package eventlog is SyncNet's append-only event log: typed events, their
// versioned, checksummed binary records, the write-ahead log in
// github.com/tidwall/wal's on-disk layout with group commit, torn-tail
// repair, the hash chain, and snapshot files.
//
// # What it owns and what it does not
//
// It owns everything between an Event value and the bytes on disk, and the
// rebuilding of state from those bytes. It does not own sockets, sessions,
// elections, replication or the meaning of events: it never decides what is
// committed, and it never rewrites history. Where the replication layer must
// discard an uncommitted suffix it appends a SuffixDiscarded record, which
// eventlog stores and returns like any other. It imports nothing from the rest of SyncNet.
//
// # Records and sequence numbers
//
// One tidwall/wal entry holds one record (never an empty one):
//
//	version u8 | kind u16 | prev hash [32] | payload length u32 | payload | CRC32C u32
//
// The CRC (Castagnoli) covers every byte before it. A record's hash is
// SHA-256 of all its bytes; since the record contains the hash of the one
// before it, the hashes form a chain and a record cannot be changed, removed
// or reordered without breaking every later link. Records are at most
// MaxRecordSize bytes. Decoding never panics; an unknown kind or a newer
// format version gives *UnknownKindError or *VersionError naming both. Every
// format version keeps this frame (version byte, length field at the same
// place, CRC32C of everything before it at the end), so a record of a newer
// version is recognised by a sound frame, never by its version byte alone: a
// foreign version byte in a frame whose length field does not fit the entry
// or whose CRC fails is damage.
//
// A record's sequence number (seq) is its tidwall/wal index: local to this
// node, dense, starting at 1. It is not the cluster index in Header.Index,
// which the leader assigns to replicated entries (0 for local-only records
// such as VoteCast or NodeSuspected). Replication needs both.
//
// # Invariants
//
// I4 (durability): Append returns a sequence number only after its records
// are written and fsynced, and the directory is fsynced when a new segment
// file starts (which tidwall/wal's own writer never does). Any write
// or fsync error poisons the Log: that Append and every later one fail with
// ErrPoisoned until the Log is closed and reopened, so nothing is ever
// acknowledged that is not durable, and a half-written batch is never
// followed by more data on the same handle. Records of an Append that
// failed, or that never returned because the process died, may or may not be
// present after a restart; every acknowledged one is. Fault-injection tests
// fail a group commit before its write or before its fsync with
// Options.InjectFault.
//
// I8 (nothing unverified from disk): Open verifies every record of every
// segment before it appends to the directory: framing, CRC, known
// kind, and the hash chain within and across segments (segments are checked
// in parallel). Damage in the last segment with nothing valid after it (no
// well-formed record of any version starts anywhere in what follows) is a
// torn tail, whatever it looks like — a partial record, zeros, stale garbage
// a crash left behind — up to 64 MiB of it: it is cut back to the last good
// record, fsynced and reported in one log line naming file, index and bytes
// dropped. Anything else — damage followed by a valid record, damage in an
// older segment, a broken chain, missing, reordered or foreign files (a lone
// first segment in which not one record verifies and that does not start
// like one of ours) — is a *CorruptError naming file, index and reason, and
// Open fails: it is never repaired silently. A well-formed record of a newer
// format or an unknown kind is neither: Open fails with *VersionError or
// *UnknownKindError and cuts nothing. Scan does the whole verification
// read-only, for offline tools.
//
// A trusted Open (Options.Trust, a Checkpoint: a record's sequence number
// and chain hash, from the caller's newest snapshot) verifies the same way
// only the segment file holding the checkpoint's record and every later
// one, and never reads the earlier files; it requires the checkpoint's
// record to be there with that chain hash, else it fails with ErrCheckpoint
// and changes nothing, and the caller opens without Trust. Torn-tail repair
// is the same. The earlier records are then vouched for by the chain up to
// the checkpoint (which a full verification established when the snapshot
// was written), not re-read at start-up, so what a restart reads and hashes
// is one segment plus the records after it, however long the history.
// VerifiedFrom says where Open's verification began. VerifyChain re-verifies
// everything, from the first record, in the background, at low priority.
//
// Every read checks what it returns: ReadRange, Read and HashAt check each
// record's frame, CRC and kind and its hash against the next record's prev
// field (the head for the last record) before handing it out; Iter checks
// the CRC and chain of every record it reads, from the record before its
// first, and the last against the head. So a record changed on disk since
// Open, or in a segment a trusted Open did not read, is a *CorruptError when
// it is read, never returned.
//
// A directory is owned by one Log at a time: Open takes a flock on dir/LOCK
// (released by the kernel if the process dies), and a second Open, from this
// process or another, fails with ErrLocked.
//
// # Snapshots
//
// The package stores the caller's snapshots but does not interpret them.
// WriteSnapshot(seq, sections) writes <wal dir>/snapshots/snap-<seq> holding
// the sections (named byte strings, in order), seq and the chain hash of
// record seq, with a CRC, atomically (temporary file, fsync, rename,
// directory fsync; a crash at any step leaves the old set or the new one,
// tested with SIGKILL at each step), keeps the Options.SnapshotKeep newest
// and removes temporary files of crashed writes. ReadSnapshot checks a file;
// Snapshots lists them newest first.
//
// # The caller's duties, in order
//
//  1. Open the log: with Trust set to the Seq and Hash of the newest snapshot
//     that ReadSnapshot accepts, if there is one. On ErrCheckpoint try the
//     next snapshot, or open without Trust (full verification). On
//     *CorruptError stop the node and show the error (an operator decides;
//     see `wal verify`); on ErrLocked another node is running on the same
//     data_dir; on *UnknownKindError / *VersionError run a newer build.
//  2. Rebuild state from that snapshot's sections and the records after its
//     Seq (Iter), or by folding every record. Start VerifyChain in the
//     background after a trusted Open, and treat its *CorruptError like
//     Open's.
//  3. Append events (stamped with origin, term, index, Lamport and wall time
//     by the caller) and acknowledge them to anyone only after Append
//     returns. Append may be called from many goroutines; they share fsyncs.
//     Write snapshots now and then (WriteSnapshot, from any goroutine).
//  4. If Append fails, stop using the Log: Close it and reopen (or restart
//     the process); reopening repairs whatever the failed write left.
//  5. Close the Log on shutdown.
//
// # Concurrency
//
// All Log methods are safe for concurrent use. One writer goroutine per Log
// does every write (group commit: it drains all waiting Appends up to
// MaxBatchCount records and MaxBatchBytes into one write per segment file
// and one fsync). The writer writes the segment files itself, byte for byte
// what tidwall/wal's WriteBatch would write (tailFile says why;
// TestAppendWritesWhatTidwallWrites). Readers pread: ReadRange, Read, HashAt,
// VerifyChain and short Iters pread the segment files, through a sparse
// offset index that the writer extends after each fsync and before it
// publishes the new records, so any number of readers run concurrently with
// the writer and never see a record that is not durable. Log.mu guards the
// head and is a leaf lock; the index has its own RWMutex, held only to copy
// a few numbers. A long Iter (4096 records or more) reads whole segment
// files and hashes in a helper goroutine of its own that ends before Iter
// returns: on two cores that is faster for folding the whole log than
// ReadRange, which does everything in the caller's goroutine.
// WriteSnapshot may run in a goroutine of its own while others Append;
// WriteSnapshot calls are serialised among themselves.
//
// # Memory
//
// Memory does not grow with the records held, beyond the sparse index: one
// uint32 offset per 32 records (0.125 bytes per record, 1.25 MB for 10
// million) and a few hundred bytes and one open file handle per segment
// file read (about 100 files of 20 MiB for 10 million 214-byte records;
// handles are closed by Close). The index of
// a segment a trusted Open did not read is built on its first read, with one
// sequential pass over the file. The writer holds one group commit's bytes
// (up to MaxBatchBytes, or one larger Append while it is written), never a
// segment (tidwall/wal's writer kept the tail segment and the one sealed
// last in memory: about 2×SegmentSize). A read holds a 16 KiB window
// (up to 1 MiB while it reads sequentially); a long Iter up to three
// segment buffers; VerifyChain one 4 MiB chunk.
//
// # Payload codec
//
// Payloads use the protobuf wire format through
// google.golang.org/protobuf/encoding/protowire, driven by each body's Wire
// method, with no generated code and no reflection. We chose it because it is
// field-numbered — a field can be added later, and older readers skip
// numbers they do not know while newer readers see absent fields as zero, so
// most changes to an event need no new record version — because the package
// is small, fast, allocation-free on encode, well kept by the Go protobuf
// team and already in our module graph, and because every byte stays
// inspectable with standard protobuf tooling (protoc --decode_raw). CBOR
// would also be self-describing but adds a dependency and reflection-based
// encoding; a hand-written format would need its own evolution rules and
// fuzzing to reach the same confidence. Integrity is not the codec's job:
// the fixed record frame around the payload carries the version, kind,
// length, CRC and chain hash.
package eventlog
