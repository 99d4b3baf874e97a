package serve

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncnet/syncnet/node/config"
)

// liveRec records what a reload applied.
type liveRec struct {
	admin        []string
	max, perKey  int
	adminCalls   int
	failAdminSet bool
}

func (l *liveRec) SetAdminKeys(lines []string) error {
	l.adminCalls++
	if l.failAdminSet {
		return errors.New("refused")
	}
	l.admin = lines
	return nil
}
func (l *liveRec) SetSessionCaps(m, p int) { l.max, l.perKey = m, p }

const reloadBase = `[cluster]
name = "r"
data_dir = "data"
secret = "0123456789abcdef0123"
[timing]
heartbeat_interval = "100ms"
failure_timeout = "400ms"
[auth]
admin_keys_file = "admins"
[ssh]
max_sessions = 100
[[node]]
id = "n1"
host = "127.0.0.1"
ssh_port = 7001
peer_port = 7002
heartbeat_port = 7003
election_port = 7004
ring = 0
`

const keyA = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGpGgwv1P2n8hWoqqJg8lwbqRjJ2hOXmJLmD5p6sC0X7 a@x"
const keyB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBu9cDnOy0nKZ7cbN06KnJyNsLPAg0kGcQqUuFcWnS6D b@x"

func reloadSetup(t *testing.T) (*Reloader, *liveRec, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "cluster.toml")
	os.WriteFile(path, []byte(reloadBase), 0o600)
	os.WriteFile(filepath.Join(dir, "admins"), []byte(keyA+"\n"), 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	live := &liveRec{}
	lvl := new(slog.LevelVar)
	return &Reloader{Path: path, Current: cfg, Admin: []string{keyA}, Live: live, Level: lvl, Log: slog.New(slog.DiscardHandler)}, live, dir
}

// TestReloadAppliesLiveKeys: new admin keys (from the file), new session
// caps and a new log level are applied and each is named.
func TestReloadAppliesLiveKeys(t *testing.T) {
	r, live, dir := reloadSetup(t)
	os.WriteFile(filepath.Join(dir, "admins"), []byte(keyA+"\n"+keyB+"\n"), 0o600)
	os.WriteFile(r.Path, []byte(strings.Replace(reloadBase, "max_sessions = 100", "max_sessions = 50\nmax_sessions_per_key = 3", 1)+"[log]\nlevel = \"debug\"\n[[bot]]\nkey = \""+keyB+"\"\nrate = 500\n"+
		"[limits]\npost_rate = 2.5\npost_burst = 7\n"), 0o600)
	var bots []config.Bot
	r.Bots = func(c *config.Config) { bots = c.Bots }
	var rate float64
	var burst int
	r.Limits = func(r float64, b int) { rate, burst = r, b }
	changed, err := r.Reload()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(changed, "; ")
	for _, want := range []string{"admin keys: 1 -> 2", "ssh.max_sessions: 100 -> 50", "ssh.max_sessions_per_key: 20 -> 3", "log.level: INFO -> DEBUG", "[[bot]] allowances: 0 -> 1 keys",
		"limits.post_rate: 10 -> 2.5", "limits.post_burst: 40 -> 7"} {
		if !strings.Contains(got, want) {
			t.Errorf("changes %q lack %q", got, want)
		}
	}
	if len(live.admin) != 2 || live.max != 50 || live.perKey != 3 || r.Level.Level() != slog.LevelDebug || len(bots) != 1 || bots[0].Rate != 500 ||
		rate != 2.5 || burst != 7 {
		t.Errorf("applied: %+v, level %s, bots %+v, limits %v/%d", live, r.Level.Level(), bots, rate, burst)
	}
	// Nothing new: nothing changes.
	if changed, err := r.Reload(); err != nil || len(changed) != 0 {
		t.Errorf("a second reload: %v %v", changed, err)
	}
}

// TestReloadIsAllOrNothing: a reload that also changes a key that cannot
// change live, or whose admin key file holds a bad key, changes nothing
// and says why, naming the key.
func TestReloadIsAllOrNothing(t *testing.T) {
	for _, tc := range []struct {
		name, text, admins string
		want               []string
	}{
		{"fixed key", strings.Replace(strings.Replace(reloadBase, `failure_timeout = "400ms"`, `failure_timeout = "800ms"`, 1), "max_sessions = 100", "max_sessions = 5", 1),
			keyA + "\n" + keyB + "\n", []string{"cannot change while the node runs", "timing.failure_timeout"}},
		{"a node's port", strings.Replace(reloadBase, "ssh_port = 7001", "ssh_port = 7011", 1), keyA + "\n",
			[]string{"[[node]] tables"}},
		{"bad key file", strings.Replace(reloadBase, "max_sessions = 100", "max_sessions = 5", 1), keyA + "\nssh-ed25519 broken\n",
			[]string{"auth.admin_keys_file admins: line 2 is not a public key", "line 9"}},
		{"bad toml", reloadBase + "max_sessions = \n", keyA + "\n", []string{"reload refused, nothing changed"}},
		{"bad log level", reloadBase + "[log]\nlevel = \"loud\"\n", keyA + "\n", []string{"log.level"}},
		{"bots with no node to take them", reloadBase + "[[bot]]\nkey = \"" + keyB + "\"\nrate = 5\n", keyA + "\n", []string{"[[bot]] tables"}},
		{"limits with no node to take them", reloadBase + "[limits]\npost_burst = 5\n", keyA + "\n", []string{"limits.post_burst"}},
		{"bad limits", strings.Replace(reloadBase, "max_sessions = 100", "max_sessions = 5", 1) + "[limits]\npost_rate = 0\npost_burst = -1\n", keyA + "\n",
			[]string{"line 21: limits.post_rate must be a positive number", "line 22: limits.post_burst must be at least 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, live, dir := reloadSetup(t)
			limited := false
			if tc.name != "limits with no node to take them" {
				r.Limits = func(float64, int) { limited = true }
			}
			os.WriteFile(filepath.Join(dir, "admins"), []byte(tc.admins), 0o600)
			os.WriteFile(r.Path, []byte(tc.text), 0o600)
			changed, err := r.Reload()
			if err == nil {
				t.Fatalf("reload accepted: %v", changed)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "reload refused, nothing changed") {
				t.Errorf("error %q does not say nothing changed", err)
			}
			if live.adminCalls != 0 || live.max != 0 || r.Level.Level() != slog.LevelInfo || limited {
				t.Errorf("a refused reload applied something: %+v level %s, limits %v", live, r.Level.Level(), limited)
			}
			if r.Current.SSH.MaxSessions != 100 {
				t.Errorf("the current config moved on: %d", r.Current.SSH.MaxSessions)
			}
		})
	}
}
