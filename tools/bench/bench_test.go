package bench

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

func startServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sshui.New(sshui.Config{Listener: ln, NodeID: "node1",
		HostKeyPath: filepath.Join(t.TempDir(), "host_ed25519")}, sshuitest.New("node1", nil))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return ln.Addr().String()
}

func runShort(t *testing.T, exec bool) {
	addr := startServer(t)
	res, err := Run(context.Background(), Config{Addr: addr, Sessions: 20, Posters: 3, Rate: 15,
		Duration: 2 * time.Second, Ramp: 200, Exec: exec, Drain: 20 * time.Second, Settle: 10 * time.Millisecond,
		ConnectTimeout: 20 * time.Second, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	res.WriteTable(&table)
	t.Log("\n" + table.String())
	if res.Connected != 20 || res.Sent == 0 || res.SendFailed != 0 {
		t.Fatalf("connected %d, sent %d, send failures %d", res.Connected, res.Sent, res.SendFailed)
	}
	if want := int64(res.Sent) * 19; res.Expected != want || res.Seen != want || res.Missing != 0 {
		t.Fatalf("deliveries: expected %d seen %d missing %d (want %d each)", res.Expected, res.Seen, res.Missing, want)
	}
}

// Every token typed into the chat app reaches every other session's screen.
func TestEveryTokenReachesEverySessionTyped(t *testing.T) { runShort(t, false) }

// The same with posts through exec sessions.
func TestEveryTokenReachesEverySessionExec(t *testing.T) { runShort(t, true) }

func TestTokensScanOnlyCompleteTokensOfThisRun(t *testing.T) {
	tk := newTokens("ab12")
	var got []int
	tk.scan([]byte("x BTab12n7z BTab12n8 BTff00n9z BTab12n10z…BTab12n1"), func(s int) { got = append(got, s) })
	if len(got) != 2 || got[0] != 7 || got[1] != 10 {
		t.Fatalf("got %v", got)
	}
}

func TestValidateRefusesNonLoopbackAndUnbounded(t *testing.T) {
	for _, c := range []Config{{Addr: "10.0.0.1:22"}, {Addr: "example.com:22"},
		{Addr: "127.0.0.1:22", Sessions: MaxSessions + 1}, {Addr: "127.0.0.1:22", Duration: 2 * time.Hour}} {
		c.setDefaults()
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	if p50, p99, mx := percentiles(d); p50 != 50 || p99 != 99 || mx != 100 {
		t.Fatalf("got %d %d %d", p50, p99, mx)
	}
}
