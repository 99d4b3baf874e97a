package peer

import "syscall"

// setReadLowWater sets SO_RCVLOWAT: epoll reports the socket readable (and
// the runtime wakes its reader) once n bytes wait, or at the end of the
// stream.
func setReadLowWater(fd uintptr, n int) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
}
