package api

import (
	"errors"
	"strings"
	"time"
)

// Sentinel errors the Backend wraps so a front end can explain them.
var (
	ErrNoQuorum  = errors.New("no quorum: the cluster cannot commit right now")
	ErrNameTaken = errors.New("name is bound to another key")
	ErrNotFound  = errors.New("not found")
	ErrForbidden = errors.New("permission denied")
	ErrMuted     = errors.New("you are muted")
	// ErrIDReused: the request id was already used by another request of
	// the same author; nothing was changed, and the index returned with
	// the error is the entry that owns the id.
	ErrIDReused = errors.New("request id already used for a different request")
	// ErrRateLimited: the author posted more than the cluster's allowance;
	// the error is a *RateLimited that says how long to wait.
	ErrRateLimited = errors.New("rate limited")
)

// RateLimited is the error of a post refused because its author used up
// their allowance for the whole cluster (the leader keeps one per user, so
// posting through several nodes gives no more). Nothing was posted; the
// same request may be sent again after Wait.
type RateLimited struct {
	Wait time.Duration // until the next post is allowed; at least 1ms
}

// rateLimitedPrefix starts RateLimited's message; ParseRateLimited reads it
// back (a follower gets the leader's refusal as text).
const rateLimitedPrefix = "rate limited: try again in "

// Error says how long to wait: "rate limited: try again in 1.25s".
func (r *RateLimited) Error() string {
	return rateLimitedPrefix + max(r.Wait, time.Millisecond).Round(time.Millisecond).String()
}

// Is makes a RateLimited match ErrRateLimited.
func (r *RateLimited) Is(target error) bool { return target == ErrRateLimited }

// ParseRateLimited reads back what RateLimited.Error wrote.
func ParseRateLimited(s string) (*RateLimited, bool) {
	rest, ok := strings.CutPrefix(s, rateLimitedPrefix)
	if !ok {
		return nil, false
	}
	d, err := time.ParseDuration(rest)
	if err != nil || d <= 0 {
		return nil, false
	}
	return &RateLimited{Wait: d}, true
}

// Refusal is the error of a mutation refused by a ban or a mute. The
// decision is taken when the entry is applied, against the entry's own time
// (the leader's clock when it sequenced it), so every node refuses the same
// entries; a backend may also refuse early, from its local state, without
// proposing anything.
type Refusal struct {
	Action string    // "ban", "mute", or RefusedAccess: what refused it
	User   string    // the refused author
	Room   string    // mute: the room it holds in ("" = every room)
	By     string    // the moderator
	Reason string    // the moderator's reason, untrusted text
	Until  time.Time // end of the ban or mute; zero = no end
	At     time.Time // time of the refused entry (or of the early check)
}

// Error says why, for the refused user: "you are banned until 15:04 UTC
// (spam)", "you are muted in #general until 2025-06-01 15:04 UTC", "you
// are muted everywhere (shouting)". The time
// of day alone is shown when Until is within a day of At. The reason is not
// cleaned here: sshui cleans everything it shows.
func (r *Refusal) Error() string {
	if r.Action == RefusedAccess {
		return r.Reason // the access rules' sentence (rooms.go)
	}
	var b strings.Builder
	b.WriteString("you are ")
	if r.Action == "mute" {
		b.WriteString("muted")
		if r.Room != "" {
			b.WriteString(" in #" + r.Room)
		} else {
			b.WriteString(" everywhere") // not "in #general": it holds in every room
		}
	} else {
		b.WriteString("banned")
	}
	if !r.Until.IsZero() {
		u := r.Until.UTC()
		layout := "2006-01-02 15:04 UTC"
		if d := r.Until.Sub(r.At); d >= 0 && d < 24*time.Hour {
			layout = "15:04 UTC"
		}
		b.WriteString(" until " + u.Format(layout))
	}
	if r.Reason != "" {
		b.WriteString(" (" + r.Reason + ")")
	}
	return b.String()
}

// Is makes a ban's refusal match ErrForbidden and a mute's ErrMuted.
func (r *Refusal) Is(target error) bool {
	if r.Action == "mute" {
		return target == ErrMuted
	}
	return target == ErrForbidden
}
