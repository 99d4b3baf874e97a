package node

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/lowprio"
)

// A backup is the transfer a node seeds a peer with (seed.go), written as a
// tar stream instead of peer frames: the same consistent copy — entries
// 1..C (committed, applied and durable here when it starts), the state of
// this node's newest snapshot and the index chunk file it refers to —
// taken beside the driver, which never waits for it. Restore (restore.go)
// reads it back through the same checks and install as a seeded node.
//
// Members, in this order, under backupDir/:
//
//	MANIFEST.json        what the backup holds, for people (not read back)
//	manifest             the seed manifest (binary)
//	state                the snapshot's state section (absent without one)
//	chunks               the index chunk file (absent without a snapshot)
//	entries-<first>      seed entry frames, each after its uvarint length, about 16 MiB a member
//	end                  the last entry's index (uvarint)
//	SHA256SUMS           SHA-256 of every member above, sha256sum's format
const (
	backupDir      = "syncnet-backup"
	backupPartSize = 16 << 20
	backupVersion  = 1
)

// backupManifest is MANIFEST.json.
type backupManifest struct {
	Format          int       `json:"format"`
	Cluster         string    `json:"cluster"`
	Node            string    `json:"node"`
	Created         time.Time `json:"created"`
	Entries         uint64    `json:"entries"`
	SnapshotApplied uint64    `json:"snapshot_applied"`
	LogHash         string    `json:"log_hash_at_snapshot,omitempty"`
	StateBytes      uint64    `json:"state_bytes"`
	ChunkBytes      uint64    `json:"chunk_bytes"`
	Note            string    `json:"note"`
}

// Backup writes a backup of this node to w and reports what it holds.
// progress, if set, is called now and then with entries written and
// entries in all.
func (n *Node) Backup(ctx context.Context, w io.Writer, progress func(done, total uint64)) (api.BackupInfo, error) {
	began := time.Now()
	o, state, err := n.seedSnapshot()
	if err != nil {
		n.log.Info("backup without a snapshot: restore will replay its entries", "err", err)
	}
	if o.commit == 0 {
		return api.BackupInfo{}, fmt.Errorf("this node holds no committed entry yet: nothing to back up")
	}
	t := &tarSink{ctx: ctx, tw: tar.NewWriter(w), now: began, progress: progress, total: o.commit}
	t.manifest = backupManifest{Format: backupVersion, Cluster: n.cfg.Cluster.Name, Node: n.id, Created: began.UTC(),
		Entries: o.commit, SnapshotApplied: o.applied, StateBytes: o.stateLen, ChunkBytes: o.chunksLen,
		Note: "restore with: syncnet restore FILE --config cluster.toml --id NODE (see docs/OPERATIONS.md)"}
	if o.applied > 0 {
		t.manifest.LogHash = fmt.Sprintf("%s@%d", hex.EncodeToString(o.hash.h[:6]), o.hash.index)
	}
	// At low priority, as a seed transfer: the writes to w (an SSH
	// channel: its encryption runs in the writer) included.
	err = lowprio.Run(func() error {
		if err := n.sendSeed(t, o, state); err != nil {
			return err
		}
		return t.tw.Close()
	})
	if err != nil {
		return api.BackupInfo{}, err
	}
	info := api.BackupInfo{Entries: o.commit, SnapshotApplied: o.applied, Bytes: t.bytes, Took: time.Since(began)}
	n.log.Info("backup written", "entries", info.Entries, "snapshot_applied", info.SnapshotApplied, "bytes", info.Bytes,
		"took", info.Took.Round(time.Millisecond))
	return info, nil
}

// tarSink turns seed frames into tar members.
type tarSink struct {
	ctx      context.Context
	tw       *tar.Writer
	now      time.Time
	manifest backupManifest
	progress func(done, total uint64)
	total    uint64

	sums  []string
	cur   hash.Hash // of the open member
	name  string    // the open member
	left  int64     // bytes still due in the open state or chunks member
	part  []byte    // entry frames not yet written
	first uint64    // first entry of part
	bytes int64
}

func (t *tarSink) member(name string, size int64) error {
	if err := t.closeMember(); err != nil {
		return err
	}
	hdr := &tar.Header{Name: backupDir + "/" + name, Mode: 0o600, Size: size, ModTime: t.now, Typeflag: tar.TypeReg}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return err
	}
	t.name, t.cur, t.left = name, sha256.New(), size
	return nil
}

func (t *tarSink) write(p []byte) error {
	t.cur.Write(p)
	t.bytes += int64(len(p))
	_, err := t.tw.Write(p)
	t.left -= int64(len(p))
	return err
}

func (t *tarSink) closeMember() error {
	if t.name == "" {
		return nil
	}
	if t.left != 0 {
		return fmt.Errorf("backup member %s: %d bytes missing", t.name, t.left)
	}
	t.sums = append(t.sums, fmt.Sprintf("%x  %s/%s\n", t.cur.Sum(nil), backupDir, t.name))
	t.name = ""
	return nil
}

func (t *tarSink) whole(name string, p []byte) error {
	if err := t.member(name, int64(len(p))); err != nil {
		return err
	}
	return t.write(p)
}

func (t *tarSink) flushPart() error {
	if len(t.part) == 0 {
		return nil
	}
	if err := t.whole(fmt.Sprintf("entries-%012d", t.first), t.part); err != nil {
		return err
	}
	t.part = t.part[:0]
	return nil
}

// Send implements seedSink.
func (t *tarSink) Send(typ uint8, p []byte) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	switch typ {
	case seedManifest:
		o, err := decodeSeedOffer(p)
		if err != nil {
			return err
		}
		js, _ := json.MarshalIndent(t.manifest, "", "  ")
		if err := t.whole("MANIFEST.json", append(js, '\n')); err != nil {
			return err
		}
		if err := t.whole("manifest", p); err != nil {
			return err
		}
		if o.stateLen > 0 {
			return t.member("state", int64(o.stateLen))
		}
		return nil
	case seedState:
		return t.write(p)
	case seedChunks:
		if t.name == "state" {
			if err := t.member("chunks", int64(t.manifest.ChunkBytes)); err != nil {
				return err
			}
		}
		return t.write(p)
	case seedEntries:
		if err := t.closeMember(); err != nil {
			return err
		}
		first, _ := binary.Uvarint(p)
		if len(t.part) == 0 {
			t.first = first
			if t.part == nil { // one buffer for every part: growing it by append cost more than the rest
				t.part = make([]byte, 0, backupPartSize+seedPart+binary.MaxVarintLen64)
			}
		}
		t.part = binary.AppendUvarint(t.part, uint64(len(p)))
		t.part = append(t.part, p...)
		if t.progress != nil {
			t.progress(first-1, t.total)
		}
		if len(t.part) >= backupPartSize {
			return t.flushPart()
		}
		return nil
	case seedEnd:
		if err := t.flushPart(); err != nil {
			return err
		}
		if err := t.whole("end", p); err != nil {
			return err
		}
		if err := t.closeMember(); err != nil {
			return err
		}
		if t.progress != nil {
			t.progress(t.total, t.total)
		}
		sums := strings.Join(t.sums, "")
		hdr := &tar.Header{Name: backupDir + "/SHA256SUMS", Mode: 0o600, Size: int64(len(sums)), ModTime: t.now, Typeflag: tar.TypeReg}
		if err := t.tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := io.WriteString(t.tw, sums)
		return err
	}
	return fmt.Errorf("backup: unexpected seed frame type %d", typ)
}

// Flush implements seedSink.
func (t *tarSink) Flush() error { return t.tw.Flush() }
