package ring

import (
	"net"
	"syscall"
	"time"
	"unsafe"
)

// Kernel receive timestamps (SO_TIMESTAMPNS, Linux): the moment a
// heartbeat reached this host, not the moment a goroutine got to read it,
// so the wait before the read is measured too (UDPTransport.ReadDelayMax).

// enableRxTimestamps asks the kernel to stamp every datagram of c; false
// where it cannot (the transport then stamps at read).
func enableRxTimestamps(c *net.UDPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	_ = rc.Control(func(fd uintptr) {
		ok = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1) == nil
	})
	return ok
}

// rxTimestamp reads the kernel's stamp from a datagram's control data.
func rxTimestamp(oob []byte) (time.Time, bool) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SO_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(syscall.Timespec{})) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&m.Data[0]))
			return time.Unix(ts.Sec, ts.Nsec), true
		}
	}
	return time.Time{}, false
}
