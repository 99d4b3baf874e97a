package replica

import (
	"errors"
	"fmt"
)

// EntryType distinguishes client data from the leader's term-start no-op.
// Values are only ever appended, never renumbered.
type EntryType uint8

const (
	// EntryNormal carries opaque client data (an encoded event).
	EntryNormal EntryType = 0
	// EntryNoop is appended by a leader when it takes office; it has no
	// Data. Committing it commits every earlier entry (Raft §5.4.2).
	EntryNoop EntryType = 1
)

func (t EntryType) String() string {
	switch t {
	case EntryNormal:
		return "normal"
	case EntryNoop:
		return "noop"
	}
	return fmt.Sprintf("EntryType(%d)", uint8(t))
}

// Entry is one slot of the replicated log. Data is opaque to this package and
// must not be mutated once handed to Propose or returned in a Ready.
type Entry struct {
	Index uint64
	Term  uint64
	Type  EntryType
	Data  []byte
}

// Describe renders the entry for logs and test transcripts.
func (e Entry) Describe() string {
	return fmt.Sprintf("%d/%d %s %dB", e.Index, e.Term, e.Type, len(e.Data))
}

// size is the byte cost used for batch limits (Data plus fixed overhead).
func (e Entry) size() int { return len(e.Data) + entryOverhead }

// entryOverhead approximates the fixed encoding cost of an entry's header.
const entryOverhead = 24

// Snapshot is an opaque image of the applied state machine up to and
// including Index, whose log entry had Term. Data belongs to the node layer.
type Snapshot struct {
	Index uint64
	Term  uint64
	Data  []byte
}

// Describe renders the snapshot header.
func (s Snapshot) Describe() string {
	return fmt.Sprintf("snapshot %d/%d %dB", s.Index, s.Term, len(s.Data))
}

// Discard says: every log entry on disk with index >= FromIndex is void. It
// is recorded (never a rewrite of the log) by a follower that found a
// conflicting, uncommitted suffix; Term is the replica's term when it
// happened, for audit. Folding the WAL must drop those entries; entries
// appended after the record replace them.
type Discard struct {
	FromIndex uint64
	Term      uint64
}

// Describe renders the discard record.
func (d Discard) Describe() string {
	return fmt.Sprintf("discard from %d (term %d)", d.FromIndex, d.Term)
}

// HardState is what must survive a crash besides the log. Term must be
// durable before any Message of the same Ready is sent (a replica that acked
// in term T must never, after a restart, accept a leader of a term < T).
// Commit may be persisted lazily: a lower commit on restart is only re-work.
type HardState struct {
	Term   uint64
	Commit uint64
}

// Role is the replica's part in the current term.
type Role uint8

const (
	// Follower accepts appends from the leader of its term.
	Follower Role = iota
	// Leader sequences proposals and replicates them.
	Leader
)

func (r Role) String() string {
	if r == Leader {
		return "leader"
	}
	return "follower"
}

// SoftState is volatile information the node layer may want to show or act
// on (for instance to tell the ring it stepped down). Never persisted.
type SoftState struct {
	Term uint64
	Lead string
	Role Role
}

// Errors returned to callers. Programmer mistakes (such as stepping while a
// Ready is outstanding) panic instead.
var (
	// ErrNotLeader: Propose or SendSnapshot on a replica that does not lead.
	ErrNotLeader = errors.New("replica: not the leader")
	// ErrEntryTooLarge: proposal data exceeds Config.MaxEntryBytes.
	ErrEntryTooLarge = errors.New("replica: entry too large")
	// ErrBusy: too many uncommitted entries (Config.MaxUncommittedEntries);
	// retry after some commit.
	ErrBusy = errors.New("replica: too many uncommitted entries")
	// ErrStaleTerm: BecomeLeader/BecomeFollower with a term below the
	// replica's current term.
	ErrStaleTerm = errors.New("replica: stale term")
	// ErrBadMessage: a message not addressed to us, from a non-member, of a
	// type that is never stepped, or inconsistent in itself. Step returns it
	// wrapped in a *RejectError.
	ErrBadMessage = errors.New("replica: bad message")
	// ErrRejected: a well-formed message that contradicts what this replica
	// knows (a second leader in a term, an entry that differs from a
	// committed one, an ack for entries the leader does not hold). Step
	// returns it wrapped in a *RejectError.
	ErrRejected = errors.New("replica: message rejected")
	// ErrBadSnapshot: SendSnapshot with a snapshot the leader cannot continue
	// from (not committed, or older than the leader's log start).
	ErrBadSnapshot = errors.New("replica: unusable snapshot")
	// ErrCompact: Compact beyond the applied index or before the log start.
	ErrCompact = errors.New("replica: cannot compact")
	// ErrLearner: BecomeLeader on a learner (Config.Learner, SetLearner).
	ErrLearner = errors.New("replica: a learner cannot lead")
)

// Reasons a message is refused, the keys of Replica.Rejected. Values are
// stable (they name metrics) and only ever added.
const (
	// RejectNotForUs (ErrBadMessage): addressed to another member, sent by
	// this replica's own id, or sent by a non-member.
	RejectNotForUs = "not-for-us"
	// RejectType (ErrBadMessage): a type that is never stepped (unknown, or
	// the local MsgSnapshotNeeded).
	RejectType = "type"
	// RejectMalformed (ErrBadMessage): inconsistent in itself (entries out
	// of sequence, terms above the message's term, a hint above the
	// rejected index, an index beyond any real log, ...).
	RejectMalformed = "malformed"
	// RejectSecondLeader (ErrRejected): an append or snapshot of our term
	// from a member other than the leader we know, or received while we
	// lead that term (I1 broken by the election, or a buggy peer).
	RejectSecondLeader = "second-leader"
	// RejectCommitConflict (ErrRejected): the message claims an entry at or
	// below our commit index with another term, or a snapshot older (by
	// term) than our committed log: it contradicts committed history.
	RejectCommitConflict = "commit-conflict"
	// RejectAckBeyondLog (ErrRejected): a follower of our term acknowledges
	// entries beyond the leader's last index, which it was never sent.
	RejectAckBeyondLog = "ack-beyond-log"
	// RejectSnapshotUnsupported (ErrRejected): a snapshot this replica
	// would have to install, but it has Config.Storage, which must hold
	// every index up to the compaction point: it catches up from the log.
	RejectSnapshotUnsupported = "snapshot-unsupported"
)

// RejectError is the error Step returns for a message it refused: nothing
// changed in the replica, and the refusal was counted under Reason in
// Rejected. errors.Is(err, ErrBadMessage) or errors.Is(err, ErrRejected)
// tells the kind.
type RejectError struct {
	// Peer is the message's sender (m.From, as the driver authenticated it).
	Peer string
	// Reason is one of the Reject* constants.
	Reason string
	// Msg is the message, rendered by Message.Describe.
	Msg string
	// Detail says what exactly was wrong.
	Detail string

	kind error // ErrBadMessage or ErrRejected
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("%v from %s (%s): %s: %s", e.kind, e.Peer, e.Reason, e.Msg, e.Detail)
}

// Unwrap returns ErrBadMessage or ErrRejected.
func (e *RejectError) Unwrap() error { return e.kind }
