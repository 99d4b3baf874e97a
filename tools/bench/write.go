package bench

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// This file: `syncnet bench write`, posts through SSH against a running
// cluster, the way bots and scripts write: one exec `post` per message
// over persistent connections, or `post --stream` sessions. It reports
// committed posts/s, latency percentiles, the servers' CPU per 1,000 posts
// (from /proc) and what the nodes' failure detectors did meanwhile (their
// suspicions, the term and leader before and after, the heartbeat delays),
// read with `status --json` (the key must be an admin key).

// WriteConfig is one write benchmark run.
type WriteConfig struct {
	Addrs    []string // every node's SSH address
	Mode     string   // "exec" or "stream"
	Target   string   // "leader" or "spread"
	Conc     int      // concurrent writers (exec) or streams
	Users    int      // exec: distinct users (in-memory keys), so no person's rate limit binds
	Window   int      // stream: lines a stream has sent and not seen acked, at most
	Duration time.Duration
	Warmup   time.Duration
	Size     int // message bytes
	Room     string
	KeyFile  string // stream user's key (a [[bot]] key) and status (an admin key)
	BotUser  string
	PIDs     []int // server processes, for CPU; empty: found from /proc
}

// WriteResult is what one run measured.
type WriteResult struct {
	Mode, Target  string
	Conc          int
	Posts         int64
	Errors        int64
	Seconds       float64
	PerSec        float64
	P50, P99, Max time.Duration
	CPUPer1000    time.Duration // all server processes together
	// ClientCPUPer1000 is this process's own CPU: on one machine the
	// client and the nodes share the cores, so posts/s is bounded by both.
	ClientCPUPer1000 time.Duration
	Suspicions       uint64
	TermBefore       uint64
	TermAfter        uint64
	LeaderBefore     string
	LeaderAfter      string
	HBDelayP99       time.Duration // worst node
	HBDelayMax       time.Duration
	Repeats          uint64 // heartbeats the keepalive repeated for a driver behind its queue
	Overflow         uint64
	ReadDelayMax     time.Duration // arrival (kernel stamp) -> the transport's read, worst node
	FirstError       string
	Load             string
	CPUMeasured      bool
	StatusAvailable  bool
}

// WriteMain is `syncnet bench write [flags]`.
func WriteMain(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("bench write", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var c WriteConfig
	addrs := fs.String("addrs", "127.0.0.1:2222,127.0.0.1:2223,127.0.0.1:2224", "every node's SSH address, comma-separated (loopback only)")
	fs.StringVar(&c.Mode, "mode", "stream", "exec (one `post` exec session per message) or stream (`post --stream` sessions)")
	fs.StringVar(&c.Target, "target", "leader", "leader (every writer on the leader's node) or spread (writers round-robin over the nodes)")
	fs.IntVar(&c.Conc, "c", 64, "concurrent writers (exec) or streams")
	fs.IntVar(&c.Users, "users", 0, "exec: distinct users, each on its own connection (default max(512, -c))")
	fs.IntVar(&c.Window, "window", 64, "stream: unacknowledged lines per stream, at most")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "measured time")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "time before measuring")
	fs.IntVar(&c.Size, "size", 200, "message size in bytes")
	fs.StringVar(&c.Room, "room", "general", "room")
	home, _ := os.UserHomeDir()
	fs.StringVar(&c.KeyFile, "i", filepath.Join(home, ".ssh", "id_ed25519"), "private key: the stream user's (list it as a [[bot]] in cluster.toml) and for status (an admin key)")
	fs.StringVar(&c.BotUser, "user", "benchbot", "stream: the user name the key posts as")
	pids := fs.String("pids", "", "server pids, comma-separated (default: the `syncnet node` processes whose working directory is this one)")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: syncnet bench write [--mode exec|stream] [--target leader|spread] [-c N] [--duration D] [--addrs A,B,C]\n\n"+
			"Posts through SSH to a running cluster and reports committed posts/s, p50/p99 latency, the\n"+
			"servers' (and its own) CPU per 1,000 posts and the failure detectors' suspicions and leader changes.\n"+
			"Stream mode posts as one user with the key -i, which cluster.toml must list as a [[bot]]\n"+
			"(and allow enough sessions per key); exec mode uses in-memory keys, one user per connection.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return UsageError{}
	}
	if fs.NArg() > 0 {
		return UsageError{"unexpected argument " + strconv.Quote(fs.Arg(0))}
	}
	for _, a := range strings.Split(*addrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.Addrs = append(c.Addrs, a)
		}
	}
	for _, p := range strings.Split(*pids, ",") {
		if p = strings.TrimSpace(p); p != "" {
			v, err := strconv.Atoi(p)
			if err != nil {
				return UsageError{"--pids: " + err.Error()}
			}
			c.PIDs = append(c.PIDs, v)
		}
	}
	if err := c.validate(); err != nil {
		return UsageError{err.Error()}
	}
	res, err := RunWrite(ctx, c)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	res.WriteTable(out)
	return nil
}

