package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/peer"
	"github.com/syncnet/syncnet/node/replica"
	"github.com/syncnet/syncnet/ring"
)

// Membership through the log (issue 13; docs/ARCHITECTURE.md, "Membership
// through the log"). The cluster's membership is the latest
// MembershipChanged entry in this node's log, committed or not, else the
// configured [[node]] list. The driver keeps the ring, the replica and
// both transports on it: an entry counts from the moment it is in the
// replica's log, and one truncated away takes its membership with it.
//
// Where a node finds the entries: those applied are folded into
// membersApplied (kept in snapshots, the "members" section); those above
// the applied index are membersPending, noted as they enter the replica's
// log (a leader's own proposal, a follower's accepted append, a restart's
// uncommitted tail) and dropped when the replica no longer holds them.

// memberConf is one membership and the entry that holds it (zero ConfID:
// the configured one).
type memberConf struct {
	id      ring.ConfID
	specs   []eventlog.NodeSpec // sorted by id
	retired []string            // every id ever removed, sorted: never added again
}

func (c memberConf) has(id string) bool {
	return slices.ContainsFunc(c.specs, func(s eventlog.NodeSpec) bool { return s.ID == id })
}

func (c memberConf) spec(id string) (eventlog.NodeSpec, bool) {
	i := slices.IndexFunc(c.specs, func(s eventlog.NodeSpec) bool { return s.ID == id })
	if i < 0 {
		return eventlog.NodeSpec{}, false
	}
	return c.specs[i], true
}

func (c memberConf) voters() (voters, learners []string) {
	for _, s := range c.specs {
		if s.Learner {
			learners = append(learners, s.ID)
		} else {
			voters = append(voters, s.ID)
		}
	}
	return voters, learners
}

// configuredMembers is the membership the log starts from: every
// configured node, all voters.
func (n *Node) configuredMembers() memberConf {
	var c memberConf
	for _, m := range n.cfg.Nodes {
		c.specs = append(c.specs, eventlog.NodeSpec{ID: m.ID, Host: m.Host, SSHPort: m.SSHPort, PeerPort: m.PeerPort,
			HeartbeatPort: m.HeartbeatPort, ElectionPort: m.ElectionPort, MetricsPort: m.MetricsPort, Ring: m.Ring})
	}
	slices.SortFunc(c.specs, func(a, b eventlog.NodeSpec) int { return strings.Compare(a.ID, b.ID) })
	return c
}

// membersOf reads the membership an entry holds.
func membersOf(index, term uint64, b *eventlog.MembershipChanged) (memberConf, error) {
	specs, err := eventlog.ParseMembers(b.Members)
	if err != nil {
		return memberConf{}, fmt.Errorf("membership entry %d/%d: %w", index, term, err)
	}
	return memberConf{id: ring.ConfID{Index: index, Term: term}, specs: specs, retired: splitRetired(b.Retired)}, nil
}

