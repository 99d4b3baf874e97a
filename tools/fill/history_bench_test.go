package fill

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node"
)

// BenchmarkHistoryDepth starts a one-node cluster on a filled history of
// FILLBENCH_MESSAGES messages (default 200,000) in DefaultRooms rooms and
// times History(room, before, 50) at uniformly random depths of random
// rooms: pages older than the chat's cache are read from the WAL. It
// reports p50 and p99 of one call.
//
//	FILLBENCH_MESSAGES=1000000 go test -run '^$' -bench HistoryDepth -benchtime 2000x ./tools/fill/
func BenchmarkHistoryDepth(b *testing.B) {
	n := benchMessages(b, 200_000)
	s, p := bindNode(b)
	cfg := testConfig(b, filepath.Join(b.TempDir(), "data"), 1, [][4]int{p})
	o := testOptions()
	o.Messages, o.Rooms, o.Users = n, DefaultRooms, DefaultUsers
	if _, err := Fill(context.Background(), cfg, o); err != nil {
		b.Fatal(err)
	}
	s.ssh.Close()
	nd, err := node.New(node.Options{Config: cfg, ID: "n1",
		Listeners: &node.Listeners{Peer: s.peer, Heartbeat: s.hb, Election: s.el}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- nd.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	<-nd.CaughtUp()
	rooms := nd.Rooms()
	rnd := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := rooms[rnd.IntN(len(rooms))]
		before := 1 + rnd.Uint64N(r.LastIndex)
		t0 := time.Now()
		msgs, err := nd.History(r.Name, before, 50)
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		if len(msgs) > 0 && msgs[len(msgs)-1].Index >= before {
			b.Fatalf("History(%s, %d) returned index %d", r.Name, before, msgs[len(msgs)-1].Index)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
