package node

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/config"
	"github.com/syncnet/syncnet/node/replica"
)

// RestoreOptions say what to restore where.
type RestoreOptions struct {
	Config *config.Config
	ID     string // the node whose data directory is prepared
	// Open opens the backup file from its start (Restore reads it twice
	// with UntilTime: once to find where to cut).
	Open func() (io.ReadCloser, error)
	// UntilIndex, if set, restores entries 1..UntilIndex only.
	UntilIndex uint64
	// UntilTime, if set, restores the entries before the first one
	// created after it (by its origin's clock).
	UntilTime time.Time
	// NewCluster: every node of a new cluster is restored from backups;
	// none starts as a learner (docs/OPERATIONS.md). Without it the node
	// is a replacement in a running cluster and starts as a learner.
	NewCluster bool
	NoSync     bool
	Logger     *slog.Logger
	Progress   func(done, total uint64)
}

// RestoreInfo is what was restored.
type RestoreInfo struct {
	Entries         uint64 // 1..Entries
	SnapshotApplied uint64 // the state was taken from the backup at this entry (0: the node replays)
}

// Restore prepares a node's data directory from a backup (backup.go): it
// refuses a directory whose WAL holds anything, checks every member's
// SHA-256 and every entry as a seeded node does, and installs the same
// way. The node then starts from it as after a restart.
func Restore(ctx context.Context, ro RestoreOptions) (RestoreInfo, error) {
	if ro.Logger == nil {
		ro.Logger = slog.New(slog.DiscardHandler)
	}
	if _, err := ro.Config.Node(ro.ID); err != nil {
		return RestoreInfo{}, err
	}
	walDir := ro.Config.WALDir(ro.ID)
	empty, err := walIsEmpty(walDir)
	if err != nil {
		return RestoreInfo{}, fmt.Errorf("check %s: %w", walDir, err)
	}
	if !empty {
		return RestoreInfo{}, fmt.Errorf("%s already holds a WAL: restore refuses to overwrite data (move %s away first)", walDir, ro.Config.NodeDir(ro.ID))
	}
	until := ro.UntilIndex
	if !ro.UntilTime.IsZero() {
		cut, err := findCut(ro, ro.UntilTime)
		if err != nil {
			return RestoreInfo{}, err
		}
		if until == 0 || cut < until {
			until = cut
		}
		ro.Logger.Info("restore up to a time", "until", ro.UntilTime, "last_entry", until)
	}
	f, err := ro.Open()
	if err != nil {
		return RestoreInfo{}, err
	}
	defer f.Close()
	src := &restoreSource{tarSource: newTarSource(f), until: until, progress: ro.Progress}
	nodeDir := ro.Config.NodeDir(ro.ID)
	staging := filepath.Join(nodeDir, "seed.tmp")
	if err := os.RemoveAll(staging); err != nil {
		return RestoreInfo{}, err
	}
	if err := os.MkdirAll(staging, 0o700); err != nil {
		return RestoreInfo{}, err
	}
	defer os.RemoveAll(staging)
	in := &seedInstall{o: Options{Config: ro.Config, ID: ro.ID, NoSync: ro.NoSync, Logger: ro.Logger},
		staging: staging, from: "backup", restore: true, newCluster: ro.NewCluster}
	if err := in.receive(src); err != nil {
		return RestoreInfo{}, err
	}
	if err := in.install(walDir); err != nil {
		return RestoreInfo{}, err
	}
	return RestoreInfo{Entries: in.offer.commit, SnapshotApplied: in.offer.applied}, nil
}

// tarSource reads a backup's members back as seed frames, and checks
// their names, order and SHA-256 sums: seedEnd is delivered only once
// SHA256SUMS has been read and matched.
type tarSource struct {
	tr    *tar.Reader
	sums  map[string]string
	cur   hash.Hash
	name  string
	typ   uint8
	r     *bufio.Reader // the open member
	order int
}

