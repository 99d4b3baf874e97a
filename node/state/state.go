// Package state is the node's applied state: the built-in plugins (chat,
// identity, moderation, presence) that fold committed log entries, and the
// rebuilding of the replicated log from a node's WAL. The node uses it live;
// the offline tools (`syncnet wal replay`) use the very same code, so an
// audit replays exactly what the node computed.
package state

import (
	"fmt"
	"time"

	"github.com/syncnet/syncnet/eventlog"
)

// State bundles the built-in plugins.
type State struct {
	Chat       *Chat
	Identity   *Identity
	Moderation *Moderation
	Presence   *Presence
	Plugins    *Plugins
}

// New returns empty state; now is the clock used for timed mutes and bans.
func New(now func() time.Time) *State {
	s := &State{Chat: NewChat(), Identity: NewIdentity(), Moderation: NewModeration(now), Presence: NewPresence()}
	s.Plugins = NewPlugins(s.Chat, s.Identity, s.Moderation, s.Presence)
	return s
}

// Entry is one slot of the replicated log as found in a WAL.
type Entry struct {
	Seq   uint64 // WAL sequence number of the record
	Event eventlog.Event
}

// ReplicatedLog rebuilds the cluster log from a node's WAL records, in WAL
// order. The WAL is append-only: a follower that dropped an uncommitted
// suffix wrote a SuffixDiscarded record, and later entries replace the
// discarded ones, so the effective log is the fold of both.
type ReplicatedLog struct {
	Entries   []Entry // Entries[i] has cluster index i+1
	Commit    uint64  // highest CommittedUpTo recorded (capped at len(Entries))
	Discarded uint64  // entries voided by SuffixDiscarded records
	MaxTerm   uint64  // highest term in any entry or term record
}

// Add folds one WAL record.
func (r *ReplicatedLog) Add(seq uint64, ev eventlog.Event) error {
	if ev.Index != 0 {
		return r.addEntry(seq, ev)
	}
	switch b := ev.Body.(type) {
	case *eventlog.SuffixDiscarded:
		if b.FromIndex < 1 || b.FromIndex > uint64(len(r.Entries))+1 {
			return fmt.Errorf("wal record %d discards from index %d but the log ends at %d", seq, b.FromIndex, len(r.Entries))
		}
		if b.FromIndex <= r.Commit {
			return fmt.Errorf("wal record %d discards from index %d, below the recorded commit index %d", seq, b.FromIndex, r.Commit)
		}
		r.Discarded += uint64(len(r.Entries)) - (b.FromIndex - 1)
		r.Entries = r.Entries[:b.FromIndex-1]
	case *eventlog.CommittedUpTo:
		r.Commit = max(r.Commit, min(b.Index, uint64(len(r.Entries))))
	case *eventlog.TermStarted:
		r.MaxTerm = max(r.MaxTerm, b.Term)
	}
	return nil
}

func (r *ReplicatedLog) addEntry(seq uint64, ev eventlog.Event) error {
	want := uint64(len(r.Entries)) + 1
	if ev.Index > want {
		return fmt.Errorf("wal record %d holds cluster index %d but the log only reaches %d", seq, ev.Index, want-1)
	}
	if ev.Index < want {
		// The writer never does this: a replacement always follows a
		// discard record.
		return fmt.Errorf("wal record %d rewrites cluster index %d without a discard record", seq, ev.Index)
	}
	if n := len(r.Entries); n > 0 && ev.Term < r.Entries[n-1].Event.Term {
		return fmt.Errorf("wal record %d: term %d at index %d is below term %d of the entry before it",
			seq, ev.Term, ev.Index, r.Entries[n-1].Event.Term)
	}
	r.Entries = append(r.Entries, Entry{Seq: seq, Event: ev})
	r.MaxTerm = max(r.MaxTerm, ev.Term)
	return nil
}

// LastIndex is the index of the last entry.
func (r *ReplicatedLog) LastIndex() uint64 { return uint64(len(r.Entries)) }
