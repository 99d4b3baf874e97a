package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// ChunkFile keeps the full chunks of the rooms' message indexes on disk,
// so that what a node holds in memory per message does not grow with its
// history: a full chunk (chunkLen positions, a few hundred bytes) is
// appended here once and the room keeps only where it is. The file is
// derived state, like the index: a State built empty (NewWith) empties it,
// a State restored from a snapshot cuts it back to what the snapshot
// refers to, and a snapshot is encoded only after the chunks it refers to
// are durable (Image.Encode syncs the file). Each chunk is followed by its
// CRC32C, checked on every read: a damaged chunk is an error of the read
// (the history page), never a wrong message.
//
// The file starts with a header: chunkMagic and a random epoch, drawn anew
// each time the file is emptied. A snapshot records the epoch of the file
// it refers to, and Restore refuses one of another epoch: after the node
// rebuilt the file from its whole WAL, an older snapshot's offsets point
// into chunks written since, which could hold other positions with a valid
// checksum.
//
// Chunks are written in batches of about chunkWriteBuf bytes: a chunk is
// put for every 128 messages of a room, and a write each cost a replay of
// 10M messages 78,000 system calls (0.5 s). A chunk put and not yet written
// is read from the buffer; sync, ReadAt and Close write it first, and a
// write that fails keeps it in the buffer for the next (it costs memory,
// never a chunk).
type ChunkFile struct {
	mu     sync.Mutex
	f      *os.File
	path   string
	size   int64  // the file's bytes and then buf's
	buf    []byte // the last len(buf) of size bytes, not yet written
	epoch  uint64
	noSync bool
}

// chunkWriteBuf is how many bytes of chunks put wait to be written.
const chunkWriteBuf = 64 << 10

const (
	chunkMagic      = "SYNCIDX1"
	chunkHeaderSize = len(chunkMagic) + 8
)

// OpenChunkFile opens (creating) the chunk file at path. noSync skips
// fsync (tests and benchmarks that do without durability).
func OpenChunkFile(path string, noSync bool) (*ChunkFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("index chunk file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("index chunk file: %w", err)
	}
	// A second process of the same node must not cut the file under the
	// first: it fails here, before it looks at anything else.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("index chunk file %s is locked by another process (is another node running with this data_dir?)", path)
		}
		return nil, fmt.Errorf("index chunk file %s: lock: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("index chunk file: %w", err)
	}
	s := &ChunkFile{f: f, path: path, size: fi.Size(), noSync: noSync}
	hdr := make([]byte, chunkHeaderSize)
	if _, err := f.ReadAt(hdr, 0); err != nil || string(hdr[:len(chunkMagic)]) != chunkMagic {
		// New, or not ours: start over (it is derived; a snapshot that
		// referred to it is refused by its epoch).
		if err := s.reset(); err != nil {
			f.Close()
			return nil, err
		}
		return s, nil
	}
	s.epoch = binary.BigEndian.Uint64(hdr[len(chunkMagic):])
	return s, nil
}

// reset empties the file under a new epoch. Holds mu or is not shared yet.
func (s *ChunkFile) reset() error {
	s.buf = s.buf[:0]
	s.epoch = rand.Uint64() | 1
	hdr := binary.BigEndian.AppendUint64([]byte(chunkMagic), s.epoch)
	if err := s.f.Truncate(0); err != nil {
		return fmt.Errorf("index chunk file %s: %w", s.path, err)
	}
	if _, err := s.f.WriteAt(hdr, 0); err != nil {
		return fmt.Errorf("index chunk file %s: %w", s.path, err)
	}
	s.size = int64(len(hdr))
	return nil
}

// Epoch identifies the file's contents since it was last emptied.
func (s *ChunkFile) Epoch() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epoch
}

// Close writes what is put and closes the file.
func (s *ChunkFile) Close() error {
	err := s.flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// flush writes the chunks put and not yet written.
func (s *ChunkFile) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked()
}

func (s *ChunkFile) flushLocked() error {
	if len(s.buf) == 0 {
		return nil
	}
	if _, err := s.f.WriteAt(s.buf, s.size-int64(len(s.buf))); err != nil {
		return fmt.Errorf("index chunk file %s: %w", s.path, err)
	}
	s.buf = s.buf[:0]
	return nil
}

// errNoChunkFile is put's answer on a nil file: the chunk stays in memory.
var errNoChunkFile = errors.New("no index chunk file")

// put appends data and its checksum and returns where data starts. It is
// written with the chunks put after it, or by the next sync; until then
// get reads it from memory.
func (s *ChunkFile) put(data []byte) (int64, error) {
	if s == nil {
		return 0, errNoChunkFile
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	off := s.size
	s.buf = binary.BigEndian.AppendUint32(append(s.buf, data...), crc32.Checksum(data, castagnoli))
	s.size += int64(len(data) + 4)
	if len(s.buf) >= chunkWriteBuf {
		s.flushLocked() // on failure the chunks stay in buf; sync reports it
	}
	return off, nil
}

// get reads the n bytes of the chunk at off and checks them.
func (s *ChunkFile) get(off int64, n int) ([]byte, error) {
	buf := make([]byte, n+4)
	s.mu.Lock()
	if written := s.size - int64(len(s.buf)); off >= written && off+int64(n)+4 <= s.size {
		copy(buf, s.buf[off-written:])
		s.mu.Unlock()
		return checkStored(s.path, off, buf, n)
	}
	s.mu.Unlock()
	if _, err := s.f.ReadAt(buf, off); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("index chunk file %s at %d: %w", s.path, off, err)
	}
	return checkStored(s.path, off, buf, n)
}

// checkStored checks the n bytes of a chunk read at off against the
// checksum after them.
func checkStored(path string, off int64, buf []byte, n int) ([]byte, error) {
	if crc32.Checksum(buf[:n], castagnoli) != binary.BigEndian.Uint32(buf[n:]) {
		return nil, fmt.Errorf("index chunk file %s at %d: checksum mismatch (damaged)", path, off)
	}
	return buf[:n], nil
}

// sync makes everything put so far durable.
func (s *ChunkFile) sync() error {
	if err := s.flush(); err != nil {
		return err
	}
	if s.noSync {
		return nil
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("index chunk file %s: %w", s.path, err)
	}
	return nil
}

// truncate cuts the file to size bytes (what a State built on it refers
// to); it refuses to grow it. A size within the header empties it, under
// a new epoch.
func (s *ChunkFile) truncate(size int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if size < int64(chunkHeaderSize) {
		return s.reset()
	}
	if size > s.size {
		return fmt.Errorf("index chunk file %s holds %d bytes, fewer than the %d the snapshot refers to", s.path, s.size, size)
	}
	if written := s.size - int64(len(s.buf)); size >= written {
		s.buf, s.size = s.buf[:size-written], size // cut what is not written yet
		return nil
	}
	s.buf = s.buf[:0]
	if err := s.f.Truncate(size); err != nil {
		return fmt.Errorf("index chunk file %s: %w", s.path, err)
	}
	s.size = size
	return nil
}

// Size is how many bytes the file holds.
func (s *ChunkFile) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// ReadAt reads the file's raw bytes: a peer sends the file, as it is, to a
// node that seeds its log from it (the state it sends refers to it).
func (s *ChunkFile) ReadAt(p []byte, off int64) (int, error) {
	if err := s.flush(); err != nil {
		return 0, err
	}
	return s.f.ReadAt(p, off)
}