func newTarSource(r io.Reader) *tarSource {
	return &tarSource{tr: tar.NewReader(bufio.NewReaderSize(r, 1<<20)), sums: map[string]string{}}
}

var errBackup = errors.New("not a SyncNet backup, or a damaged one")

// backupOrder is where each member must come (entries-* are 4), and
// backupFrames the seed frame each position carries (SHA256SUMS none).
var (
	backupOrder  = map[string]int{"MANIFEST.json": 0, "manifest": 1, "state": 2, "chunks": 3, "end": 5, "SHA256SUMS": 6}
	backupFrames = [...]uint8{1: seedManifest, 2: seedState, 3: seedChunks, 4: seedEntries, 5: seedEnd, 6: 0}
)

// next opens the next member and says which frame type it carries.
func (s *tarSource) next() error {
	if s.name != "" {
		s.sums[backupDir+"/"+s.name] = hex.EncodeToString(s.cur.Sum(nil))
	}
	for {
		hdr, err := s.tr.Next()
		if err == io.EOF {
			return fmt.Errorf("%w: it ends after %s (no end member)", errBackup, s.name)
		}
		if err != nil {
			return fmt.Errorf("%w: %v", errBackup, err)
		}
		name, ok := strings.CutPrefix(hdr.Name, backupDir+"/")
		if !ok || hdr.Typeflag != tar.TypeReg {
			return fmt.Errorf("%w: member %q", errBackup, hdr.Name)
		}
		o, known := backupOrder[name]
		if strings.HasPrefix(name, "entries-") {
			o, known = 4, true
		}
		if !known || o < s.order {
			return fmt.Errorf("%w: member %q out of place", errBackup, hdr.Name)
		}
		s.order, s.name, s.cur = o, name, sha256.New()
		s.r = bufio.NewReaderSize(io.TeeReader(s.tr, s.cur), 64<<10)
		if name == "MANIFEST.json" {
			if _, err := io.Copy(io.Discard, s.r); err != nil {
				return err
			}
			s.sums[backupDir+"/"+name] = hex.EncodeToString(s.cur.Sum(nil))
			s.name = ""
			continue
		}
		s.typ = backupFrames[o]
		return nil
	}
}

// Recv implements seedSource.
func (s *tarSource) Recv() (uint8, []byte, error) {
	for {
		if s.r == nil {
			if err := s.next(); err != nil {
				return 0, nil, err
			}
		}
		switch s.typ {
		case seedManifest, seedEnd:
			p, err := io.ReadAll(s.r)
			if err != nil {
				return 0, nil, err
			}
			typ := s.typ
			s.r = nil
			if typ == seedEnd {
				if err := s.checkSums(); err != nil {
					return 0, nil, err
				}
			}
			return typ, p, nil
		case seedState, seedChunks:
			buf := make([]byte, seedPart)
			k, err := io.ReadFull(s.r, buf)
			if k > 0 {
				return s.typ, buf[:k], nil
			}
			if err != io.EOF {
				return 0, nil, err
			}
			s.r = nil
		case seedEntries:
			size, err := binary.ReadUvarint(s.r)
			if err == io.EOF {
				s.r = nil
				continue
			}
			if err != nil || size > seedPart*2 {
				return 0, nil, fmt.Errorf("%w: entries member %s: bad frame length", errBackup, s.name)
			}
			p := make([]byte, size)
			if _, err := io.ReadFull(s.r, p); err != nil {
				return 0, nil, fmt.Errorf("%w: entries member %s: %v", errBackup, s.name, err)
			}
			return seedEntries, p, nil
		default:
			return 0, nil, fmt.Errorf("%w: member %s out of place", errBackup, s.name)
		}
	}
}