func (c *WriteConfig) validate() error {
	switch {
	case c.Mode != "exec" && c.Mode != "stream":
		return errors.New("--mode must be exec or stream")
	case c.Target != "leader" && c.Target != "spread":
		return errors.New("--target must be leader or spread")
	case c.Conc < 1 || c.Conc > MaxSessions:
		return fmt.Errorf("-c must be 1..%d", MaxSessions)
	case len(c.Addrs) == 0:
		return errors.New("--addrs is empty")
	case c.Size < 1 || c.Size > 2000:
		return errors.New("--size must be 1..2000")
	case c.Duration <= 0:
		return errors.New("--duration must be positive")
	}
	for _, a := range c.Addrs {
		h, _, err := net.SplitHostPort(a)
		if ip := net.ParseIP(h); err != nil || (h != "localhost" && (ip == nil || !ip.IsLoopback())) {
			return fmt.Errorf("--addrs: %q is not a loopback host:port", a)
		}
	}
	if c.Users == 0 {
		c.Users = max(512, c.Conc)
	}
	c.Users = max(c.Users, c.Conc)
	if c.Window < 1 {
		c.Window = 1
	}
	return nil
}

// nodeStatus is the part of `status --json` the benchmark reads.
type nodeStatus struct {
	Node   string `json:"node"`
	Term   uint64 `json:"term"`
	Leader string `json:"leader"`
	Ring   struct {
		Suspicions uint64 `json:"suspicions"`
		P99        int64  `json:"heartbeat_delay_p99_ns"`
		Max        int64  `json:"heartbeat_delay_max_ns"`
		Repeats    uint64 `json:"keepalive_repeats"`
		Overflow   uint64 `json:"recv_overflow"`
		ReadMax    int64  `json:"read_delay_max_ns"`
	} `json:"ring"`
	Members []struct {
		ID      string `json:"id"`
		SSHPort int    `json:"ssh_port"`
	} `json:"members"`
}

