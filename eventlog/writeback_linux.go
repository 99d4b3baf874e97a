package eventlog

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback waits until the disk has written everything of f before
// off that was handed to it, then hands it [off, off+n). Errors are
// ignored: this only paces the writer (the caller's fsync reports any
// failure to write).
func startWriteback(f *os.File, off, n int64) {
	fd := int(f.Fd())
	if off > 0 {
		_ = unix.SyncFileRange(fd, 0, off, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
	}
	_ = unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WRITE)
}
