package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// metricsCluster is a three-node cluster whose nodes serve metrics on
// pre-bound loopback listeners (SYNCNET_LISTEN_FDS metrics=7), written into
// the config as each node's metrics_port so a restart binds it again.
func metricsCluster(t *testing.T) (*cluster, map[string]int) {
	t.Helper()
	c := newCluster(t, 3, clusterOpts{noLaunch: true})
	ports := map[string]int{}
	files := map[string]*os.File{}
	text, err := os.ReadFile(c.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(text)
	for _, id := range c.ids {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[id] = l.Addr().(*net.TCPAddr).Port
		files[id], err = l.(*net.TCPListener).File()
		l.Close()
		if err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("election_port = %d\n", c.nodes[id].ports[3])
		cfg = strings.Replace(cfg, line, line+fmt.Sprintf("metrics_port = %d\n", ports[id]), 1)
	}
	if err := os.WriteFile(c.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, id := range c.ids {
		p := c.nodes[id]
		logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(binPath, "node", "--config", c.cfgPath, "--id", id, "--log-level", logLevel())
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.ExtraFiles = append(append([]*os.File{}, c.unlaunched[id]...), files[id])
		cmd.Env = append(os.Environ(), "SYNCNET_LISTEN_FDS=ssh=3,peer=4,heartbeat=5,election=6,metrics=7")
		err = cmd.Start()
		logf.Close()
		for _, f := range cmd.ExtraFiles {
			f.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		p.mu.Lock()
		p.cmd, p.done, p.stopped = cmd, done, false
		p.mu.Unlock()
	}
	c.unlaunched = nil
	return c, ports
}

// scrape is one /metrics answer: sample ("name{labels}") -> value.
type scrape map[string]float64

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$`)

func getMetrics(t *testing.T, port int) scrape {
	t.Helper()
	s, err := fetchMetrics(port)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fetchMetrics(port int) (scrape, error) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return nil, fmt.Errorf("scrape :%d: %v", port, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape :%d: %s", port, resp.Status)
	}
	s := scrape{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if m := sampleLine.FindStringSubmatch(sc.Text()); m != nil {
			v, err := strconv.ParseFloat(m[2], 64)
			if err == nil {
				s[m[1]] = v
			}
		}
	}
	return s, sc.Err()
}

// openChat opens the chat app (a PTY session) as user at addr, and reads
// its screen until the test ends; shown reports whether text has been on it.
func openChat(t *testing.T, addr, user string, key ssh.Signer) (shown func(text string) bool) {
	t.Helper()
	cc, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	sess, err := cc.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", 40, 120, ssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var screen []byte
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := out.Read(buf)
			mu.Lock()
			screen = append(screen, buf[:n]...)
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return func(text string) bool {
		mu.Lock()
		defer mu.Unlock()
		return bytes.Contains(screen, []byte(text))
	}
}

func probe(port int, path string) (int, string) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestMetricsMoveWithPostsAndALeaderKill scrapes real nodes while posts go
// through a follower and while the leader is killed: the post counter and
// commit latency histogram of the node posted through, every node's commit
// index and messages, the WAL's fsyncs and group commits move; after the
// kill the survivors show a newer term, an election counted, the dead
// member down, a new leader; /healthz and /readyz answer 200 throughout on
// the majority. Every node shows a round trip to each peer.
func TestMetricsMoveWithPostsAndALeaderKill(t *testing.T) {
	started := time.Now()
	c, ports := metricsCluster(t)
	leader := c.waitLeader()
	var follower string
	for _, id := range c.ids {
		if id != leader {
			follower = id
			break
		}
	}
	before := map[string]scrape{}
	for _, id := range c.ids {
		before[id] = getMetrics(t, ports[id])
		if code, body := probe(ports[id], "/readyz"); code != 200 {
			t.Fatalf("%s /readyz = %d %q with a healthy cluster", id, code, body)
		}
	}
	leaders := 0
	for _, id := range c.ids {
		leaders += int(before[id]["syncnet_is_leader"])
		if before[id][fmt.Sprintf(`syncnet_leader{leader=%q}`, leader)] != 1 {
			t.Errorf("%s does not name %s as leader: %v", id, leader, before[id])
		}
	}
	if leaders != 1 {
		t.Errorf("%d nodes say they lead", leaders)
	}
	// A chat app session on the node posted through, so its fan-out
	// delivers every post (syncnet_fanout_delivered_total): once a probe
	// post is on its screen, it follows #general.
	shown := openChat(t, c.nodes[follower].sshAddr(), "bob", c.userKey("bob"))
	if _, err := c.post(follower, "alice", "general", "chatprobe42", "metrics-probe"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); !shown("chatprobe42"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("bob's chat session on %s never showed the probe post", follower)
		}
	}
	before[follower] = getMetrics(t, ports[follower])
	// A scraper reads the node posted through all along the posts: every
	// scrape is answered, and its commit index never goes back.
	stopScrape, scraped := make(chan struct{}), make(chan error, 1)
	go func() {
		last, n := 0.0, 0
		for {
			select {
			case <-stopScrape:
				if n == 0 {
					scraped <- fmt.Errorf("no scrape of %s during the posts", follower)
				}
				close(scraped)
				return
			default:
			}
			s, err := fetchMetrics(ports[follower])
			if err == nil && s["syncnet_commit_index"] < last {
				err = fmt.Errorf("%s's commit index went back from %v to %v", follower, last, s["syncnet_commit_index"])
			}
			if err != nil {
				scraped <- err
				close(scraped)
				return
			}
			last, n = s["syncnet_commit_index"], n+1
			time.Sleep(10 * time.Millisecond)
		}
	}()
	const posts = 20
	for i := 0; i < posts; i++ {
		if _, err := c.post(follower, "alice", "general", fmt.Sprintf("m%d", i), fmt.Sprintf("metrics-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	close(stopScrape)
	for err := range scraped {
		t.Error(err)
	}
	// An admin command with a key that is not an admin's: refused, counted
	// by reason, and the log names the key (issue 14: it said key=true).
	if _, err := c.run(follower, "admin", c.userKey("mallory"), 10*time.Second, "status"); err == nil {
		t.Errorf("mallory's key ran status as admin on %s", follower)
	}
	after := map[string]scrape{}
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range c.ids {
		for {
			after[id] = getMetrics(t, ports[id])
			if after[id]["syncnet_messages_total"]-before[id]["syncnet_messages_total"] >= posts || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		b, a := before[id], after[id]
		for _, name := range []string{"syncnet_messages_total", "syncnet_commit_index", "syncnet_applied_index"} {
			if a[name]-b[name] < posts {
				t.Errorf("%s %s moved %v -> %v after %d posts", id, name, b[name], a[name], posts)
			}
		}
		for _, name := range []string{"syncnet_wal_fsync_duration_seconds_count", "syncnet_wal_group_commits_total", "syncnet_wal_records_total", "syncnet_wal_bytes"} {
			if a[name] <= b[name] {
				t.Errorf("%s %s did not grow: %v -> %v", id, name, b[name], a[name])
			}
		}
	}
	fa, fb := after[follower], before[follower]
	if got := fa[`syncnet_posts_total{kind="post",result="committed"}`] - fb[`syncnet_posts_total{kind="post",result="committed"}`]; got != posts {
		t.Errorf("%s counted %v committed posts, want %d", follower, got, posts)
	}
	if got := fa[`syncnet_commit_latency_seconds_count{kind="post"}`] - fb[`syncnet_commit_latency_seconds_count{kind="post"}`]; got != posts {
		t.Errorf("%s commit latency histogram has %v more observations, want %d", follower, got, posts)
	}
	if fa["syncnet_ssh_connects_total"]-fb["syncnet_ssh_connects_total"] < posts {
		t.Errorf("%s ssh connects moved %v -> %v", follower, fb["syncnet_ssh_connects_total"], fa["syncnet_ssh_connects_total"])
	}
	if got := fa["syncnet_fanout_delivered_total"] - fb["syncnet_fanout_delivered_total"]; got < posts {
		t.Errorf("%s's fan-out delivered %v events to its chat session, want at least the %d posts", follower, got, posts)
	}
	if got := fa[`syncnet_ssh_refusals_total{reason="not_admin"}`] - fb[`syncnet_ssh_refusals_total{reason="not_admin"}`]; got != 1 {
		t.Errorf("%s counted %v refusals of a non-admin key as admin, want 1", follower, got)
	}
	if log, _ := os.ReadFile(c.nodes[follower].logPath); !regexp.MustCompile(`msg="ssh connect" .*user=alice .*key=SHA256:[A-Za-z0-9+/]{43}`).Match(log) ||
		!regexp.MustCompile(`msg="ssh refused" .*user=admin .*key=SHA256:[A-Za-z0-9+/]{43} why=not_admin`).Match(log) {
		t.Errorf("%s's log does not name the key of each connect and refusal:\n%s", follower, tail(c.nodes[follower].logPath, 20))
	}
	// Every node measures its round trip to every peer (a ping on each
	// link about once a second): a value for each, above zero and below
	// the time the cluster has run.
	for _, id := range c.ids {
		for deadline := time.Now().Add(10 * time.Second); ; {
			s, missing := getMetrics(t, ports[id]), ""
			for _, p := range c.ids {
				if p == id {
					continue
				}
				n, sum := s[fmt.Sprintf(`syncnet_peer_rtt_seconds_count{peer=%q}`, p)], s[fmt.Sprintf(`syncnet_peer_rtt_seconds_sum{peer=%q}`, p)]
				if n == 0 {
					missing = p
					continue
				}
				if mean := sum / n; !(mean > 0) || mean > time.Since(started).Seconds() {
					t.Errorf("%s: round trip to %s %v s (mean of %v)", id, p, mean, n)
				}
			}
			if missing == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s measured no round trip to %s", id, missing)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if la := after[leader]; la[fmt.Sprintf(`syncnet_replication_lag_entries{follower=%q}`, follower)] != 0 {
		// Followers report their commit index in every heartbeat: idle, the lag is 0.
		time.Sleep(time.Second)
		if v := getMetrics(t, ports[leader])[fmt.Sprintf(`syncnet_replication_lag_entries{follower=%q}`, follower)]; v != 0 {
			t.Errorf("idle cluster: the leader reports lag %v for %s", v, follower)
		}
	}

	c.kill9(leader)
	var next string
	deadline = time.Now().Add(15 * time.Second)
	for next == "" || next == leader {
		s := getMetrics(t, ports[follower])
		for k, v := range s {
			if strings.HasPrefix(k, "syncnet_leader{") && v == 1 {
				next = strings.TrimSuffix(strings.TrimPrefix(k, `syncnet_leader{leader="`), `"}`)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new leader in %s's metrics after the kill", follower)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, id := range c.ids {
		if id == leader {
			continue
		}
		a := after[id]
		var s scrape
		for deadline := time.Now().Add(10 * time.Second); ; {
			s = getMetrics(t, ports[id])
			if s[fmt.Sprintf(`syncnet_member_up{member=%q}`, leader)] == 0 && s[fmt.Sprintf(`syncnet_leader{leader=%q}`, next)] == 1 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if s["syncnet_term"] <= a["syncnet_term"] || s["syncnet_elections_total"] <= a["syncnet_elections_total"] {
			t.Errorf("%s: term %v -> %v, elections %v -> %v after the leader was killed", id,
				a["syncnet_term"], s["syncnet_term"], a["syncnet_elections_total"], s["syncnet_elections_total"])
		}
		if s["syncnet_members_online"] != 2 || s[fmt.Sprintf(`syncnet_member_up{member=%q}`, leader)] != 0 {
			t.Errorf("%s: members online %v, %s up %v", id, s["syncnet_members_online"], leader, s[fmt.Sprintf(`syncnet_member_up{member=%q}`, leader)])
		}
		if s["syncnet_quorum"] != 1 {
			t.Errorf("%s: no quorum with 2 of 3", id)
		}
		// The election line names who was elected, whichever node logs it.
		if log, _ := os.ReadFile(c.nodes[id].logPath); !regexp.MustCompile(fmt.Sprintf(`msg="election: %s leads term \d+" node=%s elected=%s term=\d+ this_node=`, next, id, next)).Match(log) {
			t.Errorf("%s's log does not say %s was elected:\n%s", id, next, tail(c.nodes[id].logPath, 20))
		}
		if code, body := probe(ports[id], "/readyz"); code != 200 {
			t.Errorf("%s /readyz = %d %q with 2 of 3 up", id, code, body)
		}
	}
	if _, err := c.post(next, "alice", "general", "after the kill", "metrics-after"); err != nil {
		t.Fatal(err)
	}
}

// TestReadyzFalseOnANodeCutOffFromTheMajority: a node that no longer hears
// a majority (the two others frozen) says not ready, with the reason,
// while /healthz stays 200 (it is alive and its log is fine); once the
// others are back it is ready again.
//
// The leader is frozen a little before the other follower, so for a while
// the lone node has dropped its silent leader but still hears the other
// follower: 2 of 3, no leader. /readyz then says "no leader known", not
// "no quorum", and whenever it does say "no quorum" the members online of
// the next scrape are 1 (they come from one view of the node; /readyz used
// to say "no quorum" for a missing leader while members online still
// counted the other follower, and this test failed 2 runs in 6).
func TestReadyzFalseOnANodeCutOffFromTheMajority(t *testing.T) {
	c, ports := metricsCluster(t)
	leader := c.waitLeader()
	var lone, other string
	for _, id := range c.ids {
		switch {
		case id == leader:
		case lone == "":
			lone = id
		default:
			other = id
		}
	}
	frozen := []string{leader, other}
	for i, id := range frozen {
		if i > 0 {
			// Longer than a heartbeat interval (100 ms), shorter than the
			// failure timeout (400 ms): other's last heartbeat is newer than
			// the leader's, and no election can begin in between.
			time.Sleep(150 * time.Millisecond)
		}
		if err := c.signal(id, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	}
	cont := func() {
		for _, id := range frozen {
			c.signal(id, syscall.SIGCONT)
		}
	}
	defer cont()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := probe(ports[lone], "/readyz")
		if code == http.StatusServiceUnavailable && strings.Contains(body, "no quorum") {
			break
		}
		if code == http.StatusServiceUnavailable && !strings.Contains(body, "no leader known") {
			t.Errorf("%s with its leader frozen: /readyz = %d %q", lone, code, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s cut off from the majority: /readyz = %d %q", lone, code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := probe(ports[lone], "/healthz"); code != 200 {
		t.Errorf("%s /healthz = %d %q: it is alive", lone, code, body)
	}
	if s := getMetrics(t, ports[lone]); s["syncnet_quorum"] != 0 || s["syncnet_members_online"] != 1 {
		t.Errorf("%s: quorum %v, online %v while cut off", lone, s["syncnet_quorum"], s["syncnet_members_online"])
	}
	if code, body := probe(ports[lone], "/readyz"); !strings.Contains(body, "it hears 1 of 3 members") {
		t.Errorf("%s cut off: /readyz = %d %q", lone, code, body)
	}
	cont()
	deadline = time.Now().Add(15 * time.Second)
	for {
		code, body := probe(ports[lone], "/readyz")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s with the majority back: /readyz = %d %q", lone, code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
