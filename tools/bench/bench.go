package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Limits: the generator refuses anything larger.
const (
	MaxSessions = 20000
	MaxRate     = 10000 // messages/s
	MaxDuration = time.Hour
)

// Config is one run. Zero fields take the defaults noted.
type Config struct {
	Addr     string        // host:port of the node's SSH server; loopback only
	Sessions int           // concurrent chat sessions (default 20)
	Posters  int           // how many of them post (default 3)
	Rate     float64       // messages/s, all posters together (default 10)
	Duration time.Duration // posting time (default 10s)
	Ramp     float64       // new sessions/s while connecting (default 50)
	Room     string        // default "general"
	Exec     bool          // post through `post` exec sessions instead of typing into the app
	PID      int           // server pid for CPU and memory figures (0: none)

	Width, Height  int           // PTY size (default 80×24)
	ConnectTimeout time.Duration // per session, dial to first screen (default 10s)
	Drain          time.Duration // after the last post, wait at most this for deliveries (default 5s)
	Settle         time.Duration // after connecting, before measuring memory: at most this, until the server is idle with PID (default 1s)
	Prefix         string        // user names are Prefix-N (default "b" + 4 random hex digits)
	Logf           func(format string, args ...any)
}

func (c *Config) setDefaults() {
	defInt := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	defDur := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	defInt(&c.Sessions, 20)
	defInt(&c.Posters, 3)
	defInt(&c.Width, 80)
	defInt(&c.Height, 24)
	defDur(&c.Duration, 10*time.Second)
	defDur(&c.ConnectTimeout, 10*time.Second)
	defDur(&c.Drain, 5*time.Second)
	defDur(&c.Settle, time.Second)
	if c.Rate <= 0 {
		c.Rate = 10
	}
	if c.Ramp <= 0 {
		c.Ramp = 50
	}
	if c.Room == "" {
		c.Room = "general"
	}
	if c.Prefix == "" {
		c.Prefix = "b" + randHex(2)
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

// Validate checks the bounds and that Addr is a loopback address.
func (c *Config) Validate() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", c.Addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--addr %s: only loopback addresses are allowed", c.Addr)
	}
	switch {
	case c.Sessions > MaxSessions:
		return fmt.Errorf("--sessions %d: at most %d", c.Sessions, MaxSessions)
	case c.Posters > c.Sessions:
		return fmt.Errorf("--posters %d is more than --sessions %d", c.Posters, c.Sessions)
	case c.Rate > MaxRate:
		return fmt.Errorf("--rate %g: at most %d", c.Rate, MaxRate)
	case c.Duration > MaxDuration:
		return fmt.Errorf("--duration %s: at most %s", c.Duration, MaxDuration)
	case c.Width < 20 || c.Height < 5:
		return errors.New("the PTY must be at least 20×5")
	}
	return nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// bench is one run's shared state.
type bench struct {
	cfg     Config
	tok     tokens
	maxMsgs int
	sent    []atomic.Int64 // send time (unix ns) by token seq; 0 = not sent
	poster  []int32        // session index that posted each seq
	nsent   atomic.Int64
}

