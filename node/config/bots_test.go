package config

import (
	"strings"
	"testing"
)

const botKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl bridge"

func TestBots(t *testing.T) {
	c, err := Parse("/x/cluster.toml", good+"\n[[bot]]\nkey = \""+botKey+"\"\nrate = 5000\n")
	if err != nil {
		t.Fatal(err)
	}
	al := c.BotAllowances()
	if len(al) != 1 {
		t.Fatalf("allowances = %v", al)
	}
	for fp, b := range al {
		if !strings.HasPrefix(fp, "SHA256:") || b.Rate != 5000 || b.BurstOrDefault() != 5000 {
			t.Errorf("allowance %s = %+v (burst %d)", fp, b, b.BurstOrDefault())
		}
	}
	for _, tc := range []struct{ add, want string }{
		{"[[bot]]\nrate = 5\n", "key is required"},
		{"[[bot]]\nkey = \"ssh-ed25519 nope\"\nrate = 5\n", "not a public key"},
		{"[[bot]]\nkey = \"" + botKey + "\"\n", "rate must be a positive"},
		{"[[bot]]\nkey = \"" + botKey + "\"\nrate = 5\nburst = -1\n", "burst must not be negative"},
		{"[[bot]]\nkey = \"" + botKey + "\"\nrate = 5\n[[bot]]\nkey = \"" + botKey + "\"\nrate = 6\n", "listed twice"},
		{"[[bot]]\nkey = \"" + botKey + "\"\nrate = 5\nspeed = 3\n", "speed"},
	} {
		_, err := Parse("/x/cluster.toml", good+"\n"+tc.add)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.add, err, tc.want)
		}
	}
}
