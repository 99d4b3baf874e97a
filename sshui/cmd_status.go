package sshui

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/syncnet/syncnet/node/api"
)

func cmdStatus() command {
	c := command{name: "status", admin: true,
		usage:   "[watch [--interval 5s] | simple] [--json]",
		summary: "Cluster health: every node, its role, term, load and log position (admin)."}
	c.run = func(e *execEnv) int { return runStatus(e, c) }
	return c
}

func runStatus(e *execEnv, c command) int {
	fs := newFlags(c)
	asJSON := fs.Bool("json", false, "print JSON")
	interval := fs.Duration("interval", 5*time.Second, "refresh period for watch")
	pos, code, ok := parseArgs(e, c, fs)
	if !ok {
		return code
	}
	mode := ""
	if len(pos) > 0 {
		mode = pos[0]
	}
	if len(pos) > 1 || (mode != "" && mode != "watch" && mode != "simple") {
		return usageErr(e, c, fs, "unknown argument %q", Clean(strings.Join(pos, " "), 80))
	}
	if *interval < 100*time.Millisecond {
		return usageErr(e, c, fs, "--interval must be at least 100ms")
	}
	render := func(w io.Writer) error {
		st := e.b.Status()
		switch {
		case *asJSON:
			return writeJSON(w, statusJSON(st))
		case mode == "simple":
			_, err := io.WriteString(w, StatusSimple(st))
			return err
		}
		_, err := io.WriteString(w, StatusTable(st))
		return err
	}
	if mode != "watch" {
		if err := render(e.out); err != nil {
			return e.errorf("status: %v", err)
		}
		return exitOK
	}
	return watchStatus(e, *interval, *asJSON, render)
}

// watchStatus redraws until the session ends or a write fails.
func watchStatus(e *execEnv, every time.Duration, asJSON bool, render func(io.Writer) error) int {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		var b strings.Builder
		if e.pty && !asJSON {
			b.WriteString("\x1b[H\x1b[2J")
		}
		if err := render(&b); err != nil {
			return e.errorf("status: %v", err)
		}
		if !e.pty && !asJSON {
			b.WriteString("\n")
		}
		if _, err := io.WriteString(e.out, b.String()); err != nil {
			return exitOK // the client went away
		}
		select {
		case <-e.ctx.Done():
			return exitOK
		case <-t.C:
		}
	}
}

// Health is the one-word cluster state.
type Health string

const (
	Healthy  Health = "HEALTHY"
	Degraded Health = "DEGRADED"
	NoLeader Health = "NO LEADER"
	Split    Health = "SPLIT"
)

// ClusterHealth classifies st: SPLIT when two online nodes name different
// leaders for the same term (or two claim to lead it); NO LEADER when no
// online node leads; DEGRADED when a node is offline or there is no quorum;
// else HEALTHY.
func ClusterHealth(st api.ClusterStatus) (h Health, online, leaders int) {
	named := map[uint64]string{}
	split := false
	leaderTerms := map[uint64]int{}
	for _, m := range st.Members {
		if !m.Online {
			continue
		}
		online++
		if m.Leader {
			leaders++
			leaderTerms[m.Term]++
			if leaderTerms[m.Term] > 1 {
				split = true
			}
		}
		if m.LeaderID == "" {
			continue
		}
		if prev, ok := named[m.Term]; ok && prev != m.LeaderID {
			split = true
		}
		named[m.Term] = m.LeaderID
	}
	switch {
	case split:
		return Split, online, leaders
	case leaders == 0:
		return NoLeader, online, leaders
	case online < len(st.Members) || !st.Quorum:
		return Degraded, online, leaders
	}
	return Healthy, online, leaders
}

