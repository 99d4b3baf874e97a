package e2e

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Faults finer than a partition: packets of one protocol, or one direction,
// dropped silently (the sender sees no error, as with loss on a real
// network), with tc on the eth0 of a node's namespace.
//
// A dropping setup is an htb root qdisc, whose unclassified traffic leaves
// untouched (htb's direct path: no default class), plus one class ending in a
// pfifo of length 0, which drops everything sent to it; u32 filters send the
// packets to drop into that class. This needs only sch_htb, sch_pfifo and
// cls_u32: kernels without the gact action or the prio qdisc (which the
// usual "action drop" recipes need) still have these.
//
// The filters match "protocol ip" only, so ARP still flows and a fault never
// breaks neighbour resolution; they match the other nodes' addresses (or
// UDP, which only the ring uses), so the harness's SSH traffic, which
// comes from the bridge address, still reaches every node.

// dropClass is the htb class (and the pfifo's handle) of dropped packets.
const dropClass = "66"

// dropper is the dropping setup on one node's eth0.
type dropper struct {
	filters []string // what each filter drops, for the log
}

// tc runs tc in node i's namespace.
func (l *netLab) tc(i int, args ...string) error {
	return l.run(append([]string{"tc", "-n", l.ns[i]}, args...)...)
}

// dropEgress makes node i drop the IPv4 packets it sends that match the u32
// selector (tc's syntax, e.g. "match ip protocol 17 0xff"); what is for the log.
func (l *netLab) dropEgress(i int, what string, selector ...string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.drops[i]
	if d == nil {
		setup := [][]string{
			{"qdisc", "add", "dev", "eth0", "root", "handle", "1:", "htb"},
			{"class", "add", "dev", "eth0", "parent", "1:", "classid", "1:" + dropClass, "htb", "rate", "10gbit"},
			{"qdisc", "add", "dev", "eth0", "parent", "1:" + dropClass, "handle", dropClass + ":", "pfifo", "limit", "0"},
		}
		for _, s := range setup {
			if err := l.tc(i, s...); err != nil {
				_ = l.tc(i, "qdisc", "del", "dev", "eth0", "root")
				return err
			}
		}
		d = &dropper{}
		l.drops[i] = d
	}
	args := []string{"filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", strconv.Itoa(len(d.filters) + 1), "u32"}
	args = append(append(args, selector...), "flowid", "1:"+dropClass)
	if err := l.tc(i, args...); err != nil {
		return err
	}
	d.filters = append(d.filters, what)
	return nil
}

func (l *netLab) mustDrop(i int, what string, selector ...string) {
	l.t.Helper()
	if err := l.dropEgress(i, what, selector...); err != nil {
		l.t.Fatalf("node%d: drop %s: %v", i+1, what, err)
	}
}

// probeDrops checks that this kernel can drop with tc: it sets up and
// removes a filter on node 1 that matches nothing the nodes send.
func (l *netLab) probeDrops() error {
	if err := l.dropEgress(0, "probe", "match", "ip", "dst", "192.0.2.1/32"); err != nil {
		return fmt.Errorf("tc cannot drop packets here (needs sch_htb, sch_pfifo and cls_u32): %w", err)
	}
	l.clearDrops(0)
	return nil
}

// requireDrops skips the test, saying why, if tc cannot drop packets here.
func (l *netLab) requireDrops() {
	l.t.Helper()
	if err := l.probeDrops(); err != nil {
		l.t.Skip(err)
	}
}

// dropUDPFrom drops every UDP datagram node i sends: its ring heartbeats and
// election messages (heartbeat_port, election_port). Its TCP (replication
// and forwarded posts on peer_port, SSH) still flows.
func (l *netLab) dropUDPFrom(i int) {
	l.t.Helper()
	l.t.Logf("net: drop UDP sent by node%d (%s); its TCP flows", i+1, l.addr(i))
	l.mustDrop(i, "udp out", "match", "ip", "protocol", "17", "0xff")
}

// deafen drops everything the other nodes send to node i; node i still
// sends (its heartbeats arrive) and the harness still reaches it.
func (l *netLab) deafen(i int) {
	l.t.Helper()
	l.t.Logf("net: node%d (%s) is deaf: the other nodes' packets to it are dropped", i+1, l.addr(i))
	for j := range l.ns {
		if j != i {
			l.mustDrop(j, "to node"+strconv.Itoa(i+1), "match", "ip", "dst", l.addr(i)+"/32")
		}
	}
}

// mute drops everything node i sends to the other nodes; it still hears
// them, and still answers the harness.
func (l *netLab) mute(i int) {
	l.t.Helper()
	l.t.Logf("net: node%d (%s) is mute: its packets to the other nodes are dropped", i+1, l.addr(i))
	for j := range l.ns {
		if j != i {
			l.mustDrop(i, "to node"+strconv.Itoa(j+1), "match", "ip", "dst", l.addr(j)+"/32")
		}
	}
}

var droppedRE = regexp.MustCompile(`qdisc pfifo ` + dropClass + `: .*\n\s*Sent \d+ bytes \d+ pkt \(dropped (\d+)`)

// clearDrops removes the dropping setups of the given nodes (all if none
// given), logs what each dropped and returns the total packets dropped.
func (l *netLab) clearDrops(nodes ...int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(nodes) == 0 {
		for i := range l.ns {
			nodes = append(nodes, i)
		}
	}
	total := 0
	for _, i := range nodes {
		d := l.drops[i]
		if d == nil {
			continue
		}
		out, err := execOut("tc", "-n", l.ns[i], "-s", "qdisc", "show", "dev", "eth0")
		n := -1
		if m := droppedRE.FindStringSubmatch(out); err == nil && m != nil {
			n, _ = strconv.Atoi(m[1])
			total += n
		}
		if len(d.filters) > 1 || (len(d.filters) == 1 && d.filters[0] != "probe") {
			l.t.Logf("net: node%d: clear drops (%s): %d packets dropped", i+1, strings.Join(d.filters, ", "), n)
		}
		if err := l.tc(i, "qdisc", "del", "dev", "eth0", "root"); err != nil {
			l.t.Errorf("node%d: remove drops: %v", i+1, err)
		}
		delete(l.drops, i)
	}
	return total
}

// electedAmong polls ids until all of them name the same leader, one of
// ids, in one term; it returns the leader, its term and how long that took
// from t0, or an error after within.
func (c *cluster) electedAmong(ids []string, t0 time.Time, within time.Duration) (string, uint64, time.Duration, error) {
	var last string
	deadline := t0.Add(within)
	for {
		leader, term, ok := "", uint64(0), true
		for _, id := range ids {
			st, err := c.statusWithin(id, time.Second)
			switch {
			case err != nil:
				ok, last = false, err.Error()
			case st.Leader == "" || (leader != "" && (st.Leader != leader || st.Term != term)):
				ok, last = false, fmt.Sprintf("%s names leader %q in term %d", id, st.Leader, st.Term)
			case !contains(ids, st.Leader):
				ok, last = false, fmt.Sprintf("%s still names %s (outside %v) in term %d", id, st.Leader, ids, st.Term)
			}
			if !ok {
				break
			}
			leader, term = st.Leader, st.Term
		}
		if ok {
			return leader, term, time.Since(t0), nil
		}
		if time.Now().After(deadline) {
			return "", 0, time.Since(t0), fmt.Errorf("no leader agreed among %v within %s: %s", ids, within, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// execOut runs a command and returns its output.
func execOut(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
