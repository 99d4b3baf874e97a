package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/syncnet/syncnet/node/config"
)

// A backup taken from a follower while posts go on restores into a new
// three-node cluster that elects a leader, serves the backed-up history
// and takes posts; a cut restore stops at its index; a damaged backup or a
// data directory in use is refused and nothing is installed.
func TestBackupRestore(t *testing.T) {
	c := newTestClusterConf(t, 3, "[storage]\nsnapshot_every = 500\n", func(o *Options) { o.PostRate = -1 })
	lead := c.leader()
	const posts = 2000
	for i := 0; i < posts; i++ {
		c.post(lead, fmt.Sprintf("u%d", i%7), fmt.Sprintf("m%d", i), fmt.Sprintf("id%d", i))
	}
	c.sameHistoryEverywhere(posts)
	var f string
	for id := range c.nodes {
		if id != lead {
			f = id
		}
	}
	// Posts continue during the backup: it copies what was committed when
	// it started.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c.post(lead, "late", fmt.Sprintf("late%d", i), fmt.Sprintf("late%d", i))
		}
	}()
	var backup bytes.Buffer
	info, err := c.nodes[f].n.Backup(context.Background(), &backup, nil)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if info.Entries < posts || info.SnapshotApplied < 500 {
		t.Fatalf("backup holds %d entries, state at %d", info.Entries, info.SnapshotApplied)
	}
	source, err := c.nodes[f].n.History("general", 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var want []string // general's messages up to the backup's last entry
	for _, m := range source {
		if m.Index <= info.Entries {
			want = append(want, fmt.Sprintf("%d:%s", m.Index, m.Text))
		}
	}
	open := func(b []byte) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}

	restored := newTestClusterPrepared(t, 3, "", nil, func(cfg *config.Config) {
		for _, m := range cfg.Nodes {
			if _, err := Restore(context.Background(), RestoreOptions{Config: cfg, ID: m.ID, Open: open(backup.Bytes()), NewCluster: true, NoSync: true}); err != nil {
				t.Fatalf("restore %s: %v", m.ID, err)
			}
		}
	})
	got := restored.sameHistoryEverywhere(len(want))
	if strings.Join(got[:len(want)], "|") != strings.Join(want, "|") {
		t.Fatalf("restored history differs from the source's up to entry %d", info.Entries)
	}
	rl := restored.leader()
	if idx := restored.post(rl, "u0", "after the restore", "after"); idx <= info.Entries {
		t.Fatalf("post after the restore got index %d, at or below the backup's %d", idx, info.Entries)
	}
	for id := range restored.nodes {
		if restored.nodes[id].n.learnerNow.Load() {
			t.Fatalf("%s of a restored new cluster is a learner", id)
		}
	}

	// Restoring again over a node's data is refused (running or not).
	if _, err := Restore(context.Background(), RestoreOptions{Config: restored.cfg, ID: rl, Open: open(backup.Bytes())}); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("restore over a running node: %v", err)
	}
	restored.stop(rl)
	if _, err := Restore(context.Background(), RestoreOptions{Config: restored.cfg, ID: rl, Open: open(backup.Bytes())}); err == nil || !strings.Contains(err.Error(), "refuses to overwrite") {
		t.Fatalf("restore over existing data: %v", err)
	}

	// A cut below the snapshot: the state is dropped and the entries replayed.
	cut, cutDir := seedTarget(t)
	ri, err := Restore(context.Background(), RestoreOptions{Config: cut.Config, ID: cut.ID, Open: open(backup.Bytes()), UntilIndex: 300, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if ri.Entries != 300 || ri.SnapshotApplied != 0 {
		t.Fatalf("cut restore: %+v", ri)
	}
	if empty, _ := walIsEmpty(cutDir); empty {
		t.Fatal("cut restore installed nothing")
	}

	// Damage anywhere is refused and installs nothing.
	for _, at := range []int{len(backup.Bytes()) / 3, len(backup.Bytes()) - 2000} {
		bad := bytes.Clone(backup.Bytes())
		bad[at] ^= 0x20
		o, dir := seedTarget(t)
		_, err := Restore(context.Background(), RestoreOptions{Config: o.Config, ID: o.ID, Open: open(bad), NoSync: true})
		if err == nil {
			t.Fatalf("a backup damaged at byte %d was restored", at)
		}
		t.Logf("damaged at %d: %v", at, err)
		if empty, _ := walIsEmpty(dir); !empty {
			t.Fatal("a refused restore left a WAL")
		}
	}
}
