package eventlog

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A snapshot file, <wal dir>/snapshots/snap-<seq as 20 digits>, holds:
//
//	"SYNCSNAP" | version u8 (1) | seq u64 | chain hash of record seq [32]
//	| section count uvarint | per section: uvarint len, name, uvarint len, data
//	| CRC32C of everything before (u32)
//
// It is written to a temporary file (.tmp-snap-*), fsynced, renamed into
// place, and the directory fsynced, so a crash leaves either the old set or
// the new one, plus perhaps a temporary file that the next WriteSnapshot
// removes. Snapshots ignores temporary files.

const (
	snapMagic   = "SYNCSNAP"
	snapVersion = 1
	snapDirName = "snapshots"
	snapPrefix  = "snap-"
	snapTmp     = ".tmp-snap-"
)

// Section is one named part of a snapshot: whatever a piece of state (a
// plugin, the replicated log) encodes itself as. Its encoding and versioning
// are the owner's; eventlog only stores and checksums the bytes.
type Section struct {
	Name string
	Data []byte
}

// SnapshotInfo describes a snapshot file.
type SnapshotInfo struct {
	Path string
	Seq  uint64 // the last record the snapshotted state covers
	Hash Hash   // chain hash of record Seq (zero from Snapshots, which reads no file)
}

func snapDir(walDir string) string { return filepath.Join(walDir, snapDirName) }

func snapPath(walDir string, seq uint64) string {
	return filepath.Join(snapDir(walDir), fmt.Sprintf("%s%020d", snapPrefix, seq))
}

// Snapshots lists the snapshot files of a wal directory, newest first,
// without reading them (Hash is zero; ReadSnapshot reads one).
func Snapshots(walDir string) ([]SnapshotInfo, error) {
	ents, err := os.ReadDir(snapDir(walDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []SnapshotInfo
	for _, e := range ents {
		name := e.Name()
		digits, ok := strings.CutPrefix(name, snapPrefix)
		if !ok || len(digits) != 20 || e.IsDir() {
			continue
		}
		seq, err := strconv.ParseUint(digits, 10, 64)
		if err != nil {
			continue
		}
		out = append(out, SnapshotInfo{Path: filepath.Join(snapDir(walDir), name), Seq: seq})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq > out[j].Seq })
	return out, nil
}

// snapStep names the steps of WriteSnapshot at which the crash test stops
// the process (Log.snapHook).
type snapStep int

const (
	snapCreated   snapStep = iota + 1 // temporary file created, empty
	snapWritten                       // contents written, not fsynced
	snapSynced                        // temporary file fsynced and closed
	snapRenamed                       // renamed into place, directory not fsynced
	snapDirSynced                     // directory fsynced, older snapshots not pruned
)

// WriteSnapshot stores sections as the snapshot of the state that covers
// records up to seq (which must be in the log: FirstSeq ≤ seq ≤ LastSeq),
// together with the chain hash of record seq, which it reads and checks
// itself (as HashAt). The file is written atomically (temporary file, fsync,
// rename, directory fsync); then the snapshot directory is pruned to the
// Options.SnapshotKeep newest files and temporary files that a crashed write
// left behind are removed. Section names must be unique; the order is kept.
//
// It may run in a goroutine of its own while others Append: it reads only
// durable records, and WriteSnapshot calls are serialised among themselves.
// The data is not retained after it returns.
func (l *Log) WriteSnapshot(seq uint64, sections []Section) (SnapshotInfo, error) {
	names := make(map[string]bool, len(sections))
	for _, s := range sections {
		if names[s.Name] {
			return SnapshotInfo{}, fmt.Errorf("eventlog: snapshot at %d: section %q twice", seq, s.Name)
		}
		names[s.Name] = true
	}
	if seq == 0 {
		return SnapshotInfo{}, fmt.Errorf("eventlog: snapshot at 0: %w", ErrNotFound)
	}
	h, err := l.HashAt(seq)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("eventlog: snapshot at %d: %w", seq, err)
	}
	l.snapMu.Lock()
	defer l.snapMu.Unlock()
	dir := snapDir(l.dir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return SnapshotInfo{}, fmt.Errorf("eventlog: write snapshot: %w", err)
	}
	// Any temporary file here is stale: writes are serialised and the
	// directory lock keeps other processes out.
	removeSnapTemps(dir)
	info := SnapshotInfo{Path: snapPath(l.dir, seq), Seq: seq, Hash: h}
	err = writeFileAtomic(dir, info.Path, func(w io.Writer) error {
		return encodeSnapshot(w, seq, h, sections)
	}, l.snapHook)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("eventlog: write snapshot %s: %w", info.Path, err)
	}
	return info, l.pruneSnapshots()
}

