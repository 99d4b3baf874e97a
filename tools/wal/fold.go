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
	// counts is messages per room (and direct conversation), from what the
	// chat plugin reports; a retried post it drops is not counted (I5).
	// Each count is a pointer, one map lookup a message, and each key a
	// copy of the name, not a window into some message's payload: the
	// lookup's comparison then reads a small string of its own, close to
	// the others, instead of a cold payload (in a profile of replay of 10M
	// records this took the map from 9% of the fold's CPU to 3%).
	counts map[string]*int
	// users is every user name the applied entries mention: registered,
	// authors, recipients, room members.
	users map[string]bool
	// mod is the bans and mutes applied.
	mod moderation

	// msgs finds the applied entries in the WAL for the chat (the
	// state's MessageSource); its Reader comes from the scan.
	msgs walMessages

	batch  []state.Entry      // filling, on the scan's goroutine
	feed   chan []state.Entry // to the folder's goroutine
	free   chan []state.Entry // and back, cleared
	done   chan struct{}
	closed bool
}

const (
	foldBatch    = 256
	foldInFlight = 16
)

func startFolder(u until) *folder {
	f := &folder{until: u, done: make(chan struct{}), counts: map[string]*int{}, users: map[string]bool{},
		feed: make(chan []state.Entry, foldInFlight), free: make(chan []state.Entry, foldInFlight+1),
		batch: make([]state.Entry, 0, foldBatch)}
	// With a MessageSource the chat keeps of each message only where it is
	// (a few bytes) and a bounded cache of recent ones, and reads the rest
	// back from the WAL (walMessages): memory does not grow with the log.
	// The once window is the default (24h): the WAL does not record the
	// cluster's (Storage.DedupeWindow in its config); a cluster configured
	// otherwise may deduplicate a late retry differently.
	opts := state.Options{Now: func() time.Time { return time.Unix(0, f.at).UTC() }, Messages: &f.msgs}
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
	f.batch = append(f.batch, en)
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
		f.batch = make([]state.Entry, 0, foldBatch)
	}
}

// apply folds entries that follow the ones applied so far, up to the until
// point: a cluster index, or the first entry later than a time.
func (f *folder) apply(entries []state.Entry) {
	for _, en := range entries {
		ev := en.Event
		if f.stop || (f.until.index != 0 && ev.Index > f.until.index) || (f.until.time != 0 && ev.Time > f.until.time) {
			f.stop = true
			return
		}
		f.msgs.add(ev.Index, en.Seq)
		for _, out := range f.st.Plugins.Apply(ev.Index, ev) {
			switch out.Kind {
			case api.EventMessage:
				n := f.counts[out.Message.Room]
				if n == nil {
					n = new(int)
					f.counts[strings.Clone(out.Message.Room)] = n
				}
				*n++
			case api.EventModeration:
				f.mod.add(out)
			}
		}
		f.mentions(ev)
		if ev.Time != 0 {
			f.at = ev.Time
		}
		f.index = ev.Index
	}
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
		f.users[name] = true
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
	counts := make(map[string]int, len(f.counts))
	for room, n := range f.counts {
		counts[room] = *n
	}
	return &rebuilt{a: a, st: f.st, uncommitted: a.opts.tail, until: f.until, counts: counts,
		users: sortedKeys(f.users), last: f.index, lastTime: f.at, mod: &f.mod}
}
