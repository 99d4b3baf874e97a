package replica

import (
	"fmt"
	"strings"
)

// MsgType is the kind of a replication message. Values are only ever
// appended, never renumbered (they go on the wire).
type MsgType uint8

const (
	// MsgApp (leader → follower): "my log holds PrevIndex/PrevTerm followed
	// by Entries; my commit index is Commit". With no Entries it is the
	// heartbeat that carries the commit index.
	MsgApp MsgType = 1
	// MsgAppResp (follower → leader): accept with Index = the highest index
	// now known to match the leader's log (and durable, since responses are
	// sent only after the Ready's Entries are persisted), or Reject with
	// Index = the rejected PrevIndex and a Hint for fast back-off. Also the
	// answer to a stale-term MsgApp/MsgSnap (Term = the newer term).
	MsgAppResp MsgType = 2
	// MsgSnap (leader → follower): install Snapshot; the follower's log then
	// continues at Snapshot.Index+1.
	MsgSnap MsgType = 3
	// MsgSnapshotNeeded is local only, never sent: it appears in the
	// leader's Ready.Messages (To = the lagging follower) when that follower
	// needs entries the leader has compacted away. The node layer answers it
	// by calling SendSnapshot(To, its latest snapshot).
	MsgSnapshotNeeded MsgType = 4
)

func (t MsgType) String() string {
	switch t {
	case MsgApp:
		return "MsgApp"
	case MsgAppResp:
		return "MsgAppResp"
	case MsgSnap:
		return "MsgSnap"
	case MsgSnapshotNeeded:
		return "MsgSnapshotNeeded"
	}
	return fmt.Sprintf("MsgType(%d)", uint8(t))
}

// Message is one replication message. Fields not listed for a type are zero.
type Message struct {
	Type MsgType
	From string
	To   string
	Term uint64 // sender's term (every type)

	PrevIndex uint64  // MsgApp
	PrevTerm  uint64  // MsgApp
	Entries   []Entry // MsgApp
	Commit    uint64  // MsgApp: leader's commit index

	Index     uint64 // MsgAppResp (see MsgAppResp); MsgSnapshotNeeded: leader's first log index
	Reject    bool   // MsgAppResp
	HintIndex uint64 // MsgAppResp reject: follower's candidate match index
	HintTerm  uint64 // MsgAppResp reject: follower's term at HintIndex (0: unknown)
	// Learner (MsgAppResp, accept or reject): the sender is a learner
	// (Config.Learner, SetLearner): it lost its data and is not promoted
	// yet, so the leader tracks its progress but never counts it towards
	// a commit. It is how the leader learns who is a learner.
	Learner bool

	Snapshot *Snapshot // MsgSnap
}

// Describe renders the message for logs and test transcripts.
func (m Message) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s->%s %s t%d", m.From, m.To, m.Type, m.Term)
	switch m.Type {
	case MsgApp:
		fmt.Fprintf(&b, " prev=%d/%d commit=%d", m.PrevIndex, m.PrevTerm, m.Commit)
		if n := len(m.Entries); n > 0 {
			fmt.Fprintf(&b, " entries=[%d..%d]", m.Entries[0].Index, m.Entries[n-1].Index)
		}
	case MsgAppResp:
		if m.Reject {
			fmt.Fprintf(&b, " reject=%d hint=%d/%d", m.Index, m.HintIndex, m.HintTerm)
		} else {
			fmt.Fprintf(&b, " index=%d", m.Index)
		}
		if m.Learner {
			b.WriteString(" learner")
		}
	case MsgSnap:
		if m.Snapshot != nil {
			b.WriteString(" " + m.Snapshot.Describe())
		}
	case MsgSnapshotNeeded:
		fmt.Fprintf(&b, " first=%d", m.Index)
	}
	return b.String()
}

// Size is the approximate encoded size of the message in bytes; the node
// layer's frame limit must be at least CatchUpBatchBytes (>= MaxBatchBytes)
// plus some slack: Validate keeps it at most MaxCatchUpBatchBytes.
func (m Message) Size() int {
	n := 64 + len(m.From) + len(m.To)
	for _, e := range m.Entries {
		n += e.size()
	}
	if m.Snapshot != nil {
		n += len(m.Snapshot.Data) + 16
	}
	return n
}