// RunWrite runs one write benchmark.
func RunWrite(ctx context.Context, c WriteConfig) (*WriteResult, error) {
	signer, err := loadSigner(c.KeyFile)
	if err != nil {
		return nil, err
	}
	res := &WriteResult{Mode: c.Mode, Target: c.Target, Conc: c.Conc, Load: loadAvg()}
	before, statusOK := statusAll(c.Addrs, signer)
	res.StatusAvailable = statusOK
	targets := c.Addrs
	if c.Target == "leader" {
		la, err := leaderAddr(c.Addrs, before)
		if err != nil {
			return nil, err
		}
		targets = []string{la}
	}
	if len(c.PIDs) == 0 {
		c.PIDs = findNodePIDs()
	}
	w := &writer{c: c, targets: targets, signer: signer}
	if err := w.connect(ctx); err != nil {
		w.close()
		return nil, err
	}
	defer w.close()
	for _, s := range before {
		res.Suspicions -= s.Ring.Suspicions
		res.Repeats -= s.Ring.Repeats
		res.Overflow -= s.Ring.Overflow
		if s.Leader != "" && res.LeaderBefore == "" {
			res.LeaderBefore, res.TermBefore = s.Leader, s.Term
		}
	}

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	w.start(runCtx, &wg)
	if !sleepCtx(ctx, c.Warmup) {
		stop()
		wg.Wait()
		return nil, ctx.Err()
	}
	cpu0, cpuOK := cpuOf(c.PIDs)
	self0, selfErr := procCPU(os.Getpid())
	n0 := w.done.Load()
	w.measuring.Store(true)
	t0 := time.Now()
	sleepCtx(ctx, c.Duration)
	w.measuring.Store(false)
	elapsed := time.Since(t0)
	n1 := w.done.Load()
	cpu1, cpuOK2 := cpuOf(c.PIDs)
	self1, selfErr2 := procCPU(os.Getpid())
	stop()
	wg.Wait()

	res.Posts, res.Seconds = n1-n0, elapsed.Seconds()
	res.PerSec = float64(res.Posts) / res.Seconds
	res.Errors = w.errs.Load()
	if v := w.firstErr.Load(); v != nil {
		res.FirstError = *v
	}
	w.latMu.Lock()
	res.P50, res.P99, res.Max = percentiles(w.lat)
	w.latMu.Unlock()
	if cpuOK && cpuOK2 && res.Posts > 0 {
		res.CPUMeasured = true
		res.CPUPer1000 = (cpu1 - cpu0) * 1000 / time.Duration(res.Posts)
	}
	if selfErr == nil && selfErr2 == nil && res.Posts > 0 {
		res.ClientCPUPer1000 = (self1 - self0) * 1000 / time.Duration(res.Posts)
	}
	after, _ := statusAll(c.Addrs, signer)
	for _, s := range after {
		res.Suspicions += s.Ring.Suspicions
		res.Repeats += s.Ring.Repeats
		res.Overflow += s.Ring.Overflow
		if s.Leader != "" && res.LeaderAfter == "" {
			res.LeaderAfter, res.TermAfter = s.Leader, s.Term
		}
		res.HBDelayP99 = max(res.HBDelayP99, time.Duration(s.Ring.P99))
		res.HBDelayMax = max(res.HBDelayMax, time.Duration(s.Ring.Max))
		res.ReadDelayMax = max(res.ReadDelayMax, time.Duration(s.Ring.ReadMax))
	}
	if len(after) != len(before) {
		res.Suspicions = 0
		res.StatusAvailable = false
	}
	return res, nil
}

// WriteTable prints the result.
func (r *WriteResult) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "mode %s, target %s, %d writers, load %s\n", r.Mode, r.Target, r.Conc, r.Load)
	fmt.Fprintf(w, "  committed   %d posts in %.1fs = %.0f posts/s (%d errors)\n", r.Posts, r.Seconds, r.PerSec, r.Errors)
	fmt.Fprintf(w, "  latency     p50 %s  p99 %s  max %s\n", ms(r.P50), ms(r.P99), ms(r.Max))
	if r.CPUMeasured {
		fmt.Fprintf(w, "  server CPU  %.3f s per 1,000 posts (all nodes); the client %.3f s\n", r.CPUPer1000.Seconds(), r.ClientCPUPer1000.Seconds())
	} else {
		fmt.Fprintln(w, "  server CPU  not measured (no server pid)")
	}
	if r.StatusAvailable {
		fmt.Fprintf(w, "  detectors   %d suspicions; leader %s term %d -> %s term %d\n",
			r.Suspicions, r.LeaderBefore, r.TermBefore, r.LeaderAfter, r.TermAfter)
		fmt.Fprintf(w, "  heartbeats  arrival->step delay p99 %s max %s, arrival->read max %s (worst node); %d repeated by the keepalive; %d dropped\n",
			ms(r.HBDelayP99), ms(r.HBDelayMax), ms(r.ReadDelayMax), r.Repeats, r.Overflow)
	} else {
		fmt.Fprintln(w, "  detectors   not read (status --json needs an admin key)")
	}
	if r.FirstError != "" {
		fmt.Fprintf(w, "  first error %s\n", r.FirstError)
	}
}

