package eventlog

import (
	"errors"
	"fmt"
)

// Folder is a piece of state built by folding events: a plugin's rooms,
// users, presence, or the replication layer's view of what is committed and
// discarded. Folders are driven by one goroutine (Replay, then the node's
// apply loop); they need no locking for Fold, Snapshot and Restore.
type Folder interface {
	// Name is stable across versions: it keys the folder's section of a
	// snapshot.
	Name() string
	// Kinds lists the kinds the folder wants; it sees no others.
	Kinds() []Kind
	// Fold applies one event. Events arrive in log order, each once. An
	// error stops replay: state and log disagree and the node must not run.
	Fold(seq uint64, ev Event) error
	// Snapshot returns the folder's whole state in any encoding it likes
	// (versioned by the folder), so that Restore of it followed by the events
	// after the snapshot equals folding the whole log.
	Snapshot() ([]byte, error)
	// Restore replaces the folder's state with a snapshot's.
	Restore(data []byte) error
}

// Registry holds the folders and routes each event to those that own its
// kind. It remembers the sequence number of the last event applied, which is
// what a snapshot covers.
type Registry struct {
	folders []Folder
	byKind  [][]Folder // indexed by Kind
	names   map[string]bool
	applied uint64
}

// NewRegistry returns a registry holding fs.
func NewRegistry(fs ...Folder) (*Registry, error) {
	r := &Registry{names: map[string]bool{}}
	for _, f := range fs {
		if err := r.Register(f); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Register adds a folder. Names must be unique. Register before Replay.
func (r *Registry) Register(f Folder) error {
	name := f.Name()
	if name == "" || r.names[name] {
		return fmt.Errorf("eventlog: folder name %q empty or registered twice", name)
	}
	if r.applied != 0 {
		return errors.New("eventlog: Register after events were applied")
	}
	r.names[name] = true
	r.folders = append(r.folders, f)
	for _, k := range f.Kinds() {
		for int(k) >= len(r.byKind) {
			r.byKind = append(r.byKind, nil)
		}
		r.byKind[k] = append(r.byKind[k], f)
	}
	return nil
}

// Apply folds one event into the folders owning its kind. Sequence numbers
// must increase; a repeated or older one is a caller bug and an error.
func (r *Registry) Apply(seq uint64, ev Event) error {
	if seq <= r.applied {
		return fmt.Errorf("eventlog: Apply(%d) after %d: events must be applied once, in order", seq, r.applied)
	}
	if k := int(ev.Kind()); k < len(r.byKind) {
		for _, f := range r.byKind[k] {
			if err := f.Fold(seq, ev); err != nil {
				return fmt.Errorf("eventlog: fold %s index %d into %s: %w", ev.Kind(), seq, f.Name(), err)
			}
		}
	}
	r.applied = seq
	return nil
}

// Applied returns the sequence number of the last applied event (0 if none).
func (r *Registry) Applied() uint64 { return r.applied }

// ReplayStats says what Replay did.
type ReplayStats struct {
	SnapshotSeq uint64 // sequence number of the snapshot restored, 0 if none
	Folded      uint64 // events folded after it
	LastSeq     uint64 // last sequence number applied
}

// Replay rebuilds the state of a fresh registry from l: it restores the
// newest usable snapshot (its checksum verifies, it covers a record still in
// the log whose chain hash matches, and it has a section for every folder)
// and folds every later record. Unusable snapshots are skipped with a log
// line. It folds every record up to the current last one; records the
// replication layer later discards are undone by folding SuffixDiscarded.
// After Replay, the caller applies new committed events with r.Apply and
// calls l.MaybeSnapshot(r) now and then.
func Replay(l *Log, r *Registry) (ReplayStats, error) {
	var st ReplayStats
	if r.applied != 0 {
		return st, errors.New("eventlog: Replay into a registry that already applied events")
	}
	seq, err := l.restoreSnapshot(r)
	if err != nil {
		return st, err
	}
	st.SnapshotSeq = seq
	err = l.Iter(seq+1, func(seq uint64, ev Event) error {
		st.Folded++
		return r.Apply(seq, ev)
	})
	st.LastSeq = r.applied
	return st, err
}
