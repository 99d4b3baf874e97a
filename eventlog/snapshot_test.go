package eventlog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func sections(tag string) []Section {
	return []Section{
		{Name: "chat", Data: []byte("rooms of " + tag)},
		{Name: "empty", Data: nil},
		{Name: "identity", Data: []byte(strings.Repeat(tag, 1000))},
	}
}

func sameSections(a, b []Section) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || string(a[i].Data) != string(b[i].Data) {
			return false
		}
	}
	return true
}

func snapSeqs(t *testing.T, dir string) []uint64 {
	t.Helper()
	snaps, err := Snapshots(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, s := range snaps {
		out = append(out, s.Seq)
	}
	return out
}

func TestWriteReadSnapshot(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{NoSync: true, SegmentSize: 16 << 10})
	appendN(t, l, 0, 300, 7)
	for _, seq := range []uint64{50, 100, 299, 300} {
		info, err := l.WriteSnapshot(seq, sections(fmt.Sprint(seq)))
		if err != nil {
			t.Fatalf("WriteSnapshot(%d): %v", seq, err)
		}
		h, _ := l.HashAt(seq)
		if info.Seq != seq || info.Hash != h || info.Path != snapPath(dir, seq) {
			t.Fatalf("WriteSnapshot(%d) = %+v, hash %s", seq, info, h.Short())
		}
		got, secs, err := ReadSnapshot(info.Path)
		if err != nil || got != info || !sameSections(secs, sections(fmt.Sprint(seq))) {
			t.Fatalf("ReadSnapshot(%d) = %+v, %d sections, %v", seq, got, len(secs), err)
		}
	}
	if got := snapSeqs(t, dir); !reflect.DeepEqual(got, []uint64{300, 299}) {
		t.Fatalf("kept %v, want the 2 newest", got)
	}
	for _, seq := range []uint64{0, 301} {
		if _, err := l.WriteSnapshot(seq, nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("WriteSnapshot(%d) outside the log: %v", seq, err)
		}
	}
	if _, err := l.WriteSnapshot(10, []Section{{Name: "a"}, {Name: "a"}}); err == nil {
		t.Error("duplicate section names accepted")
	}
	l3 := openT(t, t.TempDir(), Options{NoSync: true, SnapshotKeep: 3})
	appendN(t, l3, 0, 10, 10)
	for seq := uint64(1); seq <= 10; seq++ {
		if _, err := l3.WriteSnapshot(seq, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := snapSeqs(t, l3.Dir()); !reflect.DeepEqual(got, []uint64{10, 9, 8}) {
		t.Fatalf("SnapshotKeep 3 kept %v", got)
	}
}

func TestReadSnapshotRejects(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{NoSync: true})
	appendN(t, l, 0, 20, 5)
	info, err := l.WriteSnapshot(20, sections("x"))
	if err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(info.Path)
	try := func(name string, b []byte, fileName string) {
		t.Helper()
		p := filepath.Join(t.TempDir(), fileName)
		os.WriteFile(p, b, 0o640)
		if _, _, err := ReadSnapshot(p); err == nil {
			t.Errorf("%s: ReadSnapshot accepted it", name)
		}
	}
	base := filepath.Base(info.Path)
	for i := range good {
		b := append([]byte(nil), good...)
		b[i] ^= 0x40
		try(fmt.Sprintf("flip at %d", i), b, base)
	}
	for n := range len(good) {
		try(fmt.Sprintf("cut to %d", n), good[:n], base)
	}
	try("name says another index", good, "snap-00000000000000000019")
	try("not a snapshot name", good, "snapshot")
	// A newer format version with a valid CRC.
	b := append([]byte(nil), good...)
	b[len(snapMagic)] = snapVersion + 1
	b = append(b[:len(b)-4], crcBytes(b[:len(b)-4])...)
	try("newer version", b, base)
	// Bytes after the last section, CRC fixed up.
	b = append([]byte(nil), good[:len(good)-4]...)
	b = append(b, 0)
	b = append(b, crcBytes(b)...)
	try("trailing bytes", b, base)
}

// TestWriteSnapshotWhileAppending: the node writes snapshots from a
// background goroutine while it keeps appending (run with -race).
func TestWriteSnapshotWhileAppending(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{NoSync: true, SegmentSize: 8 << 10})
	appendN(t, l, 0, 10, 10)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			seq := l.LastSeq()
			info, err := l.WriteSnapshot(seq, sections(strconv.Itoa(i)))
			if err != nil {
				t.Errorf("WriteSnapshot(%d): %v", seq, err)
				return
			}
			if h, err := l.HashAt(seq); err != nil || h != info.Hash {
				t.Errorf("snapshot hash at %d: %v", seq, err)
				return
			}
		}
	})
	for i := range 40 {
		appendN(t, l, 10+i*10, 10, 3)
	}
	close(stop)
	wg.Wait()
	snaps, _ := Snapshots(dir)
	if len(snaps) == 0 || len(snaps) > 2 {
		t.Fatalf("%d snapshots", len(snaps))
	}
	for _, s := range snaps {
		if _, _, err := ReadSnapshot(s.Path); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	snapChildDirEnv  = "EVENTLOG_SNAP_CHILD_DIR"
	snapChildStepEnv = "EVENTLOG_SNAP_CHILD_STEP"
)

