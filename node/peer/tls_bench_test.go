package peer

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkRoundTrip: one frame from n0 to n1 and one back, the two hops
// of a replication round (append, ack), with and without TLS, for frames
// the size of one post's append and of a 64 KiB batch.
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{300, 64 << 10} {
		for _, useTLS := range []bool{false, true} {
			name := fmt.Sprintf("hmac/%dB", size)
			if useTLS {
				name = fmt.Sprintf("tls/%dB", size)
			}
			b.Run(name, func(b *testing.B) {
				nodes := []*tlsNode{{id: "n0"}, {id: "n1"}}
				if useTLS {
					p := newPKI(&testing.T{}, "bench CA")
					for _, n := range nodes {
						n.store = p.store(&testing.T{}, n.id)
					}
				}
				ts := tlsCluster(&testing.T{}, nodes)
				defer func() {
					for _, tr := range ts {
						tr.Close()
					}
				}()
				waitConnected(&testing.T{}, ts[0], "n1")
				waitConnected(&testing.T{}, ts[1], "n0")
				payload := bytes.Repeat([]byte("x"), size)
				b.SetBytes(int64(2 * size))
				b.ResetTimer()
				for range b.N {
					for !ts[0].Send("n1", 7, payload) {
					}
					<-ts[1].Recv()
					for !ts[1].Send("n0", 8, payload) {
					}
					<-ts[0].Recv()
				}
			})
		}
	}
}
