package eventlog

import (
	"context"
	"fmt"
	"testing"
)

// sampleBodies returns one filled body of every built-in kind.
func sampleBodies() []Body {
	mod := Moderation{Target: "mallory", By: "admin", Room: "general", Reason: "spam", Until: 1_800_000_000_000_000_000}
	return []Body{
		&NoOp{},
		&MessagePosted{Room: "general", From: "alice", Text: "deploy done ✅", ClientMsgID: "c-1", ReplyLamport: 41, Action: 1},
		&RoomCreated{Room: "ops", By: "bob"},
		&RoomTopicSet{Room: "ops", Topic: "pager duty", By: "bob"},
		&DirectMessage{From: "alice", To: "bob", Text: "hi\x00\x1b[31m", ClientMsgID: "d-1"},
		&MemberJoinedRoom{RoomMember{Room: "ops", User: "carol"}},
		&MemberLeftRoom{RoomMember{Room: "ops", User: "carol"}},
		&UserRegistered{Name: "alice", KeyFingerprint: "SHA256:abc"},
		&UserKicked{mod},
		&UserBanned{mod},
		&UserMuted{mod},
		&PresenceChanged{User: "alice", Node: "node1", Status: "away"},
		&TermStarted{Term: 7, Candidate: "node2"},
		&LeaderElected{Term: 7, Leader: "node2"},
		&VoteCast{Term: 7, Candidate: "node2"},
		&NodeJoined{NodeEvent{Node: "node3"}},
		&NodeLeft{NodeEvent{Node: "node3"}},
		&NodeSuspected{NodeEvent{Node: "node3"}},
		&NodeRecovered{NodeEvent{Node: "node3"}},
		&CommittedUpTo{Index: 99},
		&SuffixDiscarded{FromIndex: 100, Term: 8},
		&NameReleased{Name: "root", By: "admin"},
		&UserUnbanned{Moderation{Target: "mallory", By: "admin", Reason: "served"}},
		&UserUnmuted{Moderation{Target: "mallory", By: "admin"}},
		&ReadMarked{User: "alice", Conv: "@alice,bob", Index: 42},
		&MembershipChanged{Op: MemberAdd, Node: "node4", By: "admin",
			Spec:    `{"id":"node4","host":"10.0.0.4","ssh_port":2222,"peer_port":7001,"heartbeat_port":7101,"election_port":7201,"ring":4,"learner":true}`,
			Members: `[{"id":"node1","host":"10.0.0.1","ssh_port":2222,"peer_port":7001,"heartbeat_port":7101,"election_port":7201,"ring":1},{"id":"node4","host":"10.0.0.4","ssh_port":2222,"peer_port":7001,"heartbeat_port":7101,"election_port":7201,"ring":4,"learner":true}]`},
		&RoomAccessSet{Room: "ops", Private: 1, Authority: Authority{By: "bob"}},
		&RoomInvited{Room: "ops", User: "carol", Authority: Authority{By: "bob"}},
		&RoomRemoved{Room: "ops", User: "mallory", Reason: "left the team", Authority: Authority{By: "admin", Admin: 1}},
		&KeyAdded{Name: "alice", KeyFingerprint: "SHA256:def", Label: "ssh-ed25519 laptop", Authority: Authority{By: "alice"}},
		&KeyRemoved{Name: "alice", KeyFingerprint: "SHA256:abc", Authority: Authority{By: "admin", Admin: 1}},
		&NotifySet{User: "alice", Conv: "ops", Level: "mentions"},
		&PrefSet{User: "alice", Name: "highlight", Value: "deploy", Remove: 1},
		&MessageEdited{Conv: "general", Target: 12, TargetID: "c-1", By: "alice", Text: "deploy done ✅ (v2)"},
		&MessageDeleted{Conv: "@alice,bob", Target: 13, TargetID: "d-1", By: "admin", Admin: 1, Reason: "leaked a key"},
		&ReactionSet{Conv: "general", Target: 12, By: "bob", Emoji: "👍"},
		&ReactionSet{Conv: "general", Target: 12, By: "bob", Emoji: "👍", Remove: 1},
		&MessagePosted{Room: "general", From: "bob", Text: "nice", ClientMsgID: "c-2", ReplyTo: 12},
		&DirectMessage{From: "bob", To: "alice", Text: "thanks", ClientMsgID: "d-2", ReplyTo: 13},
	}
}

// chatEvent returns a chat event whose text makes the record about 200 bytes.
func chatEvent(i int) Event {
	text := fmt.Sprintf("message %08d ", i)
	for len(text) < 120 {
		text += "lorem ipsum "
	}
	return Event{
		Header: Header{Origin: "node1", Term: 3, Index: uint64(i + 1), Lamport: uint64(i + 1), Time: 1_764_000_000_000_000_000 + int64(i)},
		Body:   &MessagePosted{Room: "general", From: "alice", Text: text[:120], ClientMsgID: fmt.Sprintf("cid-%d", i)},
	}
}

// openT opens a log in dir with test options and closes it at cleanup.
func openT(t testing.TB, dir string, opts Options) *Log {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// appendN appends n chat events one Append per batch of size batch.
func appendN(t testing.TB, l *Log, start, n, batch int) {
	t.Helper()
	for i := 0; i < n; i += batch {
		evs := make([]Event, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			evs = append(evs, chatEvent(start+j))
		}
		if _, _, err := l.Append(context.Background(), evs...); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
}
