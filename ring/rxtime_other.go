//go:build !linux

package ring

import (
	"net"
	"time"
)

// Without kernel receive timestamps the transport stamps a datagram when
// it reads it (rxtime_linux.go has the Linux version).
func enableRxTimestamps(*net.UDPConn) bool { return false }

func rxTimestamp([]byte) (time.Time, bool) { return time.Time{}, false }
