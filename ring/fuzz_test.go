package ring

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"math/rand"
	"testing"
)

func newMAC(key []byte) hash.Hash { return hmac.New(sha256.New, key) }

// FuzzDecode: arbitrary datagrams through the full guard never panic, and
// whatever is accepted re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	c := testCodec(f)
	for _, m := range sampleMessages() {
		b, _ := c.Encode(m)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		g := NewGuard(c, "n2", []string{"n1", "n2", "n3"}, &Metrics{})
		m, err := g.Accept(b)
		if err != nil {
			return
		}
		again, err := c.Encode(m)
		if err != nil || !sameOrSkippedTail(m, b[:len(b)-macLen], again[:len(again)-macLen]) {
			t.Fatalf("accepted %x but re-encodes to %x (%v)", b, again, err)
		}
	})
}

// sameOrSkippedTail: a parsed datagram re-encodes to the same bytes, except
// that a heartbeat's fields of a later revision, after its ext, are skipped
// (codec.go, Compatibility): then the re-encoding is a strict prefix.
func sameOrSkippedTail(m Message, body, again []byte) bool {
	if bytes.Equal(body, again) {
		return true
	}
	return m.Type == MsgHeartbeat && m.Status.Proto != 0 && len(again) < len(body) && bytes.HasPrefix(body, again)
}

// FuzzDecodeUnauthenticated reaches the body parser without a MAC: it
// never panics and every parse re-encodes to the same bytes.
func FuzzDecodeUnauthenticated(f *testing.F) {
	c := testCodec(f)
	for _, m := range sampleMessages() {
		b, _ := c.Encode(m)
		f.Add(b[:len(b)-macLen])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeUnauthenticated(b)
		if err != nil {
			return
		}
		_ = m.Describe()
		again, err := c.Encode(m)
		if err != nil {
			return // e.g. an unknown type parses nowhere; encode refuses too
		}
		if !sameOrSkippedTail(m, b, again[:len(again)-macLen]) {
			t.Fatalf("parsed %x but re-encodes to %x", b, again)
		}
	})
}

// FuzzStep feeds parsed (trusted) messages straight into a core: it never
// panics and never accepts two leaders for one term.
func FuzzStep(f *testing.F) {
	c := testCodec(f)
	for _, m := range sampleMessages() {
		b, _ := c.Encode(m)
		f.Add(b[:len(b)-macLen], uint8(3))
	}
	f.Fuzz(func(t *testing.T, b []byte, ticks uint8) {
		m, err := decodeUnauthenticated(b)
		if err != nil {
			return
		}
		members := []Member{{ID: "n1", Ring: 1}, {ID: "n2", Ring: 2}, {ID: "n3", Ring: 3}}
		n, err := New(Config{ID: "n2", Members: members, HeartbeatTicks: 2, FailureTicks: 8, ElectionTicks: 8,
			Rand: rand.New(rand.NewSource(1)), LogPosition: func() (uint64, uint64) { return 1, 5 }}, HardState{Term: 2, Leader: "n1"})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < int(ticks%20); i++ {
			n.Tick()
		}
		_ = n.Step(m)
		_ = n.Step(m)
		hs := n.HardState()
		if hs.Term == 2 && hs.Leader != "n1" {
			t.Fatalf("term 2 leader changed to %q by %s", hs.Leader, m.Describe())
		}
		if hs.Term < 2 {
			t.Fatalf("term went back to %d", hs.Term)
		}
		rd := n.Ready()
		n.Advance(rd)
	})
}
