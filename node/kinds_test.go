package node

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/peer"
	"github.com/syncnet/syncnet/node/replica"
	"github.com/syncnet/syncnet/node/state"
)

// newerKindRecord is a well-formed record of a kind this build does not
// know, as a newer build would write it.
func newerKindRecord(t *testing.T, k uint16) []byte {
	t.Helper()
	rec, err := eventlog.AppendRecord(nil, eventlog.Hash{}, eventlog.Event{Body: &eventlog.MessagePosted{Room: state.GeneralRoom, From: "u", Text: "from the future"}})
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint16(rec[1:], k)
	body := rec[:len(rec)-4]
	return binary.BigEndian.AppendUint32(body, crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
}

// appendFrom builds the frame a leader would send a follower: one entry at
// the follower's next index, with the leader's commit.
func appendFrom(w *simWorld, l, f *simNode, data []byte, commit func(next uint64) uint64) peer.Frame {
	st := f.n.replication.Status()
	next := st.LastIndex + 1
	term := l.n.replication.Status().Term
	m := replica.Message{Type: replica.MsgApp, From: l.id, To: f.id, Term: term,
		PrevIndex: st.LastIndex, PrevTerm: st.LastTerm, Commit: commit(next),
		Entries: []replica.Entry{{Index: next, Term: term, Type: replica.EntryNormal, Data: data}}}
	return peer.Frame{From: l.id, Type: frameReplica, Payload: encodeReplica(m)}
}

// An entry of a kind this build cannot apply is refused, not stored and not
// acknowledged; when the leader says it is committed, the node stops once
// with the upgrade message instead of crashing or looping.
func TestNewerKindEntry(t *testing.T) {
	w := steadyWorld(t)
	l, f := w.leader(), w.follower()
	newer := uint16(maxKind) + 1 // no build of this one knows it
	data := newerKindRecord(t, newer)
	before := f.n.replication.Status().LastIndex

	uncommitted := appendFrom(w, l, f, data, func(next uint64) uint64 { return next - 1 })
	if err := f.n.process([]input{frameInput(uncommitted)}); err != nil {
		t.Fatalf("an uncommitted entry of a newer kind stopped the node: %v", err)
	}
	if got := f.n.replication.Status().LastIndex; got != before {
		t.Fatalf("the refused entry was appended: last index %d -> %d", before, got)
	}
	if f.n.refused[l.id+"/replica"] == 0 {
		t.Fatalf("refusal not counted: %v", f.n.refused)
	}

	committed := appendFrom(w, l, f, data, func(next uint64) uint64 { return next })
	err := f.n.process([]input{frameInput(committed)})
	want := "upgrade this node: committed entry"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), fmt.Sprintf("has kind %d", newer)) {
		t.Fatalf("process = %v, want the %q message", err, want)
	}
}

// A leader proposes a kind only when every member announces it can apply it.
func TestNewKindNeedsEveryMember(t *testing.T) {
	w := steadyWorld(t)
	n := w.leader().n
	if err := n.supportedByAll(baselineKind); err != nil {
		t.Fatalf("a baseline kind refused: %v", err)
	}
	err := n.supportedByAll(maxKind + 1)
	if err == nil || !strings.Contains(err.Error(), "upgrade it first") {
		t.Fatalf("a kind no member knows: %v", err)
	}
}

// Garbage from a peer, of every frame type, is refused and counted; the node
// carries on (no panic), and its state does not move.
func FuzzPeerFrame(f *testing.F) {
	m := replica.Message{Type: replica.MsgApp, From: "n3", To: "n1", Term: 1, Entries: []replica.Entry{{Index: 2, Term: 1, Data: []byte{1, 2, 3}}}}
	f.Add(frameReplica, encodeReplica(m))
	f.Add(frameForward, encodeForward(forward{Boot: 1, ReqID: 1, Data: []byte{1}, User: "u", MsgID: "x"}))
	f.Add(frameForwardR, encodeForwardReply(forwardReply{Boot: 1, ReqID: 1, Index: 3, Term: 1}))
	f.Add(uint8(9), []byte{0xff})
	w, err := newSimWorld(3, simOpts{nodes: 3, clients: 1, msgsPerCli: 1, maxBatch: 8}, f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	defer w.closeAll()
	w.settle()
	for i := 0; i < 60 && !w.leaderKnownToAll(); i++ {
		w.quietTick(nil)
	}
	f.Fuzz(func(t *testing.T, typ uint8, payload []byte) {
		for _, sn := range w.nodes {
			if sn.n == nil {
				continue
			}
			for _, from := range []string{"n1", "n2", "n3"} {
				if from == sn.id {
					continue
				}
				fr := peer.Frame{From: from, Type: typ, Payload: payload}
				if err := sn.n.process([]input{frameInput(fr)}); err != nil && !strings.Contains(err.Error(), "upgrade this node") {
					t.Fatalf("%s stopped on a frame from %s: %v", sn.id, from, err)
				}
				sn.n.fatal = nil
			}
		}
	})
}
