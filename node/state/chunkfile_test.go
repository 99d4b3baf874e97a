package state

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestChunkFile: with a chunk file, full index chunks leave memory and
// history reads them back (the same pages as a State holding them all in
// memory); a damaged chunk makes the read an error, never other messages;
// a snapshot referring to chunks the file does not hold is refused.
func TestChunkFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	log := chatLog(rng, 60000, 200, 10)
	src := &logSource{log: log}
	path := filepath.Join(t.TempDir(), "index", "chunks")
	cf, err := OpenChunkFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	mem := NewWith(Options{Messages: src, RecentPerRoom: -1})
	disk := NewWith(Options{Messages: src, RecentPerRoom: -1, Chunks: cf})
	for i, ev := range log {
		mem.Apply(uint64(i+1), ev)
		disk.Apply(uint64(i+1), ev)
	}
	// What the file holds has left memory (less the chunks' references).
	if m, d := mem.Chat.IndexBytes(), disk.Chat.IndexBytes(); cf.Size() == 0 || int64(m-d) < cf.Size()*3/4 {
		t.Fatalf("index memory with the chunk file %d bytes, without %d: the file's %d bytes did not leave memory", d, m, cf.Size())
	}
	rooms := mem.Chat.Rooms()
	for _, r := range rooms {
		for _, before := range []uint64{0, 1, 5000, 32345, 60001} {
			a, errA := mem.Chat.History(r.Name, before, 300)
			b, errB := disk.Chat.History(r.Name, before, 300)
			if errA != nil || errB != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("History(%s, %d): %v %v; differs with the chunk file", r.Name, before, errA, errB)
			}
			a, _ = mem.Chat.HistoryAfter(r.Name, before, 300)
			b, _ = disk.Chat.HistoryAfter(r.Name, before, 300)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("HistoryAfter(%s, %d) differs with the chunk file", r.Name, before)
			}
		}
	}

	// A snapshot, restored on the same file, reads the same.
	data, err := disk.Capture().Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Restore(data, Options{Messages: src, RecentPerRoom: -1, Chunks: cf})
	if err != nil {
		t.Fatal(err)
	}
	room := rooms[0].Name
	want, _ := mem.Chat.History(room, 100, 50)
	if got, err := back.Chat.History(room, 100, 50); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("restored: %v", err)
	}

	// Damage one byte of the first chunk: reading it fails.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff}, int64(chunkHeaderSize)+3); err != nil {
		t.Fatal(err)
	}
	f.Close()
	failed := 0
	for name := range mem.Chat.rooms { // direct conversations too
		if got, err := back.Chat.History(name, 0, 1<<20); err != nil {
			failed++
		} else if want, _ := mem.Chat.History(name, 0, 1<<20); !reflect.DeepEqual(got, want) {
			t.Fatalf("room %s: a damaged chunk file gave other messages", name)
		}
	}
	if failed != 1 {
		t.Fatalf("%d rooms failed to read after one chunk was damaged, want 1", failed)
	}

	// A file emptied and filled again since (the node replayed its whole
	// WAL): the same offsets hold other chunks, so the snapshot is refused
	// by the file's epoch, even where the lengths would do.
	rebuilt := NewWith(Options{Messages: src, RecentPerRoom: -1, Chunks: cf})
	for i, ev := range log {
		rebuilt.Apply(uint64(i+1), ev)
	}
	if _, err := Restore(data, Options{Messages: src, Chunks: cf}); !errors.Is(err, ErrImage) || !strings.Contains(err.Error(), "epoch") {
		t.Fatalf("restore of a snapshot of the file before it was rebuilt: %v", err)
	}
	data, err = rebuilt.Capture().Encode()
	if err != nil {
		t.Fatal(err)
	}

	// A file shorter than the snapshot says: refused (the node falls back
	// to an older snapshot or the whole WAL).
	if err := cf.truncate(cf.Size() / 2); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(data, Options{Messages: src, Chunks: cf}); !errors.Is(err, ErrImage) {
		t.Fatalf("restore on a cut chunk file: %v", err)
	}
	if _, err := Restore(data, Options{Messages: src}); !errors.Is(err, ErrImage) {
		t.Fatalf("restore of stored chunks without a chunk file: %v", err)
	}
}

// Chunks are written in batches: one put and not yet written reads back
// from memory, one written from the file; sync, ReadAt and Close write
// them; truncate cuts the unwritten ones too; and a write that fails
// keeps the chunks, readable, for sync to report.
func TestChunkFileBuffer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chunks")
	cf, err := OpenChunkFile(path, true)
	if err != nil {
		t.Fatal(err)
	}
	chunk := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 100+i%50) }
	var offs []int64
	for i := range 2000 { // about 300 KB: several writes, a tail in memory
		off, err := cf.put(chunk(i))
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
	}
	onDisk := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if d := onDisk(); d == int64(chunkHeaderSize) || d >= cf.Size() {
		t.Fatalf("%d bytes on disk of %d: the chunks were not written in batches", d, cf.Size())
	}
	check := func(what string, n int) {
		t.Helper()
		for i := range n {
			got, err := cf.get(offs[i], len(chunk(i)))
			if err != nil || !bytes.Equal(got, chunk(i)) {
				t.Fatalf("%s: chunk %d: %v", what, i, err)
			}
		}
	}
	check("buffered", 2000)
	// Cut within what is not written yet, then within what is.
	if err := cf.truncate(offs[1990]); err != nil {
		t.Fatal(err)
	}
	check("cut in memory", 1990)
	if _, err := cf.get(offs[1995], len(chunk(1995))); err == nil {
		t.Fatal("a chunk cut off still reads")
	}
	if err := cf.truncate(offs[100]); err != nil || cf.Size() != offs[100] || onDisk() > offs[100] {
		t.Fatalf("cut on disk: %v, size %d, %d on disk, want %d", err, cf.Size(), onDisk(), offs[100])
	}
	check("cut on disk", 100)
	for i := 100; i < 110; i++ {
		if offs[i], err = cf.put(chunk(i)); err != nil {
			t.Fatal(err)
		}
	}
	raw := make([]byte, 4)
	if _, err := cf.ReadAt(raw, offs[109]); err != nil || onDisk() != cf.Size() || raw[0] != 109 {
		t.Fatalf("ReadAt of a chunk not yet written: %v, %d on disk of %d", err, onDisk(), cf.Size())
	}
	check("after ReadAt", 110)

	// Writes fail (the descriptor is closed): the chunks stay in memory.
	cf.f.Close()
	for i := 110; i < 1000; i++ {
		if offs[i], err = cf.put(chunk(i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(cf.buf) < chunkWriteBuf {
		t.Fatalf("%d bytes buffered after failed writes", len(cf.buf))
	}
	for i := 110; i < 1000; i++ {
		if got, err := cf.get(offs[i], len(chunk(i))); err != nil || !bytes.Equal(got, chunk(i)) {
			t.Fatalf("chunk %d after failed writes: %v", i, err)
		}
	}
	if err := cf.sync(); err == nil {
		t.Fatal("sync after failed writes reported nothing")
	}
}
