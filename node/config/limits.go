package config

// Limits is each user's allowance of posts and direct messages, for people
// (a [[bot]] key has its own). It holds twice: on the whole cluster (the
// leader's bucket per user: posting through several nodes gives no more)
// and on each node's SSH front end (which protects that node). Both can
// change while the node runs (SIGHUP, `ssh admin@node reload`).
//
//	[limits]
//	post_rate = 10    # posts per second per user, sustained
//	post_burst = 40   # posts at once per user (a pasted paragraph)
type Limits struct {
	PostRate  float64 `toml:"post_rate"`
	PostBurst int     `toml:"post_burst"`
}

// The defaults of [limits]: a person typing never meets them, a pasted
// paragraph fits the burst, a script posting in a loop is paced.
const (
	DefaultPostRate  = 10
	DefaultPostBurst = 40
)

func (c *Config) validateLimits(bad func(key, format string, args ...any)) {
	if l := c.Limits; !(l.PostRate > 0) {
		bad("limits.post_rate", "limits.post_rate must be a positive number of posts per second per user (got %v)", l.PostRate)
	}
	if l := c.Limits; l.PostBurst < 1 {
		bad("limits.post_burst", "limits.post_burst must be at least 1 post (got %d)", l.PostBurst)
	}
}
