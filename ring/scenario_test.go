package ring

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Named scenarios: testdata/<name>.script drives a simulated cluster; its
// transcript (token/elected deliveries, persisted hard states, role and
// member changes, expectations) must equal testdata/<name>.txt. Re-record
// with: go test ./ring -run TestScenarios -update  (and review the diff).
//
// Commands:
//
//	cluster N SEED            start N nodes n1..nN
//	tick K                    run K ticks
//	until-leader MAX          run until all live nodes follow one leader
//	crash ID|leader           crash a node (keeps persisted state and log)
//	restart ID                restart from persisted state
//	partition a,b c,d,e       split into groups
//	deaf ID|leader            everything sent to the node is lost (it still sends)
//	mute ID|leader            everything the node sends is lost (it still hears)
//	pause ID|leader K         the node stops for K ticks, then steps what waited
//	heal                      remove partitions and one-way cuts
//	faults DROP DUP MAXDELAY  network faults
//	logs on|off               simulated log growth by the leader
//	mark                      remember the current leader and term
//	until-new-leader MAX      run until a working leader (followed by every node
//	                          not deaf, and cut off neither way) leads a term
//	                          above the marked one; fail after MAX ticks
//	expect-stable K           run K ticks; the working leader and its term stay
//	expect-same               the leader and term are those marked
//	expect-leader-not ID      the agreed leader is not ID
//	expect-no-leader IDS      none of IDS leads
//	expect-longest-log        the leader's log is the longest among live nodes
func TestScenarios(t *testing.T) {
	scripts, _ := filepath.Glob(filepath.Join("testdata", "*.script"))
	if len(scripts) == 0 {
		t.Fatal("no scenarios in testdata/")
	}
	for _, path := range scripts {
		name := strings.TrimSuffix(filepath.Base(path), ".script")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got := runScenario(t, string(src))
			golden := filepath.Join("testdata", name+".txt")
			if *flagUpdate {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (record it with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("transcript differs from %s (re-record with -update and review the diff):\n%s", golden, firstDiff(want, got))
			}
		})
	}
}

func firstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\nwant: %s\n got: %s", i+1, a, b)
		}
	}
	return "(no line differs)"
}

type scenario struct {
	t          *testing.T
	c          *cluster
	out        bytes.Buffer
	markLeader string
	markTerm   uint64
}

func runScenario(t *testing.T, src string) []byte {
	s := &scenario{t: t}
	for lineNo, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			if line != "" {
				fmt.Fprintln(&s.out, line)
			}
			continue
		}
		fmt.Fprintf(&s.out, "> %s\n", line)
		if err := s.do(strings.Fields(line)); err != nil {
			t.Fatalf("line %d %q: %v\ntranscript so far:\n%s", lineNo+1, line, err, s.out.String())
		}
	}
	return s.out.Bytes()
}

func (s *scenario) say(format string, args ...any) {
	fmt.Fprintf(&s.out, format+"\n", args...)
}

