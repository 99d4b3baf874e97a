package node

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/syncnet/syncnet/eventlog"
)

// Membership changes in the cluster simulation (opts.members): u0 asks for
// them among its other requests, through any node, with the production
// path (ChangeMembers' body, forwarding, the leader's planMembers); the
// harness starts an added spare once the change is acked, as an operator
// would, and a removed node either stops itself when it applies its removal
// or is retired at the next heal (an operator stops it). Every invariant of
// the simulation holds throughout; finalChecks adds that every node ends
// on the same committed membership, the one whose voters are the harness's
// nodes that vote.

// memberOp picks a change for u0 to ask through sn: add a spare, promote a
// learner, remove a learner or a voter (the leader too) while more than
// three vote; "" if none applies.
func (w *simWorld) memberOp(sn *simNode) string {
	cur := sn.n.membersView.Load()
	if cur == nil {
		return ""
	}
	var ops []string
	for _, sp := range w.spares {
		if !cur.has(sp.id) && !w.removed[sp.id] {
			ops = append(ops, "add "+sp.id)
			break
		}
	}
	voters, learners := cur.voters()
	for _, id := range learners {
		ops = append(ops, "promote "+id, "remove "+id)
	}
	if len(voters) > 3 {
		for _, id := range voters {
			ops = append(ops, "remove "+id) // the leader too: it hands over first
		}
	}
	if len(ops) == 0 {
		return ""
	}
	return ops[w.rnd.Intn(len(ops))]
}

// memberRequest builds u0's request as ChangeMembers does, from the view of
// the node it goes through.
func (w *simWorld) memberRequest(sn *simNode, c *simClient) (*eventlog.MembershipChanged, error) {
	op, id, _ := strings.Cut(c.text, " ")
	b := &eventlog.MembershipChanged{Op: op, Node: id, By: c.user}
	if op == eventlog.MemberAdd {
		sp := w.byID[id]
		m, err := sp.cfg.Node(id)
		if err != nil {
			return nil, err
		}
		js, _ := json.Marshal(eventlog.NodeSpec{ID: id, Host: m.Host, SSHPort: m.SSHPort, PeerPort: m.PeerPort,
			HeartbeatPort: m.HeartbeatPort, ElectionPort: m.ElectionPort, Ring: m.Ring, Learner: true})
		b.Spec = string(js)
	}
	cur := sn.n.membersView.Load()
	if cur == nil {
		return nil, fmt.Errorf("no membership yet")
	}
	var err error
	if b.Members, b.Retired, err = nextMembers(*cur, b); err != nil {
		return nil, err
	}
	return b, nil
}

// memberAcked: u0's change committed. An added spare starts now (its data
// directory is empty: it copies the log as a new node does); a removed
// node is retired at the next heal unless it stops by itself first.
func (w *simWorld) memberAcked(text string) {
	// (the newest membership was noted from the node that acked it)
	w.stats.MemberChanges++
	op, id, _ := strings.Cut(text, " ")
	switch op {
	case eventlog.MemberAdd:
		i := slices.IndexFunc(w.spares, func(sn *simNode) bool { return sn.id == id })
		if i < 0 {
			return // acked again (a retry answered from state)
		}
		sn := w.spares[i]
		w.spares = slices.Delete(w.spares, i, i+1)
		w.nodes = append(w.nodes, sn)
		w.logf("%s joins: started with an empty data directory", id)
		if err := w.start(sn); err != nil {
			w.chk.fail("%v", err)
		}
	case eventlog.MemberRemove:
		w.removed[id] = true
	}
}

// retire stops a removed node for good: it leaves the harness's nodes.
func (w *simWorld) retire(sn *simNode) {
	if sn.n != nil {
		if w.removed[sn.id] || sn.n.fatal != nil {
			w.stats.SelfStops++
		}
		w.crash(sn)
	}
	w.nodes = slices.DeleteFunc(w.nodes, func(x *simNode) bool { return x == sn })
	w.removed[sn.id] = true
	w.logf("%s retired: removed from the cluster", sn.id)
}

// noteNewest keeps the newest membership any node has applied (an
// applied entry is committed, so the newest one is the cluster's).
func (w *simWorld) noteNewest(sn *simNode) {
	if sn.n == nil {
		return
	}
	if c := sn.n.membersApplied; c.id.Index > w.newest.id.Index {
		w.newest = c
	}
}

// reconcileMembers (heal phases, convergence) retires every node whose
// removal was acked, or that the newest committed membership leaves out
// (its removal committed but u0's answer was lost), and starts a spare that
// membership holds (its add committed, the answer lost).
func (w *simWorld) reconcileMembers() {
	for _, sn := range w.live() {
		w.noteNewest(sn)
	}
	newest := w.newest
	for _, sn := range slices.Clone(w.nodes) {
		if w.removed[sn.id] || newest.id.Index > 0 && !newest.has(sn.id) {
			w.retire(sn)
		}
	}
	if newest.id.Index == 0 {
		return
	}
	for _, sp := range slices.Clone(w.spares) {
		if newest.has(sp.id) {
			w.memberAcked("add " + sp.id)
			w.stats.MemberChanges-- // not an ack
		}
	}
}

// checkMembers: after convergence every node holds the same committed
// membership, and its members are exactly the harness's nodes.
func (w *simWorld) checkMembers() {
	if !w.opts.members {
		return
	}
	var first *memberConf
	for _, sn := range w.nodes {
		c := sn.n.membersNow
		if first == nil {
			first = &c
			continue
		}
		if c.id != first.id {
			w.chk.fail("membership: %s holds entry %v, another node %v: %s", sn.id, c.id, first.id, w.roles())
		}
	}
	if first == nil {
		return
	}
	var ids []string
	for _, sn := range w.nodes {
		ids = append(ids, sn.id)
	}
	var mids []string
	for _, s := range first.specs {
		mids = append(mids, s.ID)
	}
	slices.Sort(ids)
	slices.Sort(mids)
	if !slices.Equal(ids, mids) {
		w.chk.fail("membership: the log's members %v, the running nodes %v", mids, ids)
	}
}
