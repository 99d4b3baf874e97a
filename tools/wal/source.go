package walcmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/syncnet/syncnet/eventlog"
)

// source is a resolved wal directory.
type source struct {
	arg      string    // as given on the command line
	dir      string    // the wal directory read
	segments []segment // in sequence order
	bytes    int64     // size of the segment files
	snaps    int       // snapshot files
	snapSize int64
	records  int64 // estimateRecords, -1 until computed
}

type segment struct {
	path  string
	first uint64 // sequence number of its first record (from its name)
	size  int64
}

// openSource resolves arg to a wal directory: arg itself if it holds segment
// files, else arg/wal (a node directory). It says on stderr when it used the
// node-directory form. It never writes or locks anything.
func openSource(e *env, arg string) (*source, error) {
	fi, err := os.Stat(arg)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, exitf(ExitInput, "%s: no such directory", arg)
		}
		return nil, exitf(ExitInput, "%s: %v", arg, err)
	}
	if !fi.IsDir() {
		return nil, exitf(ExitInput, "%s: not a directory (want a wal directory such as <data_dir>/<id>/wal)", arg)
	}
	s := &source{arg: arg, dir: arg, records: -1}
	if err := s.list(); err != nil {
		return nil, err
	}
	if len(s.segments) == 0 {
		sub := filepath.Join(arg, "wal")
		if fi, err := os.Stat(sub); err == nil && fi.IsDir() {
			s.dir = sub
			if err := s.list(); err != nil {
				return nil, err
			}
			if len(s.segments) > 0 {
				e.note("%s is a node directory; reading its wal directory %s", arg, sub)
			}
		}
	}
	if len(s.segments) == 0 {
		return nil, exitf(ExitInput, "%s: not a SyncNet WAL: %s", arg, s.describeForeign())
	}
	return s, nil
}

// isSegmentName reports whether name is a tidwall/wal segment file name: the
// first sequence number as 20 decimal digits. Longer names starting with
// digits (interrupted truncations) are left to eventlog.Scan to refuse.
func isSegmentName(name string) (uint64, bool) {
	if len(name) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(name, 10, 64)
	return n, err == nil && n > 0
}

func (s *source) list() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return exitf(ExitInput, "%s: %v", s.dir, err)
	}
	s.segments, s.bytes = nil, 0
	for _, de := range ents {
		first, ok := isSegmentName(de.Name())
		if !ok || de.IsDir() {
			continue
		}
		info, err := de.Info()
		if err != nil {
			return exitf(ExitInput, "%s: %v", s.dir, err)
		}
		s.segments = append(s.segments, segment{path: filepath.Join(s.dir, de.Name()), first: first, size: info.Size()})
		s.bytes += info.Size()
	}
	sort.Slice(s.segments, func(i, j int) bool { return s.segments[i].first < s.segments[j].first })
	snaps, _ := eventlog.Snapshots(s.dir)
	s.snaps, s.snapSize = len(snaps), 0
	for _, sn := range snaps {
		if fi, err := os.Stat(sn.Path); err == nil {
			s.snapSize += fi.Size()
		}
	}
	return nil
}

// describeForeign says what the directory holds instead of segment files.
func (s *source) describeForeign() string {
	ents, err := os.ReadDir(s.arg)
	if err != nil || len(ents) == 0 {
		return "the directory is empty (a wal directory holds segment files named by 20 digits)"
	}
	var nodes []string
	for _, de := range ents {
		if fi, err := os.Stat(filepath.Join(s.arg, de.Name(), "wal")); err == nil && fi.IsDir() {
			nodes = append(nodes, filepath.Join(s.arg, de.Name()))
		}
	}
	if len(nodes) > 0 {
		return fmt.Sprintf("it looks like a data_dir holding node directories; give one of them: %s", strings.Join(nodes, ", "))
	}
	var names []string
	for i, de := range ents {
		if i == 5 {
			names = append(names, "...")
			break
		}
		names = append(names, strconv.Quote(de.Name()))
	}
	return fmt.Sprintf("no segment files (20-digit names) here or in %s/wal; found %s",
		s.arg, strings.Join(names, ", "))
}

// fileOf returns the segment file holding sequence number seq.
func (s *source) fileOf(seq uint64) string {
	i := sort.Search(len(s.segments), func(i int) bool { return s.segments[i].first > seq })
	if i == 0 {
		return s.dir
	}
	return s.segments[i-1].path
}

// label names the node a source belongs to: the node directory's name.
func (s *source) label() string {
	d := filepath.Clean(s.dir)
	if filepath.Base(d) == "wal" {
		return filepath.Base(filepath.Dir(d))
	}
	return filepath.Base(d)
}

// errStop ends a scan early without an error.
var errStop = errors.New("stop")

