package walcmd

import (
	"time"

	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/state"
)

// folder applies committed entries to node/state's plugins while the scan
// is still reading the log, on a second goroutine: an entry at or below a
// recorded commit index never changes again (a discard below it is refused
// by ReplicatedLog.Add), so it can be applied as soon as the CommittedUpTo
// record covering it is read. On two cores this hides most of the fold
// behind the scan.
type folder struct {
	until until
	st    *state.State
	at    int64 // wall time of the last applied entry with one
	n     int   // entries applied: a prefix of the effective log
	stop  bool  // the until point was passed
	// counts is messages per room (and direct conversation), from what the
	// chat plugin reports; a retried post it drops is not counted (I5).
	counts map[string]int
	feed   chan []state.Entry
	done   chan struct{}
}

func startFolder(u until) *folder {
	f := &folder{until: u, feed: make(chan []state.Entry, 64), done: make(chan struct{}), counts: map[string]int{}}
	f.st = state.New(func() time.Time { return time.Unix(0, f.at).UTC() })
	go func() {
		defer close(f.done)
		for batch := range f.feed {
			f.apply(batch)
		}
	}()
	return f
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
		for _, out := range f.st.Plugins.Apply(ev.Index, ev) {
			if out.Kind == api.EventMessage {
				f.counts[out.Message.Room]++
			}
		}
		if ev.Time != 0 {
			f.at = ev.Time
		}
		f.n++
	}
}

// wait closes the feed and waits for the goroutine. Call it once, after the
// scan.
func (f *folder) wait() {
	close(f.feed)
	<-f.done
}

// finish applies the uncommitted tail if asked to and returns the state.
func (f *folder) finish(a *analysis, uncommitted bool) *rebuilt {
	if uncommitted {
		f.apply(a.log.Entries[a.log.Commit:])
	}
	return &rebuilt{a: a, st: f.st, applied: a.log.Entries[:f.n], uncommitted: uncommitted, until: f.until, counts: f.counts}
}
