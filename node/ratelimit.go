package node

import (
	"sync/atomic"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/config"
)

// Defaults of the cluster-wide allowance per user, the same as the SSH
// front end's per-node limit: a pasted paragraph fits the burst. The
// config's [limits] keys set them (the same defaults).
const (
	DefaultPostRate  = config.DefaultPostRate  // posts per second per user, sustained
	DefaultPostBurst = config.DefaultPostBurst // posts at once per user
)

// postLimiter is the leader's token bucket per user for posts and direct
// messages. Every post is placed by the leader, so one bucket there is the
// allowance for the whole cluster: posting through every node gives no
// more (each front end also keeps its own per-node limit, which protects
// that node). It is a proposal-time decision, like the leader's kind
// check: a refused post never reaches the log, so it need not be
// deterministic, and a new leader starts with full buckets.
// Driver-only.
type postLimiter struct {
	// def is everyone's allowance but the bots' (rate <= 0: no limit);
	// a reload replaces it (SetPostLimits), the driver reads it.
	def     atomic.Pointer[allowance]
	buckets map[string]*tokenBucket
	sweep   time.Time
	bots    map[string]config.Bot // by key fingerprint, filled on first use
	// frontBots is the config's [[bot]] entries by key fingerprint for
	// the front ends (PostAllowance, every post), made on first use: a
	// fingerprint is a key parse and a SHA-256, per bot, per post.
	frontBots atomic.Pointer[map[string]config.Bot]
	// reloaded, once set (SetBotAllowances, a config reload), replaces
	// the config's [[bot]] entries; read by the driver and by sessions.
	reloaded atomic.Pointer[map[string]config.Bot]
}

type tokenBucket struct {
	tokens float64
	last   time.Time
}

// newPostLimiter makes the leader's limiter of a node: o.PostRate and
// o.PostBurst, or where they are 0 the config's [limits].
func newPostLimiter(o Options) *postLimiter {
	rate, burst := o.PostRate, o.PostBurst
	if c := o.Config; c != nil {
		if rate == 0 {
			rate = c.Limits.PostRate
		}
		if burst == 0 {
			burst = c.Limits.PostBurst
		}
	}
	l := &postLimiter{buckets: map[string]*tokenBucket{}}
	l.set(rate, burst)
	return l
}

// set makes rate and burst everyone's allowance but the bots': rate 0 is
// DefaultPostRate and negative no limit, burst <= 0 DefaultPostBurst.
func (l *postLimiter) set(rate float64, burst int) {
	switch {
	case rate == 0:
		rate = DefaultPostRate
	case rate < 0:
		rate = 0
	}
	if burst <= 0 {
		burst = DefaultPostBurst
	}
	l.def.Store(&allowance{rate: rate, burst: float64(burst)})
}

// SetPostLimits replaces every user's allowance but the bots' (a reload
// of [limits]): the leader's buckets use it from the next post, each
// keeping the tokens it has (at most the new burst). Safe from any
// goroutine.
func (n *Node) SetPostLimits(rate float64, burst int) { n.posts.set(rate, burst) }

// PostLimits is every user's allowance but the bots' now.
func (n *Node) PostLimits() (rate float64, burst int) {
	a := n.posts.def.Load()
	return a.rate, int(a.burst)
}

// limited reports whether an event of this body counts against its
// author's allowance: messages people write, their edits and reactions
// (a deletion only takes away).
func limited(b eventlog.Body) bool {
	switch b.(type) {
	case *eventlog.MessagePosted, *eventlog.DirectMessage, *eventlog.MessageEdited, *eventlog.ReactionSet:
		return true
	}
	return false
}

// allowance is one user's rate and burst, when it differs from the
// limiter's default (a [[bot]] key in cluster.toml).
type allowance struct {
	rate, burst float64
}

// take takes one token of user's at now, or returns the refusal with the
// wait until the next one. al, if not nil, is the user's own allowance.
func (l *postLimiter) take(user string, now time.Time, al *allowance) *api.RateLimited {
	def := l.def.Load()
	rate, burst := def.rate, def.burst
	if al != nil {
		rate, burst = al.rate, al.burst
	}
	if rate <= 0 {
		return nil
	}
	l.gc(now, def)
	b := l.buckets[user]
	if b == nil {
		b = &tokenBucket{tokens: burst, last: now}
		l.buckets[user] = b
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(burst, b.tokens+el.Seconds()*rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return nil
	}
	return &api.RateLimited{Wait: time.Duration((1 - b.tokens) / rate * float64(time.Second))}
}

// botAllowance is the allowance of the [[bot]] key that owns user's name,
// or nil for a person (the default). The name's owner comes from the
// replicated identity, so every leader finds the same key. Driver-only.
func (n *Node) botAllowance(user string) *allowance {
	bots := n.posts.bots
	if r := n.posts.reloaded.Load(); r != nil {
		bots = *r
	} else if len(n.cfg.Bots) == 0 {
		return nil
	} else if bots == nil {
		n.posts.bots = n.cfg.BotAllowances()
		bots = n.posts.bots
	}
	fp, ok := n.state.Identity.Lookup(user)
	if !ok {
		return nil
	}
	b, ok := bots[fp]
	if !ok {
		return nil
	}
	return &allowance{rate: b.Rate, burst: float64(b.BurstOrDefault())}
}

// PostAllowance implements api.Backend: the rate and burst of the [[bot]]
// key that owns user's name, or 0, 0 for a person (the default applies).
func (n *Node) PostAllowance(user string) (rate float64, burst int) {
	bots := n.posts.reloaded.Load()
	if bots == nil {
		if len(n.cfg.Bots) == 0 {
			return 0, 0
		}
		if bots = n.posts.frontBots.Load(); bots == nil {
			m := n.cfg.BotAllowances() // two sessions may both make it: the same map
			n.posts.frontBots.Store(&m)
			bots = &m
		}
	}
	if fp, ok := n.state.Identity.Lookup(user); ok {
		if b, ok := (*bots)[fp]; ok {
			return b.Rate, b.BurstOrDefault()
		}
	}
	return 0, 0
}

// SetBotAllowances replaces the [[bot]] allowances (a reload of the
// config): the leader's buckets and the front ends' PostAllowance use them
// from the next post. Safe from any goroutine.
func (n *Node) SetBotAllowances(c *config.Config) {
	m := c.BotAllowances()
	n.posts.reloaded.Store(&m)
}

// gc forgets buckets idle long enough to be full at the allowance def,
// once a minute, so memory follows the users posting now.
func (l *postLimiter) gc(now time.Time, def *allowance) {
	if now.Sub(l.sweep) < time.Minute || def.rate <= 0 {
		return
	}
	l.sweep = now
	full := time.Duration(def.burst / def.rate * float64(time.Second))
	for u, b := range l.buckets {
		if now.Sub(b.last) > full {
			delete(l.buckets, u)
		}
	}
}