func splitRetired(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// latestMembers is the membership this node's log holds now.
func (n *Node) latestMembers() memberConf {
	if k := len(n.membersPending); k > 0 {
		return n.membersPending[k-1]
	}
	return n.membersApplied
}

// noteMembersEntry records a membership entry that entered the replica's
// log at (index, term).
func (n *Node) noteMembersEntry(index, term uint64, ev eventlog.Event) {
	b, ok := ev.Body.(*eventlog.MembershipChanged)
	if !ok {
		return
	}
	c, err := membersOf(index, term, b)
	if err != nil {
		// The leader computed it and checkEntries decoded it: a bug, or a
		// log written by another program. Stop rather than follow half.
		if n.fatal == nil {
			n.fatal = err
		}
		return
	}
	n.membersPending = slices.DeleteFunc(n.membersPending, func(p memberConf) bool { return p.id.Index >= index })
	n.membersPending = append(n.membersPending, c)
}

// noteMembersApplied folds an applied membership entry.
func (n *Node) noteMembersApplied(index, term uint64, ev eventlog.Event) {
	b, ok := ev.Body.(*eventlog.MembershipChanged)
	if !ok {
		return
	}
	c, err := membersOf(index, term, b)
	if err != nil {
		if n.fatal == nil {
			n.fatal = err
		}
		return
	}
	for _, sp := range n.membersApplied.specs {
		if !c.has(sp.ID) && sp.ID != n.id {
			// Still replicated to for a few heartbeats, so the commit
			// of its removal reaches it (installMembers).
			if n.leaving == nil {
				n.leaving = map[string]leavingNode{}
			}
			n.leaving[sp.ID] = leavingNode{spec: sp, until: n.now().Add(leavingGrace * n.cfg.Timing.HeartbeatInterval.Duration)}
		}
	}
	n.membersApplied = c
	n.membersPending = slices.DeleteFunc(n.membersPending, func(p memberConf) bool { return p.id.Index <= index })
	// Only the entry that removes this node stops it: a new node replays
	// memberships from before it joined, which do not hold it either. An
	// id once removed never joins again (Retired), so this is never an
	// old removal replayed by a node that came back.
	if b.Op == eventlog.MemberRemove && b.Node == n.id && n.fatal == nil {
		n.log.Warn("this node was removed from the cluster", "entry", index, "by", b.By)
		n.fatal = fmt.Errorf("%w by entry %d (%s %s by %s): remove its data directory before it joins again",
			ErrRemoved, index, b.Op, b.Node, b.By)
	}
}

// leavingNode is a node removed by an applied entry that the leader still
// replicates to until until (installMembers).
type leavingNode struct {
	spec  eventlog.NodeSpec
	until time.Time
}

// leavingGrace: heartbeat intervals a removed node is still replicated to
// after its removal was applied (the replica's heartbeats carry the commit
// index every interval).
const leavingGrace = 5

// ErrRemoved: this node applied the entry that removed it from the
// cluster. `syncnet node` exits with ExitRemoved, and `syncnet up` does not
// restart it.
var ErrRemoved = errors.New("this node was removed from the cluster")

// ExitRemoved is the exit status of `syncnet node` for ErrRemoved.
const ExitRemoved = 4

// syncMembers puts the cores and transports on the latest membership in the
// replica's log. The driver calls it after every input that may append to
// or truncate the log, and so before anything else is stepped (the ring's
// candidacy carries the membership, ring/membership.go).
func (n *Node) syncMembers() {
	applied := n.applied.Load()
	_, last := n.replication.LastIndexTerm() // (term, index)
	n.membersPending = slices.DeleteFunc(n.membersPending, func(p memberConf) bool {
		if p.id.Index <= applied || p.id.Index > last {
			return true // folded into membersApplied, or truncated away
		}
		t, ok := n.replication.Term(p.id.Index)
		return !ok || t != p.id.Term // replaced by another entry
	})
	expired := false
	if len(n.leaving) > 0 {
		now := n.now()
		for id, l := range n.leaving {
			if !now.Before(l.until) {
				delete(n.leaving, id)
				expired = true
			}
		}
	}
	c := n.latestMembers()
	if c.id == n.membersNow.id && n.membersNow.specs != nil && n.membersApplied.id == n.membersNowBase && !expired {
		return
	}
	n.membersNowBase = n.membersApplied.id // the leaving nodes depend on it (installMembers)
	if err := n.installMembers(c); err != nil {
		if n.fatal == nil {
			n.fatal = err
		}
	}
}

// installMembers hands membership c to the ring, the replica and the
// transports.
func (n *Node) installMembers(c memberConf) error {
	var ms []ring.Member
	for _, s := range c.specs {
		ms = append(ms, ring.Member{ID: s.ID, Ring: s.Ring, Learner: s.Learner})
	}
	if !c.has(n.id) {
		// Removed (or not added yet): it follows as a learner until it
		// applies its removal and stops.
		ms = append(ms, ring.Member{ID: n.id, Ring: n.self.Ring, Learner: true})
	}
	if err := n.ring.SetMembers(ms, c.id); err != nil {
		return fmt.Errorf("membership %d/%d: %w", c.id.Index, c.id.Term, err)
	}
	voters, learners := c.voters()
	// Leaving: removed by an entry not applied yet, or applied less than
	// leavingGrace heartbeats ago. The leader keeps replicating to them
	// (never counting them), so that the entry and then the commit that
	// covers it reach them and they stop by themselves
	// (noteMembersApplied).
	var leaving []eventlog.NodeSpec
	if c.id.Index > n.membersApplied.id.Index {
		for _, s := range n.membersApplied.specs {
			if !c.has(s.ID) && s.ID != n.id {
				leaving = append(leaving, s)
			}
		}
	}
	for id, l := range n.leaving {
		if !c.has(id) && !slices.ContainsFunc(leaving, func(s eventlog.NodeSpec) bool { return s.ID == id }) {
			leaving = append(leaving, l.spec)
		}
	}
	slices.SortFunc(leaving, func(a, b eventlog.NodeSpec) int { return strings.Compare(a.ID, b.ID) })
	for _, s := range leaving {
		learners = append(learners, s.ID)
	}
	if err := n.replication.SetMembers(voters, learners); err != nil {
		return fmt.Errorf("membership %d/%d: %w", c.id.Index, c.id.Term, err)
	}
	peers, hb, el := map[string]string{}, map[string]string{}, map[string]string{}
	for _, s := range c.specs {
		if s.ID == n.id {
			continue
		}
		peers[s.ID] = addr(s.Host, s.PeerPort)
		hb[s.ID], el[s.ID] = addr(s.Host, s.HeartbeatPort), addr(s.Host, s.ElectionPort)
	}
	for _, s := range leaving {
		peers[s.ID] = addr(s.Host, s.PeerPort)
	}
	if p, ok := n.peers.(interface{ SetPeers(map[string]string) }); ok {
		p.SetPeers(peers)
	}
	if r, ok := n.ringNet.(interface {
		SetPeers(hb, el map[string]string) error
	}); ok {
		if err := r.SetPeers(hb, el); err != nil {
			n.log.Warn("membership: ring addresses", "err", err)
		}
	}
	if n.membersNow.specs != nil {
		n.log.Info("membership changed", "entry", c.id.Index, "term", c.id.Term,
			"voters", strings.Join(voters, ","), "learners", strings.Join(learners, ","))
	}
	n.membersNow = c
	n.membersView.Store(&c)
	return nil
}

// planMembers is the leader's side of a change request: it checks the
// rules (docs/ARCHITECTURE.md, "Membership through the log") against the
// latest membership in its own log, and that the membership the request
// carries is what the change makes of it (the asking node computed it from
// its own view, nextMembers; the entry is the request as asked, so that a
// retry of it is recognised). An error is final: it goes back to whoever
// asked.
func (n *Node) planMembers(b *eventlog.MembershipChanged) error {
	st := n.replication.Status()
	if t, _ := n.replication.Term(st.Commit); st.Commit == 0 || t != st.Term {
		return errors.New("membership: this leader has not committed an entry of its term yet; try again in a moment")
	}
	cur := n.latestMembers()
	if cur.id.Index > st.Commit {
		return fmt.Errorf("membership: the change at entry %d is not committed yet; one change at a time", cur.id.Index)
	}
	switch b.Op {
	case eventlog.MemberPromote:
		pr, ok := n.replication.Progress()[b.Node]
		if s, member := cur.spec(b.Node); member && s.Learner && (!ok || pr.Match < st.Commit) {
			return fmt.Errorf("membership: %s has not caught up (it holds entry %d, the commit index is %d); try again when it has",
				b.Node, pr.Match, st.Commit)
		}
	}
	next, retired, err := nextMembers(cur, b)
	if err != nil {
		return err
	}
	if next != b.Members || retired != b.Retired {
		return errors.New("membership: the membership changed while the request travelled; ask again")
	}
	if b.Op == eventlog.MemberRemove && b.Node == n.id {
		// A leader is never removed while it leads: it hands over, and
		// the asking node asks again, the new leader then (ChangeMembers).
		// Only now, once every rule holds: a request refused above
		// changes nothing, while a hand-over takes the leader and its vote
		// away until another node leads, ten failure timeouts at most
		// (TestScheduleStaleRemovalKeepsTheLeader;
		// the last voter asked to remove itself left the cluster with no
		// leader for that long, for a change it then refused).
		n.ring.HandOver()
		n.log.Info("handing over leadership before this node's removal", "by", b.By)
		return fmt.Errorf("membership: %s leads the cluster and is %s; ask again in a moment", n.id, handingOver)
	}
	return nil
}

// nextMembers applies the change b to the membership cur and returns the
// result as an entry holds it (eventlog.MembersJSON).
func nextMembers(cur memberConf, b *eventlog.MembershipChanged) (string, string, error) {
	next := slices.Clone(cur.specs)
	retired := cur.retired
	switch b.Op {
	case eventlog.MemberAdd:
		s, err := eventlog.ParseSpec(b.Spec)
		if err != nil {
			return "", "", err
		}
		if s.ID != b.Node {
			return "", "", fmt.Errorf("membership: add %s with the address of %s", b.Node, s.ID)
		}
		if cur.has(s.ID) {
			return "", "", fmt.Errorf("membership: %s is a member already", s.ID)
		}
		if slices.Contains(cur.retired, s.ID) {
			return "", "", fmt.Errorf("membership: %s was removed; a new host joins under a new id", s.ID)
		}
		for _, m := range cur.specs {
			if clash := sharedPort(m, s); clash != "" {
				return "", "", fmt.Errorf("membership: %s would listen on %s, which %s uses", s.ID, clash, m.ID)
			}
		}
		s.Learner = true
		next = append(next, s)
	case eventlog.MemberPromote:
		s, ok := cur.spec(b.Node)
		switch {
		case !ok:
			return "", "", fmt.Errorf("membership: %s is not a member", b.Node)
		case !s.Learner:
			return "", "", fmt.Errorf("membership: %s is a voter already", b.Node)
		}
		i := slices.IndexFunc(next, func(m eventlog.NodeSpec) bool { return m.ID == b.Node })
		next[i].Learner = false
	case eventlog.MemberRemove:
		if !cur.has(b.Node) {
			return "", "", fmt.Errorf("membership: %s is not a member", b.Node)
		}
		next = slices.DeleteFunc(next, func(m eventlog.NodeSpec) bool { return m.ID == b.Node })
		retired = slices.Sorted(slices.Values(append(slices.Clone(retired), b.Node)))
	default:
		return "", "", fmt.Errorf("membership: unknown change %q (add, promote, remove)", b.Op)
	}
	js, err := eventlog.MembersJSON(next)
	if err != nil {
		if errors.Is(err, eventlog.ErrMembers) && strings.Contains(err.Error(), "no voter") {
			return "", "", fmt.Errorf("membership: %s is the last voter", b.Node)
		}
		return "", "", fmt.Errorf("membership: %w", err)
	}
	return js, strings.Join(retired, ","), nil
}

// sharedPort names an address two members would both listen on, "" if none.
func sharedPort(a, b eventlog.NodeSpec) string {
	if a.Host != b.Host {
		return ""
	}
	for _, p := range []int{a.SSHPort, a.PeerPort, a.HeartbeatPort, a.ElectionPort} {
		for _, q := range []int{b.SSHPort, b.PeerPort, b.HeartbeatPort, b.ElectionPort} {
			if p == q {
				return addr(a.Host, p)
			}
		}
	}
	return ""
}

// proposedMembers: the leader placed a membership entry at (index, term).
func (n *Node) proposedMembers(index, term uint64, ev eventlog.Event) {
	n.noteMembersEntry(index, term, ev)
	n.syncMembers()
}

// appendedMembers: after a follower stepped m, note the membership entries
// of m that the replica now holds.
func (n *Node) appendedMembers(m replica.Message) {
	for _, e := range m.Entries {
		r, ok := n.received[e.Index]
		if !ok || r.ev.Kind() != eventlog.KindMembershipChanged {
			continue
		}
		if t, held := n.replication.Term(e.Index); held && t == e.Term {
			n.noteMembersEntry(e.Index, e.Term, r.ev)
		}
	}
}

// membersImage is the "members" section of a snapshot.
type membersImage struct {
	Index   uint64 `json:"index"`
	Term    uint64 `json:"term"`
	Members string `json:"members"` // eventlog.MembersJSON
	Retired string `json:"retired,omitempty"`
}

// encodeMembers is the "members" section for c; nil for the configured
// membership (nothing to keep).
func encodeMembers(c memberConf) []byte {
	if c.id == (ring.ConfID{}) {
		return nil
	}
	js, err := eventlog.MembersJSON(c.specs)
	if err != nil {
		return nil // came from a checked entry: cannot happen
	}
	b, _ := json.Marshal(membersImage{Index: c.id.Index, Term: c.id.Term, Members: js, Retired: strings.Join(c.retired, ",")})
	return b
}

func decodeMembers(b []byte) (memberConf, error) {
	var im membersImage
	if err := json.Unmarshal(b, &im); err != nil {
		return memberConf{}, err
	}
	if im.Index == 0 {
		return memberConf{}, errors.New("no entry")
	}
	specs, err := eventlog.ParseMembers(im.Members)
	if err != nil {
		return memberConf{}, err
	}
	return memberConf{id: ring.ConfID{Index: im.Index, Term: im.Term}, specs: specs, retired: splitRetired(im.Retired)}, nil
}

// ClusterMembers implements api.Membership: the membership the log holds now.
func (n *Node) ClusterMembers() api.MembershipInfo {
	c := n.membersView.Load()
	if c == nil {
		cc := n.membersApplied
		c = &cc
	}
	info := api.MembershipInfo{Entry: c.id.Index, Committed: c.id.Index <= n.replicationCommit()}
	for _, s := range c.specs {
		info.Members = append(info.Members, api.MemberSpec{ID: s.ID, Host: s.Host, SSHPort: s.SSHPort, PeerPort: s.PeerPort,
			HeartbeatPort: s.HeartbeatPort, ElectionPort: s.ElectionPort, MetricsPort: s.MetricsPort, Ring: s.Ring, Voter: !s.Learner})
	}
	return info
}

// replicationCommit is the commit index as the front ends see it.
func (n *Node) replicationCommit() uint64 {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.view.commit
}

// ChangeMembers implements api.Membership: the change goes to the leader
// like any request, which checks it against its own log (planMembers).
func (n *Node) ChangeMembers(ctx context.Context, c api.MemberChange) (uint64, error) {
	b := &eventlog.MembershipChanged{Op: c.Op, Node: c.Node, By: c.By}
	if c.Op == eventlog.MemberAdd {
		s := eventlog.NodeSpec{ID: c.Node, Host: c.Spec.Host, SSHPort: c.Spec.SSHPort, PeerPort: c.Spec.PeerPort,
			HeartbeatPort: c.Spec.HeartbeatPort, ElectionPort: c.Spec.ElectionPort, MetricsPort: c.Spec.MetricsPort,
			Ring: c.Spec.Ring, Learner: true}
		js, err := json.Marshal(s)
		if err != nil {
			return 0, err
		}
		if _, err := eventlog.ParseSpec(string(js)); err != nil {
			return 0, err
		}
		b.Spec = string(js)
	}
	if n.membersView.Load() == nil {
		return 0, errors.New("membership: this node has not started")
	}
	for {
		var err error
		if b.Members, b.Retired, err = nextMembers(*n.membersView.Load(), b); err != nil {
			return 0, err
		}
		idx, err := n.mutate(ctx, b, c.By, "", 0)
		if err == nil || !strings.Contains(err.Error(), handingOver) {
			return idx, err
		}
		// The leader removes itself: it hands over first; ask the next one.
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%w (while the leader handed over)", ctx.Err())
		case <-time.After(n.cfg.Timing.FailureTimeout.Duration / 2):
		}
	}
}

