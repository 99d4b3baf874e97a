package peer

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// bulk sends frames of assorted sizes, many below the low-water mark, the
// last one a few bytes, and returns (the connection closes).
func bulk(from string, req []byte, s *Stream) error {
	for i := range 40 {
		if err := s.Send(uint8(1+i%200), bytes.Repeat([]byte{byte(i)}, bulkSize(i))); err != nil {
			return err
		}
	}
	return s.Send(250, []byte("end"))
}

func bulkSize(i int) int { return []int{1 << 20, 100, 70 << 10, 5, 300 << 10}[i%5] }

// With a low-water mark on the receiving socket every frame still arrives,
// in order, the last few bytes with the sender's close; over TLS the mark
// is set on the TCP socket under it.
func TestStreamReadLowWater(t *testing.T) {
	p := newPKI(t, "cluster CA")
	for _, withTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", withTLS), func(t *testing.T) {
			l := listen(t)
			cfg := Config{ID: "srv", Secret: []byte("s3cret"), Peers: map[string]string{"srv": l.Addr().String(), "cli": "127.0.0.1:1"},
				Listener: l, Streams: bulk}
			d := StreamDial{ID: "cli", Secret: []byte("s3cret"), Peer: "srv", Addr: l.Addr().String()}
			if withTLS {
				cfg.TLS, d.TLS = p.store(t, "srv"), p.store(t, "cli")
			}
			tr, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			s, err := DialStream(context.Background(), d, []byte("give"))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			const mark = 256 << 10
			if err := s.SetReadLowWater(mark); err != nil {
				t.Fatal(err)
			}
			raw := s.conn
			if tc, ok := raw.(*tls.Conn); ok {
				raw = tc.NetConn()
			} else if withTLS {
				t.Fatalf("a TLS stream on a %T", raw)
			}
			rc, _ := raw.(syscall.Conn).SyscallConn()
			var got int
			var gerr error
			rc.Control(func(fd uintptr) { got, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT) })
			if gerr != nil || got != mark {
				t.Fatalf("SO_RCVLOWAT %d, %v; want %d", got, gerr, mark)
			}
			s.SetTimeout(10 * time.Second)
			for i := range 40 {
				typ, p, err := s.RecvShared()
				if err != nil || typ != uint8(1+i%200) || len(p) != bulkSize(i) || (len(p) > 0 && p[0] != byte(i)) {
					t.Fatalf("frame %d: type %d, %d bytes, %v", i, typ, len(p), err)
				}
			}
			if typ, p, err := s.RecvShared(); err != nil || typ != 250 || string(p) != "end" {
				t.Fatalf("the last frame: %d %q %v", typ, p, err)
			}
		})
	}
}
