package config

import "strings"

// Log configures a node's log. The level is one of the keys a running node
// can change (SIGHUP, `ssh admin@node reload`); `syncnet node --log-level`
// overrides it.
type Log struct {
	// Level is debug, info, warn or error ("": info).
	Level string `toml:"level"`
}

// LogLevel is the configured level, "info" when unset.
func (c *Config) LogLevel() string {
	if c.Log.Level == "" {
		return "info"
	}
	return strings.ToLower(c.Log.Level)
}

func (c *Config) validateLog(bad func(string, string, ...any)) {
	switch c.LogLevel() {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "log.level %q: use debug, info, warn or error", c.Log.Level)
	}
}
