package peer

import (
	"bufio"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// rttLog collects the round trips a transport measured, by peer.
type rttLog struct {
	mu  sync.Mutex
	rtt map[string][]time.Duration
}

func (r *rttLog) observe(peer string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rtt == nil {
		r.rtt = map[string][]time.Duration{}
	}
	r.rtt[peer] = append(r.rtt[peer], d)
}

func (r *rttLog) get(peer string) []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.rtt[peer]...)
}

// waitRTTs waits until every transport measured at least n round trips to
// every other one, and checks each is plausible: above zero and below the
// time the test has run.
func waitRTTs(t *testing.T, ts []*Transport, logs []*rttLog, n int) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(20 * time.Second)
	for i, tr := range ts {
		for j, other := range ts {
			if i == j {
				continue
			}
			for len(logs[i].get(other.cfg.ID)) < n {
				if time.Now().After(deadline) {
					t.Fatalf("%s measured %d round trips to %s, want %d", tr.cfg.ID, len(logs[i].get(other.cfg.ID)), other.cfg.ID, n)
				}
				time.Sleep(5 * time.Millisecond)
			}
			for _, d := range logs[i].get(other.cfg.ID) {
				if d <= 0 || d > time.Since(start)+time.Minute {
					t.Errorf("%s -> %s: round trip %v", tr.cfg.ID, other.cfg.ID, d)
				}
			}
		}
	}
}