func (b *bench) sentAt(seq int) time.Time {
	if seq >= len(b.sent) {
		return time.Time{}
	}
	ns := b.sent[seq].Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func (b *bench) posterOf(seq int) int { return int(b.poster[seq]) }

// Run performs one bounded run and reports it. It returns an error only
// when the run could not start; failures during it are in the Result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	maxMsgs := int(math.Ceil(cfg.Rate*cfg.Duration.Seconds())) + 1
	b := &bench{cfg: cfg, tok: newTokens(randHex(2)), maxMsgs: maxMsgs,
		sent: make([]atomic.Int64, maxMsgs), poster: make([]int32, maxMsgs)}
	// Every phase is bounded; this is the backstop for the whole run.
	total := time.Duration(float64(cfg.Sessions)/cfg.Ramp*float64(time.Second)) + cfg.ConnectTimeout +
		cfg.Settle + cfg.Duration + cfg.Drain + 30*time.Second
	ctx, cancel := context.WithTimeout(ctx, total)
	defer cancel()
	res := &Result{Addr: cfg.Addr, Room: cfg.Room, Sessions: cfg.Sessions, Posters: cfg.Posters,
		Rate: cfg.Rate, Duration: cfg.Duration, Ramp: cfg.Ramp, Exec: cfg.Exec, PID: cfg.PID}
	if cfg.Posters > 0 && cfg.Rate/float64(cfg.Posters) > 10 {
		res.note("%.1f messages/s per poster is above the server's default per-user rate limit (10/s): expect refusals",
			cfg.Rate/float64(cfg.Posters))
	}
	rss0 := b.rss(res)
	live := b.connectAll(ctx, res)
	defer closeAll(live)
	if len(live) == 0 {
		return res, nil
	}
	b.settle(ctx, res)
	if rss1 := b.rss(res); rss0 > 0 && rss1 > 0 {
		res.RSSBefore, res.RSSAfter = rss0, rss1
		res.RSSPerSession = (rss1 - rss0) / int64(len(live))
	}
	cpu0, _ := b.cpu()
	t0 := time.Now()
	b.post(ctx, live, res)
	b.drain(ctx, live, res)
	res.Elapsed = time.Since(t0)
	if cpu1, ok := b.cpu(); ok && cfg.PID > 0 {
		res.ServerCPU = cpu1 - cpu0
	}
	b.tally(live, res)
	return res, nil
}

// settle waits Settle after connecting; with a pid it stops as soon as the
// server has calmed down (one second using under a fifth of the busiest
// second so far, or under 10% of a core): a connect storm leaves work
// behind (presence updates, redraws) that would otherwise be measured as
// delivery latency.
func (b *bench) settle(ctx context.Context, res *Result) {
	start := time.Now()
	cpu0, ok := b.cpu()
	defer func() {
		res.SettleTime = time.Since(start)
		if cpu1, ok := b.cpu(); ok {
			res.SettleCPU = cpu1 - cpu0
		}
	}()
	if !ok {
		sleepCtx(ctx, b.cfg.Settle)
		return
	}
	prev, peak := cpu0, time.Duration(0)
	for time.Since(start) < b.cfg.Settle && sleepCtx(ctx, time.Second) {
		cur, ok := b.cpu()
		used := cur - prev
		if !ok || used < max(100*time.Millisecond, peak/5) {
			return
		}
		prev, peak = cur, max(peak, used)
	}
}

func (b *bench) rss(res *Result) int64 {
	if b.cfg.PID <= 0 {
		return 0
	}
	v, err := procRSS(b.cfg.PID)
	if err != nil {
		res.note("memory of pid %d: %v", b.cfg.PID, err)
		return 0
	}
	return v
}

func (b *bench) cpu() (time.Duration, bool) {
	if b.cfg.PID <= 0 {
		return 0, false
	}
	v, err := procCPU(b.cfg.PID)
	return v, err == nil
}

// connectAll opens the sessions at Ramp per second and waits for all of
// them to be ready or to fail.
func (b *bench) connectAll(ctx context.Context, res *Result) []*session {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		live []*session
	)
	start := time.Now()
	for i := range b.cfg.Sessions {
		at := start.Add(time.Duration(float64(i) / b.cfg.Ramp * float64(time.Second)))
		if !sleepCtx(ctx, time.Until(at)) {
			break
		}
		s, err := newSession(b, i)
		if err != nil {
			res.fail("session %d: %v", i, err)
			continue
		}
		s.seen = make([]bool, b.maxMsgs)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.connect(ctx); err != nil {
				mu.Lock()
				res.ConnectFailed++
				mu.Unlock()
				res.fail("connect %s: %v", s.user, err)
				return
			}
			mu.Lock()
			live = append(live, s)
			res.connect = append(res.connect, s.readyAt)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Connected = len(live)
	res.ConnectElapsed = time.Since(start)
	sort.Slice(live, func(i, j int) bool { return live[i].i < live[j].i })
	return live
}

