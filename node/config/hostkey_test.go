package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostKeyPath: the cluster SSH host key defaults to
// <data_dir>/ssh_host_ed25519_key, and a relative ssh.host_key is resolved
// against the config file like every other path.
func TestHostKeyPath(t *testing.T) {
	c, err := Parse("/etc/x/cluster.toml", good)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.HostKeyPath(); got != "/etc/x/d/ssh_host_ed25519_key" {
		t.Errorf("default HostKeyPath = %q, want /etc/x/d/ssh_host_ed25519_key", got)
	}
	for _, tc := range []struct{ set, want string }{
		{"keys/host", "/etc/x/keys/host"},
		{"/srv/syncnet/host_key", "/srv/syncnet/host_key"},
	} {
		c, err := Parse("/etc/x/cluster.toml", good+fmt.Sprintf("\n[ssh]\nhost_key = %q\n", tc.set))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.HostKeyPath(); got != tc.want {
			t.Errorf("host_key = %q: HostKeyPath = %q, want %q", tc.set, got, tc.want)
		}
	}
	shipped, err := Load(filepath.Join("..", "..", "cluster.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join("..", "..", "data", "ssh_host_ed25519_key"); shipped.HostKeyPath() != want {
		t.Errorf("cluster.toml host key at %q, want %q (the default, documented there)", shipped.HostKeyPath(), want)
	}
}

// TestHostKeyErrorsNameTheLine: mistakes in ssh.host_key visible without
// the file stop the load with the key's line.
func TestHostKeyErrorsNameTheLine(t *testing.T) {
	line := strings.Count(good, "\n") + 3
	for _, tc := range []struct{ set, want string }{
		{`""`, fmt.Sprintf("c.toml: line %d: ssh.host_key is empty", line)},
		{`"  "`, fmt.Sprintf("c.toml: line %d: ssh.host_key is empty", line)},
		{`"data/ssh_host_ed25519_key.pub"`, fmt.Sprintf(`c.toml: line %d: ssh.host_key "data/ssh_host_ed25519_key.pub" is a public key`, line)},
	} {
		_, err := Parse("c.toml", good+"\n[ssh]\nhost_key = "+tc.set+"\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("host_key = %s: error %v, want it to contain %q", tc.set, err, tc.want)
		}
	}
}

// TestWhere names a key's line for errors found after loading (the host
// key file's permissions, checked when a node starts).
func TestWhere(t *testing.T) {
	c, err := Parse("c.toml", good+"\n[ssh]\nhost_key = \"k\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Where("ssh.host_key"), fmt.Sprintf("c.toml: line %d", strings.Count(good, "\n")+3); got != want {
		t.Errorf("Where(ssh.host_key) = %q, want %q", got, want)
	}
	if got := c.Where("ssh.idle_timeout"); got != "c.toml" {
		t.Errorf("Where of an unset key = %q, want the file alone", got)
	}
}

// TestOneMachine: a node may create a missing cluster host key only when
// every node reads the same file, i.e. all run on one machine.
func TestOneMachine(t *testing.T) {
	for _, tc := range []struct {
		hosts [2]string
		want  bool
	}{
		{[2]string{"127.0.0.1", "127.0.0.1"}, true},
		{[2]string{"localhost", "::1"}, true},
		{[2]string{"10.0.0.1", "10.0.0.1"}, true},
		{[2]string{"10.0.0.1", "10.0.0.2"}, false},
		{[2]string{"127.0.0.1", "10.0.0.1"}, false},
	} {
		text := strings.Replace(good, `host = "127.0.0.1"`, fmt.Sprintf("host = %q", tc.hosts[0]), 1)
		text = replaceLast(text, `host = "127.0.0.1"`, fmt.Sprintf("host = %q", tc.hosts[1]))
		c, err := Parse("c.toml", text)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.OneMachine(); got != tc.want {
			t.Errorf("hosts %v: OneMachine = %v, want %v", tc.hosts, got, tc.want)
		}
	}
}