// Each link measures its round trip, every PingInterval, both ways of a
// pair and for every pair, with no frame of it reaching Recv; frames
// still flow.
func TestRoundTripMeasuredOnEveryLink(t *testing.T) {
	const n = 3
	ls := make([]net.Listener, n)
	peers := map[string]string{}
	for i := range ls {
		ls[i] = listen(t)
		peers[fmt.Sprintf("n%d", i)] = ls[i].Addr().String()
	}
	ts := make([]*Transport, n)
	logs := make([]*rttLog, n)
	for i := range ts {
		tr, err := New(Config{ID: fmt.Sprintf("n%d", i), Secret: []byte("s3cret"), Peers: peers, Listener: ls[i], PingInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		logs[i] = &rttLog{}
		tr.ObserveRTT(logs[i].observe)
		ts[i] = tr
		t.Cleanup(func() { tr.Close() })
	}
	waitRTTs(t, ts, logs, 5)
	waitConnected(t, ts[0], "n1")
	for !ts[0].Send("n1", 7, []byte("after pings")) {
		time.Sleep(time.Millisecond)
	}
	if f := recvFrame(t, ts[1]); f.Type != 7 || string(f.Payload) != "after pings" {
		t.Fatalf("the first frame n1 received: %+v (pings must not reach Recv)", f)
	}
	for _, tr := range ts {
		if s := tr.Stats(); s.RejectedFrame != 0 || s.RejectedHandshake != 0 || s.DroppedInboundFull != 0 {
			t.Errorf("%s: %+v", tr.cfg.ID, s)
		}
	}
	// nil stops the observations.
	ts[0].ObserveRTT(nil)
	before := len(logs[0].get("n1"))
	time.Sleep(100 * time.Millisecond)
	if after := len(logs[0].get("n1")); after != before {
		t.Errorf("%d round trips observed after ObserveRTT(nil)", after-before)
	}
}

// Over TLS the answer carries no MAC of its own (the record layer
// authenticates it); the round trips are measured the same.
func TestRoundTripOverTLS(t *testing.T) {
	p := newPKI(t, "test CA")
	ts := tlsCluster(t, []*tlsNode{{id: "n0", store: p.store(t, "n0")}, {id: "n1", store: p.store(t, "n1")}})
	logs := []*rttLog{{}, {}}
	for i, tr := range ts {
		tr.ObserveRTT(logs[i].observe)
	}
	waitRTTs(t, ts, logs, 2) // the default interval: a second
}

// oldListener is a peer of a build before pings: it answers the hello and
// reads frames, and never writes after the challenge; or, with forge, it
// answers each ping with a token and a MAC that are not the listener's.
type oldListener struct {
	l      net.Listener
	forge  bool
	frames chan Frame
}

func newOldListener(t *testing.T, forge bool) *oldListener {
	o := &oldListener{l: listen(t), forge: forge, frames: make(chan Frame, 1000)}
	t.Cleanup(func() { o.l.Close() })
	key := deriveKey([]byte("s3cret"))
	go func() {
		conn, err := o.l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		tr := &Transport{cfg: Config{ID: "old", Peers: map[string]string{"n0": ""}, ConnectTimeout: 5 * time.Second}, key: key}
		from, nonce, err := tr.challenge(conn)
		if err != nil {
			return
		}
		fr := newFramer(key, nonce)
		r := bufio.NewReader(conn)
		for {
			typ, payload, err := readFrame(r, fr, DefaultMaxFrame, from)
			if err != nil {
				return
			}
			if typ == TypePing && o.forge {
				bad := make([]byte, pongLen+macLen)
				copy(bad, payload) // the right token, a MAC of another key
				copy(bad[pongLen:], pongMAC(pongKey([]byte("another key")), nonce, payload))
				conn.Write(bad)
			}
			o.frames <- Frame{From: from, Type: typ, Payload: payload}
		}
	}()
	return o
}

// A listener of an older build answers no ping: its node sees one (and
// refuses the unknown frame type once); no other goes on that connection
// however long it lasts, and frames flow as before.
func TestOneUnansweredPingPerConnection(t *testing.T) {
	old := newOldListener(t, false)
	logs := &rttLog{}
	tr, err := New(Config{ID: "n0", Secret: []byte("s3cret"), Peers: map[string]string{"old": old.l.Addr().String()}, Listener: listen(t),
		PingInterval: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tr.ObserveRTT(logs.observe)
	waitConnected(t, tr, "old")
	pings, data := 0, 0
	for data < 10 {
		// Many ping intervals pass between two frames.
		time.Sleep(20 * time.Millisecond)
		for !tr.Send("old", 7, []byte{byte(data)}) {
			time.Sleep(time.Millisecond)
		}
		for got := false; !got; {
			select {
			case f := <-old.frames:
				if f.Type == TypePing {
					pings++
					if len(f.Payload) != pongLen {
						t.Errorf("a ping of %d bytes", len(f.Payload))
					}
				} else {
					data++
					got = true
				}
			case <-time.After(10 * time.Second):
				t.Fatal("a frame never arrived")
			}
		}
	}
	if pings != 1 {
		t.Errorf("an old listener got %d pings on one connection, want 1", pings)
	}
	if n := len(logs.get("old")); n != 0 {
		t.Errorf("%d round trips measured with a peer that answers none", n)
	}
}

// An answer that does not authenticate (outside TLS: a MAC with another
// key) is no round trip; it ends the measurements on that connection, not
// the connection.
func TestForgedPongIsNoRoundTrip(t *testing.T) {
	old := newOldListener(t, true)
	logs := &rttLog{}
	tr, err := New(Config{ID: "n0", Secret: []byte("s3cret"), Peers: map[string]string{"old": old.l.Addr().String()}, Listener: listen(t),
		PingInterval: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tr.ObserveRTT(logs.observe)
	waitConnected(t, tr, "old")
	for f := range old.frames {
		if f.Type == TypePing {
			break
		}
	}
	for i := 0; i < 5; i++ {
		time.Sleep(20 * time.Millisecond)
		for !tr.Send("old", 7, []byte{byte(i)}) {
			time.Sleep(time.Millisecond)
		}
		select {
		case f := <-old.frames:
			if f.Type != 7 || f.Payload[0] != byte(i) {
				t.Fatalf("frame %d: %+v", i, f)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the connection stopped carrying frames after a forged answer")
		}
	}
	if n := len(logs.get("old")); n != 0 {
		t.Errorf("%d round trips measured from forged answers", n)
	}
}

func TestPinger(t *testing.T) {
	var p pinger
	t0 := time.Unix(100, 0)
	tok, ok := p.next(t0)
	if !ok {
		t.Fatal("no first ping")
	}
	if _, ok := p.next(t0.Add(time.Second)); ok {
		t.Fatal("a second ping while the first is out")
	}
	if _, ok := p.answer(tok+1, t0.Add(time.Millisecond)); ok {
		t.Fatal("an answer with another token counted")
	}
	if d, ok := p.answer(tok, t0.Add(3*time.Millisecond)); !ok || d != 3*time.Millisecond {
		t.Fatalf("answer: %v %v", d, ok)
	}
	if _, ok := p.answer(tok, t0.Add(4*time.Millisecond)); ok {
		t.Fatal("a duplicate answer counted")
	}
	tok2, ok := p.next(t0.Add(time.Second))
	if !ok || tok2 == tok {
		t.Fatalf("next ping after the answer: %d %v", tok2, ok)
	}
}