// writer runs the writers.
type writer struct {
	c       WriteConfig
	targets []string
	signer  ssh.Signer
	clients []*ssh.Client

	done      atomic.Int64 // posts committed
	errs      atomic.Int64
	firstErr  atomic.Pointer[string]
	measuring atomic.Bool
	latMu     sync.Mutex
	lat       []time.Duration
	text      string
	seq       atomic.Int64
	runID     string
}

func (w *writer) fail(err error) {
	w.errs.Add(1)
	s := err.Error()
	w.firstErr.CompareAndSwap(nil, &s)
}

func (w *writer) note(d time.Duration) {
	if !w.measuring.Load() {
		return
	}
	w.latMu.Lock()
	w.lat = append(w.lat, d)
	w.latMu.Unlock()
}

// connect opens the connections: exec, one per user (in-memory keys);
// stream, one per stream with the bot key.
func (w *writer) connect(ctx context.Context) error {
	w.runID = randHex(4)
	w.text = strings.Repeat("x", w.c.Size)
	n := w.c.Users
	if w.c.Mode == "stream" {
		n = w.c.Conc
	}
	w.clients = make([]*ssh.Client, n)
	var wg sync.WaitGroup
	var first atomic.Pointer[error]
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			user, signer := w.c.BotUser, w.signer
			if w.c.Mode == "exec" {
				_, priv, _ := ed25519.GenerateKey(rand.Reader)
				signer, _ = ssh.NewSignerFromKey(priv)
				user = fmt.Sprintf("wb%s-%d", w.runID, i)
			}
			cl, err := dialSSH(ctx, w.targets[i%len(w.targets)], user, signer)
			if err != nil {
				first.CompareAndSwap(nil, &err)
				return
			}
			w.clients[i] = cl
		}()
	}
	wg.Wait()
	if e := first.Load(); e != nil {
		return fmt.Errorf("connect: %w", *e)
	}
	return nil
}

func (w *writer) close() {
	for _, c := range w.clients {
		if c != nil {
			_ = c.Close()
		}
	}
}

func (w *writer) start(ctx context.Context, wg *sync.WaitGroup) {
	for i := range w.c.Conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w.c.Mode == "exec" {
				w.execLoop(ctx, i)
			} else {
				w.streamLoop(ctx, w.clients[i])
			}
		}()
	}
}

// execLoop posts one message per exec session, round-robin over its share
// of the connections (users).
func (w *writer) execLoop(ctx context.Context, i int) {
	var mine []*ssh.Client
	for j := i; j < len(w.clients); j += w.c.Conc {
		mine = append(mine, w.clients[j])
	}
	for k := 0; ctx.Err() == nil; k++ {
		cl := mine[k%len(mine)]
		start := time.Now()
		id := fmt.Sprintf("%s-%d", w.runID, w.seq.Add(1))
		out, err := execOnce(cl, "post --id "+id+" "+w.c.Room+" "+w.text)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.fail(fmt.Errorf("%v: %s", err, strings.TrimSpace(out)))
			continue
		}
		w.done.Add(1)
		w.note(time.Since(start))
	}
}

func execOnce(cl *ssh.Client, cmd string) (string, error) {
	s, err := cl.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	return string(out), err
}