// post sends Rate messages/s for Duration, round-robin over the posters
// (the first Posters live sessions).
func (b *bench) post(ctx context.Context, live []*session, res *Result) {
	posters := live[:min(b.cfg.Posters, len(live))]
	if len(posters) == 0 {
		return
	}
	var wg sync.WaitGroup
	inflight := make(chan struct{}, 64) // exec mode: bounded concurrent posts
	start := time.Now()
	for seq := 0; seq < b.maxMsgs-1; seq++ {
		at := start.Add(time.Duration(float64(seq) / b.cfg.Rate * float64(time.Second)))
		if at.Sub(start) >= b.cfg.Duration || !sleepCtx(ctx, time.Until(at)) {
			break
		}
		p := posters[seq%len(posters)]
		token := b.tok.make(seq)
		b.poster[seq] = int32(p.i)
		b.sent[seq].Store(time.Now().UnixNano())
		b.nsent.Add(1)
		if !b.cfg.Exec {
			p.write([]byte("bench " + token + "\r"))
			continue
		}
		select {
		case inflight <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-inflight }()
			if err := p.post("bench "+token, token); err != nil {
				res.addSendFailed()
				res.fail("post %s: %v", token, err)
			}
		}()
	}
	wg.Wait()
}

// drain waits until every session saw every token it should, or Drain
// passes.
func (b *bench) drain(ctx context.Context, live []*session, res *Result) {
	deadline := time.Now().Add(b.cfg.Drain)
	want := b.expected(live)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		got := int64(0)
		for _, s := range live {
			got += int64(s.seenCount())
		}
		if got >= want {
			return
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
}

// expected is one delivery per sent message per live session other than
// the poster's own.
func (b *bench) expected(live []*session) int64 {
	idx := map[int]bool{}
	for _, s := range live {
		idx[s.i] = true
	}
	n := b.nsent.Load()
	var want int64
	for seq := range n {
		others := len(live)
		if idx[b.posterOf(int(seq))] {
			others--
		}
		want += int64(others)
	}
	return want
}

func (b *bench) tally(live []*session, res *Result) {
	res.Sent = int(b.nsent.Load())
	res.Expected = b.expected(live)
	var lat []time.Duration
	sent := int(b.nsent.Load())
	for _, s := range live {
		n, l := s.counts()
		res.Seen += int64(n)
		lat = append(lat, l...)
		own := 0
		for seq := range sent {
			if b.posterOf(seq) == s.i {
				own++
			}
		}
		if miss := sent - own - n; miss > 0 {
			res.SessionsMissing++
			res.WorstMissing = max(res.WorstMissing, miss)
		}
		select {
		case <-s.closed:
			res.Dropped++
		default:
		}
	}
	res.Missing = res.Expected - res.Seen
	for _, p := range live[:min(b.cfg.Posters, len(live))] {
		if n, tail := p.ownSeen(); n == 0 && res.Sent > 0 {
			res.fail("poster %s never saw its own messages; its screen ended with: %q", p.user, tail)
		}
	}
	b.unseen(live, res)
	res.latency = lat
	if res.ServerCPU > 0 && res.Seen > 0 {
		res.CPUPerDelivery = res.ServerCPU / time.Duration(res.Seen)
	}
	res.finish()
}

// unseen reports messages that no other session saw, with the screen of
// the first such message's poster: lost before the server committed it
// (typed but not sent, refused) rather than lost on the way out.
func (b *bench) unseen(live []*session, res *Result) {
	byIndex := map[int]*session{}
	for _, s := range live {
		byIndex[s.i] = s
	}
	for seq := range int(b.nsent.Load()) {
		seenBy := 0
		for _, s := range live {
			if s.i != b.posterOf(seq) && s.sawSeq(seq) {
				seenBy++
			}
		}
		if seenBy > 0 {
			continue
		}
		res.Unseen++
		if res.Unseen == 1 {
			if p := byIndex[b.posterOf(seq)]; p != nil {
				_, tail := p.ownSeen()
				res.fail("%s was seen by no session; its poster %s's screen ended with: %q", b.tok.make(seq), p.user, tail)
			}
		}
	}
}

func closeAll(ss []*session) {
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Add(1)
		go func() { defer wg.Done(); s.close() }()
	}
	wg.Wait()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
