package eventlog

import (
	"fmt"
	"os"
)

// tailFile is the segment file the writer appends to. The Log writes its
// segments itself, in tidwall/wal's layout (per record: uvarint length,
// bytes; each file named by its first sequence number, a new one once a
// file reaches SegmentSize — the cuts tidwall/wal makes), so tidwall/wal
// opens and reads every directory the Log writes (TestTidwallReadsWhatAppendWrites).
// It does not use tidwall/wal's writer: that keeps the whole tail segment
// in a slice grown by append, and at a few MB/s of records copying that
// slice as it grows by a quarter at a time, faulting in the fresh pages
// and collecting the old ones took 13–17% of a leader's CPU at 24k
// posts/s (docs/BENCHMARKS.md "Writes through SSH"), besides keeping
// 2×SegmentSize of the log in memory. Owned by the writer goroutine.
type tailFile struct {
	dir   string
	f     *os.File
	first uint64 // sequence number the file is named by
	size  int64  // bytes written to it
}

// openTail opens the last segment file, which a verifying Open has cut back
// to its last good record (end bytes), or creates the first one of an
// empty log (as tidwall/wal's Open would).
func openTail(dir string, first uint64, end int64, created bool) (*tailFile, error) {
	flags := os.O_WRONLY
	if created {
		flags |= os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(segmentPath(dir, first), flags, 0o640)
	if err != nil {
		return nil, fmt.Errorf("eventlog: open tail segment: %w", err)
	}
	if created {
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &tailFile{dir: dir, f: f, first: first, size: end}, nil
}

// write appends b, which holds whole records, at the end of the file.
func (t *tailFile) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	n, err := t.f.WriteAt(b, t.size)
	t.size += int64(n)
	if err != nil {
		return fmt.Errorf("eventlog: write %s: %w", t.f.Name(), err)
	}
	return nil
}

// roll seals the file (fsync, close; whatever NoSync says, as tidwall/wal
// does) and starts an empty one for record next. The caller fsyncs the
// directory before anything in the new file is acknowledged.
func (t *tailFile) roll(next uint64) error {
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("eventlog: fsync %s: %w", t.f.Name(), err)
	}
	if err := t.f.Close(); err != nil {
		return fmt.Errorf("eventlog: close %s: %w", t.f.Name(), err)
	}
	f, err := os.OpenFile(segmentPath(t.dir, next), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		t.f = nil
		return fmt.Errorf("eventlog: new segment: %w", err)
	}
	t.f, t.first, t.size = f, next, 0
	return nil
}

func (t *tailFile) sync() error {
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("eventlog: fsync %s: %w", t.f.Name(), err)
	}
	return nil
}

// close fsyncs and closes the file.
func (t *tailFile) close() error {
	if t.f == nil {
		return nil
	}
	err := t.f.Sync()
	if cerr := t.f.Close(); err == nil {
		err = cerr
	}
	t.f = nil
	return err
}
