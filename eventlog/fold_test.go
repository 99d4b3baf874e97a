package eventlog

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
)

// roomFolder is a small plugin-like folder: message counts and last text
// per room, plus members. Its snapshot is JSON.
type roomFolder struct {
	name  string
	State roomState
}

type roomState struct {
	Messages map[string]int
	LastText map[string]string
	Members  map[string][]string
	Seqs     []uint64 // every seq folded, to catch double or missed folds
}

func newRoomFolder(name string) *roomFolder {
	return &roomFolder{name: name, State: roomState{Messages: map[string]int{}, LastText: map[string]string{}, Members: map[string][]string{}}}
}

func (f *roomFolder) Name() string { return f.name }
func (f *roomFolder) Kinds() []Kind {
	return []Kind{KindMessagePosted, KindMemberJoinedRoom}
}
func (f *roomFolder) Fold(seq uint64, ev Event) error {
	switch b := ev.Body.(type) {
	case *MessagePosted:
		f.State.Messages[b.Room]++
		f.State.LastText[b.Room] = b.Text
	case *MemberJoinedRoom:
		f.State.Members[b.Room] = append(f.State.Members[b.Room], b.User)
	default:
		return errors.New("unexpected kind " + ev.Kind().String())
	}
	f.State.Seqs = append(f.State.Seqs, seq)
	return nil
}
func (f *roomFolder) Snapshot() ([]byte, error) { return json.Marshal(f.State) }
func (f *roomFolder) Restore(b []byte) error {
	f.State = roomState{}
	return json.Unmarshal(b, &f.State)
}

// mixedEvent returns event i of a log mixing kinds, rooms and members.
func mixedEvent(i int) Event {
	ev := chatEvent(i)
	switch i % 5 {
	case 3:
		ev.Body = &MemberJoinedRoom{RoomMember{Room: []string{"a", "b"}[i%2], User: "u" + string(rune('a'+i%26))}}
	case 4:
		ev.Body = &NodeSuspected{NodeEvent{Node: "node2"}}
	default:
		ev.Body.(*MessagePosted).Room = []string{"a", "b", "c"}[i%3]
	}
	return ev
}

func appendMixed(t *testing.T, l *Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, _, err := l.Append(context.Background(), mixedEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func replayFresh(t *testing.T, l *Log) (*roomFolder, ReplayStats) {
	t.Helper()
	f := newRoomFolder("rooms")
	r, err := NewRegistry(f)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Replay(l, r)
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return f, st
}

func TestSnapshotPlusTailEqualsFullReplay(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{NoSync: true, SnapshotEvery: 250})
	appendMixed(t, l, 0, 1000)

	full, st := replayFresh(t, l)
	if st.SnapshotSeq != 0 || st.Folded != 1000 {
		t.Fatalf("full replay stats %+v", st)
	}

	// Fold 600 records live, taking snapshots as the node would.
	f := newRoomFolder("rooms")
	r, _ := NewRegistry(f)
	taken := 0
	if err := l.Iter(1, func(seq uint64, ev Event) error {
		if seq > 600 {
			return nil
		}
		if err := r.Apply(seq, ev); err != nil {
			return err
		}
		ok, err := l.MaybeSnapshot(r)
		if ok {
			taken++
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if taken != 2 { // at 250 and 500
		t.Fatalf("MaybeSnapshot took %d snapshots, want 2", taken)
	}
	if _, err := l.Snapshot(r); err != nil { // at 600
		t.Fatal(err)
	}
	if snaps, _ := Snapshots(dir); len(snaps) != 2 || snaps[0].Seq != 600 || snaps[1].Seq != 500 {
		t.Fatalf("snapshots kept: %+v", snaps)
	}
	l.Close()

	l2 := openT(t, dir, Options{NoSync: true})
	got, st := replayFresh(t, l2)
	if st.SnapshotSeq != 600 || st.Folded != 400 || st.LastSeq != 1000 {
		t.Fatalf("replay stats %+v", st)
	}
	if !reflect.DeepEqual(got.State, full.State) {
		t.Fatal("snapshot + tail differs from full replay")
	}
}

func TestUnusableSnapshotsAreSkipped(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{NoSync: true})
	appendMixed(t, l, 0, 100)
	f := newRoomFolder("rooms")
	r, _ := NewRegistry(f)
	l.Iter(1, func(seq uint64, ev Event) error { return r.Apply(seq, ev) })
	info, err := l.Snapshot(r)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := replayFresh(t, l)

	t.Run("missing folder section", func(t *testing.T) {
		f2, g := newRoomFolder("rooms"), newRoomFolder("new-plugin")
		r2, _ := NewRegistry(f2, g)
		if st, err := Replay(l, r2); err != nil || st.SnapshotSeq != 0 || !reflect.DeepEqual(f2.State, full.State) {
			t.Fatalf("stats %+v err %v", st, err)
		}
	})
	t.Run("flipped byte", func(t *testing.T) {
		b, _ := os.ReadFile(info.Path)
		b[len(b)/2] ^= 1
		os.WriteFile(info.Path, b, 0o640)
		got, st := replayFresh(t, l)
		if st.SnapshotSeq != 0 || !reflect.DeepEqual(got.State, full.State) {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("snapshot of another log", func(t *testing.T) {
		other := openT(t, t.TempDir(), Options{NoSync: true})
		appendMixed(t, other, 1, 100)
		if err := os.MkdirAll(snapDir(other.Dir()), 0o750); err != nil {
			t.Fatal(err)
		}
		r3, _ := NewRegistry(newRoomFolder("rooms"))
		l.Iter(1, func(seq uint64, ev Event) error { return r3.Apply(seq, ev) })
		good, err := l.Snapshot(r3)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(good.Path)
		os.WriteFile(snapDir(other.Dir())+"/snap-00000000000000000100", b, 0o640)
		var lines logLines
		other.opts.Logf = lines.logf
		got, st := replayFresh(t, other)
		if st.SnapshotSeq != 0 || st.Folded != 100 || got.State.Messages["a"] == 0 {
			t.Fatalf("stats %+v", st)
		}
		if lines.String() == "" {
			t.Error("skipped snapshot not logged")
		}
	})
}

func TestRegistryRules(t *testing.T) {
	if _, err := NewRegistry(newRoomFolder("x"), newRoomFolder("x")); err == nil {
		t.Error("duplicate folder name accepted")
	}
	r, _ := NewRegistry(newRoomFolder("x"))
	if err := r.Apply(2, chatEvent(0)); err != nil {
		t.Fatal(err)
	}
	if err := r.Apply(2, chatEvent(0)); err == nil {
		t.Error("repeated seq accepted")
	}
	if err := r.Apply(3, Event{Body: &NodeLeft{}}); err != nil {
		t.Errorf("event of a kind no folder owns: %v", err)
	}
}
