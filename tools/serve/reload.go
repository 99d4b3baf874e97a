package serve

import (
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"

	"github.com/syncnet/syncnet/node/config"
)

// Live is what a running node's SSH front end can change without a
// restart: its admin keys and session caps. (The log level, the [[bot]]
// allowances and [limits] have their own fields in Reloader.)
type Live interface {
	SetAdminKeys(lines []string) error
	SetSessionCaps(maxSessions, maxPerKey int)
}

// liveKeys are the cluster.toml keys a reload may change; every other
// difference refuses the whole reload.
var liveKeys = map[string]bool{
	"auth.admin_keys": true, "auth.admin_keys_file": true,
	"ssh.max_sessions": true, "ssh.max_sessions_per_key": true,
	"log.level": true,
	"bot":       true, // [[bot]] allowances, when the node takes them (Reloader.Bots)
	// everyone else's allowance, when the node takes it (Reloader.Limits)
	"limits.post_rate": true, "limits.post_burst": true,
}

// Reloader re-reads cluster.toml for a running node and applies what can
// change live, all or nothing.
type Reloader struct {
	Path    string
	Current *config.Config
	// Admin are the admin keys in force (what the server was given, or
	// the last reload applied): a reload compares the file's keys with
	// these, not with a second reading of the same file.
	Admin      []string
	Live       Live
	Level      *slog.LevelVar
	LevelFixed bool // --log-level given: the config's log.level does not apply
	Log        *slog.Logger
	// Bots, when set, applies new [[bot]] allowances (node.SetBotAllowances);
	// without it a change of them is refused like any fixed key.
	Bots func(*config.Config)
	// Limits, when set, applies new [limits] (every user's allowance but
	// the bots', at the leader and on this node's front end); without it a
	// change of them is refused like any fixed key.
	Limits func(rate float64, burst int)
	// Adopt: admin keys adopted on loopback count as configured (see
	// LocalAdminKeys), so a reload that keeps admin_keys empty keeps them.
	Adopt func(*config.Config) ([]string, error)
}

// Reload loads the file again and applies it: nil and a list of what
// changed (empty: nothing did), or an error naming what cannot change live
// or what is wrong, with nothing changed.
func (r *Reloader) Reload() ([]string, error) {
	next, err := config.Load(r.Path)
	if err != nil {
		return nil, fmt.Errorf("reload refused, nothing changed: %w", err)
	}
	fixed := fixedChanges(r.Current, next)
	botsChanged := !reflect.DeepEqual(r.Current.Bots, next.Bots)
	if botsChanged && r.Bots == nil {
		fixed = append(fixed, "[[bot]] tables")
	}
	ol, nl := r.Current.Limits, next.Limits
	if ol.PostRate != nl.PostRate && r.Limits == nil {
		fixed = append(fixed, "limits.post_rate")
	}
	if ol.PostBurst != nl.PostBurst && r.Limits == nil {
		fixed = append(fixed, "limits.post_burst")
	}
	if len(fixed) > 0 {
		return nil, fmt.Errorf("reload refused, nothing changed: these keys cannot change while the node runs (restart it for them): %s",
			strings.Join(fixed, ", "))
	}
	var changed []string
	oldKeys := r.Admin
	newKeys, err := r.adminKeys(next)
	if err != nil {
		return nil, fmt.Errorf("reload refused, nothing changed: %w", err)
	}
	var lvl slog.Level
	if !r.LevelFixed {
		if err := lvl.UnmarshalText([]byte(next.LogLevel())); err != nil {
			return nil, fmt.Errorf("reload refused, nothing changed: %s: log.level %q: use debug, info, warn or error", next.Where("log.level"), next.LogLevel())
		}
	}
	// Everything checked: apply. SetAdminKeys parses the keys again, and
	// Load already parsed them, so it cannot fail after a change is made;
	// it goes first anyway.
	if !slices.Equal(oldKeys, newKeys) {
		if err := r.Live.SetAdminKeys(newKeys); err != nil {
			return nil, fmt.Errorf("reload refused, nothing changed: admin keys: %w", err)
		}
		changed = append(changed, fmt.Sprintf("admin keys: %d -> %d", len(oldKeys), len(newKeys)))
	}
	o, n := r.Current.SSH, next.SSH
	if o.MaxSessions != n.MaxSessions || o.MaxSessionsPerKey != n.MaxSessionsPerKey {
		r.Live.SetSessionCaps(n.MaxSessions, n.MaxSessionsPerKey)
		if o.MaxSessions != n.MaxSessions {
			changed = append(changed, fmt.Sprintf("ssh.max_sessions: %d -> %d", o.MaxSessions, n.MaxSessions))
		}
		if o.MaxSessionsPerKey != n.MaxSessionsPerKey {
			changed = append(changed, fmt.Sprintf("ssh.max_sessions_per_key: %d -> %d", o.MaxSessionsPerKey, n.MaxSessionsPerKey))
		}
	}
	if botsChanged {
		r.Bots(next)
		changed = append(changed, fmt.Sprintf("[[bot]] allowances: %d -> %d keys", len(r.Current.Bots), len(next.Bots)))
	}
	if ol != nl {
		r.Limits(nl.PostRate, nl.PostBurst)
		if ol.PostRate != nl.PostRate {
			changed = append(changed, fmt.Sprintf("limits.post_rate: %v -> %v", ol.PostRate, nl.PostRate))
		}
		if ol.PostBurst != nl.PostBurst {
			changed = append(changed, fmt.Sprintf("limits.post_burst: %d -> %d", ol.PostBurst, nl.PostBurst))
		}
	}
	if !r.LevelFixed && r.Level != nil && r.Level.Level() != lvl {
		changed = append(changed, fmt.Sprintf("log.level: %s -> %s", r.Level.Level(), lvl))
		r.Level.Set(lvl)
	}
	r.Current, r.Admin = next, newKeys
	return changed, nil
}

func (r *Reloader) adminKeys(c *config.Config) ([]string, error) {
	if r.Adopt != nil {
		return r.Adopt(c)
	}
	return c.AdminKeyLines()
}

// fixedChanges names the keys that differ between a and b other than the
// live ones, by their cluster.toml names ("timing.failure_timeout",
// "node").
func fixedChanges(a, b *config.Config) []string {
	var out []string
	diffStruct(reflect.ValueOf(*a), reflect.ValueOf(*b), "", &out)
	return out
}

func diffStruct(a, b reflect.Value, prefix string, out *[]string) {
	t := a.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" {
			name = f.Name
		}
		key := prefix + name
		av, bv := a.Field(i), b.Field(i)
		if liveKeys[key] {
			continue
		}
		if f.Type.Kind() == reflect.Struct && prefix == "" {
			diffStruct(av, bv, key+".", out)
			continue
		}
		if !reflect.DeepEqual(av.Interface(), bv.Interface()) {
			if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct {
				key = "[[" + name + "]] tables"
			}
			*out = append(*out, key)
		}
	}
}

// Apply reloads and logs the outcome: what changed, that nothing did, or
// why nothing was changed.
func (r *Reloader) Apply() ([]string, error) {
	if r.Path == "" {
		r.Log.Warn("reload ignored: this node was not given a config file to read again")
		return nil, fmt.Errorf("no config file to read again")
	}
	changed, err := r.Reload()
	switch {
	case err != nil:
		r.Log.Warn(err.Error(), "config", r.Path)
	case len(changed) == 0:
		r.Log.Info("reloaded: nothing that can change live was changed", "config", r.Path)
	default:
		r.Log.Info("reloaded", "config", r.Path, "changed", strings.Join(changed, "; "))
	}
	return changed, err
}
