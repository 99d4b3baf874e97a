// Package state is the node's applied state: the built-in plugins (chat,
// identity, moderation, presence) that fold committed log entries, and the
// rebuilding of the replicated log from a node's WAL. The node uses it live;
// the offline tools (`syncnet wal replay`) use the very same code, so an
// audit replays exactly what the node computed.
//
// Two rules hold for every entry, of every kind, in one place each, before
// any plugin sees it (State.Apply):
//
//   - Exactly once (once.go): an entry whose (author, request id) an earlier
//     entry already carried, within the once window, changes nothing.
//     Lookup tells a proposer what became of its request.
//   - Authorization (authorize.go): bans and mutes are decided at apply
//     time, against the entry's own time, so every node refuses the same
//     entries. A refused entry stays in the log and changes nothing.
//
// The once window. The table of requests does not grow with history: a
// request id is forgotten once the newest entry time applied so far (the
// largest Header.Time of any entry, this one included: a fold of the log,
// the same on every node, never a node's clock) is more than
// Options.OnceWindow (default 24h) past the time of the entry that first
// carried it. A retry inside the window is deduplicated; a retry after it
// is a new request: it is applied again, and if it is a post, history holds
// the message twice. Lookup no longer knows a forgotten request, so a
// proposer retrying that late proposes anew. Refusals age out alike:
// RefusalAt answers for entries within the window; Refused counts all.
// The window is replicated semantics: every node of a cluster must use the
// same, and it travels in snapshots (Restore refuses another).
//
// History from disk. Given a MessageSource (Options.Messages: the node's
// WAL), the chat keeps per room only where its messages are in the log (a
// few bytes a message, index.go), their count and newest index, and a
// bounded cache of recent messages; History and HistoryAfter read older
// ones through the source and return its errors. Without a source every
// message applied stays in memory (tests, offline tools). See Chat.
//
// Snapshots (snapshot.go). Capture takes an Image of the whole State on
// the apply goroutine, cheaply (the message indexes are shared, not
// copied); Image.Encode runs on any goroutine while Apply goes on; Restore
// rebuilds an equal State, which then decides every later entry as the
// original would. BENCHMARKS.txt has the figures.
//
// docs/ARCHITECTURE.md ("Exactly once", "Authorization") tells the whole
// path from the session to the apply.
package state

import (
	"fmt"
	"sync"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// State bundles the built-in plugins, the exactly-once table and the
// authorization of entries.
type State struct {
	Chat       *Chat
	Identity   *Identity
	Moderation *Moderation
	Presence   *Presence
	Reads      *Reads
	Access     *Access // private rooms (access.go)
	Prefs      *Prefs  // notification settings (notify.go)
	Edits      *Edits  // edits, deletions, reactions (edits.go)
	// Plugins routes entries to their plugin. Its Apply is State.Apply: it
	// admits entries through the exactly-once table and Authorize first.
	Plugins *Plugins

	once   *once
	prep   Preparer       // Apply's: only the apply goroutine uses it
	opts   Options        // normalized
	locked []lockedPlugin // every plugin, moderation first (ApplyRun)
}

// DefaultOnceWindow is how long (in entry time) a request id is
// remembered when Options.OnceWindow is zero.
const DefaultOnceWindow = 24 * time.Hour

// Options configure a State. The zero value is valid: every message kept
// in memory, the default once window, the local clock for local reads.
type Options struct {
	// Now is the clock of the local reads (Moderation.Banned, Muted).
	// Applying never reads it. nil: time.Now.
	Now func() time.Time
	// Messages reads committed messages back from the log (the node's WAL).
	// With one, the chat keeps in memory only where each room's messages
	// are and a bounded cache of recent ones (see Chat). nil: every
	// message applied stays in memory (small uses: tests, offline tools).
	Messages MessageSource
	// OnceWindow is how long, in entry time, a request id is remembered
	// (see the package doc). 0: DefaultOnceWindow; it must not be
	// negative. It is part of the replicated semantics: every node of a
	// cluster must use the same, and a snapshot taken with another window
	// is refused by Restore.
	OnceWindow time.Duration
	// Chunks, with Messages, keeps the full chunks of the rooms' message
	// indexes on disk (ChunkFile), so memory does not grow with the number
	// of messages. NewWith empties it; Restore cuts it back to what the
	// snapshot refers to. nil: the chunks stay in memory.
	Chunks *ChunkFile
	// RecentPerRoom and RecentTotal size the cache of recent messages when
	// there is a Messages source: at most RecentPerRoom messages of one room
	// (0: DefaultRecentPerRoom; negative: no cache) and RecentTotal across
	// all rooms (0: DefaultRecentTotal; raised to RecentPerRoom if below).
	RecentPerRoom, RecentTotal int
}

func (o Options) normalized() (Options, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case o.OnceWindow < 0:
		return o, fmt.Errorf("state: once window %v is negative", o.OnceWindow)
	case o.OnceWindow == 0:
		o.OnceWindow = DefaultOnceWindow
	}
	switch {
	case o.RecentPerRoom < 0:
		o.RecentPerRoom = 0
	case o.RecentPerRoom == 0:
		o.RecentPerRoom = DefaultRecentPerRoom
	}
	if o.RecentTotal <= 0 {
		o.RecentTotal = DefaultRecentTotal
	}
	o.RecentTotal = max(o.RecentTotal, o.RecentPerRoom)
	return o, nil
}

