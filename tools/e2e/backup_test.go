package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBackupRestore: `ssh admin@node backup > FILE` on a follower while
// posts go on; `syncnet restore FILE --new-cluster` for every node of a new
// cluster; before it starts, `wal verify` passes on every restored WAL and
// `wal diff` with the source finds them in agreement up to the backup's
// last entry; started, the new cluster elects a leader, serves that
// history and takes posts (names stay bound to the keys that claimed them
// in the source). A second restore over a node's data is refused.
func TestBackupRestore(t *testing.T) {
	src := start(t, 3)
	lead := src.waitLeader()
	for i := 0; i < 200; i++ {
		if _, err := src.post(lead, fmt.Sprintf("u%d", i%5), "general", fmt.Sprintf("m%d", i), fmt.Sprintf("b%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	stop := src.backgroundPosts("late", []string{lead}, 5*time.Millisecond)
	f := src.follower(lead)
	out, err := src.run(f, "admin", src.admin, time.Minute, "backup")
	stop()
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	file := filepath.Join(t.TempDir(), "syncnet-backup.tar")
	if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	source := src.newest(f, "general", 1000)
	src.termAll()

	dst := newCluster(t, 3, clusterOpts{noLaunch: true})
	var last uint64
	for _, id := range dst.ids {
		o, err := exec.Command(binPath, "restore", file, "--config", dst.cfgPath, "--id", id, "--new-cluster").CombinedOutput()
		if err != nil {
			t.Fatalf("restore %s: %v\n%s", id, err, o)
		}
		t.Logf("restore %s: %s", id, strings.TrimSpace(string(o)))
		if _, err := fmt.Sscanf(string(o[strings.Index(string(o), "entries 1..")+len("entries 1.."):]), "%d", &last); err != nil {
			t.Fatalf("restore's summary: %q", o)
		}
		if code, line := dst.walVerify(id); code != 0 {
			t.Fatalf("wal verify of restored %s: exit %d: %s", id, code, line)
		}
	}
	if o, err := exec.Command(binPath, "restore", file, "--config", dst.cfgPath, "--id", "node1").CombinedOutput(); err == nil || !strings.Contains(string(o), "refuses to overwrite") {
		t.Fatalf("a second restore over node1: %v\n%s", err, o)
	}
	r, err := runWAL("diff", filepath.Join(src.nodeDir(f), "wal"), filepath.Join(dst.nodeDir("node1"), "wal"))
	if err != nil || r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("up to cluster index %d", last)) {
		t.Fatalf("wal diff source/restored: %v exit %d\n%s%s", err, r.code, r.stdout, r.stderr)
	}

	dst.launchAll()
	nl := dst.waitLeader()
	var want []message
	for _, m := range source {
		if m.Index <= last {
			want = append(want, m)
		}
	}
	for _, id := range dst.ids {
		dst.waitUp(id)
		got := dst.newest(id, "general", 1000)
		if fmt.Sprint(got[:min(len(got), len(want))]) != fmt.Sprint(want) {
			t.Fatalf("restored %s's history differs from the source's up to entry %d:\n%v\n%v", id, last, got, want)
		}
	}
	if idx, err := dst.post(nl, "fresh", "general", "after the restore", "after"); err != nil || idx <= last {
		t.Fatalf("post in the restored cluster: index %d, %v", idx, err)
	}
}
