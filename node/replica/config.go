package replica

import (
	"fmt"
	"slices"
)

// Config holds one replica's identity and limits. Every limit is explicit;
// Default fills zero fields.
type Config struct {
	// ID is this replica's member id.
	ID string
	// Peers lists every member id, this one included. Majority = len/2+1.
	Peers []string
	// Learner: this replica is a learner. Its data directory was lost, so
	// it may have acknowledged entries it no longer holds; until the node
	// promotes it (SetLearner(false)) it follows as usual but every
	// MsgAppResp it sends says Learner, and leaders do not count it
	// towards a commit. A learner never leads (BecomeLeader fails). The
	// node sets it on every start until the promotion is durable (the
	// ring's learner marker).
	Learner bool
	// HeartbeatTicks: a leader sends an empty MsgApp (carrying its commit
	// index) to each follower every HeartbeatTicks ticks. Default 1.
	HeartbeatTicks int
	// RetransmitTicks: a follower whose acks made no progress for this many
	// ticks while appends are in flight is probed again (messages may be
	// lost, or it restarted). Must exceed the round trip in ticks, or slow
	// acks cause needless re-probes. Default 4*HeartbeatTicks.
	RetransmitTicks int
	// SnapshotRetryTicks: how long the leader waits for a snapshot ack
	// before asking the node layer again. Default 10*HeartbeatTicks.
	SnapshotRetryTicks int
	// MaxBatchEntries caps the entries in one MsgApp. Default 256.
	MaxBatchEntries int
	// MaxBatchBytes caps the entry bytes in one MsgApp (a single larger
	// entry still goes alone). Default 1 MiB.
	MaxBatchBytes int
	// MaxInflight caps unacknowledged MsgApp batches per follower. Default 64.
	MaxInflight int
	// SmallBatchInflight: a batch that is not full (fewer than
	// MaxBatchEntries entries, all the follower lacks) goes out only while
	// fewer than this many batches to that follower are unacknowledged;
	// otherwise its entries wait for the next ack and leave together. Full
	// batches still fill the pipeline up to MaxInflight, so a long round
	// trip keeps its throughput. Without it a leader under load sends a
	// batch of a few entries per pass, and every follower pays a frame, a
	// pass and an ack for each. Default min(4, MaxInflight); MaxInflight
	// turns it off.
	SmallBatchInflight int
	// MaxEntryBytes caps one proposal's Data. Default 64 KiB.
	MaxEntryBytes int
	// MaxUncommittedEntries caps the leader's uncommitted tail; Propose
	// returns ErrBusy beyond it. Default 65536.
	MaxUncommittedEntries int
	// MaxApplyEntries caps CommittedEntries in one Ready. Default 4096.
	MaxApplyEntries int

	// Storage, when set, is the node's durable log below the in-memory
	// window (see Storage): entries at or below the compaction point are
	// read from it, and a follower that needs them gets them in MsgApp —
	// never MsgSnapshotNeeded/MsgSnap. nil keeps the snapshot path.
	Storage Storage

	// Bulk catch-up: a follower that is catching up — its next index is at
	// or below the compaction point, or it is more than
	// MaxBatchEntries*MaxInflight entries behind the leader's last index —
	// gets batches of up to CatchUpBatchEntries entries and CatchUpBatchBytes
	// bytes, at most CatchUpInflight of them unacknowledged. Setting them to
	// MaxBatchEntries, MaxBatchBytes and MaxInflight turns bulk catch-up off.
	//
	// CatchUpBatchEntries: default max(16384, MaxBatchEntries); at most
	// MaxCatchUpBatchEntries (the node's wire decoder refuses more).
	CatchUpBatchEntries int
	// CatchUpBatchBytes: default max(4 MiB, MaxBatchBytes); at most
	// MaxCatchUpBatchBytes (well under the peer frame limit).
	CatchUpBatchBytes int
	// CatchUpInflight: default 4. CatchUpInflight*CatchUpBatchBytes must not
	// exceed MaxCatchUpInflightBytes (the peer's per-peer queue).
	CatchUpInflight int
}

// Limits that keep one catch-up batch, and a catching-up follower's whole
// window, within what the node's peer transport carries: node/peer's
// DefaultMaxFrame is 8 MiB per frame and DefaultQueueBytes 64 MiB queued per
// peer; node/wire.go decodes at most 65536 entries per message. A batch's
// byte count (Data plus 24 bytes per entry) bounds its encoding.
const (
	MaxCatchUpBatchBytes    = 6 << 20
	MaxCatchUpBatchEntries  = 1 << 16
	MaxCatchUpInflightBytes = 64 << 20
)

