package config

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// write puts text in dir/cluster.toml (with the files named in extra).
func write(t *testing.T, text string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "cluster.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGpGgwv1P2n8hWoqqJg8lwbqRjJ2hOXmJLmD5p6sC0X7 ops@example"

// TestLoadChecksBeforeAnythingIsCreated: the mistakes the issue found only
// after a node had made its data directory are errors of Load, each naming
// its key and line, and nothing is created.
func TestLoadChecksBeforeAnythingIsCreated(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		files map[string]string
		want  []string
	}{
		{"unresolvable host", strings.Replace(good, `host = "127.0.0.1"`+"\nssh_port = 11", `host = "nosuch-host.invalid"`+"\nssh_port = 11", 1), nil,
			[]string{`line 22: node 2 (id "b"): host "nosuch-host.invalid" does not resolve`}},
		{"invalid admin key", strings.Replace(good, "[timing]", "[auth]\nadmin_keys = [\"ssh-ed25519 notakey\"]\n[timing]", 1), nil,
			[]string{`line 8: auth.admin_keys entry 1`, "not a public key"}},
		{"invalid admin key in file", strings.Replace(good, "[timing]", "[auth]\nadmin_keys_file = \"admins\"\n[timing]", 1),
			map[string]string{"admins": "# ops\n" + goodKey + "\nssh-rsa garbage\n"},
			[]string{`line 8: auth.admin_keys_file admins: line 3 is not a public key`}},
		{"missing secret file", strings.Replace(good, `secret = "0123456789abcdef"`, `secret_file = "nosuch"`, 1), nil,
			[]string{`line 5: read cluster.secret_file`, "no such file"}},
		{"short secret file", strings.Replace(good, `secret = "0123456789abcdef"`, `secret_file = "s"`, 1),
			map[string]string{"s": "short\n"},
			[]string{`line 5: cluster.secret_file s: secret is shorter than 16 characters`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.text, tc.files)
			before, _ := os.ReadDir(filepath.Dir(p))
			_, err := Load(p)
			if err == nil {
				t.Fatalf("Load accepted:\n%s", tc.text)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			after, _ := os.ReadDir(filepath.Dir(p))
			if len(after) != len(before) {
				t.Errorf("Load created files: %v -> %v", before, after)
			}
		})
	}
	// The good admin key file passes.
	p := write(t, strings.Replace(good, "[timing]", "[auth]\nadmin_keys_file = \"admins\"\n[timing]", 1),
		map[string]string{"admins": goodKey + "\n"})
	if _, err := Load(p); err != nil {
		t.Fatalf("good admin key file: %v", err)
	}
}

// TestLocalhostAnd127ClashOnOnePort: localhost is 127.0.0.1, so two nodes
// on "localhost" and "127.0.0.1" with one port clash (a node used to dial
// itself as its peer).
func TestLocalhostAnd127ClashOnOnePort(t *testing.T) {
	text := replaceLast(good, `host = "127.0.0.1"`+"\nssh_port = 11\npeer_port = 12", `host = "localhost"`+"\nssh_port = 11\npeer_port = 2")
	_, err := Parse("c.toml", text)
	if err == nil || !strings.Contains(err.Error(), `line 24: node 2 (id "b"): peer_port 2 clashes with a peer_port`) {
		t.Fatalf("localhost/127.0.0.1 on one port: %v", err)
	}
	// Metrics ports are part of it.
	text = strings.Replace(good, "ring = 0", "metrics_port = 12\nring = 0", 1)
	_, err = Parse("c.toml", text)
	if err == nil || !strings.Contains(err.Error(), `line 25: node 2 (id "b"): peer_port 12 clashes with a metrics_port`) {
		t.Fatalf("metrics port on another's port: %v", err)
	}
	// tcp and udp on one number do not clash.
	text = strings.Replace(good, "ssh_port = 1\n", "ssh_port = 3\n", 1)
	if _, err := Parse("c.toml", text); err != nil {
		t.Fatalf("tcp 3 and udp 3: %v", err)
	}
}