// ReadSnapshot reads and checks the snapshot file at path: magic, format
// version, CRC, and that the sequence number in its name is the one inside.
// It returns the sections in the order they were written. It does not check
// the hash against a log: the caller compares info.Hash with the record's
// chain hash (or opens the log with Options.Trust, which does).
func ReadSnapshot(path string) (SnapshotInfo, []Section, error) {
	digits, ok := strings.CutPrefix(filepath.Base(path), snapPrefix)
	nameSeq, err := strconv.ParseUint(digits, 10, 64)
	if !ok || len(digits) != 20 || err != nil {
		return SnapshotInfo{}, nil, fmt.Errorf("eventlog: %s: not a snapshot file name (snap-<20 digits>)", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return SnapshotInfo{}, nil, fmt.Errorf("eventlog: read snapshot: %w", err)
	}
	info, sections, err := decodeSnapshot(b)
	if err != nil {
		return SnapshotInfo{}, nil, fmt.Errorf("eventlog: snapshot %s: %w", path, err)
	}
	if info.Seq != nameSeq {
		return SnapshotInfo{}, nil, fmt.Errorf("eventlog: snapshot %s: %w: file name says index %d, contents say %d", path, ErrMalformed, nameSeq, info.Seq)
	}
	info.Path = path
	return info, sections, nil
}

// encodeSnapshot writes the file contents to w.
func encodeSnapshot(w io.Writer, seq uint64, h Hash, sections []Section) error {
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 256<<10)
	b := append([]byte(snapMagic), snapVersion)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = append(b, h[:]...)
	b = binary.AppendUvarint(b, uint64(len(sections)))
	bw.Write(b)
	for _, s := range sections {
		b = binary.AppendUvarint(b[:0], uint64(len(s.Name)))
		b = append(b, s.Name...)
		b = binary.AppendUvarint(b, uint64(len(s.Data)))
		bw.Write(b)
		bw.Write(s.Data)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(binary.BigEndian.AppendUint32(nil, crc.Sum32()))
	return err
}

// decodeSnapshot checks a snapshot file's contents and splits its sections;
// their Data aliases b.
func decodeSnapshot(b []byte) (SnapshotInfo, []Section, error) {
	var info SnapshotInfo
	const fixed = len(snapMagic) + 1 + 8 + 32
	if len(b) < fixed+4 || !bytes.HasPrefix(b, []byte(snapMagic)) {
		return info, nil, fmt.Errorf("%w: not a snapshot file", ErrMalformed)
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[len(body):]) {
		return info, nil, ErrChecksum
	}
	if v := body[len(snapMagic)]; v != snapVersion {
		return info, nil, fmt.Errorf("%w: snapshot format version %d, this build reads %d", ErrMalformed, v, snapVersion)
	}
	info.Seq = binary.BigEndian.Uint64(body[len(snapMagic)+1:])
	copy(info.Hash[:], body[len(snapMagic)+9:])
	p := body[fixed:]
	count, n := binary.Uvarint(p)
	if n <= 0 || count > uint64(len(p)) {
		return info, nil, fmt.Errorf("%w: snapshot section count", ErrMalformed)
	}
	p = p[n:]
	sections := make([]Section, 0, count)
	for range count {
		name, rest, ok1 := cutBytes(p)
		data, rest, ok2 := cutBytes(rest)
		if !ok1 || !ok2 {
			return info, nil, fmt.Errorf("%w: snapshot section %d", ErrMalformed, len(sections))
		}
		sections = append(sections, Section{Name: string(name), Data: data})
		p = rest
	}
	if len(p) != 0 {
		return info, nil, fmt.Errorf("%w: %d bytes after the last snapshot section", ErrMalformed, len(p))
	}
	return info, sections, nil
}

// cutBytes splits a uvarint-length-prefixed byte string off p.
func cutBytes(p []byte) (val, rest []byte, ok bool) {
	l, n := binary.Uvarint(p)
	if n <= 0 || l > uint64(len(p)-n) {
		return nil, nil, false
	}
	return p[n : n+int(l)], p[n+int(l):], true
}

// pruneSnapshots keeps the Options.SnapshotKeep newest snapshot files.
func (l *Log) pruneSnapshots() error {
	snaps, err := Snapshots(l.dir)
	if err != nil {
		return fmt.Errorf("eventlog: prune snapshots: %w", err)
	}
	for _, s := range snaps[min(len(snaps), l.opts.SnapshotKeep):] {
		if err := os.Remove(s.Path); err != nil {
			return fmt.Errorf("eventlog: prune snapshot: %w", err)
		}
	}
	return nil
}

// removeSnapTemps removes temporary files of snapshot writes that crashed
// before their rename.
func removeSnapTemps(dir string) {
	tmps, _ := filepath.Glob(filepath.Join(dir, snapTmp+"*"))
	for _, t := range tmps {
		os.Remove(t)
	}
}

// writeFileAtomic writes a file at path via a temporary file in dir: write,
// fsync, rename, directory fsync. hook, if not nil, is called after each step.
func writeFileAtomic(dir, path string, write func(io.Writer) error, hook func(snapStep)) error {
	step := func(s snapStep) {
		if hook != nil {
			hook(s)
		}
	}
	f, err := os.CreateTemp(dir, snapTmp+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	step(snapCreated)
	err = write(f)
	if err == nil {
		step(snapWritten)
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		step(snapSynced)
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	step(snapRenamed)
	if err := syncDir(dir); err != nil {
		return err
	}
	step(snapDirSynced)
	return nil
}
