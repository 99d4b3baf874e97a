package e2e

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// netLab is one network namespace per node, each joined by a veth pair to a
// bridge in the test's own namespace, which also carries the harness's SSH
// traffic. A partition is a set of blackhole routes between node addresses:
// the harness still reaches every node, the nodes cannot reach each other.
// Finer faults (one protocol, one direction) are tc filters: see
// netfault_test.go.
type netLab struct {
	t      testing.TB
	sfx    string
	subnet string // "10.213.K"
	ns     []string
	holes  [][2]int // (from node, to node) blackholed

	mu    sync.Mutex       // guards drops
	drops map[int]*dropper // node -> its tc dropping setup
}

// newNetLab builds the namespaces or skips the test saying why it cannot.
func newNetLab(t *testing.T, n int) *netLab {
	t.Helper()
	lab, why := tryNetLab(t, n)
	if lab == nil {
		t.Skip(why)
	}
	return lab
}

// tryNetLab builds the namespaces, or returns nil and why it cannot.
func tryNetLab(t testing.TB, n int) (*netLab, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil, fmt.Sprintf("network-namespace test needs root; running as uid %d", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, "network-namespace test needs the ip command (iproute2), not found in PATH"
	}
	lab := &netLab{t: t, sfx: fmt.Sprintf("%04x", rand.IntN(1<<16)), subnet: fmt.Sprintf("10.213.%d", 1+rand.IntN(250)),
		drops: map[int]*dropper{}}
	if err := exec.Command("ip", "netns", "add", "e2e"+lab.sfx+"probe").Run(); err != nil {
		return nil, fmt.Sprintf("cannot create a network namespace (ip netns add: %v); needs root with CAP_SYS_ADMIN", err)
	}
	_ = exec.Command("ip", "netns", "del", "e2e"+lab.sfx+"probe").Run()
	t.Cleanup(lab.teardown)
	if err := lab.build(n); err != nil {
		return nil, fmt.Sprintf("cannot build the namespace network (needs CAP_NET_ADMIN, bridge and veth support): %v", err)
	}
	return lab, ""
}