// TestEveryValidateErrorNamesItsLine: each rule Validate checks, broken,
// gives an error that names the key and the line it is on.
func TestEveryValidateErrorNamesItsLine(t *testing.T) {
	for _, tc := range []struct{ from, to, want string }{
		{`data_dir = "d"`, `data_dir = ""`, `line 4: cluster.data_dir is empty`},
		{`secret = "0123456789abcdef"`, `secret = "short"`, `line 5: cluster.secret is shorter`},
		{`heartbeat_interval = "50ms"`, `heartbeat_interval = "0s"`, `line 8: timing.heartbeat_interval must be positive`},
		{`failure_timeout = "200ms"`, `failure_timeout = "20ms"`, `line 9: timing.heartbeat_interval (50ms) must be shorter`},
		{`id = "b"`, `id = "b c"`, `line 21: node 2 (id "b c"): id must be`},
		{"ssh_port = 11", "ssh_port = 70000", `line 23: node 2 (id "b"): ssh_port 70000 is not a port`},
		{"ring = 1", "ring = 5", `line 27: node 2 (id "b"): ring`},
		{"[timing]", "[ssh]\nmax_sessions = 0\n[timing]", `line 8: ssh.max_sessions must be at least 1`},
		{"[timing]", "[storage]\nsnapshot_keep = 0\n[timing]", `line 8: storage: snapshot_keep at least 1`},
		{"[timing]", "[metrics]\nhost = \"\"\n[timing]", `line 8: metrics.host "" is not`},
		{"[timing]", "[limits]\npost_rate = -1\n[timing]", `line 8: limits.post_rate must be a positive number`},
		{"[timing]", "[limits]\npost_burst = 0\n[timing]", `line 8: limits.post_burst must be at least 1`},
	} {
		text := replaceLast(good, tc.from, tc.to)
		_, err := Parse("c.toml", text)
		if err == nil {
			t.Errorf("%s: accepted", tc.to)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q lacks %q", tc.to, err, tc.want)
		}
		for _, l := range strings.Split(err.Error(), "\n") {
			if !regexp.MustCompile(`line \d+: `).MatchString(l) && !strings.Contains(l, "ring positions must be") {
				t.Errorf("%s: an error line without its line number: %q", tc.to, l)
			}
		}
	}
}

// TestLoadReportsEveryProblemAtOnce: a clash Validate finds does not hide
// what Check finds (a short secret file, a bad admin key).
func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	text := strings.Replace(good, `secret = "0123456789abcdef"`, `secret_file = "s"`, 1)
	text = strings.Replace(text, "[timing]", "[auth]\nadmin_keys = [\"ssh-ed25519 broken\"]\n[timing]", 1)
	text = replaceLast(text, "ssh_port = 11", "ssh_port = 1")
	_, err := Load(write(t, text, map[string]string{"s": "short"}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"ssh_port 1 clashes with a ssh_port", "secret is shorter than 16", "auth.admin_keys entry 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestErrorsInFileOrder: several problems are reported in the order of
// their lines, whichever check found them (the text's rules, the files and
// DNS, unknown keys).
func TestErrorsInFileOrder(t *testing.T) {
	text := strings.Replace(good, `secret = "0123456789abcdef"`, `secret_file = "s"`, 1)     // line 5, found by Check
	text = strings.Replace(text, `failure_timeout = "200ms"`, `failure_timeout = "20ms"`, 1) // line 9, Validate
	text = strings.Replace(text, `data_dir = "d"`, `data_dir = ""`, 1)                       // line 4, Validate
	text = replaceLast(text, "ring = 1", "ring = 7")                                         // line 27, and position 1 missing (the [[node]] tables' line, 11)
	text = replaceLast(text, `host = "127.0.0.1"`, `host = "nosuch-host.invalid"`)           // line 22, Check
	_, err := Load(write(t, text, map[string]string{"s": "short"}))
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	var got []string
	for _, l := range lines {
		if m := regexp.MustCompile(`line (\d+): `).FindStringSubmatch(l); m != nil {
			got = append(got, m[1])
		} else {
			got = append(got, "-")
		}
	}
	if want := "4 5 9 11 22 27"; strings.Join(got, " ") != want {
		t.Errorf("lines %q, want %q:\n%s", strings.Join(got, " "), want, err)
	}
	// Unknown keys too.
	text = strings.Replace(good, "[timing]", "[timing]\nbogus_b = 1", 1)
	text = strings.Replace(text, "[cluster]", "[cluster]\nbogus_a = 1", 1)
	text = replaceLast(text, "ring = 1", "ring = 1\nbogus_c = 1")
	_, err = Parse("c.toml", text)
	if err == nil || !regexp.MustCompile(`(?s)line 3: unknown key "cluster.bogus_a".*line 9: unknown key "timing.bogus_b".*line 30: unknown key "node.bogus_c"`).MatchString(err.Error()) {
		t.Errorf("unknown keys out of order:\n%v", err)
	}
}

func TestJoinByLine(t *testing.T) {
	err := joinByLine([]error{errors.New("no line"), errors.New("line 30: b"), errors.New("line 4: a"), errors.New("line 30: c")})
	if want := "line 4: a\nline 30: b\nline 30: c\nno line"; err.Error() != want {
		t.Errorf("%q, want %q", err, want)
	}
	if joinByLine(nil) != nil {
		t.Error("no errors joined into one")
	}
}
