package walcmd

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/state"
)

// folder applies the effective log's committed entries to node/state's
// plugins while the scan is still reading the log, on a second goroutine:
// logFold hands over each entry once the CommittedUpTo record covering it
// is read, when it can no longer change (see logFold), in index order. On
// two cores this hides most of the fold behind the scan. Entries travel in
// batches of foldBatch, at most foldInFlight batches at a time, recycled:
// the folder holds no more of the log than that.
//
// What it keeps besides node/state's plugins is the summary of what it
// applied: the last index and time, messages per room, the user names
// mentioned, and the sparse index of where the applied entries are in the
// WAL (walMessages, 0.5 bytes an entry).
type folder struct {
	until until
	st    *state.State
	at    int64  // wall time of the last applied entry with one
	index uint64 // cluster index of the last applied entry
	stop  bool   // the until point was passed
	// users is every user name the applied entries mention: registered,
	// authors, recipients, room members. Each key is a copy of the name,
	// not a window into some entry's payload: a lookup's comparison then
	// reads a small string of its own, close to the others, instead of a
	// cold payload.
	users map[string]bool
	// mod is the bans and mutes applied.
	mod moderation

	// msgs finds the applied entries in the WAL for the chat (the
	// state's MessageSource); its Reader comes from the scan.
	msgs walMessages

	batch  []foldEntry      // filling, on the scan's goroutine
	feed   chan []foldEntry // to the folder's goroutine
	free   chan []foldEntry // and back, cleared
	done   chan struct{}
	closed bool
	prep   state.Preparer // the scan goroutine's
	sink   byte           // touch's
}

// foldEntry is an entry on its way to the folder, with what applying it
// computes from it alone (its request key and digest), computed on the
// scan's goroutine: state.Prepare is a pure function of the entry, and the
// folder's goroutine is the busier one.
type foldEntry struct {
	state.Entry
	prep state.Prepared
}

const (
	foldBatch    = 256
	foldInFlight = 16
)

func startFolder(u until) *folder {
	f := &folder{until: u, done: make(chan struct{}), users: map[string]bool{},
		feed: make(chan []foldEntry, foldInFlight), free: make(chan []foldEntry, foldInFlight+1),
		batch: make([]foldEntry, 0, foldBatch)}
	// With a MessageSource the chat keeps of each message only where it is
	// (a few bytes) and reads them back from the WAL (walMessages): memory
	// does not grow with the log. It keeps no cache of recent messages
	// (RecentPerRoom < 0): the cache serves a node's sessions, a replay
	// reads a room's history at most once, and filling it cost the fold
	// 10% of its CPU and held 30 MB (64,000 messages with their payloads)
	// for the GC to scan. Messages read back are built by the code that
	// builds the cached ones (state.Chat), so what is printed is the same.
	// The once window is the default (24h): the WAL does not record the
	// cluster's (Storage.DedupeWindow in its config); a cluster configured
	// otherwise may deduplicate a late retry differently.
	opts := state.Options{Now: func() time.Time { return time.Unix(0, f.at).UTC() }, Messages: &f.msgs, RecentPerRoom: -1}
	if cf, err := tempChunkFile(); err == nil {
		opts.Chunks = cf // and where each message is goes to disk as the rooms fill
	}
	f.st = state.NewWith(opts)
	go func() {
		defer close(f.done)
		for batch := range f.feed {
			f.apply(batch)
			clear(batch)
			select {
			case f.free <- batch[:0]:
			default:
			}
		}
	}()
	return f
}

