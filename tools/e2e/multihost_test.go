package e2e

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// capture records every frame crossing the lab's host-side veth
// interfaces (raw AF_PACKET socket; the lab needs root anyway).
type capture struct {
	fd     int
	ifs    map[int]bool
	mu     sync.Mutex
	frames [][]byte
	done   chan struct{}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func startCapture(t *testing.T, l *netLab) *capture {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(htons(syscall.ETH_P_ALL)))
	if err != nil {
		t.Skipf("no packet capture (AF_PACKET socket: %v)", err)
	}
	c := &capture{fd: fd, ifs: map[int]bool{}, done: make(chan struct{})}
	for i := range l.ns {
		ifi, err := net.InterfaceByName(fmt.Sprintf("e2h%s%d", l.sfx, i+1))
		if err != nil {
			t.Fatal(err)
		}
		c.ifs[ifi.Index] = true
	}
	tv := syscall.NsecToTimeval(int64(100 * time.Millisecond))
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	go func() {
		defer close(c.done)
		buf := make([]byte, 1<<16)
		for {
			n, from, err := syscall.Recvfrom(fd, buf, 0)
			if err != nil {
				if err == syscall.EAGAIN || err == syscall.EINTR {
					continue
				}
				return
			}
			if ll, ok := from.(*syscall.SockaddrLinklayer); ok && c.ifs[ll.Ifindex] {
				c.mu.Lock()
				c.frames = append(c.frames, bytes.Clone(buf[:n]))
				c.mu.Unlock()
			}
		}
	}()
	return c
}

func (c *capture) stop() [][]byte {
	syscall.Close(c.fd)
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames
}

// ports returns an IPv4 frame's protocol and destination port.
func framePort(f []byte) (proto byte, port int, payload []byte, ok bool) {
	if len(f) < 14+20 || binary.BigEndian.Uint16(f[12:14]) != 0x0800 {
		return 0, 0, nil, false
	}
	ip := f[14:]
	ihl := int(ip[0]&0x0f) * 4
	if len(ip) < ihl+8 {
		return 0, 0, nil, false
	}
	l4 := ip[ihl:]
	switch ip[9] {
	case syscall.IPPROTO_TCP:
		off := int(l4[12]>>4) * 4
		if len(l4) < off {
			return 0, 0, nil, false
		}
		return ip[9], int(binary.BigEndian.Uint16(l4[2:4])), l4[off:], true
	case syscall.IPPROTO_UDP:
		return ip[9], int(binary.BigEndian.Uint16(l4[2:4])), l4[8:], true
	}
	return 0, 0, nil, false
}

// TestMultiHostTLS: three nodes on three addresses (one network namespace
// each), with peer credentials made by syncnet certs as an operator would:
// they elect, commit posts, and after kill -9 of the leader the other two
// elect a new one. A capture of every frame between the hosts holds peer
// traffic (TCP to the peer port, UDP heartbeats and election messages) but
// not one chat line or user name.
func TestMultiHostTLS(t *testing.T) {
	lab := newNetLab(t, 3)
	capt := startCapture(t, lab)
	c := newCluster(t, 3, lab.opts())
	for _, id := range c.ids {
		if line := c.logLine(id, "peer links use mutual TLS 1.3"); line == "" {
			t.Fatalf("%s does not say it runs mutual TLS", id)
		}
	}
	lead := c.waitLeader()
	tag := fmt.Sprintf("%06x", rand.IntN(1<<24))
	user, text := "ulysses"+tag, "zebra crossing "+tag
	for i, id := range c.ids {
		if _, err := c.post(id, user, "general", fmt.Sprintf("%s %d", text, i), fmt.Sprintf("mh-%s-%d", tag, i)); err != nil {
			t.Fatalf("post through %s: %v", id, err)
		}
	}
	t0 := time.Now()
	c.kill9(lead)
	rest := others(c.ids, lead)
	next, term, took, err := c.electedAmong(rest, t0, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("leader %s killed; %s leads term %d, agreed by %v %s after the kill", lead, next, term, rest, took.Round(time.Millisecond))
	if _, err := c.post(next, user, "general", text+" after", "mh-"+tag+"-after"); err != nil {
		t.Fatalf("post after the failover: %v", err)
	}
	frames := capt.stop()
	seen := map[string]int{}
	for _, f := range frames {
		if bytes.Contains(f, []byte(tag)) {
			t.Fatalf("a frame between the hosts carries the chat text or user name (%q): %q", tag, f)
		}
		if proto, port, payload, ok := framePort(f); ok && len(payload) > 0 {
			switch {
			case proto == syscall.IPPROTO_TCP && port == 8000:
				seen["peer tcp"]++
			case proto == syscall.IPPROTO_UDP && port == 8020:
				seen["heartbeat udp"]++
			case proto == syscall.IPPROTO_UDP && port == 8030:
				seen["election udp"]++
			}
		}
	}
	t.Logf("captured %d frames between the hosts: %v", len(frames), seen)
	for _, k := range []string{"peer tcp", "heartbeat udp", "election udp"} {
		if seen[k] == 0 {
			t.Fatalf("the capture holds no %s traffic (%v): it cannot show that traffic is unreadable", k, seen)
		}
	}
}
