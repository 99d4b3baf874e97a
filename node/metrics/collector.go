package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// collector reads the node's status and stats once per scrape and turns
// them into gauges and counters.
type collector struct {
	src       Source
	opts      Options
	startTerm uint64 // the term when the node started: elections_total counts from it
	history   commitHistory
}

func newCollector(src Source, o Options) *collector {
	return &collector{src: src, opts: o, startTerm: src.Stats().Term}
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	dTerm        = desc("syncnet_term", "The election term this node is in.")
	dElections   = desc("syncnet_elections_total", "Election terms this node has seen begin since it started (every election, won or not, starts a term).")
	dLeader      = desc("syncnet_leader", "1 for the leader this node follows (label leader); absent when it knows none.", "leader")
	dIsLeader    = desc("syncnet_is_leader", "1 when this node is the leader.")
	dQuorum      = desc("syncnet_quorum", "1 when this node hears a majority of the members, itself included: syncnet_members_online > syncnet_members / 2 (with a leader known, posts can commit).")
	dMembers     = desc("syncnet_members", "Members configured in cluster.toml.")
	dOnline      = desc("syncnet_members_online", "Members this node hears as alive, itself included.")
	dMemberUp    = desc("syncnet_member_up", "1 when this node hears the member as alive.", "member")
	dCommit      = desc("syncnet_commit_index", "The highest log index this node knows committed.")
	dApplied     = desc("syncnet_applied_index", "The highest log index this node has applied.")
	dLagEntries  = desc("syncnet_replication_lag_entries", "On the leader: committed entries a follower has not yet reported committed in its heartbeat.", "follower")
	dLagSeconds  = desc("syncnet_replication_lag_seconds", "On the leader: how long ago the leader had committed past what a follower reports (resolution: the scrape interval).", "follower")
	dMessages    = desc("syncnet_messages_total", "Chat messages committed in the cluster, as applied on this node.")
	dClients     = desc("syncnet_ssh_sessions", "SSH sessions this node serves.")
	dConnects    = desc("syncnet_ssh_connects_total", "SSH sessions accepted by this node.")
	dRefusals    = desc("syncnet_ssh_refusals_total", "SSH sessions refused by this node, by reason.", "reason")
	dDelivered   = desc("syncnet_fanout_delivered_total", "Committed events the fan-out handed to this node's chat app sessions (a tail session reads the node directly).")
	dDropped     = desc("syncnet_fanout_dropped_total", "Events a session missed because its queue was full (it reloads from history: nothing is lost to the user).")
	dWALBytes    = desc("syncnet_wal_bytes", "Size of this node's WAL segment files.")
	dWALSegments = desc("syncnet_wal_segments", "WAL segment files of this node.")
	dWALBatches  = desc("syncnet_wal_group_commits_total", "WAL group commits (one write and one fsync each) since the node started.")
	dWALRecords  = desc("syncnet_wal_records_total", "WAL records written since the node started.")
	dWALOK       = desc("syncnet_wal_ok", "1 while the WAL accepts writes; 0 once a write or fsync failed (the node stops).")
	dCaughtUp    = desc("syncnet_caught_up", "1 once the node has applied everything its WAL recorded as committed (it serves SSH only then).")
	dLearner     = desc("syncnet_learner", "1 while this node is a learner (copying the log; no vote).")
	dSnapAge     = desc("syncnet_snapshot_age_seconds", "Age of this node's newest state snapshot file (absent while it has none).")
	dSnapIndex   = desc("syncnet_snapshot_index", "Applied index held by this node's newest state snapshot (0: none).")
	dPeerFrames  = desc("syncnet_peer_frames_total", "Frames on the peer TCP links, by direction.", "direction")
	dPeerDropped = desc("syncnet_peer_frames_dropped_total", "Peer frames dropped (the protocols resend), by reason.", "reason")
	dPeerReject  = desc("syncnet_peer_rejected_total", "Inbound peer connections closed for bad input, by reason (handshake: not a member or wrong secret; frame: oversized or unauthenticated).", "reason")
	dRing        = desc("syncnet_ring_datagrams_total", "Heartbeat and election datagrams, by outcome (accepted, bad_mac, garbage, replayed, ...).", "outcome")
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dTerm, dElections, dLeader, dIsLeader, dQuorum, dMembers, dOnline, dMemberUp,
		dCommit, dApplied, dLagEntries, dLagSeconds, dMessages, dClients, dConnects, dRefusals, dDelivered, dDropped,
		dWALBytes, dWALSegments, dWALBatches, dWALRecords, dWALOK, dCaughtUp, dLearner, dSnapAge, dSnapIndex,
		dPeerFrames, dPeerDropped, dPeerReject, dRing} {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	now := c.opts.Now()
	st := c.src.Status()
	s := c.src.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(dTerm, float64(s.Term))
	counter(dElections, float64(s.Term-min(c.startTerm, s.Term)))
	if s.Leader != "" {
		gauge(dLeader, 1, s.Leader)
	}
	gauge(dIsLeader, b2f(s.Leader == st.Node && st.Node != ""))
	// Members online, each member's up and quorum come from one Stats
	// (one published view of the node), so they agree with each other and
	// with /readyz by construction.
	gauge(dQuorum, b2f(s.Majority))
	gauge(dMembers, float64(len(s.Online)))
	online := 0
	for id, up := range s.Online {
		if up {
			online++
		}
		gauge(dMemberUp, b2f(up), id)
	}
	gauge(dOnline, float64(online))
	var self uint64
	for _, m := range st.Members {
		if m.ID == st.Node {
			self = m.Messages
		}
	}
	gauge(dCommit, float64(s.Commit))
	gauge(dApplied, float64(s.Applied))
	c.history.add(now, s.Commit)
	if s.Leader == st.Node && st.Node != "" {
		for _, m := range st.Members {
			if m.ID == st.Node {
				continue
			}
			lag := s.Commit - min(m.CommitIndex, s.Commit)
			gauge(dLagEntries, float64(lag), m.ID)
			gauge(dLagSeconds, c.history.lagSeconds(now, m.CommitIndex, s.Commit), m.ID)
		}
	}
	counter(dMessages, float64(self))
	if c.opts.Sessions != nil {
		gauge(dClients, float64(c.opts.Sessions()))
	}
	if c.opts.Front != nil {
		f := c.opts.Front()
		counter(dConnects, float64(f.Connects))
		for reason, n := range f.Refusals {
			counter(dRefusals, float64(n), reason)
		}
		counter(dDelivered, float64(f.Delivered))
		counter(dDropped, float64(f.Dropped))
	}
	gauge(dWALBytes, float64(s.WALBytes))
	gauge(dWALSegments, float64(s.WALSegments))
	counter(dWALBatches, float64(s.WALBatches))
	counter(dWALRecords, float64(s.WALRecords))
	gauge(dWALOK, b2f(s.WALErr == nil))
	gauge(dCaughtUp, b2f(s.CaughtUp))
	gauge(dLearner, b2f(s.Learner))
	if at := s.SnapshotWritten; !at.IsZero() {
		gauge(dSnapAge, now.Sub(at).Seconds())
	} else if at := st.Storage.SnapshotAt; !at.IsZero() {
		gauge(dSnapAge, now.Sub(at).Seconds())
	}
	gauge(dSnapIndex, float64(st.Storage.SnapshotIndex))
	p := s.Peer
	counter(dPeerFrames, float64(p.Sent), "sent")
	counter(dPeerFrames, float64(p.Received), "received")
	counter(dPeerDropped, float64(p.DroppedQueueFull), "queue_full")
	counter(dPeerDropped, float64(p.DroppedNoConn), "not_connected")
	counter(dPeerDropped, float64(p.DroppedTooLarge), "too_large")
	counter(dPeerDropped, float64(p.DroppedInboundFull), "inbound_full")
	counter(dPeerReject, float64(p.RejectedHandshake), "handshake")
	counter(dPeerReject, float64(p.RejectedFrame), "frame")
	for outcome, n := range s.Ring {
		counter(dRing, float64(n), outcome)
	}
}