// handingOver is in the refusal of a leader asked to remove itself
// (planMembers); ChangeMembers then asks again.
const handingOver = "handing over leadership first"

// joinDial is the stream dial to the member Options.Join names, its id
// asked of its certificate (peer.Identify) unless given as ID@.
func joinDial(ctx context.Context, o Options, secret []byte) (peer.StreamDial, error) {
	id, hostPort := splitJoin(o.Join)
	if err := checkJoinAddr(o.Join); err != nil {
		return peer.StreamDial{}, err
	}
	timeout := o.Config.Timing.ConnectTimeout.Duration
	if id == "" {
		var err error
		if id, err = peer.Identify(ctx, hostPort, o.TLS, timeout); err != nil {
			return peer.StreamDial{}, err
		}
	}
	if id == o.ID {
		return peer.StreamDial{}, fmt.Errorf("%s is this node", hostPort)
	}
	return peer.StreamDial{ID: o.ID, Secret: secret, Peer: id, Addr: hostPort, Timeout: timeout, TLS: o.TLS}, nil
}

// checkJoined: a node started with Options.Join runs only on a log whose
// membership holds it; never as a cluster of its own.
func (n *Node) checkJoined() error {
	if n.opts.Join == "" {
		return nil
	}
	if n.wal.LastSeq() == 0 {
		return fmt.Errorf("--join %s: no log was copied (see the lines above); this node does not start on its own", n.opts.Join)
	}
	if c := n.latestMembers(); c.id.Index == 0 || !c.has(n.id) {
		return fmt.Errorf("--join %s: the cluster's membership (as of the copied entry %d) does not hold %s: ask an admin to run `member add %s --host … --ssh-port …` first (just run? start again in a moment)",
			n.opts.Join, n.applied.Load(), n.id, n.id)
	}
	return nil
}

func splitJoin(join string) (id, hostPort string) {
	if id, hostPort, named := strings.Cut(join, "@"); named {
		return id, hostPort
	}
	return "", join
}

// checkJoinAddr checks the form of Options.Join before anything is made.
func checkJoinAddr(join string) error {
	_, hostPort := splitJoin(join)
	if _, _, err := net.SplitHostPort(hostPort); err != nil {
		return fmt.Errorf("--join %s: want HOST:PEER_PORT (or ID@HOST:PEER_PORT): %w", join, err)
	}
	return nil
}
