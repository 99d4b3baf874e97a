package node

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/peer"
	"github.com/syncnet/syncnet/ring"
)

// Stats is what a node reports for monitoring (node/metrics reads it when
// Prometheus scrapes). Everything here is read from state the node keeps
// anyway (the published view, atomic counters, the WAL directory), so
// monitoring adds no work to the driver loop.
type Stats struct {
	Term   uint64
	Leader string // "" when none is known
	// Online says, for every configured member, whether this node hears it
	// as alive (itself always): the rule of Status's Online. Majority is
	// more than half of them online; Quorum is Majority with a leader known
	// (posts can commit). All three come from one published view, so a
	// scrape's members online, quorum and /readyz always agree.
	Online      map[string]bool
	Majority    bool
	Quorum      bool
	Learner     bool   // this node copies the log and has no vote
	Commit      uint64 // this node's commit index
	Applied     uint64
	CaughtUp    bool  // has applied what its WAL recorded as committed
	WALErr      error // non-nil: the log is poisoned, the node is stopping
	WALBatches  uint64
	WALRecords  uint64
	WALBytes    int64 // size of the segment files
	WALSegments int
	// SnapshotWritten is when the newest snapshot file was written (its
	// modification time; zero: none), also one found at start.
	SnapshotWritten time.Time
	// Peer counts the peer TCP links' frames and rejections (zero in a
	// simulation).
	Peer peer.Stats
	// Ring counts the authenticated UDP transport's datagrams by outcome
	// ("accepted", "bad_mac", "garbage", ...; only non-zero ones).
	Ring map[string]uint64
}

// Stats returns the node's monitoring figures. Safe from any goroutine;
// it reads the WAL directory, so call it per scrape, not per request.
func (n *Node) Stats() Stats {
	n.mu.RLock()
	v := n.view
	n.mu.RUnlock()
	s := Stats{Term: v.term, Leader: v.leader, Quorum: v.quorum, Commit: v.commit, Applied: n.applied.Load(),
		Online: make(map[string]bool, len(v.members)), Majority: hearsMajority(v.members), Learner: n.learnerNow.Load()}
	for _, m := range v.members {
		s.Online[m.ID] = heardAlive(m)
	}
	select {
	case <-n.caughtUp:
		s.CaughtUp = true
	default:
	}
	s.WALErr = n.wal.Err()
	ws := n.wal.Stats()
	s.WALBatches, s.WALRecords = ws.Batches, ws.Records
	s.WALBytes, s.WALSegments = walFiles(n.wal.Dir())
	s.SnapshotWritten = newestSnapshot(filepath.Join(n.wal.Dir(), "snapshots"))
	if t, ok := n.peers.(*peer.Transport); ok {
		s.Peer = t.Stats()
	}
	if t, ok := n.ringNet.(interface{ Metrics() *ring.Metrics }); ok {
		s.Ring = t.Metrics().Snapshot()
	}
	return s
}

// walFiles sums the WAL's segment files: tidwall/wal names each by its
// first index in 20 decimal digits (a ".START"/".END" suffix while it is
// being rewritten).
func walFiles(dir string) (bytes int64, segments int) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0
	}
	for _, e := range ents {
		name := e.Name()
		if len(name) < 20 || !allDigits(name[:20]) || e.IsDir() {
			continue
		}
		if info, err := e.Info(); err == nil {
			bytes += info.Size()
			segments++
		}
	}
	return bytes, segments
}

// newestSnapshot is the modification time of the newest snapshot file
// (snap-<seq as 20 digits>: the names sort by seq).
func newestSnapshot(dir string) time.Time {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return time.Time{}
	}
	for i := len(ents) - 1; i >= 0; i-- {
		if name := ents[i].Name(); strings.HasPrefix(name, "snap-") && !ents[i].IsDir() {
			if info, err := ents[i].Info(); err == nil {
				return info.ModTime()
			}
		}
	}
	return time.Time{}
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ObserveWALSync has f called with the duration of every WAL fsync (a
// group commit's), from the WAL's writer goroutine; f must be quick. nil
// stops it.
func (n *Node) ObserveWALSync(f func(time.Duration)) { n.wal.ObserveSync(f) }

// ObservePeerRTT has f called with every round trip measured on a peer
// link (node/peer's ping, about once a second per peer), from the
// transport's goroutines; f must be quick. nil stops it. A node without
// the TCP transport (the simulation) measures none.
func (n *Node) ObservePeerRTT(f func(peer string, rtt time.Duration)) {
	if t, ok := n.peers.(*peer.Transport); ok {
		t.ObserveRTT(f)
	}
}

// compile-time: the WAL offers what ObserveWALSync needs.
var _ = (*eventlog.Log).ObserveSync