// Default returns cfg with zero limits replaced by their defaults.
func (cfg Config) Default() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.HeartbeatTicks, 1)                     // one tick is the node's heartbeat interval
	def(&cfg.RetransmitTicks, 4*cfg.HeartbeatTicks) // a few heartbeats: loss, not slowness
	def(&cfg.SnapshotRetryTicks, 10*cfg.HeartbeatTicks)
	def(&cfg.MaxBatchEntries, 256)                                 // amortises framing and fsync
	def(&cfg.MaxBatchBytes, 1<<20)                                 // keeps a frame well under peer limits
	def(&cfg.MaxInflight, 64)                                      // bounds per-follower send queue
	def(&cfg.SmallBatchInflight, min(4, cfg.MaxInflight))          // batches grow under load, not frames
	def(&cfg.MaxEntryBytes, 64<<10)                                // chat events are small
	def(&cfg.MaxUncommittedEntries, 1<<16)                         // bounds leader memory without quorum
	def(&cfg.MaxApplyEntries, 4096)                                // bounds one apply pass
	def(&cfg.CatchUpBatchEntries, max(16384, cfg.MaxBatchEntries)) // a few large sequential reads
	def(&cfg.CatchUpBatchBytes, max(4<<20, cfg.MaxBatchBytes))     // well under the peer frame limit
	def(&cfg.CatchUpInflight, 4)                                   // 16 MiB per catching-up follower
	return cfg
}

// Validate reports the first problem with cfg (after Default).
func (cfg Config) Validate() error {
	if cfg.ID == "" {
		return fmt.Errorf("replica config: empty ID")
	}
	if !slices.Contains(cfg.Peers, cfg.ID) {
		return fmt.Errorf("replica config: ID %q not in Peers", cfg.ID)
	}
	seen := map[string]bool{}
	for _, p := range cfg.Peers {
		if p == "" || seen[p] {
			return fmt.Errorf("replica config: empty or duplicate peer %q", p)
		}
		seen[p] = true
	}
	if cfg.MaxEntryBytes > cfg.MaxBatchBytes {
		return fmt.Errorf("replica config: MaxEntryBytes %d > MaxBatchBytes %d (an entry must fit one batch)", cfg.MaxEntryBytes, cfg.MaxBatchBytes)
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"HeartbeatTicks", cfg.HeartbeatTicks}, {"RetransmitTicks", cfg.RetransmitTicks},
		{"SnapshotRetryTicks", cfg.SnapshotRetryTicks}, {"MaxBatchEntries", cfg.MaxBatchEntries},
		{"MaxBatchBytes", cfg.MaxBatchBytes}, {"MaxInflight", cfg.MaxInflight}, {"SmallBatchInflight", cfg.SmallBatchInflight},
		{"MaxEntryBytes", cfg.MaxEntryBytes}, {"MaxUncommittedEntries", cfg.MaxUncommittedEntries},
		{"MaxApplyEntries", cfg.MaxApplyEntries}, {"CatchUpBatchEntries", cfg.CatchUpBatchEntries},
		{"CatchUpBatchBytes", cfg.CatchUpBatchBytes}, {"CatchUpInflight", cfg.CatchUpInflight},
	} {
		if f.v <= 0 {
			return fmt.Errorf("replica config: %s must be > 0, got %d", f.name, f.v)
		}
	}
	switch {
	case cfg.SmallBatchInflight > cfg.MaxInflight:
		return fmt.Errorf("replica config: SmallBatchInflight %d > MaxInflight %d", cfg.SmallBatchInflight, cfg.MaxInflight)
	case cfg.CatchUpBatchEntries < cfg.MaxBatchEntries || cfg.CatchUpBatchEntries > MaxCatchUpBatchEntries:
		return fmt.Errorf("replica config: CatchUpBatchEntries %d must be in [MaxBatchEntries %d, %d]", cfg.CatchUpBatchEntries, cfg.MaxBatchEntries, MaxCatchUpBatchEntries)
	case cfg.CatchUpBatchBytes < cfg.MaxBatchBytes || cfg.CatchUpBatchBytes > MaxCatchUpBatchBytes:
		return fmt.Errorf("replica config: CatchUpBatchBytes %d must be in [MaxBatchBytes %d, %d] (peer frame limit)", cfg.CatchUpBatchBytes, cfg.MaxBatchBytes, MaxCatchUpBatchBytes)
	case cfg.CatchUpInflight > MaxCatchUpInflightBytes/cfg.CatchUpBatchBytes:
		return fmt.Errorf("replica config: CatchUpInflight %d * CatchUpBatchBytes %d exceeds %d (peer queue)", cfg.CatchUpInflight, cfg.CatchUpBatchBytes, MaxCatchUpInflightBytes)
	}
	return nil
}

// State is what the node recovered from disk, given to New.
type State struct {
	// HardState as last persisted (Term, Commit).
	HardState HardState
	// Snapshot is the base the log starts after (zero Index: log from 1).
	// Only Index and Term are used here; Data stays with the node. With
	// Config.Storage it is the compaction point the node restarts from
	// (typically its applied index and that entry's term): entries at or
	// below it are read from Storage.
	Snapshot Snapshot
	// Entries is the effective log after folding Discard records: contiguous,
	// starting at Snapshot.Index+1. New keeps the slice (no copy).
	Entries []Entry
	// Applied is the index the node's state machine already reflects
	// (at least Snapshot.Index); CommittedEntries restart after it. 0 means
	// Snapshot.Index.
	Applied uint64
}