// StatusTable renders the admin status table with its summary lines.
func StatusTable(st api.ClusterStatus) string {
	cols := []string{"NODE", "STATUS", "LEADER", "TERM", "UPTIME", "CLIENTS", "MESSAGES", "COMMIT", "LOGHASH", "PORTS (ssh/peer/hb)"}
	rows := [][]string{cols}
	for _, m := range st.Members {
		status, leader := "offline", ""
		if m.Online {
			status = "online"
		}
		if m.Online && m.Learner {
			status = "learner"
		}
		if m.Leader {
			leader = "*"
		}
		rows = append(rows, []string{
			Clean(m.ID, 32), status, leader, fmt.Sprint(m.Term), fmtUptime(m.Uptime, m.Online),
			fmt.Sprint(m.Clients), fmt.Sprint(m.Messages), fmt.Sprint(m.CommitIndex),
			shortHash(m.LogHash), fmt.Sprintf("%d/%d/%d", m.SSHPort, m.PeerPort, m.HeartbeatPort),
		})
	}
	var b strings.Builder
	writeTable(&b, rows)
	h, online, leaders := ClusterHealth(st)
	fmt.Fprintf(&b, "\nSummary: %d/%d nodes online, %d leader", online, len(st.Members), leaders)
	if leaders != 1 {
		b.WriteString("s")
	}
	fmt.Fprintf(&b, " (term %d, as seen by %s)\n", st.Term, Clean(st.Node, 32))
	fmt.Fprintf(&b, "Cluster Status: %s\n", h)
	if l := storageLine(st); l != "" {
		b.WriteString(l)
	}
	return b.String()
}

// storageLine describes the reporting node's snapshot and WAL check.
func storageLine(st api.ClusterStatus) string {
	s := st.Storage
	if s.WALVerify == "" && s.SnapshotIndex == 0 {
		return ""
	}
	snap := "no snapshot yet"
	if s.SnapshotIndex > 0 {
		snap = fmt.Sprintf("snapshot at entry %d", s.SnapshotIndex)
		if !s.SnapshotAt.IsZero() {
			snap += fmt.Sprintf(" (%s ago)", time.Since(s.SnapshotAt).Round(time.Second))
		}
	}
	verify := map[string]string{
		"all":     "WAL verified whole at start",
		"running": "WAL chain check running in the background",
		"ok":      fmt.Sprintf("WAL chain proved whole (%d records)", s.WALRecords),
		"off":     "WAL verified after the snapshot only (background_verify = false)",
	}[s.WALVerify]
	if verify == "" {
		verify = "WAL check " + Clean(s.WALVerify, 200)
	}
	return fmt.Sprintf("Storage (%s): %s; %s\n", Clean(st.Node, 32), snap, verify)
}

// StatusSimple renders one line per node.
func StatusSimple(st api.ClusterStatus) string {
	var b strings.Builder
	for _, m := range st.Members {
		role := "follower"
		switch {
		case !m.Online:
			role = "offline"
		case m.Leader:
			role = "leader"
		}
		fmt.Fprintf(&b, "%s %s term=%d commit=%d clients=%d\n", Clean(m.ID, 32), role, m.Term, m.CommitIndex, m.Clients)
	}
	return b.String()
}

func writeTable(b *strings.Builder, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], Width(c))
		}
	}
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			if i == len(r)-1 {
				line.WriteString(c)
				break
			}
			line.WriteString(Pad(c, widths[i]+2))
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteString("\n")
	}
}

func fmtUptime(d time.Duration, online bool) string {
	if !online {
		return "-"
	}
	d = d.Round(time.Second)
	if h := int(d.Hours()); h >= 24 {
		return fmt.Sprintf("%dd%dh", h/24, h%24)
	}
	return d.String()
}

func shortHash(h string) string {
	h = Clean(h, 64)
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "-"
	}
	return h
}

// statusDoc is the JSON shape of status --json (a contract, docs/CONTRACTS.md §3.5).
type statusDoc struct {
	Node    string      `json:"node"`
	Term    uint64      `json:"term"`
	Leader  string      `json:"leader"`
	Healthy bool        `json:"healthy"`
	Health  Health      `json:"status"`
	Quorum  bool        `json:"quorum"`
	Members []memberDoc `json:"members"`
}

type memberDoc struct {
	api.MemberStatus
	UptimeSec int64 `json:"uptime_sec"`
}

func statusJSON(st api.ClusterStatus) statusDoc {
	h, _, _ := ClusterHealth(st)
	d := statusDoc{Node: st.Node, Term: st.Term, Leader: st.Leader, Healthy: h == Healthy,
		Health: h, Quorum: st.Quorum, Members: []memberDoc{}}
	for _, m := range st.Members {
		d.Members = append(d.Members, memberDoc{MemberStatus: m, UptimeSec: int64(m.Uptime / time.Second)})
	}
	return d
}
