package node

import (
	"context"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/config"
)

// The config's [[bot]] entries (no reload) give a bot's name its
// allowance through PostAllowance, and a person none, on every node: the
// front ends look the key up by fingerprint in a map made once, not by
// parsing and hashing every bot's key for every post.
func TestPostAllowanceFromConfigBots(t *testing.T) {
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBu9cDnOy0nKZ7cbN06KnJyNsLPAg0kGcQqUuFcWnS6D bot@x"
	c := newTestClusterConf(t, 3, "[[bot]]\nkey = \""+key+"\"\nrate = 1000\nburst = 50\n", nil)
	lead := c.leader()
	fp := config.Bot{Key: key}.Fingerprint()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.nodes[lead].n.BindName(ctx, "feeder", fp); err != nil {
		t.Fatal(err)
	}
	if err := c.nodes[lead].n.BindName(ctx, "person", "SHA256:someone-else"); err != nil {
		t.Fatal(err)
	}
	for id, rn := range c.nodes {
		deadline := time.Now().Add(10 * time.Second)
		for {
			r, b := rn.n.PostAllowance("feeder")
			if r == 1000 && b == 50 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: bot allowance %v/%d, want 1000/50", id, r, b)
			}
			time.Sleep(10 * time.Millisecond)
		}
		for _, user := range []string{"person", "nobody"} {
			if r, b := rn.n.PostAllowance(user); r != 0 || b != 0 {
				t.Fatalf("%s: %s has allowance %v/%d, want the default (0/0)", id, user, r, b)
			}
		}
	}
}
