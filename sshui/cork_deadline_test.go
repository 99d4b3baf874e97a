package sshui

import (
	"math/rand"
	"net"
	"testing"
	"time"
)

// deadlineLog is a net.Conn that records the deadline set on it.
type deadlineLog struct {
	net.Conn
	d     time.Time
	calls int
}

func (d *deadlineLog) SetDeadline(t time.Time) error { d.d = t; d.calls++; return nil }

// The idle deadline a corkConn sets is never earlier than the one asked
// for, and at most the slack later; a zero deadline is set as zero; and a
// deadline that moves forward by less than the slack costs no call to the
// connection.
func TestCorkDeadlineNeverEarlyAtMostSlackLate(t *testing.T) {
	const slack = time.Second
	rng := rand.New(rand.NewSource(7))
	for run := 0; run < 200; run++ {
		conn := &deadlineLog{}
		c := &corkConn{Conn: conn, dslack: slack}
		at := time.Unix(1_000_000, 0)
		for i := 0; i < 500; i++ {
			var want time.Time
			switch r := rng.Intn(100); {
			case r < 2:
				// zero: no deadline
			case r < 5: // earlier (a MaxTimeout)
				want = at.Add(-time.Duration(rng.Int63n(int64(5 * time.Second))))
			default: // now + idle, now moving on
				at = at.Add(time.Duration(rng.Int63n(int64(300 * time.Millisecond))))
				want = at
			}
			if err := c.SetDeadline(want); err != nil {
				t.Fatal(err)
			}
			switch {
			case want.IsZero():
				if !conn.d.IsZero() {
					t.Fatalf("run %d step %d: asked for no deadline, set %v", run, i, conn.d)
				}
			case conn.d.IsZero() || conn.d.Before(want) || conn.d.Sub(want) > slack:
				t.Fatalf("run %d step %d: asked for %v, set %v (slack %v)", run, i, want, conn.d, slack)
			}
		}
	}
	// Reads and writes 1 ms apart for 10 s: a call to the connection a
	// second, not one each.
	conn := &deadlineLog{}
	c := &corkConn{Conn: conn, dslack: slack}
	at := time.Unix(1_000_000, 0)
	for i := 0; i < 10_000; i++ {
		_ = c.SetDeadline(at.Add(15 * time.Minute))
		at = at.Add(time.Millisecond)
	}
	if conn.calls > 11 {
		t.Fatalf("%d SetDeadline calls reached the connection for 10,000 in 10 s, want at most 11", conn.calls)
	}
}

func TestDeadlineSlack(t *testing.T) {
	for _, c := range []struct{ idle, want time.Duration }{
		{15 * time.Minute, time.Second}, {30 * time.Second, 500 * time.Millisecond}, {0, 0},
	} {
		if got := deadlineSlack(c.idle); got != c.want {
			t.Errorf("deadlineSlack(%v) = %v, want %v", c.idle, got, c.want)
		}
	}
}
