package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const good = `
[cluster]
name = "t"
data_dir = "d"
secret = "0123456789abcdef"

[timing]
heartbeat_interval = "50ms"
failure_timeout = "200ms"

[[node]]
id = "a"
host = "127.0.0.1"
ssh_port = 1
peer_port = 2
heartbeat_port = 3
election_port = 4
ring = 0

[[node]]
id = "b"
host = "127.0.0.1"
ssh_port = 11
peer_port = 12
heartbeat_port = 13
election_port = 14
ring = 1
`

func TestParseGood(t *testing.T) {
	c, err := Parse("/etc/x/cluster.toml", good)
	if err != nil {
		t.Fatal(err)
	}
	if c.Timing.HeartbeatInterval.Duration != 50*time.Millisecond {
		t.Errorf("heartbeat = %s", c.Timing.HeartbeatInterval)
	}
	if c.Timing.ElectionTimeout != Default().Timing.ElectionTimeout {
		t.Errorf("election timeout default not applied: %s", c.Timing.ElectionTimeout)
	}
	if c.Limits.PostRate != 10 || c.Limits.PostBurst != 40 {
		t.Errorf("[limits] defaults not applied: %+v", c.Limits)
	}
	if got := c.WALDir("b"); got != "/etc/x/d/b/wal" {
		t.Errorf("WALDir = %q", got)
	}
	if _, err := c.Node("zz"); err == nil || !strings.Contains(err.Error(), "known: a, b") {
		t.Errorf("Node(zz) err = %v", err)
	}
}

func TestShippedClusterToml(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "cluster.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Nodes) != 3 || !c.Loopback() {
		t.Fatalf("want 3 loopback nodes, got %+v", c.Nodes)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, edit, want string
	}{
		{"unknown key names key and line", `name = "t"` + "\nnmae = 1", `line 4: unknown key "cluster.nmae"`},
		{"unknown table", "[timing]", `line 7: unknown key "telemetry"`},
		{"bare integer duration", `heartbeat_interval = "50ms"` + "\nconnect_timeout = 300", `line 9: durations are strings with a unit`},
		{"no unit", `heartbeat_interval = "50ms"` + "\nconnect_timeout = \"300\"", `bad duration "300"`},
		{"syntax error line", `name = "t"` + "\nsecret2 = \"unterminated", "line 4"},
		{"type mismatch line", `ring = 1`, ""},
		{"duplicate id", `id = "b"`, `duplicate id`},
		{"clashing port", `ssh_port = 11`, `ssh_port 11 clashes with b ssh_port`},
		{"ring gap", "ring = 1", `ring position 1 is also used by a`},
		{"heartbeat >= failure", `failure_timeout = "200ms"`, ""},
		{"no secret", `secret = "0123456789abcdef"`, "cluster.secret or cluster.secret_file is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := good
			switch tc.name {
			case "type mismatch line":
				text = strings.Replace(good, "ring = 1", `ring = "one"`, 1)
				tc.want = "line 27"
			case "heartbeat >= failure":
				text = strings.Replace(good, `failure_timeout = "200ms"`, `failure_timeout = "50ms"`, 1)
				tc.want = "must be shorter than timing.failure_timeout"
			case "unknown table":
				text = strings.Replace(good, "[timing]", "[telemetry]\nenabled = true\n[timing]", 1)
			case "no secret":
				text = strings.Replace(good, tc.edit, "", 1)
			case "duplicate id", "clashing port":
				if tc.name == "duplicate id" {
					text = replaceLast(good, `id = "b"`, `id = "a"`)
					tc.want = `node 2 (id "a"): duplicate id`
				} else {
					text = strings.Replace(good, "ssh_port = 1\n", "ssh_port = 11\n", 1)
					tc.want = `ssh_port 11 clashes with a ssh_port`
				}
			case "ring gap":
				text = strings.Replace(good, "ring = 0", "ring = 1", 1)
			default:
				first := strings.SplitN(tc.edit, "\n", 2)[0]
				text = strings.Replace(good, first, tc.edit, 1)
			}
			_, err := Parse("c.toml", text)
			if err == nil {
				t.Fatalf("no error for:\n%s", text)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func replaceLast(s, old, repl string) string {
	i := strings.LastIndex(s, old)
	return s[:i] + repl + s[i+len(old):]
}

func TestSecretAndAdminFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "secret"), []byte("  supersecretvalue123\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "admins"), []byte("# admins\nssh-ed25519 AAAA x\n\n"), 0o600)
	text := strings.Replace(good, `secret = "0123456789abcdef"`, `secret_file = "secret"`, 1)
	text = strings.Replace(text, "[timing]", "[auth]\nadmin_keys_file = \"admins\"\n[timing]", 1)
	c, err := Parse(filepath.Join(dir, "cluster.toml"), text)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.SecretBytes()
	if err != nil || string(s) != "supersecretvalue123" {
		t.Fatalf("secret %q %v", s, err)
	}
	keys, err := c.AdminKeyLines()
	if err != nil || len(keys) != 1 || keys[0] != "ssh-ed25519 AAAA x" {
		t.Fatalf("keys %q %v", keys, err)
	}
}

func TestStorage(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "cluster.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage != Default().Storage {
		t.Errorf("cluster.toml says [storage] %+v, the defaults are %+v: the shipped file documents the defaults", c.Storage, Default().Storage)
	}
	for _, tc := range []struct{ edit, want string }{
		{"snapshot_every = 0", "snapshot_every must be at least 1 (got 0)"},
		{"snapshot_keep = 0", "snapshot_keep at least 1 (got 0)"},
		{"copy_rate = -1", "copy_rate must not be negative (got -1; 0 sends as fast as it can)"},
		{`dedupe_window = "10s"`, "dedupe_window at least 1m (got 10s)"},
		{`dedupe_window = 3600`, fmt.Sprintf("line %d: durations are strings with a unit", strings.Count(good, "\n")+3)},
	} {
		_, err := Parse("c.toml", good+"\n[storage]\n"+tc.edit+"\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.edit, err, tc.want)
		}
	}
}
