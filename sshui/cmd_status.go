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
		st := e.srv.status()
		v := StatusView{Now: e.now(), LastSeen: e.srv.seen.get(), Faint: e.pty}
		var err error
		switch {
		case *asJSON:
			err = writeJSON(w, statusJSON(st, v))
		case mode == "simple":
			_, err = io.WriteString(w, StatusSimple(st, v))
		case mode == "watch" && !e.pty:
			_, err = io.WriteString(w, StatusLine(st, v))
		default:
			_, err = io.WriteString(w, StatusTable(st, v))
		}
		return err
	}
	if mode != "watch" {
		e.finish()
		if err := render(e.out); err != nil {
			return e.errorf("status: %v", err)
		}
		return exitOK
	}
	return watchStatus(e, *interval, *asJSON, render)
}

// watchStatus renders every interval until the session ends or a write
// fails: on a PTY it redraws the table in place; otherwise each render is
// one line (StatusLine, or JSON), so a log of it reads as a time series.
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
	NoQuorum Health = "NO QUORUM"
	Split    Health = "SPLIT"
)

// ClusterHealth classifies st: SPLIT when two online nodes name different
// leaders for the same term (or two claim to lead it); NO QUORUM when no
// majority of the nodes is online (a survivor may still name a leader, but
// nothing can commit); NO LEADER when no online node leads; DEGRADED when
// a node is offline or there is no quorum; else HEALTHY.
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
	case 2*online <= len(st.Members):
		return NoQuorum, online, leaders
	case leaders == 0:
		return NoLeader, online, leaders
	case online < len(st.Members) || !st.Quorum:
		return Degraded, online, leaders
	}
	return Healthy, online, leaders
}

// StatusView is what status shows beyond the Backend's answer: when this
// node last saw each member online, so an offline member's values (those
// of its last heartbeat) are shown as stale, with their age.
type StatusView struct {
	Now      time.Time
	LastSeen map[string]time.Time // member id -> last seen online here
	Faint    bool                 // a terminal: grey out stale rows
}

// staleNote says how old an offline member's values are.
func (v StatusView) staleNote(id string) string {
	at, ok := v.LastSeen[id]
	if !ok {
		return "not seen since this node started"
	}
	return "last seen " + fmtAge(v.now().Sub(at)) + " ago"
}

func (v StatusView) now() time.Time {
	if v.Now.IsZero() {
		return time.Now()
	}
	return v.Now
}

