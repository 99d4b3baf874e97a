//go:build !linux

package eventlog

import (
	"errors"
	"os"
)

// createSegment creates a new segment file for a Bulk to write. Direct
// I/O is Linux's only (bulk_direct_linux.go): here it is always buffered.
func createSegment(path string, direct bool) (*os.File, bool, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	return f, false, err
}

func dropDirect(f *os.File) error { return errors.New("eventlog: no direct I/O here") }
