package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/replica"
)

// A node whose data directory was lost (docs/ARCHITECTURE.md, "A lost data
// directory") comes back with an empty WAL but is remembered by the
// others: it may have voted in the current term and acknowledged entries
// it no longer holds. Taking part at once could elect two leaders in one
// term (I1) or help elect one that lacks a committed entry (I3). So a node
// that starts with an empty WAL is a learner: the ring passes tokens
// through it without its vote, and its acknowledgements count towards no
// commit. It stops being one
//
//   - in a cluster that never wrote anything: every other member is heard
//     reporting an empty log and no leader (ring.CanPromoteFresh; a
//     brand-new cluster is the case where every term is still 0), or
//   - once it durably holds the log of a leader L of term T up to the
//     commit index L reported after this start, and the ring says T is
//     safe to join (ring.PromotionState): it then records a vote for L in
//     T, as if it had voted for L, so it can never vote twice in T.
//
// The learner marker file, written before the node's first WAL record and
// removed only after the promotion's records are durable, makes a learner
// that restarts before its promotion a learner again: its WAL is no longer
// empty then, but it is still not whole.

const learnerMarker = "LEARNER"

func (n *Node) markerPath() string { return filepath.Join(n.cfg.NodeDir(n.id), learnerMarker) }

// decideLearner reports whether this node starts as a learner (its WAL is
// empty, or a learner marker is present), and writes the marker if needed.
func (n *Node) decideLearner() (bool, error) {
	_, err := os.Stat(n.markerPath())
	marked := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("learner marker: %w", err)
	}
	if !marked && n.wal.LastSeq() != 0 {
		return false, nil
	}
	if !marked {
		if err := writeMarker(n.markerPath()); err != nil {
			return false, fmt.Errorf("write learner marker: %w", err)
		}
	}
	why := "this node's WAL is empty (a new node, or its data directory was lost)"
	if marked {
		why = "its learner marker is present (it started empty, and has not caught up yet)"
	}
	n.log.Warn("starting as a learner: "+why+"; it will not vote or count towards a commit until it has caught up",
		"marker", n.markerPath())
	return true, nil
}

func writeMarker(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString("this node is a learner until it has caught up; see docs/ARCHITECTURE.md\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// maybePromote ends the learner phase when it is safe (see above). It runs
// on the driver between stepping a batch and its Ready, so the promotion's
// hard state is persisted by that Ready; the marker goes after it.
func (n *Node) maybePromote() {
	if !n.ring.Learner() {
		return
	}
	if n.ring.CanPromoteFresh() {
		if err := n.ring.PromoteFresh(); err != nil {
			n.log.Warn("promote", "err", err)
			return
		}
		n.replication.SetLearner(false)
		n.promoted = "every member reports an empty log: a new cluster"
		n.freshPromotion = true
		return
	}
	hs, ok := n.ring.PromotionState()
	if !ok || n.learnerTarget.leader == "" || hs.Leader != n.learnerTarget.leader || hs.Term != n.learnerTarget.term {
		return
	}
	durable, _ := n.index.durable()
	if min(durable, n.applied.Load()) < n.learnerTarget.commit {
		return
	}
	if err := n.ring.Promote(hs); err != nil {
		n.log.Warn("promote", "err", err)
		return
	}
	n.replication.SetLearner(false)
	n.promoted = fmt.Sprintf("holds leader %s's log up to its commit index %d (term %d)", hs.Leader, n.learnerTarget.commit, hs.Term)
}

// afterPromotion removes the marker once the promotion is durable. An
// error is the WAL's: the node stops.
func (n *Node) afterPromotion() error {
	n.learnerNow.Store(n.ring.Learner())
	if n.promoted == "" {
		return nil
	}
	if n.freshPromotion {
		// Nothing else may be written before this node's first vote: make
		// its WAL non-empty now, or a crash before then would bring it back
		// as a learner of a cluster whose first round may already count on
		// it. A TermStarted of term 0 changes no fold.
		n.freshPromotion = false
		ev := eventlog.Event{Header: eventlog.Header{Origin: n.id, Time: n.now().UnixNano()}, Body: &eventlog.TermStarted{}}
		// Queued after everything this node wrote so far; its first vote
		// is queued after it and leaves only once it is durable.
		n.makeRoom()
		if _, err := n.queueWrite([]eventlog.Event{ev}, replica.Entry{}); err != nil {
			return err
		}
	}
	if err := os.Remove(n.markerPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		n.log.Error("remove learner marker; the node will start as a learner again", "err", err)
	} else if err := syncDir(filepath.Dir(n.markerPath())); err != nil {
		n.log.Error("sync after removing learner marker", "err", err)
	}
	n.log.Info("promoted from learner to voting member", "why", n.promoted)
	n.promoted = ""
	n.promotions++
	return nil
}

// learnerTarget is what a learner must hold before it may vote: the commit
// index that the leader of term reported first after this node started.
type learnerTarget struct {
	term   uint64
	leader string
	commit uint64
}

// noteLeaderCommit records, while a learner, the first commit index each
// new leader reports to it.
func (n *Node) noteLeaderCommit(from string, term, commit uint64) {
	if !n.ring.Learner() {
		return
	}
	if t := n.learnerTarget; t.term == term && t.leader == from {
		return
	}
	if term >= n.learnerTarget.term {
		n.learnerTarget = learnerTarget{term: term, leader: from, commit: commit}
	}
}