// scan runs eventlog.Scan over the source, checking ctx now and then, with a
// progress bar on a terminal: bar if not nil (shared by several scans),
// else one of its own. fn may return errStop.
func (s *source) scan(e *env, what string, bar *progress, fn func(seq uint64, ev eventlog.Event, h eventlog.Hash) error) (eventlog.ScanReport, error) {
	rep, _, err := s.scanReader(e, what, bar, false, fn)
	return rep, err
}

// scanReader is scan; with keep, it runs eventlog.ScanReader and also
// returns, if the scan got to the end, a Reader over the records it
// verified (read-only too), which the caller closes.
func (s *source) scanReader(e *env, what string, bar *progress, keep bool, fn func(seq uint64, ev eventlog.Event, h eventlog.Hash) error) (eventlog.ScanReport, *eventlog.Reader, error) {
	return s.scanWith(e, what, bar, func(tick func() error) (eventlog.ScanReport, *eventlog.Reader, error) {
		visit := func(seq uint64, ev eventlog.Event, h eventlog.Hash) error {
			if err := tick(); err != nil {
				return err
			}
			return fn(seq, ev, h)
		}
		if keep {
			return eventlog.ScanReader(s.dir, visit)
		}
		rep, err := eventlog.Scan(s.dir, visit)
		return rep, nil, err
	})
}

// scanChecked is scanReader through eventlog.ScanChecked: fn gets every
// record checked (payload included) and decoded only if decode is set or
// fn asks for it.
func (s *source) scanChecked(e *env, what string, bar *progress, keep, decode bool, fn func(r *eventlog.CheckedRecord) error) (eventlog.ScanReport, *eventlog.Reader, error) {
	return s.scanWith(e, what, bar, func(tick func() error) (eventlog.ScanReport, *eventlog.Reader, error) {
		visit := func(r *eventlog.CheckedRecord) error {
			if err := tick(); err != nil {
				return err
			}
			return fn(r)
		}
		if keep {
			return eventlog.ScanCheckedReader(s.dir, decode, visit)
		}
		rep, err := eventlog.ScanChecked(s.dir, decode, visit)
		return rep, nil, err
	})
}

// scanWith runs a scan with a progress bar (bar if not nil, shared by
// several scans, else one of its own); the scan calls tick for every
// record, which checks ctx now and then. A scan ended by errStop ends
// without an error.
func (s *source) scanWith(e *env, what string, bar *progress, scan func(tick func() error) (eventlog.ScanReport, *eventlog.Reader, error)) (eventlog.ScanReport, *eventlog.Reader, error) {
	own := bar == nil
	if own {
		bar = newProgress(e, s.estimateRecords, what+" "+s.dir)
	}
	var n uint64
	tick := func() error {
		if n++; n&4095 == 0 {
			if err := e.ctx.Err(); err != nil {
				return err
			}
			bar.add(4096)
			probeMemory()
		}
		return nil
	}
	rep, r, err := scan(tick)
	if own {
		bar.done()
	}
	if errors.Is(err, errStop) {
		err = nil
	}
	return rep, r, err
}

// memProbe, if set (by a test), is called every 4096 records and when a
// fold is over, to measure the memory held.
var memProbe func()

func probeMemory() {
	if memProbe != nil {
		memProbe()
	}
}

// readError classifies an error of scan: damage and unreadable records are
// problems in the log (exit 1), everything else is input trouble (exit 4).
func readError(s *source, err error) error {
	if err == nil {
		return nil
	}
	if code, ok := logProblem(err); ok {
		return exitf(code, "%s", describeErr(s, err))
	}
	return exitf(ExitInput, "read %s: %v", s.dir, err)
}

// logProblem reports whether err is about the log's contents: anything
// eventlog.Scan reports except a file it could not read or an interruption.
func logProblem(err error) (int, bool) {
	var pe *fs.PathError
	if errors.As(err, &pe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return 0, false
	}
	return ExitProblem, true
}

// describeErr prints a scan error as "corrupt: FILE index N: reason".
func describeErr(s *source, err error) string {
	var ce *eventlog.CorruptError
	if errors.As(err, &ce) {
		if ce.Index == 0 {
			return fmt.Sprintf("corrupt: %s: %s", ce.File, ce.Reason)
		}
		return fmt.Sprintf("corrupt: %s index %d: %s", ce.File, ce.Index, ce.Reason)
	}
	return "unreadable: " + strings.ReplaceAll(err.Error(), "eventlog: ", "")
}

// tornLine is how every subcommand reports a torn tail.
func tornLine(t *eventlog.TornTail) string {
	return fmt.Sprintf("torn tail: the node would cut %d bytes at index %d of %s (%s)", t.Bytes, t.Index, t.File, t.Reason)
}

// warnTorn notes a torn tail on stderr for the subcommands other than verify:
// the records before it are good and are what the node would keep.
func warnTorn(e *env, rep eventlog.ScanReport) {
	if rep.Torn != nil {
		e.note("warning: %s; showing the %d good records before it", tornLine(rep.Torn), rep.LastSeq)
	}
}