// tempChunkFile is an index chunk file for this process only: its
// directory is removed at once, and the open file goes when the process
// ends.
func tempChunkFile() (*state.ChunkFile, error) {
	dir, err := os.MkdirTemp("", "syncnet-wal-index-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	return state.OpenChunkFile(filepath.Join(dir, "chunks"), true)
}

// add queues one entry; entries come in index order, each once.
func (f *folder) add(en state.Entry) {
	f.batch = append(f.batch, foldEntry{Entry: en, prep: f.prep.Prepare(en.Event)})
	if len(f.batch) == foldBatch {
		f.flush()
	}
}

func (f *folder) flush() {
	if len(f.batch) == 0 {
		return
	}
	f.feed <- f.batch
	select {
	case f.batch = <-f.free:
	default:
		f.batch = make([]foldEntry, 0, foldBatch)
	}
}

// apply folds entries that follow the ones applied so far, up to the until
// point: a cluster index, or the first entry later than a time.
//
// The entries up to that point are applied as one run (state.ApplyRun:
// the State's locks taken once for the batch, not once per entry).
func (f *folder) apply(entries []foldEntry) {
	n := 0
	for ; n < len(entries) && !f.stop; n++ {
		ev := &entries[n].Event
		if (f.until.index != 0 && ev.Index > f.until.index) || (f.until.time != 0 && ev.Time > f.until.time) {
			f.stop = true
			break
		}
	}
	entries = entries[:n]
	f.touch(entries)
	f.st.ApplyRun(len(entries), func(i int) (uint64, eventlog.Event, state.Prepared) {
		en := &entries[i]
		return en.Event.Index, en.Event, en.prep
	}, func(i int, evs []api.Event) {
		for _, out := range evs {
			if out.Kind == api.EventModeration {
				f.mod.add(out)
			}
		}
	})
	for i := range entries {
		en := &entries[i]
		f.msgs.add(en.Event.Index, en.Seq)
		f.mentions(en.Event)
		if en.Event.Time != 0 {
			f.at = en.Event.Time
		}
		f.index = en.Event.Index
	}
	f.msgs.flush()
}

// touch reads the first byte of each post's room name before the batch is
// applied. The entries were decoded on another goroutine, most likely on
// the other core, and the first read of each is a cache miss that the
// apply otherwise takes one entry at a time, waiting for each (the room's
// map lookup reads the name first: 15-20% of the fold's CPU in a profile
// of a replay of 10M entries). Read in a loop of their own, the misses
// overlap. sink keeps the reads from being optimized away.
func (f *folder) touch(entries []foldEntry) {
	var x byte
	for i := range entries {
		switch b := entries[i].Event.Body.(type) {
		case *eventlog.MessagePosted:
			if b.Room != "" {
				x ^= b.Room[0]
			}
		case *eventlog.DirectMessage:
			if b.From != "" {
				x ^= b.From[0]
			}
		}
	}
	f.sink ^= x
}

// mentions adds the user names an entry mentions, applied or not.
func (f *folder) mentions(ev eventlog.Event) {
	switch b := ev.Body.(type) {
	case *eventlog.UserRegistered:
		f.mention(b.Name)
	case *eventlog.MessagePosted:
		f.mention(b.From)
	case *eventlog.DirectMessage:
		f.mention(b.From)
		f.mention(b.To)
	case *eventlog.MemberJoinedRoom:
		f.mention(b.User)
	}
}

func (f *folder) mention(name string) {
	if name != "" && !f.users[name] {
		f.users[strings.Clone(name)] = true
	}
}

// wait sends what is queued, closes the feed and waits for the goroutine;
// after the first call it does nothing. Call it when the scan is over (or
// will not happen).
func (f *folder) wait() {
	if f.closed {
		return
	}
	f.closed = true
	f.flush()
	close(f.feed)
	<-f.done
}

// close waits for the folder (wait) and closes the WAL reader its state
// reads messages through: call it when done with the result.
func (f *folder) close() {
	f.wait()
	f.msgs.close()
}

// result returns the state as folded.
func (f *folder) result(a *analysis) *rebuilt {
	// Messages per room (and direct conversation): the chat keeps each
	// message it applies once (a retried post never reaches it, I5).
	return &rebuilt{a: a, st: f.st, uncommitted: a.opts.tail, until: f.until, counts: f.st.Chat.MessageCounts(),
		users: sortedKeys(f.users), last: f.index, lastTime: f.at, mod: &f.mod}
}