// New returns empty state that keeps every message in memory, with the
// default once window; now is the clock the local reads (Banned, Muted)
// use. Applying never reads it: entries are judged at their own time.
func New(now func() time.Time) *State { return NewWith(Options{Now: now}) }

// NewWith returns empty state configured by opts. Options that Validate
// refuses are a programming error (the node's configuration is validated
// before): NewWith panics on them.
func NewWith(opts Options) *State {
	o, err := opts.normalized()
	if err != nil {
		panic(err)
	}
	c := newChat(o.Messages, o.RecentPerRoom, o.RecentTotal)
	if o.Chunks != nil {
		if err := o.Chunks.truncate(0); err != nil {
			// Nothing refers to the file yet: keep the chunks in memory.
			o.Chunks = nil
		}
		c.chunks = o.Chunks
	}
	return newState(o, c, newOnce(o.OnceWindow),
		NewIdentity(), NewModeration(o.Now), NewPresence(), NewReads(), NewAccess(c), NewPrefs(), NewEdits())
}

// Validate reports whether NewWith and Restore accept opts.
func (o Options) Validate() error {
	_, err := o.normalized()
	return err
}

func newState(o Options, c *Chat, t *once, id *Identity, m *Moderation, p *Presence, r *Reads, ac *Access, pr *Prefs, ed *Edits) *State {
	s := &State{Chat: c, Identity: id, Moderation: m, Presence: p, Reads: r, Access: ac, Prefs: pr, Edits: ed, once: t, opts: o}
	s.Plugins = NewPlugins(s.Chat, s.Identity, s.Moderation, s.Presence, s.Reads, s.Access, s.Prefs, s.Edits)
	// Access after Chat: its Apply changes the chat's membership.
	s.locked = []lockedPlugin{s.Moderation, s.Chat, s.Identity, s.Presence, s.Reads, s.Access, s.Prefs, s.Edits}
	s.Plugins.admit = func(index uint64, ev eventlog.Event) bool {
		p := s.prep.Prepare(ev)
		return s.admit(index, ev, &p)
	}
	return s
}

// Apply folds one committed entry, in index order, from one goroutine: a
// repeated request changes nothing, a refused entry is recorded as refused
// and changes nothing, anything else goes to its plugin. It returns the
// events sessions should hear, valid until the next Apply (see Plugin).
func (s *State) Apply(index uint64, ev eventlog.Event) []api.Event {
	return s.ApplyPrepared(index, ev, s.prep.Prepare(ev))
}

// Prepared is what applying an entry computes from the entry alone, before
// it reads any state: the key of its request and the digest of what it
// asks for (once.go), a SHA-256 and a pass over the body. Preparer.Prepare
// makes it on any goroutine, so a replay prepares entries ahead, off the
// apply goroutine, and ApplyPrepared applies exactly as Apply, which
// prepares the entry itself. The zero Prepared is none: ApplyPrepared then
// prepares the entry.
type Prepared struct {
	key    requestKey
	digest uint64
	keyed  bool
	ok     bool
}

// Preparer prepares entries (Prepare); use one per goroutine.
type Preparer struct{ dig digester }

