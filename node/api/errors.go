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
)

// Refusal is the error of a mutation refused by a ban or a mute. The
// decision is taken when the entry is applied, against the entry's own time
// (the leader's clock when it sequenced it), so every node refuses the same
// entries; a backend may also refuse early, from its local state, without
// proposing anything.
type Refusal struct {
	Action string    // "ban" or "mute": what refused it
	User   string    // the refused author
	Room   string    // mute: the room it holds in ("" = every room)
	By     string    // the moderator
	Reason string    // the moderator's reason, untrusted text
	Until  time.Time // end of the ban or mute; zero = no end
	At     time.Time // time of the refused entry (or of the early check)
}

// Error says why, for the refused user: "you are banned until 15:04 UTC
// (spam)", "you are muted in #general until 2025-06-01 15:04 UTC". The time
// of day alone is shown when Until is within a day of At. The reason is not
// cleaned here: sshui cleans everything it shows.
func (r *Refusal) Error() string {
	var b strings.Builder
	b.WriteString("you are ")
	if r.Action == "mute" {
		b.WriteString("muted")
		if r.Room != "" {
			b.WriteString(" in #" + r.Room)
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
