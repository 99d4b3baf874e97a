package ring

import (
	"errors"
	"fmt"
	"math/rand"
	"sort"
)

// Member is one cluster member and its position on the ring.
type Member struct {
	ID   string
	Ring int
	// Learner: a non-voting member (added to the cluster and not promoted
	// yet, membership.go). It is on the ring and relays tokens as a learner
	// does (learner.go), but no majority counts it.
	Learner bool
}

// Config configures one ring Node. Every field is required unless noted.
type Config struct {
	// ID is this node's member id; it must appear in Members.
	ID string
	// Members is the membership to start with: the latest one in the
	// caller's log, or the configured one (SetMembers replaces it).
	// Majorities are counted against its voters, never against the members
	// currently believed alive (I1).
	Members []Member
	// Conf names the log entry that holds Members ((index, term) of a
	// membership entry; zero for the configured membership). It goes on this
	// node's candidacy (Candidate.Conf, membership.go).
	Conf ConfID
	// HeartbeatTicks: a heartbeat goes to every other member this often.
	HeartbeatTicks int
	// FailureTicks: a member silent this long is suspected; a follower that
	// has not heard its leader this long starts an election. Must be at least
	// 2×HeartbeatTicks (4× recommended, so a busy machine does not cause
	// false suspicions).
	FailureTicks int
	// DeadTicks: a member silent this long is dead. Default 2×FailureTicks.
	DeadTicks int
	// ElectionTicks: a round that has produced no leader after this many
	// ticks (plus a random backoff of up to ElectionTicks) is retried with a
	// higher term; the retry is staggered (see StaggerTicks) and randomised.
	ElectionTicks int
	// StaggerTicks: the spacing between the moments successive members on
	// the ring may start a round, plus the range of the random jitter added.
	// It should exceed one message hop. Default max(1, HeartbeatTicks/2).
	StaggerTicks int
	// AckTicks: a token or elected announcement this node sent is moved on
	// to the next eligible member when, after this many ticks, there is no
	// evidence that its receiver got it (neither a transport acknowledgement
	// stepped as MsgAck nor a heartbeat of the receiver showing the term).
	// It should exceed a round trip plus a retransmission. Default
	// HeartbeatTicks+1, so that a transport that delivers no acks still
	// sees the receiver's next heartbeat in time.
	AckTicks int
	// Rand is the only source of randomness (backoff). Required, seeded by
	// the caller so simulations replay exactly.
	Rand *rand.Rand
	// LogPosition returns the (term, index) of the last entry of the local
	// log as it stands now, in memory, including entries not yet durable.
	// Required. The core reads it at every step that puts this node's
	// candidacy on a token or a heartbeat, so the candidacy always covers
	// every entry this node has acknowledged or will acknowledge in the
	// same Ready (the I3 contract in doc.go). It must be cheap and must not
	// call back into the Node.
	LogPosition func() (lastTerm, lastIndex uint64)
	// Learner starts the node as a learner (learner.go): it relays tokens
	// and announcements and follows leaders, but never votes, never starts
	// a round and never leads, until Promote or PromoteFresh. Optional. The
	// caller sets it for a node whose data directory was lost (issue 12),
	// and keeps setting it at every restart until the HardState of Promote
	// is persisted (doc.go, Caller's duties).
	Learner bool
}

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("ring: bad config")

// validate checks cfg and returns the members sorted by (Ring, ID).
func (cfg *Config) validate() ([]Member, error) {
	if cfg.Rand == nil {
		return nil, fmt.Errorf("%w: Rand is nil", ErrConfig)
	}
	if cfg.LogPosition == nil {
		return nil, fmt.Errorf("%w: LogPosition is nil", ErrConfig)
	}
	if cfg.HeartbeatTicks < 1 || cfg.FailureTicks < 2*cfg.HeartbeatTicks {
		return nil, fmt.Errorf("%w: need HeartbeatTicks >= 1 and FailureTicks >= 2*HeartbeatTicks (got %d, %d)",
			ErrConfig, cfg.HeartbeatTicks, cfg.FailureTicks)
	}
	if cfg.ElectionTicks < 1 {
		return nil, fmt.Errorf("%w: ElectionTicks must be >= 1", ErrConfig)
	}
	if cfg.StaggerTicks == 0 {
		cfg.StaggerTicks = max(1, cfg.HeartbeatTicks/2)
	}
	if cfg.StaggerTicks < 0 {
		return nil, fmt.Errorf("%w: StaggerTicks < 0", ErrConfig)
	}
	if cfg.AckTicks == 0 {
		cfg.AckTicks = cfg.HeartbeatTicks + 1
	}
	if cfg.AckTicks < 0 {
		return nil, fmt.Errorf("%w: AckTicks < 0", ErrConfig)
	}
	if cfg.DeadTicks == 0 {
		cfg.DeadTicks = 2 * cfg.FailureTicks
	}
	if cfg.DeadTicks < cfg.FailureTicks {
		return nil, fmt.Errorf("%w: DeadTicks < FailureTicks", ErrConfig)
	}
	return sortedMembers(cfg.ID, cfg.Members)
}

// sortedMembers checks a membership (1..MaxMembers members with distinct
// ids, id among them, at least one voter) and returns it sorted by (Ring,
// ID): the ring order.
func sortedMembers(id string, members []Member) ([]Member, error) {
	if len(members) == 0 || len(members) > MaxMembers {
		return nil, fmt.Errorf("%w: need 1..%d members, got %d", ErrConfig, MaxMembers, len(members))
	}
	ms := append([]Member(nil), members...)
	seen := map[string]bool{}
	self, voters := false, 0
	for _, m := range ms {
		if m.ID == "" || len(m.ID) > MaxIDLen {
			return nil, fmt.Errorf("%w: member id %q must be 1..%d bytes", ErrConfig, m.ID, MaxIDLen)
		}
		if seen[m.ID] {
			return nil, fmt.Errorf("%w: duplicate member %q", ErrConfig, m.ID)
		}
		seen[m.ID] = true
		self = self || m.ID == id
		if !m.Learner {
			voters++
		}
	}
	if !self {
		return nil, fmt.Errorf("%w: own id %q not in members", ErrConfig, id)
	}
	if voters == 0 {
		return nil, fmt.Errorf("%w: no voting member", ErrConfig)
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Ring != ms[j].Ring {
			return ms[i].Ring < ms[j].Ring
		}
		return ms[i].ID < ms[j].ID
	})
	return ms, nil
}