// Prepare computes what ApplyPrepared needs of ev that depends on ev alone.
func (p *Preparer) Prepare(ev eventlog.Event) Prepared {
	author, id := RequestKey(ev)
	if id == "" {
		return Prepared{ok: true}
	}
	return Prepared{key: keyOf(author, id), digest: p.dig.sum(ev), keyed: true, ok: true}
}

// ApplyPrepared is Apply of an entry prepared ahead: p must be what
// Prepare returned for this very ev (or the zero Prepared).
func (s *State) ApplyPrepared(index uint64, ev eventlog.Event, p Prepared) []api.Event {
	if !p.ok {
		p = s.prep.Prepare(ev)
	}
	if !s.admit(index, ev, &p) {
		return nil
	}
	return s.Plugins.route(index, ev)
}

// admit is the gate in front of every plugin: exactly once, then
// authorization. It reports whether the entry may change state. It holds
// the once table's lock throughout (one lock for the lookup and the
// record), and Authorize takes the moderation's inside it; nothing takes
// them the other way round.
func (s *State) admit(index uint64, ev eventlog.Event, p *Prepared) bool {
	t := s.once
	t.mu.Lock()
	defer t.mu.Unlock()
	return s.admitLocked(index, ev, p, false)
}

// admitLocked is admit with the once table's lock held, and the
// moderation's too if modLocked.
func (s *State) admitLocked(index uint64, ev eventlog.Event, p *Prepared, modLocked bool) bool {
	t := s.once
	if t.admitLocked(p.key, p.keyed, ev.Time) {
		return false // a request already applied or refused: nothing changes
	}
	r := s.authorize(ev, modLocked)
	if p.keyed || r != nil {
		t.recordLocked(p.key, p.keyed, firstEntry{index: index, time: ev.Time, digest: p.digest}, r)
	}
	return r == nil
}

// lockedPlugin is a built-in plugin: its Apply is applyLocked inside its
// lock, which ApplyRun takes once for a run of entries.
type lockedPlugin interface {
	Plugin
	locker() sync.Locker
	applyLocked(index uint64, ev eventlog.Event) []api.Event
}

// ApplyRun applies n entries, in index order, exactly as ApplyPrepared
// applies each (the same admission and the same plugin code), but takes
// each lock of the State once for the run instead of once per entry: the
// once table's, then every plugin's (moderation first: Authorize reads it
// under the once table's lock). A replay applies 10M entries; per entry,
// the locks cost it as much as the chat's apply. entry returns the i-th
// entry (its index, its event and Prepare's result for it, or the zero
// Prepared); emit gets its events, valid during the call. Neither may call
// the State: its locks are held. Readers wait for the whole run.
func (s *State) ApplyRun(n int, entry func(i int) (index uint64, ev eventlog.Event, p Prepared), emit func(i int, evs []api.Event)) {
	s.once.mu.Lock()
	defer s.once.mu.Unlock()
	for _, pl := range s.locked {
		pl.locker().Lock()
		defer pl.locker().Unlock()
	}
	for i := range n {
		index, ev, p := entry(i)
		if !p.ok {
			p = s.prep.Prepare(ev)
		}
		if !s.admitLocked(index, ev, &p, true) {
			emit(i, nil)
			continue
		}
		var out []api.Event
		if k := ev.Kind(); int(k) < len(s.Plugins.byKind) {
			if pl := s.Plugins.byKind[k]; pl != nil {
				out = pl.(lockedPlugin).applyLocked(index, ev)
			}
		}
		emit(i, out)
	}
}

// Lookup tells what became of the request (author, requestID): the index
// of the first entry that carried it, whether that entry was refused and
// why, and (Outcome.Matches) whether another event asks the same. ok is
// false while no entry with it has been applied here. Safe from any
// goroutine.
func (s *State) Lookup(author, requestID string) (o Outcome, ok bool) {
	return s.once.lookup(author, requestID)
}

// RefusalAt reports whether the applied entry at index was refused, and
// why; for audits. Like request ids, refusals are remembered for the once
// window only: an entry refused longer ago than that reports false.
func (s *State) RefusalAt(index uint64) (*api.Refusal, bool) {
	return s.once.refusalAt(index)
}

// Refused counts the entries refused so far, also those older than the
// once window.
func (s *State) Refused() uint64 {
	s.once.mu.RLock()
	defer s.once.mu.RUnlock()
	return s.once.refused
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
