package node

import (
	"reflect"
	"testing"

	"github.com/syncnet/syncnet/node/replica"
)

func sampleMessages() []replica.Message {
	return []replica.Message{
		{Type: replica.MsgApp, From: "node1", To: "node2", Term: 3, PrevIndex: 9, PrevTerm: 2, Commit: 8,
			Entries: []replica.Entry{{Index: 10, Term: 3, Type: replica.EntryNoop}, {Index: 11, Term: 3, Data: []byte("hello")}}},
		{Type: replica.MsgAppResp, From: "node2", To: "node1", Term: 3, Index: 9, Reject: true, HintIndex: 5, HintTerm: 1},
		{Type: replica.MsgSnap, From: "node1", To: "node3", Term: 4, Snapshot: &replica.Snapshot{Index: 100, Term: 3, Data: []byte{1, 2}}},
		{Type: replica.MsgAppResp, From: "node2", To: "node1", Term: 3, Index: 9, Learner: true},
	}
}

// A learner's answer carries one more byte; every other message is encoded
// exactly as before learners existed.
func TestReplicaWireLearnerOnlyWhenSet(t *testing.T) {
	m := replica.Message{Type: replica.MsgAppResp, From: "node2", To: "node1", Term: 3, Index: 9}
	plain := encodeReplica(m)
	m.Learner = true
	if got := encodeReplica(m); len(got) != len(plain)+1 || string(got[:len(plain)]) != string(plain) {
		t.Fatalf("learner flag changes more than one trailing byte: %x vs %x", got, plain)
	}
}

func TestReplicaWireRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		got, err := decodeReplica(encodeReplica(m))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip\n got %+v\nwant %+v", got, m)
		}
	}
	f := forward{Boot: 9, ReqID: 7, Data: []byte("x"), User: "alice", MsgID: "m1"}
	if g, err := decodeForward(encodeForward(f)); err != nil || !reflect.DeepEqual(g, f) {
		t.Fatalf("forward %+v %v", g, err)
	}
	r := forwardReply{Boot: 9, ReqID: 7, Index: 3, Term: 2, Err: "no"}
	if g, err := decodeForwardReply(encodeForwardReply(r)); err != nil || g != r {
		t.Fatalf("reply %+v %v", g, err)
	}
}

func TestReplicaWireRejectsTruncation(t *testing.T) {
	b := encodeReplica(sampleMessages()[0])
	for i := 0; i < len(b); i++ {
		if _, err := decodeReplica(b[:i]); err == nil {
			t.Fatalf("prefix of %d bytes decoded without error", i)
		}
	}
}

func FuzzDecodeReplica(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(encodeReplica(m))
	}
	f.Add(encodeForward(forward{ReqID: 1, Data: []byte("d"), User: "u"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeReplica(b)
		if err == nil {
			again, err := decodeReplica(encodeReplica(m))
			if err != nil || !reflect.DeepEqual(again, m) {
				t.Fatalf("accepted input does not round-trip: %+v / %v", m, err)
			}
		}
		decodeForward(b)
		decodeForwardReply(b)
	})
}
