package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/api"
)

// The rate limit was per node: one user posting through all three nodes
// got three times the allowance. The leader places every post, so its
// bucket per user is the allowance for the cluster; a post refused there,
// also one forwarded by a follower, comes back as a *api.RateLimited with
// a real wait.
func TestRateLimitIsPerUserForTheCluster(t *testing.T) {
	const burst = 6
	c := newTestClusterWith(t, 3, func(o *Options) { o.PostRate, o.PostBurst = 0.5, burst })
	lead := c.leader()
	start := time.Now()
	var mu sync.Mutex
	ok, fromFollower := 0, 0
	var wg sync.WaitGroup
	for id, rn := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range burst {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := rn.n.Post(ctx, "mallory", "general", fmt.Sprintf("spam %s %d", id, i), fmt.Sprintf("%s-%d", id, i), 0, false)
				cancel()
				var rl *api.RateLimited
				mu.Lock()
				switch {
				case err == nil:
					ok++
				case errors.As(err, &rl) && errors.Is(err, api.ErrRateLimited) && rl.Wait > 0 && rl.Wait <= 2*time.Second:
					if id != lead {
						fromFollower++
					}
				default:
					t.Errorf("post through %s: %v (want success or a rate limit with a wait)", id, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	allowed := burst + int(time.Since(start).Seconds()*0.5) + 1
	if ok > allowed {
		t.Fatalf("mallory posted %d times through 3 nodes; the cluster allows %d", ok, allowed)
	}
	if fromFollower == 0 {
		t.Fatal("no post forwarded by a follower was refused as rate limited")
	}
	// Another user has their own allowance.
	c.post(lead, "alice", "hello", "a-1")
}