// fmtAge is a short age: 12s, 3m4s, 2h5m, 1d3h.
func fmtAge(d time.Duration) string {
	d = max(d, 0).Round(time.Second)
	switch {
	case d < time.Minute:
		return d.String()
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// StatusTable renders the admin status table with its summary lines. An
// offline member's row keeps the values of its last heartbeat, says how
// old they are, and is greyed on a terminal.
func StatusTable(st api.ClusterStatus, v StatusView) string {
	cols := []string{"NODE", "STATUS", "LEADER", "TERM", "UPTIME", "CLIENTS", "MESSAGES", "COMMIT", "LOGHASH", "PORTS (ssh/peer/hb)"}
	rows := [][]string{cols}
	stale := 0
	for _, m := range st.Members {
		status, leader := "offline ("+v.staleNote(m.ID)+")", ""
		if m.Online {
			status = "online"
		} else {
			stale++
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
			logHash(m.LogHash), fmt.Sprintf("%d/%d/%d", m.SSHPort, m.PeerPort, m.HeartbeatPort),
		})
	}
	var t strings.Builder
	writeTable(&t, rows)
	lines := strings.SplitAfter(t.String(), "\n")
	var b strings.Builder
	for i, l := range lines {
		if v.Faint && i > 0 && i <= len(st.Members) && !st.Members[i-1].Online {
			l = "\x1b[2m" + strings.TrimSuffix(l, "\n") + "\x1b[0m\n"
		}
		b.WriteString(l)
	}
	if stale > 0 {
		b.WriteString("Offline rows show the values of their last heartbeat.\n")
	}
	h, online, leaders := ClusterHealth(st)
	fmt.Fprintf(&b, "\nSummary: %d/%d nodes online, %d leader", online, len(st.Members), leaders)
	if leaders != 1 {
		b.WriteString("s")
	}
	fmt.Fprintf(&b, " (term %d, as seen by %s)\n", st.Term, Clean(st.Node, 32))
	fmt.Fprintf(&b, "Cluster Status: %s\n", h)
	if l := storageLine(st, v); l != "" {
		b.WriteString(l)
	}
	return b.String()
}

// StatusLine is status in one line, for watch without a terminal:
// "TIME HEALTH online=N/M leader=ID term=T commit=C [offline=ID,…]".
func StatusLine(st api.ClusterStatus, v StatusView) string {
	h, online, _ := ClusterHealth(st)
	leader, commit := st.Leader, uint64(0)
	if leader == "" {
		leader = "-"
	}
	var off []string
	for _, m := range st.Members {
		if m.ID == st.Node {
			commit = m.CommitIndex
		}
		if !m.Online {
			off = append(off, Clean(m.ID, 32))
		}
	}
	line := fmt.Sprintf("%s %s online=%d/%d leader=%s term=%d commit=%d", v.now().UTC().Format(time.RFC3339), h,
		online, len(st.Members), Clean(leader, 32), st.Term, commit)
	if len(off) > 0 {
		line += " offline=" + strings.Join(off, ",")
	}
	return line + "\n"
}

// storageLine describes the reporting node's snapshot and WAL check.
func storageLine(st api.ClusterStatus, v StatusView) string {
	s := st.Storage
	if s.WALVerify == "" && s.SnapshotIndex == 0 {
		return ""
	}
	snap := "no snapshot yet"
	if s.SnapshotIndex > 0 {
		snap = fmt.Sprintf("snapshot at entry %d", s.SnapshotIndex)
		if !s.SnapshotAt.IsZero() {
			snap += fmt.Sprintf(" (%s ago)", v.now().Sub(s.SnapshotAt).Round(time.Second))
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

// StatusSimple renders one line per node; an offline node's line ends
// with how long ago this node last saw it (last_seen=12s, or unknown).
func StatusSimple(st api.ClusterStatus, v StatusView) string {
	var b strings.Builder
	for _, m := range st.Members {
		role := "follower"
		switch {
		case !m.Online:
			role = "offline"
		case m.Leader:
			role = "leader"
		}
		fmt.Fprintf(&b, "%s %s term=%d commit=%d clients=%d", Clean(m.ID, 32), role, m.Term, m.CommitIndex, m.Clients)
		if !m.Online {
			seen := "unknown"
			if at, ok := v.LastSeen[m.ID]; ok {
				seen = fmtAge(v.now().Sub(at))
			}
			b.WriteString(" last_seen=" + seen)
		}
		b.WriteString("\n")
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

// logHash shows the member's "hash@index" whole: a hash means nothing
// without the index it was taken at.
func logHash(h string) string {
	if h == "" {
		return "-"
	}
	return Clean(h, 64)
}

// statusDoc is the JSON shape of status --json (a contract, docs/CONTRACTS.md §3.5).
type statusDoc struct {
	Time    string            `json:"time"`
	Node    string            `json:"node"`
	Term    uint64            `json:"term"`
	Leader  string            `json:"leader"`
	Healthy bool              `json:"healthy"`
	Health  Health            `json:"status"`
	Quorum  bool              `json:"quorum"`
	Members []memberDoc       `json:"members"`
	Storage api.StorageStatus `json:"storage"` // documented in the contract, and was missing
	Ring    api.RingStats     `json:"ring"`    // this node's failure detector: suspicions, heartbeat delays
}

type memberDoc struct {
	api.MemberStatus
	UptimeSec int64  `json:"uptime_sec"`
	LastSeen  string `json:"last_seen,omitempty"` // offline members: when this node last saw it online
}

func statusJSON(st api.ClusterStatus, v StatusView) statusDoc {
	h, _, _ := ClusterHealth(st)
	d := statusDoc{Time: v.now().UTC().Format(time.RFC3339Nano), Node: st.Node, Term: st.Term, Leader: st.Leader,
		Healthy: h == Healthy, Health: h, Quorum: st.Quorum, Members: []memberDoc{}, Storage: st.Storage, Ring: st.Ring}
	for _, m := range st.Members {
		md := memberDoc{MemberStatus: m, UptimeSec: int64(m.Uptime / time.Second)}
		if at, ok := v.LastSeen[m.ID]; ok && !m.Online {
			md.LastSeen = at.UTC().Format(time.RFC3339)
		}
		d.Members = append(d.Members, md)
	}
	return d
}
