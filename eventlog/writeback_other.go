//go:build !linux

package eventlog

import "os"

// startWriteback is a no-op where sync_file_range does not exist: the
// segment's fsync writes everything.
func startWriteback(f *os.File, off, n int64) {}
