package up

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/config"
	"github.com/syncnet/syncnet/node/metrics"
	"github.com/syncnet/syncnet/sshui"
)

// announceHealthy waits until the cluster is healthy, as one node's
// /status says, then prints the status table and the ssh commands to try.
// It needs a node with a metrics_port; without one it prints the commands
// at once. Later, it says when the cluster becomes healthy again after a
// node came back.
func announceHealthy(ctx context.Context, cfg *config.Config, o Options, term *terminal, a adopted, pid func(id string) int) {
	var urls []string
	for _, n := range cfg.Nodes {
		if n.MetricsPort != 0 {
			urls = append(urls, "http://"+net.JoinHostPort(dialHost(cfg.Metrics.Host), strconv.Itoa(n.MetricsPort))+"/status")
		}
	}
	if len(urls) == 0 {
		term.printf("%s", tryLines(cfg, o, a, "", pid))
		term.printf("syncnet up: no node has a metrics_port, so the cluster's health is not shown here; ssh -p %d admin@localhost status shows it\n",
			cfg.Nodes[0].SSHPort)
		return
	}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(o.HealthTimeout)
	announced, wasHealthy := false, false
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		st, ok := fetchStatus(ctx, client, urls)
		healthy := false
		if ok {
			h, _, _ := sshui.ClusterHealth(st)
			healthy = h == sshui.Healthy
		}
		switch {
		case !announced && healthy && !settled(st) && time.Now().Before(deadline):
			// Healthy, but some member has not reported the new term
			// yet: its row would say term 0. A heartbeat more.
		case !announced && (healthy || time.Now().After(deadline)):
			announced = true
			if healthy {
				term.printf("syncnet up: the cluster is healthy\n%s", indent(sshui.StatusTable(st, sshui.StatusView{})))
			} else if ok {
				term.printf("syncnet up: the cluster is not healthy after %s; as it stands:\n%s", o.HealthTimeout, indent(sshui.StatusTable(st, sshui.StatusView{})))
			} else {
				term.printf("syncnet up: no node answered on its metrics port within %s\n", o.HealthTimeout)
			}
			term.printf("%s", tryLines(cfg, o, a, st.Leader, pid))
		case announced && healthy && !wasHealthy:
			h, online, _ := sshui.ClusterHealth(st)
			term.printf("syncnet up: cluster %s again: %d/%d online, leader %s, term %d\n", h, online, len(st.Members), st.Leader, st.Term)
		case announced && !healthy && wasHealthy && ok:
			h, online, _ := sshui.ClusterHealth(st)
			term.printf("syncnet up: cluster %s: %d/%d online\n", h, online, len(st.Members))
		}
		if announced {
			wasHealthy = healthy
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// settled reports whether every online member names the term and the
// leader the status has: what a first table should show.
func settled(st api.ClusterStatus) bool {
	for _, m := range st.Members {
		if m.Online && (m.Term != st.Term || m.LeaderID != st.Leader) {
			return false
		}
	}
	return true
}

// fetchStatus asks each node in turn for /status and returns the first
// answer.
func fetchStatus(ctx context.Context, client *http.Client, urls []string) (api.ClusterStatus, bool) {
	for _, u := range urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			continue
		}
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		var d metrics.Status
		err = json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusOK {
			return d.Cluster(), true
		}
	}
	return api.ClusterStatus{}, false
}

// dialHost is where to reach a listener bound to host on this machine.
func dialHost(host string) string {
	switch host {
	case "0.0.0.0", "":
		return "127.0.0.1"
	case "::":
		return "::1"
	}
	return host
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

// tryLines are the exact commands to try, with the real ports (and the
// adopted key, when one was), ending with the kill -9 of a node (the
// leader, when known) that shows failover.
func tryLines(cfg *config.Config, o Options, a adopted, leader string, pid func(id string) int) string {
	host := func(n config.Node) string {
		if n.Host == "127.0.0.1" || n.Host == "::1" {
			return "localhost"
		}
		return n.Host
	}
	me := os.Getenv("USER")
	if me == "" || me == "root" || me == "admin" {
		me = "alice"
	}
	n1, n2 := cfg.Nodes[0], cfg.Nodes[len(cfg.Nodes)-1]
	var lines [][2]string // command, what it shows
	add := func(cmd, what string) { lines = append(lines, [2]string{cmd, what}) }
	add(fmt.Sprintf("ssh -p %d %s@%s", n1.SSHPort, me, host(n1)), "the chat app on "+n1.ID)
	add(fmt.Sprintf("ssh -p %d %s@%s post general \"hello\"", n2.SSHPort, me, host(n2)), "a post through "+n2.ID)
	add(fmt.Sprintf("ssh -p %d %s@%s history general", n1.SSHPort, me, host(n1)), "")
	admin := fmt.Sprintf("ssh -p %d admin@%s status", n2.SSHPort, host(n2))
	switch {
	case a.count > 0:
		add(admin, "admin: your key from "+strings.Join(shortHome(a.from), ", ")+" was adopted")
	default:
		add(admin, "admin: a key listed in [auth] admin_keys")
	}
	add(fmt.Sprintf("%s chat --config %s", shortBinary(o.Binary), o.ConfigPath), "the failover chat client")
	for _, n := range cfg.Nodes {
		if n.MetricsPort != 0 {
			add(fmt.Sprintf("curl -s %s:%d/readyz", dialHost(cfg.Metrics.Host), n.MetricsPort), n.ID+"'s health; /metrics for Prometheus")
			break
		}
	}
	victim, what := n1.ID, n1.ID
	if leader != "" {
		victim, what = leader, leader+", the leader"
	}
	if p := pid(victim); p > 0 {
		add(fmt.Sprintf("kill -9 %d", p), what+": the others carry on, up restarts it")
	}
	// Comments line up after the commands, except after one so long (a
	// binary deep in a build directory) that lining up the others with it
	// would push every comment off an 80-column terminal.
	const maxWidth = 56
	width := 0
	for _, l := range lines {
		if len(l[0]) <= maxWidth {
			width = max(width, len(l[0]))
		}
	}
	var b strings.Builder
	b.WriteString("syncnet up: try, from another terminal:\n")
	for _, l := range lines {
		if l[1] == "" {
			fmt.Fprintf(&b, "  %s\n", l[0])
			continue
		}
		fmt.Fprintf(&b, "  %-*s  # %s\n", width, l[0], l[1])
	}
	return b.String()
}

func shortHome(paths []string) []string {
	home, _ := os.UserHomeDir()
	out := make([]string, len(paths))
	for i, p := range paths {
		if home != "" && strings.HasPrefix(p, home+string(filepath.Separator)) {
			p = "~" + p[len(home):]
		}
		out[i] = p
	}
	return out
}

func shortBinary(bin string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, bin); err == nil && !strings.HasPrefix(rel, "..") {
			if !strings.Contains(rel, string(filepath.Separator)) {
				rel = "." + string(filepath.Separator) + rel // a command in the current directory
			}
			return rel
		}
	}
	return bin
}
