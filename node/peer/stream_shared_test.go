package peer

import (
	"bytes"
	"context"
	"testing"
)

// RecvShared delivers every frame whole and in order into one buffer,
// grown when a frame needs more, reused otherwise.
func TestStreamRecvShared(t *testing.T) {
	addr := streamServer(t, "s3cret", echo)
	s, err := DialStream(context.Background(), StreamDial{ID: "cli", Secret: []byte("s3cret"), Peer: "srv", Addr: addr}, []byte("give"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if typ, p, err := s.RecvShared(); err != nil || typ != 1 || string(p) != "give" {
		t.Fatalf("answer to the request: %d %q %v", typ, p, err)
	}
	var first *byte
	for i, size := range []int{1 << 20, 100, 1 << 20, 3 << 20, 7, 2 << 20} {
		want := bytes.Repeat([]byte{byte(i + 1)}, size)
		if err := s.Send(uint8(10+i), want); err != nil {
			t.Fatal(err)
		}
		typ, p, err := s.RecvShared()
		if err != nil || typ != uint8(11+i) || !bytes.Equal(p, want) {
			t.Fatalf("frame %d: type %d, %d bytes, %v", i, typ, len(p), err)
		}
		switch {
		case i == 0:
			first = &p[0]
		case i < 3 && &p[0] != first:
			t.Fatalf("frame %d of %d bytes did not reuse the buffer of the first", i, size)
		}
	}
}
