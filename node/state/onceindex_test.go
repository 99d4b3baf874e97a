package state

import (
	"math/rand/v2"
	"testing"
)

// The index against a map, driven as the once table drives it: requests
// remembered in sequence order, some renewed, the oldest forgotten first,
// the table growing and shrinking. Hashes are drawn from a few values, so
// keys share tags and homes, runs wrap around the end of the table, and
// deletions shift runs back; and from every value.
func TestOnceIndexMatchesMap(t *testing.T) {
	for _, c := range []struct {
		name   string
		hashes uint64 // distinct hash values (0: any)
	}{{"colliding", 64}, {"spread", 1 << 10}, {"random", 0}} {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, c.hashes))
			x := newOnceIndex()
			hashOf := map[requestKey]uint64{}
			keyOfSeq := map[uint64]requestKey{} // the "fifo": every item made
			live := map[requestKey]uint64{}     // the model: key -> seq of its item
			var lo, next uint64                 // oldest live item, next to make
			newKey := func() requestKey {
				var k requestKey
				for i := range k {
					k[i] = byte(rng.Uint32())
				}
				h := rng.Uint64()
				if c.hashes != 0 {
					h = rng.Uint64N(c.hashes) * 0x9E3779B97F4A7C15
				}
				hashOf[k] = h
				return k
			}
			keyAt := func(seq uint64) *requestKey {
				k, ok := keyOfSeq[seq]
				if !ok || seq < lo {
					t.Fatalf("the index read item %d, which is not live (lo %d)", seq, lo)
				}
				return &k
			}
			remember := func(k requestKey) {
				h := hashOf[k]
				pos, _, ok := x.find(k, h, lo, keyAt)
				keyOfSeq[next] = k
				if ok {
					x.slots[pos] = slotOf(h, next)
				} else {
					x.put(pos, slotOf(h, next))
				}
				live[k] = next
				next++
			}
			maxSlots := 0
			for step := 0; step < 16000; step++ {
				adds := 7 // of 10 while growing, then 1 while shrinking, and so on
				if (step/4000)%2 == 1 {
					adds = 1
				}
				switch r := rng.IntN(10); {
				case r < adds || len(live) == 0:
					remember(newKey())
				case r == adds: // a request renewed: its earlier item is no longer its
					for k := range live {
						remember(k)
						break
					}
				default: // forget the oldest item (the fifo's front)
					for ; lo < next; lo++ {
						k := keyOfSeq[lo]
						if live[k] == lo {
							x.remove(hashOf[k], slotOf(hashOf[k], lo))
							delete(live, k)
							lo++
							break
						}
					}
				}
				maxSlots = max(maxSlots, len(x.slots))
				if x.n != len(live) || 2*x.n > len(x.slots) {
					t.Fatalf("step %d: %d slots used of %d, the map holds %d", step, x.n, len(x.slots), len(live))
				}
				if step%97 == 0 || len(live) < 40 {
					for k, seq := range live {
						if _, got, ok := x.find(k, hashOf[k], lo, keyAt); !ok || got != seq {
							t.Fatalf("step %d: key %x: found %v at %d, want %d", step, k[:4], ok, got, seq)
						}
					}
					if k := newKey(); true {
						if _, _, ok := x.find(k, hashOf[k], lo, keyAt); ok {
							t.Fatalf("step %d: found a key never added", step)
						}
					}
				}
			}
			if maxSlots < 1024 || len(x.slots) >= maxSlots {
				t.Fatalf("the table never grew and shrank: at most %d slots, %d at the end", maxSlots, len(x.slots))
			}
		})
	}
}
