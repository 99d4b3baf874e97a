package ring

import (
	"math/rand"
	"sort"
)

// SimConfig sets the faults of a SimNetwork. Zero values mean a perfect
// network that delivers everything in the tick it was sent, in send order.
type SimConfig struct {
	Drop      float64 // probability an envelope is lost
	Duplicate float64 // probability an envelope is delivered twice
	MaxDelay  int     // each envelope is delayed uniformly by 0..MaxDelay ticks (reorders)
}

// Envelope is one message in flight. Payload is opaque: ring messages are
// one payload type; node/ can carry its own frames through the same network.
type Envelope struct {
	From, To string
	Payload  any
	At       int64  // tick it becomes deliverable
	ID       uint64 // send order, for deterministic delivery
}

// SimStats counts what a SimNetwork did.
type SimStats struct {
	Sent, Delivered, Dropped, Duplicated, Cut int
}

// SimNetwork is a deterministic in-memory network: seeded drop, delay,
// duplication and reordering, partitions and one-way cuts. It has no goroutines and no
// clock; the caller drives it with Tick and Due.
type SimNetwork struct {
	rnd   *rand.Rand
	cfg   SimConfig
	now   int64
	next  uint64
	queue []Envelope
	group map[string]int // partition group; members of different groups cannot talk
	down  map[string]bool
	deaf  map[string]bool // receives nothing (still sends)
	mute  map[string]bool // sends nothing that arrives (still receives)
	Stats SimStats
}

// NewSimNetwork returns a network whose every random choice comes from rnd.
func NewSimNetwork(rnd *rand.Rand, cfg SimConfig) *SimNetwork {
	return &SimNetwork{rnd: rnd, cfg: cfg, group: map[string]int{}, down: map[string]bool{},
		deaf: map[string]bool{}, mute: map[string]bool{}}
}

// SetFaults changes the fault model from now on.
func (s *SimNetwork) SetFaults(cfg SimConfig) { s.cfg = cfg }

// Faults returns the current fault model.
func (s *SimNetwork) Faults() SimConfig { return s.cfg }

// Now returns the network's tick.
func (s *SimNetwork) Now() int64 { return s.now }

// Tick advances the network clock.
func (s *SimNetwork) Tick() { s.now++ }

// Partition splits the given ids into groups that cannot reach each other.
// Ids not named keep group 0 (together with the first group).
func (s *SimNetwork) Partition(groups ...[]string) {
	s.group = map[string]int{}
	for i, g := range groups {
		for _, id := range g {
			s.group[id] = i
		}
	}
}

// Heal removes every partition and every one-way cut.
func (s *SimNetwork) Heal() {
	s.group = map[string]int{}
	s.deaf, s.mute = map[string]bool{}, map[string]bool{}
}

// SetDeaf cuts (true) or restores everything sent to id, from every
// sender, including envelopes already in flight: id still sends.
func (s *SimNetwork) SetDeaf(id string, deaf bool) { s.deaf[id] = deaf }

// SetMute cuts (true) or restores everything id sends, to every receiver,
// including envelopes already in flight: id still receives.
func (s *SimNetwork) SetMute(id string, mute bool) { s.mute[id] = mute }

// Cut reports the one-way cuts of id.
func (s *SimNetwork) Cut(id string) (deaf, mute bool) { return s.deaf[id], s.mute[id] }

// SetDown marks id as crashed (true) or running: envelopes to a crashed
// node are lost, including those already in flight when they arrive.
func (s *SimNetwork) SetDown(id string, down bool) { s.down[id] = down }

// Connected reports whether a can currently reach b (one way: a message
// from b to a may still be cut).
func (s *SimNetwork) Connected(a, b string) bool {
	return s.group[a] == s.group[b] && !s.down[a] && !s.down[b] && !s.mute[a] && !s.deaf[b]
}

// Send puts payload in flight from one id to another, subject to faults.
func (s *SimNetwork) Send(from, to string, payload any) {
	s.Stats.Sent++
	if !s.Connected(from, to) {
		s.Stats.Cut++
		return
	}
	if s.cfg.Drop > 0 && s.rnd.Float64() < s.cfg.Drop {
		s.Stats.Dropped++
		return
	}
	copies := 1
	if s.cfg.Duplicate > 0 && s.rnd.Float64() < s.cfg.Duplicate {
		copies = 2
		s.Stats.Duplicated++
	}
	for i := 0; i < copies; i++ {
		d := 0
		if s.cfg.MaxDelay > 0 {
			d = s.rnd.Intn(s.cfg.MaxDelay + 1)
		}
		s.next++
		s.queue = append(s.queue, Envelope{From: from, To: to, Payload: payload, At: s.now + int64(d), ID: s.next})
	}
}

// Due removes and returns the envelopes deliverable now, in (At, ID) order,
// dropping those whose link was cut or whose receiver crashed meanwhile.
func (s *SimNetwork) Due() []Envelope {
	var due, keep []Envelope
	for _, e := range s.queue {
		if e.At <= s.now {
			due = append(due, e)
		} else {
			keep = append(keep, e)
		}
	}
	s.queue = keep
	sort.Slice(due, func(i, j int) bool {
		if due[i].At != due[j].At {
			return due[i].At < due[j].At
		}
		return due[i].ID < due[j].ID
	})
	out := due[:0]
	for _, e := range due {
		if s.Connected(e.From, e.To) {
			out = append(out, e)
			s.Stats.Delivered++
		} else {
			s.Stats.Cut++
		}
	}
	return out
}

// Pending returns how many envelopes are in flight.
func (s *SimNetwork) Pending() int { return len(s.queue) }