// build makes the bridge and one namespace with a veth into it per node.
func (l *netLab) build(n int) error {
	br := l.bridge()
	steps := [][]string{
		{"ip", "link", "add", br, "type", "bridge"},
		{"ip", "addr", "add", l.subnet + ".254/24", "dev", br},
		{"ip", "link", "set", br, "up"},
	}
	for i := 0; i < n; i++ {
		ns := fmt.Sprintf("e2e%sn%d", l.sfx, i+1)
		host := fmt.Sprintf("e2h%s%d", l.sfx, i+1)
		l.ns = append(l.ns, ns)
		steps = append(steps,
			[]string{"ip", "netns", "add", ns},
			[]string{"ip", "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns},
			[]string{"ip", "link", "set", host, "master", br, "up"},
			[]string{"ip", "-n", ns, "addr", "add", l.addr(i) + "/24", "dev", "eth0"},
			[]string{"ip", "-n", ns, "link", "set", "eth0", "up"},
			[]string{"ip", "-n", ns, "link", "set", "lo", "up"},
		)
	}
	for _, s := range steps {
		if err := l.run(s...); err != nil {
			return err
		}
	}
	return nil
}

func (l *netLab) bridge() string { return "e2b" + l.sfx }
func (l *netLab) addr(i int) string {
	return fmt.Sprintf("%s.%d", l.subnet, i+1)
}

func (l *netLab) run(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (l *netLab) must(args ...string) {
	l.t.Helper()
	if err := l.run(args...); err != nil {
		l.t.Fatal(err)
	}
}

// opts places node i in namespace i at its own address, on fixed ports
// (each namespace has its own port space).
func (l *netLab) opts() clusterOpts {
	o := clusterOpts{wrap: func(i int) []string { return []string{"ip", "netns", "exec", l.ns[i]} }}
	for i := range l.ns {
		o.hosts = append(o.hosts, l.addr(i))
		o.ports = append(o.ports, [4]int{2222, 8000, 8020, 8030})
	}
	return o
}

// isolate cuts node i off from every other node (both directions).
func (l *netLab) isolate(i int) {
	l.t.Helper()
	l.t.Logf("partition: isolate node%d (%s) from the other nodes", i+1, l.addr(i))
	for j := range l.ns {
		if j != i {
			l.must("ip", "-n", l.ns[i], "route", "add", "blackhole", l.addr(j)+"/32")
			l.must("ip", "-n", l.ns[j], "route", "add", "blackhole", l.addr(i)+"/32")
			l.holes = append(l.holes, [2]int{i, j}, [2]int{j, i})
		}
	}
}

// heal removes every blackhole route.
func (l *netLab) heal() {
	l.t.Helper()
	l.t.Log("partition: heal")
	for _, h := range l.holes {
		l.must("ip", "-n", l.ns[h[0]], "route", "del", "blackhole", l.addr(h[1])+"/32")
	}
	l.holes = nil
}

func (l *netLab) teardown() {
	for _, ns := range l.ns {
		if err := l.run("ip", "netns", "del", ns); err != nil {
			l.t.Log(err)
		}
	}
	if err := l.run("ip", "link", "del", l.bridge()); err != nil {
		l.t.Log(err)
	}
}

// commitIndex is what node id reports as its own commit index.
func (c *cluster) commitIndex(id string) (uint64, error) {
	st, err := c.status(id)
	if err != nil {
		return 0, err
	}
	for _, m := range st.Members {
		if m.ID == id {
			return m.CommitIndex, nil
		}
	}
	return 0, fmt.Errorf("%s: status has no member %s", id, id)
}

// waitLeaderAmong is waitLeader over a subset of nodes (one side of a
// partition).
func (c *cluster) waitLeaderAmong(ids []string) string {
	c.t.Helper()
	var last string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		leader, term, ok := "", uint64(0), true
		for _, id := range ids {
			st, err := c.status(id)
			if err != nil || st.Leader == "" || (leader != "" && (st.Leader != leader || st.Term != term)) {
				ok, last = false, fmt.Sprintf("%s: leader %q term %d err %v", id, st.Leader, st.Term, err)
				break
			}
			leader, term = st.Leader, st.Term
		}
		if ok {
			c.t.Logf("leader %s term %d among %v", leader, term, ids)
			return leader
		}
	}
	c.t.Fatalf("no agreed leader among %v after 30s: %s", ids, last)
	return ""
}

// TestPartition: the leader is cut off from both followers; the majority
// elects a leader and commits; a post through the isolated node fails with
// "no quorum" and its commit index does not move; after healing all nodes
// hold one history.
func TestPartition(t *testing.T) {
	lab := newNetLab(t, 3)
	c := newCluster(t, 3, lab.opts())
	old := c.waitLeader()
	oldIdx := 0
	for i, id := range c.ids {
		if id == old {
			oldIdx = i
		}
	}
	majority := others(c.ids, old)
	mon := c.monitorLeaders()
	w := c.startPosters(2, "pt")
	w.waitAcked(5, 30*time.Second)

	lab.isolate(oldIdx)
	time.Sleep(2 * failureTimeout) // let in-flight frames land before reading the minority's commit index
	minorityCommit, err := c.commitIndex(old)
	if err != nil {
		t.Fatal(err)
	}
	leader := c.waitLeaderAmong(majority)
	if leader == old {
		t.Fatalf("majority names the isolated %s as leader", old)
	}
	w.waitAcked(10, 30*time.Second)

	t.Logf("post through the isolated %s (must fail: no quorum)", old)
	w.mu.Lock()
	w.attempted["minority-1"] = true
	w.mu.Unlock()
	// pt-poster0 is bound already: a name claimed for the first time on the
	// minority could not be bound either, and that is not what this checks.
	_, err = c.post(old, "pt-poster0", "pt-minority", "text-minority-1", "minority-1")
	var ce *cmdError
	switch {
	case err == nil:
		t.Errorf("post through isolated %s succeeded; want a no-quorum failure", old)
	case !errors.As(err, &ce):
		t.Errorf("post through isolated %s: %v; want a non-zero exit with a message", old, err)
	default:
		t.Logf("minority post refused: %v", err)
		if !strings.Contains(ce.stderr, "quorum") {
			t.Errorf("minority post message does not mention quorum: %q", ce.stderr)
		}
	}
	if now, err := c.commitIndex(old); err != nil || now != minorityCommit {
		t.Errorf("isolated %s commit index moved during the partition: %d -> %d (err %v)", old, minorityCommit, now, err)
	}

	lab.heal()
	c.waitLeader()
	w.waitAcked(5, 30*time.Second)
	w.stop()
	mon.finish()
	w.mu.Lock()
	w.rooms["pt-minority"] = true
	w.mu.Unlock()
	if v := w.check(c.ids); v.lost+v.duplicated > 0 {
		t.Fatalf("%d lost, %d duplicated", v.lost, v.duplicated)
	}
}
