package sshui_test

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/syncnet/syncnet/node/api"
	. "github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// leaderLimited refuses the first n posts as the leader does once a user
// has spent their allowance for the cluster (through other nodes too).
type leaderLimited struct {
	*sshuitest.Fake
	left atomic.Int32
}

func (l *leaderLimited) Post(ctx context.Context, user, room, text, id string, seen uint64, action bool) (uint64, error) {
	if l.left.Add(-1) >= 0 {
		return 0, &api.RateLimited{Wait: 1500 * time.Millisecond}
	}
	return l.Fake.Post(ctx, user, room, text, id, seen, action)
}

// A post the leader refused for the cluster-wide rate limit was dropped
// with "not sent". It waits for the wait the leader said, shown as a rate
// limit, and is then sent.
func TestChatLeaderRateLimitWaits(t *testing.T) {
	f := sshuitest.New("node1", nil)
	_ = f.BindName(context.Background(), "alice", "SHA256:alice")
	b := &leaderLimited{Fake: f}
	b.left.Store(1)
	clock := &handClock{t: time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)}
	a := NewTestAppAt(b, Identity{Name: "alice"}, Config{NodeID: "node1"}, asciiRenderer(), clock.now, nil)
	drive(t, a, a.Init())
	a.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	typeLine(t, a, "hello")
	v := a.View()
	for _, want := range []string{"rate limit", "(waiting) hello", "1.5s"} {
		if !strings.Contains(v, want) {
			t.Fatalf("screen lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "not sent") {
		t.Fatalf("the line was dropped:\n%s", v)
	}
	clock.add(2 * time.Second)
	_, cmd := a.Update(RateTickMsg)
	drive(t, a, cmd)
	if got := roomTexts(t, f, "general", 10); !slices.Equal(got, []string{"hello"}) {
		t.Fatalf("posted %q, want hello", got)
	}
}

// exec post says the leader's wait, which syncnet chat reads to retry.
func TestExecPostLeaderRateLimit(t *testing.T) {
	f := sshuitest.New("node1", nil)
	b := &leaderLimited{Fake: f}
	b.left.Store(1)
	ts := startServer(t, b, nil)
	r := run(t, ts.addr, "alice", newSigner(t), "post general hi")
	if r.code != 1 || !strings.Contains(r.err, "post: rate limited: try again in 1.5s") {
		t.Fatalf("post refused by the leader's limit: %+v", r)
	}
}
