package sshui

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/syncnet/syncnet/node/api"
)

// cmdMember is the cluster's membership (admin): list, add, promote,
// remove. Every change is one entry in the log (docs/ARCHITECTURE.md,
// "Membership through the log"); the leader refuses what its rules forbid
// and says why.
func cmdMember() command {
	c := command{name: "member", admin: true,
		usage: "list [--json] | add ID --host H --ssh-port P --peer-port P --heartbeat-port P --election-port P [--ring N] | promote ID | remove ID",
		summary: "Show or change the cluster's membership (admin). A new node joins as a learner (it gets the log, no vote),\n" +
			"is promoted to voter once it has caught up, and a node is removed one at a time. Replace a dead host:\n" +
			"remove it, add the new one, start it, promote it."}
	c.run = func(e *execEnv) int {
		sub, _ := e.line.next()
		m, can := e.b.(api.Membership)
		if !can && sub != "--help" && sub != "-h" && sub != "help" && sub != "" {
			return e.errorf("member: this node's membership cannot change")
		}
		switch sub {
		case "list":
			return memberList(e, c, m)
		case "add":
			return memberAdd(e, c, m)
		case "promote", "remove":
			return memberOne(e, c, m, sub)
		case "--help", "-h", "help":
			_, _ = fmt.Fprint(e.out, usageText(c, newFlags(c)))
			return exitOK
		case "":
			return usageErr(e, c, newFlags(c), "need list, add, promote or remove")
		default:
			return usageErr(e, c, newFlags(c), "unknown member command %q (list, add, promote, remove)", Clean(sub, 32))
		}
	}
	return c
}

func memberList(e *execEnv, c command, m api.Membership) int {
	fs := newFlags(c)
	asJSON := fs.Bool("json", false, "one JSON object: entry, committed, members (id, host, ports, ring, voter)")
	if code, ok := parseNoArgs(e, c, fs); !ok {
		return code
	}
	info := m.ClusterMembers()
	if *asJSON {
		_ = writeJSON(e.out, info)
		return exitOK
	}
	from := "the configuration (no membership entry in the log yet)"
	if info.Entry != 0 {
		state := "committed"
		if !info.Committed {
			state = "not committed yet"
		}
		from = fmt.Sprintf("log entry %d (%s)", info.Entry, state)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "membership from %s\n", from)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tHOST\tSSH\tPEER\tHEARTBEAT\tELECTION\tRING")
	for _, s := range info.Members {
		role := "voter"
		if !s.Voter {
			role = "learner"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", Clean(s.ID, 64), role, Clean(s.Host, 253),
			s.SSHPort, s.PeerPort, s.HeartbeatPort, s.ElectionPort, s.Ring)
	}
	_ = tw.Flush()
	_, _ = fmt.Fprint(e.out, b.String())
	return exitOK
}

func memberAdd(e *execEnv, c command, m api.Membership) int {
	fs := newFlags(c)
	var s api.MemberSpec
	fs.StringVar(&s.Host, "host", "", "the new node's host name or address, as the other nodes reach it (required)")
	portFlag(fs, &s.SSHPort, "ssh-port", "its SSH port (required)")
	portFlag(fs, &s.PeerPort, "peer-port", "its peer (replication) TCP port (required)")
	portFlag(fs, &s.HeartbeatPort, "heartbeat-port", "its heartbeat UDP port (required)")
	portFlag(fs, &s.ElectionPort, "election-port", "its election UDP port (required)")
	fs.IntVar(&s.MetricsPort, "metrics-port", 0, "its metrics port (0: off)")
	fs.IntVar(&s.Ring, "ring", -1, "its place on the ring (default: after every member)")
	pos, code, ok := parseArgs(e, c, fs)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageErr(e, c, fs, "member add needs exactly one ID")
	}
	s.ID = pos[0]
	var missing []string
	for name, v := range map[string]int{"--ssh-port": s.SSHPort, "--peer-port": s.PeerPort,
		"--heartbeat-port": s.HeartbeatPort, "--election-port": s.ElectionPort} {
		if v == 0 {
			missing = append(missing, name)
		}
	}
	if s.Host == "" {
		missing = append(missing, "--host")
	}
	if len(missing) > 0 {
		return usageErr(e, c, fs, "member add %s: missing %s", Clean(s.ID, 64), strings.Join(slices.Sorted(slices.Values(missing)), ", "))
	}
	if s.Ring < 0 {
		for _, x := range m.ClusterMembers().Members {
			s.Ring = max(s.Ring, x.Ring+1)
		}
	}
	ch := api.MemberChange{Op: "add", Node: s.ID, Spec: s, By: e.id.Name}
	return runWrite(e, func(ctx context.Context) error { _, err := m.ChangeMembers(ctx, ch); return err },
		fmt.Sprintf("%s added as a learner; start it (its cluster.toml lists it), then: member promote %s", Clean(s.ID, 64), Clean(s.ID, 64)))
}

func memberOne(e *execEnv, c command, m api.Membership, op string) int {
	fs := newFlags(c)
	pos, code, ok := parseArgs(e, c, fs)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageErr(e, c, fs, "member %s needs exactly one ID", op)
	}
	ch := api.MemberChange{Op: op, Node: pos[0], By: e.id.Name}
	done := map[string]string{"promote": "%s promoted: it votes from now on", "remove": "%s removed: it stops once it applies its removal"}[op]
	return runWrite(e, func(ctx context.Context) error { _, err := m.ChangeMembers(ctx, ch); return err },
		fmt.Sprintf(done, Clean(pos[0], 64)))
}

// portFlag is an int flag for a TCP or UDP port.
func portFlag(fs *flag.FlagSet, p *int, name, usage string) {
	fs.Func(name, usage, func(v string) error {
		var n int
		if _, err := fmt.Sscanf(v, "%d", &n); err != nil || n < 1 || n > 65535 || fmt.Sprint(n) != v {
			return fmt.Errorf("%q is not a port (1 to 65535)", v)
		}
		*p = n
		return nil
	})
}