// TestSnapshotCrashChild is the child process of TestSnapshotKill9: it writes
// a snapshot at the log's last record and stops at the step it is told,
// printing "at <step>", until it is killed.
func TestSnapshotCrashChild(t *testing.T) {
	dir := os.Getenv(snapChildDirEnv)
	if dir == "" {
		t.Skip("child process of TestSnapshotKill9 only")
	}
	stop, _ := strconv.Atoi(os.Getenv(snapChildStepEnv))
	l, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(3)
	}
	l.snapHook = func(s snapStep) {
		if int(s) == stop {
			fmt.Printf("at %d\n", s)
			os.Stdout.Sync()
			select {} // wait for SIGKILL
		}
	}
	if _, err := l.WriteSnapshot(l.LastSeq(), sections("new")); err != nil {
		fmt.Fprintln(os.Stderr, "snapshot:", err)
		os.Exit(4)
	}
	fmt.Println("done")
	os.Exit(5)
}

// TestSnapshotKill9 kills a process with SIGKILL at every step of writing a
// snapshot and checks that the snapshots on disk are the old set or the new
// one, that every one of them reads back valid, and that the next
// WriteSnapshot removes the temporary file.
func TestSnapshotKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for step := snapCreated; step <= snapDirSynced; step++ {
		t.Run(fmt.Sprint(step), func(t *testing.T) {
			dir := t.TempDir()
			l := openT(t, dir, Options{NoSync: true})
			appendN(t, l, 0, 100, 10)
			for _, seq := range []uint64{40, 60} {
				if _, err := l.WriteSnapshot(seq, sections(fmt.Sprint(seq))); err != nil {
					t.Fatal(err)
				}
			}
			l.Close()

			cmd := exec.Command(os.Args[0], "-test.run=^TestSnapshotCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), snapChildDirEnv+"="+dir, snapChildStepEnv+"="+strconv.Itoa(int(step)))
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(stdout)
			reached := false
			for sc.Scan() {
				if sc.Text() == fmt.Sprintf("at %d", step) {
					reached = true
					cmd.Process.Kill() // SIGKILL
					break
				}
			}
			cmd.Process.Kill()
			cmd.Wait()
			if !reached {
				t.Fatalf("child never reached step %d\n%s", step, stderr.String())
			}

			tmps, _ := filepath.Glob(filepath.Join(snapDir(dir), snapTmp+"*"))
			if step <= snapSynced && len(tmps) != 1 {
				t.Errorf("killed at step %d: %d temporary files, want 1", step, len(tmps))
			}
			snaps, err := Snapshots(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range snaps {
				info, secs, err := ReadSnapshot(s.Path)
				if err != nil {
					t.Fatalf("killed at step %d: %v", step, err)
				}
				if !sameSections(secs, sections(map[uint64]string{40: "40", 60: "60", 100: "new"}[info.Seq])) {
					t.Fatalf("killed at step %d: %s holds other sections", step, s.Path)
				}
			}
			got := snapSeqs(t, dir)
			newest := got[:min(2, len(got))]
			old, new := []uint64{60, 40}, []uint64{100, 60}
			switch {
			case step <= snapSynced && !reflect.DeepEqual(newest, old):
				t.Fatalf("killed before the rename: snapshots %v, want the old set %v", got, old)
			case step >= snapRenamed && !reflect.DeepEqual(newest, new):
				t.Fatalf("killed after the rename: snapshots %v, want the new set %v", got, new)
			}

			l2 := openT(t, dir, Options{NoSync: true})
			if _, err := l2.WriteSnapshot(100, sections("new")); err != nil {
				t.Fatal(err)
			}
			if tmps, _ := filepath.Glob(filepath.Join(snapDir(dir), snapTmp+"*")); len(tmps) != 0 {
				t.Errorf("temporary files left after the next WriteSnapshot: %v", tmps)
			}
			if got := snapSeqs(t, dir); !reflect.DeepEqual(got, new) {
				t.Errorf("after the next WriteSnapshot: %v, want %v", got, new)
			}
		})
	}
}

func crcBytes(b []byte) []byte {
	return binary.BigEndian.AppendUint32(nil, crc32.Checksum(b, castagnoli))
}
