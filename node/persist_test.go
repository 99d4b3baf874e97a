package node

import (
	"slices"
	"testing"

	"github.com/syncnet/syncnet/node/replica"
)

// TestSupersededAcks: of the acks released together, an accepting ack
// that a later one to the same peer of the same term covers is left out;
// refusals, acks of another term or peer, and the last ack always leave.
func TestSupersededAcks(t *testing.T) {
	ack := func(to string, term, index uint64) replica.Message {
		return replica.Message{Type: replica.MsgAppResp, To: to, Term: term, Index: index}
	}
	rej := ack("n2", 2, 4)
	rej.Reject = true
	app := replica.Message{Type: replica.MsgApp, To: "n2", Term: 2, Index: 3}
	in := []replica.Message{ack("n2", 2, 5), rej, ack("n3", 2, 6), app, ack("n2", 1, 6), ack("n2", 2, 7), ack("n3", 3, 2)}
	got := supersededAcks(in)
	want := []replica.Message{rej, ack("n3", 2, 6), app, ack("n2", 1, 6), ack("n2", 2, 7), ack("n3", 3, 2)}
	// ack n2 t2 i5 is covered by n2 t2 i7; n2 t1 i6 is of another term
	// (the driver drops it elsewhere if the term moved); n3 t2 i6 is not
	// covered by n3 t3 i2 (another term).
	if !slices.EqualFunc(got, want, func(a, b replica.Message) bool { return a.Describe() == b.Describe() && a.Reject == b.Reject }) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	one := []replica.Message{ack("n2", 2, 5)}
	if g := supersededAcks(one); len(g) != 1 {
		t.Fatalf("a lone ack was dropped: %v", g)
	}
}
