package node

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/config"
)

// A reload's [[bot]] allowances take effect at once: the leader's bucket
// and every node's PostAllowance follow SetBotAllowances.
func TestSetBotAllowancesTakesEffect(t *testing.T) {
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBu9cDnOy0nKZ7cbN06KnJyNsLPAg0kGcQqUuFcWnS6D bot@x"
	c := newTestClusterWith(t, 3, func(o *Options) { o.PostRate, o.PostBurst = 0.01, 2 })
	lead := c.leader()
	bot := config.Bot{Key: key, Rate: 1000, Burst: 50}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.nodes[lead].n.BindName(ctx, "feeder", bot.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	post := func(i int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := c.nodes[lead].n.Post(ctx, "feeder", "general", fmt.Sprintf("m%d", i), fmt.Sprintf("feeder-%d", i), 0, false)
		return err
	}
	refused := false
	for i := 0; i < 5; i++ {
		if post(i) != nil {
			refused = true
		}
	}
	if !refused {
		t.Fatal("5 posts at once passed a burst of 2: the default allowance is not in force")
	}
	for id, rn := range c.nodes {
		if r, b := rn.n.PostAllowance("feeder"); r != 0 || b != 0 {
			t.Fatalf("%s: allowance %v/%d before the reload", id, r, b)
		}
		cfg := *rn.n.cfg
		cfg.Bots = []config.Bot{bot}
		rn.n.SetBotAllowances(&cfg)
	}
	for id, rn := range c.nodes {
		deadline := time.Now().Add(10 * time.Second)
		for {
			r, b := rn.n.PostAllowance("feeder")
			if r == 1000 && b == 50 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: allowance %v/%d after the reload, want 1000/50", id, r, b)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// The user's bucket keeps its tokens across the change and fills at the
	// new rate: a tenth of a second is 100 tokens at 1,000/s, capped at 50.
	time.Sleep(100 * time.Millisecond)
	for i := 10; i < 30; i++ {
		if err := post(i); err != nil {
			t.Fatalf("post %d with the bot's allowance: %v", i, err)
		}
	}
}

// [limits] in the config is everyone's allowance at the leader, and a
// reload's new limits (SetPostLimits) take effect from the next post: a
// burst of 2 refuses the third of five posts at once; raised to 50 at
// 1,000/s, twenty at once pass.
func TestPostLimitsFromConfigAndReload(t *testing.T) {
	c := newTestClusterConf(t, 3, "[limits]\npost_rate = 0.01\npost_burst = 2\n", nil)
	lead := c.leader()
	for id, rn := range c.nodes {
		if r, b := rn.n.PostLimits(); r != 0.01 || b != 2 {
			t.Fatalf("%s: limits %v/%d, want the config's 0.01/2", id, r, b)
		}
	}
	post := func(i int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := c.nodes[lead].n.Post(ctx, "carol", "general", fmt.Sprintf("m%d", i), fmt.Sprintf("carol-%d", i), 0, false)
		return err
	}
	passed := 0
	for i := 0; i < 5; i++ {
		if post(i) == nil {
			passed++
		}
	}
	if passed != 2 {
		t.Fatalf("%d of 5 posts at once passed a burst of 2", passed)
	}
	for _, rn := range c.nodes {
		rn.n.SetPostLimits(1000, 50)
	}
	if r, b := c.nodes[lead].n.PostLimits(); r != 1000 || b != 50 {
		t.Fatalf("limits %v/%d after SetPostLimits(1000, 50)", r, b)
	}
	// A tenth of a second is 100 tokens at 1,000/s, capped at 50.
	time.Sleep(100 * time.Millisecond)
	for i := 10; i < 30; i++ {
		if err := post(i); err != nil {
			t.Fatalf("post %d after raising the limits: %v", i, err)
		}
	}
}