// checkSums reads SHA256SUMS and compares it with what was read.
func (s *tarSource) checkSums() error {
	s.sums[backupDir+"/"+s.name] = hex.EncodeToString(s.cur.Sum(nil))
	s.name = ""
	if err := s.next(); err != nil {
		return err
	}
	if s.typ != 0 {
		return fmt.Errorf("%w: no SHA256SUMS after the end member", errBackup)
	}
	listed, err := io.ReadAll(io.LimitReader(s.r, 1<<20))
	if err != nil {
		return err
	}
	s.name = ""
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(listed)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			return fmt.Errorf("%w: SHA256SUMS line %q", errBackup, line)
		}
		got, read := s.sums[name]
		if !read {
			return fmt.Errorf("%w: SHA256SUMS names %s, which is not in the file", errBackup, name)
		}
		if got != sum {
			return fmt.Errorf("%w: %s does not match its SHA-256 sum", errBackup, name)
		}
		seen++
	}
	if seen != len(s.sums) {
		return fmt.Errorf("%w: SHA256SUMS lists %d members, the file holds %d", errBackup, seen, len(s.sums))
	}
	return nil
}

// restoreSource cuts a backup at entry until (0: keep everything): the
// manifest's count, the entries and the end member follow; a cut below the
// snapshot drops the state (the node then replays the entries).
type restoreSource struct {
	*tarSource
	until    uint64
	dropped  bool // state and chunks are skipped
	commit   uint64
	progress func(done, total uint64)
}

func (s *restoreSource) Recv() (uint8, []byte, error) {
	for {
		typ, p, err := s.tarSource.Recv()
		if err != nil {
			return typ, p, err
		}
		switch typ {
		case seedManifest:
			o, err := decodeSeedOffer(p)
			if err != nil {
				return typ, p, err
			}
			if s.until > 0 && s.until < o.commit {
				o.commit = s.until
				if o.applied > s.until {
					o.applied, o.term, o.lamport, o.hash, o.stateLen, o.chunksLen = 0, 0, 0, logHash{}, 0, 0
					s.dropped = true
				}
			}
			s.commit = o.commit
			return typ, o.encode(), nil
		case seedState, seedChunks:
			if s.dropped {
				continue
			}
		case seedEntries:
			var keep []replica.Entry
			err := decodeSeedEntries(p, func(e replica.Entry) error {
				if e.Index <= s.commit {
					keep = append(keep, e)
				}
				return nil
			})
			if err != nil {
				return typ, p, err
			}
			if len(keep) == 0 {
				continue
			}
			if s.progress != nil {
				s.progress(keep[len(keep)-1].Index, s.commit)
			}
			return typ, appendSeedEntries(nil, keep), nil
		case seedEnd:
			return typ, binary.AppendUvarint(nil, s.commit), nil
		}
		return typ, p, err
	}
}

// findCut reads a backup's entries and returns the index before the first
// entry created after t (noops carry no time and never cut).
func findCut(ro RestoreOptions, t time.Time) (uint64, error) {
	f, err := ro.Open()
	if err != nil {
		return 0, err
	}
	defer f.Close()
	src := newTarSource(f)
	last := uint64(0)
	errCut := errors.New("cut")
	for {
		typ, p, err := src.Recv()
		if err != nil {
			return 0, err
		}
		switch typ {
		case seedEntries:
			err := decodeSeedEntries(p, func(e replica.Entry) error {
				if e.Type == replica.EntryNormal {
					rec, err := eventlog.DecodeRecord(e.Data)
					if err != nil {
						return fmt.Errorf("entry %d: %w", e.Index, err)
					}
					if time.Unix(0, rec.Event.Time).After(t) {
						return errCut
					}
				}
				last = e.Index
				return nil
			})
			if errors.Is(err, errCut) {
				if last == 0 {
					return 0, fmt.Errorf("the backup's first entry is after %s: nothing to restore", t.Format(time.RFC3339))
				}
				return last, nil
			}
			if err != nil {
				return 0, err
			}
		case seedEnd:
			return last, nil
		}
	}
}
