package eventlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A snapshot file, <wal dir>/snapshots/snap-<seq as 20 digits>, holds:
//
//	"SYNCSNAP" | version u8 (1) | seq u64 | chain hash of record seq [32]
//	| section count uvarint | per folder: uvarint len, name, uvarint len, data
//	| CRC32C of everything before (u32)
//
// It is written to a temporary file, fsynced, renamed into place, and the
// directory fsynced, so a crash leaves either the old set or the new one.

const (
	snapMagic   = "SYNCSNAP"
	snapVersion = 1
	snapDirName = "snapshots"
	snapPrefix  = "snap-"
)

// SnapshotInfo describes a snapshot file.
type SnapshotInfo struct {
	Path string
	Seq  uint64 // last record folded into it
	Hash Hash   // chain hash of record Seq
}

func snapDir(walDir string) string { return filepath.Join(walDir, snapDirName) }

// Snapshots lists the snapshot files of a wal directory, newest first,
// without reading them.
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
		if !ok || len(digits) != 20 {
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

func latestSnapshotSeq(walDir string) uint64 {
	s, _ := Snapshots(walDir)
	if len(s) == 0 {
		return 0
	}
	return s[0].Seq
}

// encodeSnapshot builds the file contents for the registry's state.
func encodeSnapshot(seq uint64, h Hash, r *Registry) ([]byte, error) {
	b := append([]byte(snapMagic), snapVersion)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = append(b, h[:]...)
	b = binary.AppendUvarint(b, uint64(len(r.folders)))
	for _, f := range r.folders {
		data, err := f.Snapshot()
		if err != nil {
			return nil, fmt.Errorf("eventlog: snapshot of %s: %w", f.Name(), err)
		}
		b = binary.AppendUvarint(b, uint64(len(f.Name())))
		b = append(b, f.Name()...)
		b = binary.AppendUvarint(b, uint64(len(data)))
		b = append(b, data...)
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// decodeSnapshot checks a snapshot file's contents and splits its sections.
func decodeSnapshot(b []byte) (SnapshotInfo, map[string][]byte, error) {
	var info SnapshotInfo
	const fixed = len(snapMagic) + 1 + 8 + 32
	if len(b) < fixed+4 || !bytes.HasPrefix(b, []byte(snapMagic)) {
		return info, nil, errors.New("not a snapshot file")
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[len(body):]) {
		return info, nil, ErrChecksum
	}
	if v := body[len(snapMagic)]; v != snapVersion {
		return info, nil, fmt.Errorf("snapshot format version %d not supported", v)
	}
	info.Seq = binary.BigEndian.Uint64(body[len(snapMagic)+1:])
	copy(info.Hash[:], body[len(snapMagic)+9:])
	p := body[fixed:]
	count, n := binary.Uvarint(p)
	if n <= 0 {
		return info, nil, fmt.Errorf("%w: snapshot section count", ErrMalformed)
	}
	p = p[n:]
	sections := map[string][]byte{}
	for range count {
		name, rest, ok1 := cutBytes(p)
		data, rest, ok2 := cutBytes(rest)
		if !ok1 || !ok2 {
			return info, nil, fmt.Errorf("%w: snapshot section", ErrMalformed)
		}
		sections[string(name)], p = data, rest
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

// Snapshot writes a snapshot of r's state, which covers records up to
// r.Applied(), and prunes old snapshots. The registry must have been fed
// from this log. The caller must not Apply concurrently.
func (l *Log) Snapshot(r *Registry) (SnapshotInfo, error) {
	seq := r.Applied()
	if seq == 0 {
		return SnapshotInfo{}, errors.New("eventlog: nothing applied to snapshot")
	}
	h, err := l.HashAt(seq)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("eventlog: snapshot at %d: %w", seq, err)
	}
	data, err := encodeSnapshot(seq, h, r)
	if err != nil {
		return SnapshotInfo{}, err
	}
	dir := snapDir(l.dir)
	info := SnapshotInfo{Path: filepath.Join(dir, fmt.Sprintf("%s%020d", snapPrefix, seq)), Seq: seq, Hash: h}
	if err := writeFileAtomic(dir, info.Path, data); err != nil {
		return SnapshotInfo{}, fmt.Errorf("eventlog: write snapshot: %w", err)
	}
	l.mu.Lock()
	l.snapSeq = seq
	l.mu.Unlock()
	return info, l.pruneSnapshots()
}

// MaybeSnapshot takes a snapshot if at least Options.SnapshotEvery records
// were applied since the newest one. It reports whether it took one.
func (l *Log) MaybeSnapshot(r *Registry) (bool, error) {
	l.mu.Lock()
	due := l.opts.SnapshotEvery > 0 && r.Applied() >= l.snapSeq+uint64(l.opts.SnapshotEvery)
	l.mu.Unlock()
	if !due {
		return false, nil
	}
	_, err := l.Snapshot(r)
	return err == nil, err
}

func (l *Log) pruneSnapshots() error {
	snaps, err := Snapshots(l.dir)
	if err != nil {
		return err
	}
	for _, s := range snaps[min(len(snaps), l.opts.SnapshotKeep):] {
		if err := os.Remove(s.Path); err != nil {
			return fmt.Errorf("eventlog: prune snapshot: %w", err)
		}
	}
	// Temporary files of snapshots whose writer crashed before the rename.
	tmps, _ := filepath.Glob(filepath.Join(snapDir(l.dir), ".tmp-snap-*"))
	for _, t := range tmps {
		os.Remove(t)
	}
	return nil
}

// writeFileAtomic writes data to path via a temporary file, fsync, rename and
// directory fsync.
func writeFileAtomic(dir, path string, data []byte) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-snap-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// restoreSnapshot restores r from the newest usable snapshot and returns its
// sequence number, or 0 if none was usable.
func (l *Log) restoreSnapshot(r *Registry) (uint64, error) {
	snaps, err := Snapshots(l.dir)
	if err != nil {
		return 0, err
	}
	first, last, _, err := l.bounds()
	if err != nil {
		return 0, err
	}
	for _, s := range snaps {
		sections, reason := l.usableSnapshot(s, r, first, last)
		if reason != "" {
			l.opts.Logf("eventlog: skipping snapshot %s: %s", s.Path, reason)
			continue
		}
		for _, f := range r.folders {
			if err := f.Restore(sections[f.Name()]); err != nil {
				// Some folders may already hold the snapshot's state: no
				// safe fallback in this process.
				return 0, fmt.Errorf("eventlog: restore %s from %s: %w", f.Name(), s.Path, err)
			}
		}
		r.applied = s.Seq
		return s.Seq, nil
	}
	return 0, nil
}

// usableSnapshot reads s and says why it cannot be used ("" if it can).
func (l *Log) usableSnapshot(s SnapshotInfo, r *Registry, first, last uint64) (map[string][]byte, string) {
	if s.Seq > last || first == 0 || s.Seq+1 < first {
		return nil, fmt.Sprintf("covers index %d, log holds %d..%d", s.Seq, first, last)
	}
	b, err := os.ReadFile(s.Path)
	if err != nil {
		return nil, err.Error()
	}
	info, sections, err := decodeSnapshot(b)
	if err != nil {
		return nil, err.Error()
	}
	if info.Seq != s.Seq {
		return nil, fmt.Sprintf("file name says index %d, contents say %d", s.Seq, info.Seq)
	}
	h, err := l.HashAt(s.Seq)
	if err != nil {
		return nil, err.Error()
	}
	if h != info.Hash {
		return nil, fmt.Sprintf("chain hash at index %d is %s, snapshot expects %s (not from this log)", s.Seq, h.Short(), info.Hash.Short())
	}
	for _, f := range r.folders {
		if _, ok := sections[f.Name()]; !ok {
			return nil, fmt.Sprintf("no section for folder %s (added since?)", f.Name())
		}
	}
	return sections, ""
}
