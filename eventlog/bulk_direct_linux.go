package eventlog

import (
	"os"

	"golang.org/x/sys/unix"
)

// createSegment creates a new segment file for a Bulk to write, with
// O_DIRECT if direct and the file system takes it. The flag is set after
// the open (fcntl), so a file system that refuses it (EINVAL: older
// tmpfs, some FUSE and network file systems) still gets its file,
// buffered, and nothing is logged: the copy is as correct either way.
func createSegment(path string, direct bool) (*os.File, bool, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil || !direct {
		return f, false, err
	}
	return f, setDirect(f, true) == nil, nil
}

// dropDirect turns O_DIRECT off on f.
func dropDirect(f *os.File) error { return setDirect(f, false) }

func setDirect(f *os.File, on bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil {
			serr = err
			return
		}
		if on {
			fl |= unix.O_DIRECT
		} else {
			fl &^= unix.O_DIRECT
		}
		_, serr = unix.FcntlInt(fd, unix.F_SETFL, fl)
	}); err != nil {
		return err
	}
	return serr
}
