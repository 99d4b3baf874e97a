package config

import (
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// Bot is a [[bot]] entry: a key whose user posts at a bot's pace, not a
// person's. The allowance holds for the user the key owns, on the whole
// cluster (the leader's bucket) and on each node (the SSH front end's).
//
//	[[bot]]
//	key = "ssh-ed25519 AAAA… bridge"   # authorized_keys format
//	rate = 5000                        # posts per second, sustained
//	burst = 10000                      # posts at once (default: one second's worth, at least 40)
type Bot struct {
	Key   string  `toml:"key"`
	Rate  float64 `toml:"rate"`
	Burst int     `toml:"burst"`
}

// Fingerprint is the SHA256 fingerprint of the bot's key ("SHA256:…"), the
// form names are bound to; "" if the key does not parse (Validate says so).
func (b Bot) Fingerprint() string {
	k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(b.Key))
	if err != nil {
		return ""
	}
	return gossh.FingerprintSHA256(k)
}

// BurstOrDefault is Burst, or one second's worth of Rate (at least 40).
func (b Bot) BurstOrDefault() int {
	if b.Burst > 0 {
		return b.Burst
	}
	return max(40, int(b.Rate))
}

// BotAllowances maps each [[bot]] key's fingerprint to its entry.
func (c *Config) BotAllowances() map[string]Bot {
	out := make(map[string]Bot, len(c.Bots))
	for _, b := range c.Bots {
		if fp := b.Fingerprint(); fp != "" {
			out[fp] = b
		}
	}
	return out
}

func (c *Config) validateBots(bad func(key, format string, args ...any)) {
	seen := map[string]bool{}
	for i, b := range c.Bots {
		fp := b.Fingerprint()
		switch {
		case strings.TrimSpace(b.Key) == "":
			bad("bot", "bot %d: key is required (the bot's public key, authorized_keys format)", i+1)
		case fp == "":
			bad("bot", "bot %d: key %q is not a public key in authorized_keys format", i+1, clip(b.Key))
		case seen[fp]:
			bad("bot", "bot %d: key %s is listed twice", i+1, fp)
		}
		seen[fp] = true
		if b.Rate <= 0 {
			bad("bot", "bot %d: rate must be a positive number of posts per second (got %v)", i+1, b.Rate)
		}
		if b.Burst < 0 {
			bad("bot", "bot %d: burst must not be negative (got %d)", i+1, b.Burst)
		}
	}
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