// streamLoop keeps one `post --stream` session busy: a writer sends lines
// while fewer than Window are unacknowledged; the reader matches acks to
// send times in order.
func (w *writer) streamLoop(ctx context.Context, cl *ssh.Client) {
	s, err := cl.NewSession()
	if err != nil {
		w.fail(err)
		return
	}
	defer s.Close()
	stdin, err1 := s.StdinPipe()
	stdout, err2 := s.StdoutPipe()
	if err := errors.Join(err1, err2); err != nil {
		w.fail(err)
		return
	}
	if err := s.Start("post --stream"); err != nil {
		w.fail(err)
		return
	}
	window := make(chan time.Time, w.c.Window)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			sent := <-window
			var a struct {
				Index uint64 `json:"index"`
				Error string `json:"error"`
			}
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil || a.Error != "" {
				w.fail(fmt.Errorf("ack %s", sc.Text()))
				continue
			}
			w.done.Add(1)
			w.note(time.Since(sent))
		}
	}()
	bw := bufio.NewWriterSize(stdin, 32<<10)
	line := make([]byte, 0, w.c.Size+128)
loop:
	for ctx.Err() == nil {
		t := time.Now()
		select {
		case window <- t:
		case <-ctx.Done():
			break loop
		case <-readDone:
			break loop
		}
		line = line[:0]
		line = fmt.Appendf(line, `{"room":%q,"text":%q,"id":"%s-%d"}`+"\n", w.c.Room, w.text, w.runID, w.seq.Add(1))
		if _, err := bw.Write(line); err != nil {
			break
		}
		if len(window) == cap(window) || bw.Buffered() > 16<<10 {
			if bw.Flush() != nil {
				break
			}
		} else if bw.Buffered() > 0 && len(window) < 2 {
			_ = bw.Flush()
		}
	}
	_ = bw.Flush()
	_ = stdin.Close()
	select {
	case <-readDone:
	case <-time.After(5 * time.Second):
	}
}

func dialSSH(ctx context.Context, addr, user string, signer ssh.Signer) (*ssh.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	defer stop()
	cc, chans, reqs, err := ssh.NewClientConn(nc, addr, &ssh.ClientConfig{User: user,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	return ssh.NewClient(cc, chans, reqs), nil
}

func loadSigner(path string) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key: %w (give one with -i)", err)
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	return s, nil
}

// statusAll reads `status --json` from every node (as admin); ok is false
// if any could not be read.
func statusAll(addrs []string, signer ssh.Signer) ([]nodeStatus, bool) {
	var out []nodeStatus
	ok := true
	for _, a := range addrs {
		cl, err := dialSSH(context.Background(), a, "admin", signer)
		if err != nil {
			ok = false
			continue
		}
		raw, err := execOnce(cl, "status --json")
		_ = cl.Close()
		var st nodeStatus
		if err != nil || json.Unmarshal([]byte(raw), &st) != nil {
			ok = false
			continue
		}
		out = append(out, st)
	}
	return out, ok
}

// leaderAddr is the SSH address of the node the others name leader.
func leaderAddr(addrs []string, st []nodeStatus) (string, error) {
	for _, s := range st {
		if s.Leader == "" {
			continue
		}
		for _, m := range s.Members {
			if m.ID != s.Leader {
				continue
			}
			for _, a := range addrs {
				if _, p, _ := net.SplitHostPort(a); p == strconv.Itoa(m.SSHPort) {
					return a, nil
				}
			}
		}
	}
	return "", errors.New("--target leader: no leader found with status --json (it needs an admin key, -i)")
}

// findNodePIDs lists the `syncnet node` processes running in this
// directory (where `syncnet up --config cluster.toml` started them), so
// other clusters on the machine are not counted.
func findNodePIDs() []int {
	here, _ := os.Getwd()
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if len(args) > 1 && strings.HasPrefix(filepath.Base(args[0]), "syncnet") && args[1] == "node" && cwd == here {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}

func cpuOf(pids []int) (time.Duration, bool) {
	if len(pids) == 0 {
		return 0, false
	}
	var sum time.Duration
	for _, p := range pids {
		c, err := procCPU(p)
		if err != nil {
			return 0, false
		}
		sum += c
	}
	return sum, true
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