func (s *scenario) do(f []string) error {
	if f[0] != "cluster" && s.c == nil {
		return fmt.Errorf("no cluster yet")
	}
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	num := func(i int) int { v, _ := strconv.Atoi(arg(i)); return v }
	switch f[0] {
	case "cluster":
		p := simParamsN(num(1))
		s.c = newCluster(s.t, int64(num(2)), p)
		s.c.record = func(line string) { fmt.Fprintf(&s.out, "  t=%d %s\n", s.c.now, line) }
	case "tick":
		for i := 0; i < num(1); i++ {
			s.c.tick()
		}
	case "until-leader":
		took := s.c.runUntilLeader(num(1))
		if took < 0 {
			s.say("no leader after %d ticks", num(1))
		} else {
			l := s.c.agreedLeader()
			s.say("leader %s term %d known to all live nodes after %d ticks", l, s.c.nodes[l].n.Term(), took)
		}
	case "crash", "deaf", "mute", "pause":
		id := arg(1)
		if id == "leader" {
			if id = s.c.agreedLeader(); id == "" {
				return fmt.Errorf("no leader to %s", f[0])
			}
		}
		switch f[0] {
		case "crash":
			s.c.crash(id)
		case "pause":
			s.c.pause(id, num(2))
		default:
			s.c.cutOneWay(id, f[0] == "deaf")
		}
	case "until-new-leader":
		for i := 0; ; i++ {
			if l := s.c.workingLeader(); l != "" && s.c.nodes[l].n.Term() > s.markTerm {
				s.say("working leader %s term %d after %d ticks (bound %d)", l, s.c.nodes[l].n.Term(), i, num(1))
				break
			}
			if i == num(1) {
				return fmt.Errorf("no working leader above term %d within %d ticks", s.markTerm, i)
			}
			s.c.tick()
		}
	case "expect-stable":
		l := s.c.workingLeader()
		if l == "" {
			return fmt.Errorf("no working leader")
		}
		term := s.c.nodes[l].n.Term()
		for i := 1; i <= num(1); i++ {
			s.c.tick()
			if now := s.c.workingLeader(); now != l || s.c.nodes[l].n.Term() != term {
				return fmt.Errorf("leader %s term %d lost after %d ticks (now %q)", l, term, i, now)
			}
		}
		s.say("ok: leader %s term %d kept for %d ticks", l, term, num(1))
	case "restart":
		s.c.restart(arg(1))
	case "partition":
		var groups [][]string
		for _, g := range f[1:] {
			groups = append(groups, strings.Split(g, ","))
		}
		s.c.note("partition %v", groups)
		s.c.net.Partition(groups...)
	case "heal":
		s.c.note("heal")
		s.c.net.Heal()
	case "faults":
		d, _ := strconv.ParseFloat(arg(1), 64)
		u, _ := strconv.ParseFloat(arg(2), 64)
		s.c.net.SetFaults(SimConfig{Drop: d, Duplicate: u, MaxDelay: num(3)})
	case "logs":
		if arg(1) == "off" {
			s.c.p.AppendProb, s.c.p.ReplicateProb = 0, 0
		} else {
			s.c.p.AppendProb, s.c.p.ReplicateProb = defaultSim.AppendProb, defaultSim.ReplicateProb
		}
	default:
		return s.expect(f)
	}
	return nil
}

func (s *scenario) expect(f []string) error {
	leader := s.c.agreedLeader()
	var term uint64
	if leader != "" {
		term = s.c.nodes[leader].n.Term()
	}
	switch f[0] {
	case "mark":
		s.markLeader, s.markTerm = leader, term
		s.say("marked leader %s term %d", orNone(leader), term)
	case "expect-same":
		if leader != s.markLeader || term != s.markTerm {
			return fmt.Errorf("leader %s term %d, marked %s term %d", leader, term, s.markLeader, s.markTerm)
		}
		s.say("ok: still leader %s term %d", leader, term)
	case "expect-leader-not":
		if leader == "" || leader == f[1] {
			return fmt.Errorf("leader is %q", leader)
		}
		s.say("ok: leader %s is not %s", leader, f[1])
	case "expect-no-leader":
		for _, id := range strings.Split(f[1], ",") {
			if n := s.c.nodes[id].n; n != nil && n.Role() == RoleLeader {
				return fmt.Errorf("%s leads term %d", id, n.Term())
			}
		}
		s.say("ok: none of %s leads", f[1])
	case "expect-longest-log":
		lp := s.c.pos(s.c.nodes[leader])
		for _, id := range s.c.live() {
			if p := s.c.pos(s.c.nodes[id]); p.LastTerm > lp.LastTerm || (p.LastTerm == lp.LastTerm && p.LastIndex > lp.LastIndex) {
				return fmt.Errorf("leader %s log %s is behind %s", leader, lp, p)
			}
		}
		s.say("ok: leader %s has the most complete log (%d/%d)", leader, lp.LastTerm, lp.LastIndex)
	default:
		return fmt.Errorf("unknown command %q", f[0])
	}
	return nil
}
