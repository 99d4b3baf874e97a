package ring

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// IncarnationFile is where NextIncarnation keeps the last incarnation, in
// a node's directory.
const IncarnationFile = "ring-incarnation"

// NextIncarnation returns this start's incarnation and records it in
// dir/ring-incarnation (written and fsynced before it is returned, so no
// datagram ever carries an incarnation the disk does not know). It is one
// more than the last one recorded, or the clock in nanoseconds if that is
// larger: the first start of a node (or one whose directory was lost)
// still outranks every incarnation it used before, and once the file
// exists a clock stepped back cannot make peers take the node's new
// datagrams for stale ones, nor its old datagrams for new. Peers drop
// datagrams of an incarnation lower than the newest they saw (Guard).
func NextIncarnation(dir string, now time.Time) (uint64, error) {
	path := filepath.Join(dir, IncarnationFile)
	var last uint64
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		last, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: not an incarnation number (%v); remove it to start from the clock", path, err)
		}
	case !os.IsNotExist(err):
		return 0, err
	}
	next := max(last+1, uint64(max(now.UnixNano(), 1)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, err
	}
	if _, err := fmt.Fprintf(f, "%d\n", next); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return next, nil
}
