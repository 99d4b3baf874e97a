package walcmd

import (
	"crypto/sha256"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncnet/syncnet/eventlog"
)

// fingerprint hashes every file name, mode and content under dir.
func fingerprint(t *testing.T, dir string) [32]byte {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h.Write([]byte(path + "\x00" + info.Mode().String() + "\x00" + info.ModTime().String() + "\x00"))
		if !d.IsDir() {
			h.Write(readFile(t, path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

// Every subcommand leaves the directories exactly as it found them, torn
// tail included: the node, not the auditor, decides what to cut.
func TestReadOnly(t *testing.T) {
	dir := chatLog(t)
	other := replicated(t, "node2", 5, 0, 6)
	segs := segments(t, dir)
	last := segs[len(segs)-1]
	data := readFile(t, last)
	writeFile(t, last, data[:len(data)-2])
	before, beforeOther := fingerprint(t, filepath.Dir(dir)), fingerprint(t, filepath.Dir(other))
	for _, args := range [][]string{
		{"dump", dir}, {"dump", "--json", dir}, {"verify", "--all", dir}, {"stats", dir},
		{"replay", "--room", "general", dir}, {"export", "--room", "general", dir}, {"diff", dir, other},
	} {
		wal(t, args...)
	}
	if fingerprint(t, filepath.Dir(dir)) != before || fingerprint(t, filepath.Dir(other)) != beforeOther {
		t.Fatal("a read-only subcommand changed a wal directory")
	}
}

// The tools work on the directory of a running node: the writer holds the
// lock and keeps appending, the audit neither waits for it nor disturbs it.
func TestLiveDirectory(t *testing.T) {
	b := newBuilder(t, t.TempDir(), 0)
	b.newTerm(1, "node1")
	b.msg("general", "alice", "while the node runs", "1").commit()
	b.flush()
	r := wal(t, "verify", b.dir)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "OK ") {
		t.Fatalf("verify of a live log: %+v", r)
	}
	b.msg("general", "alice", "still running", "2").commit()
	b.flush()
	if _, _, err := b.l.Append(t.Context(), eventlog.Event{Header: eventlog.Header{Origin: "node1"},
		Body: &eventlog.NodeSuspected{NodeEvent: eventlog.NodeEvent{Node: "node2"}}}); err != nil {
		t.Fatalf("the node could not append after an audit: %v", err)
	}
	b.close()
	mustContain(t, "export", wal(t, "export", "--room", "general", "--format", "txt", b.dir).stdout, "still running")
}
