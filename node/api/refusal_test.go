package api

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestRefusalMessages(t *testing.T) {
	at := time.Date(2025, 6, 1, 23, 0, 0, 0, time.UTC)
	cases := []struct {
		r    Refusal
		want string
	}{
		{Refusal{Action: "ban"}, "you are banned"},
		{Refusal{Action: "ban", Reason: "spam", Until: at.Add(30 * time.Minute), At: at}, "you are banned until 23:30 UTC (spam)"},
		{Refusal{Action: "ban", Until: at.Add(25 * time.Hour), At: at}, "you are banned until 2025-06-03 00:00 UTC"},
		{Refusal{Action: "mute", Room: "dev", Until: at.Add(time.Minute), At: at}, "you are muted in #dev until 23:01 UTC"},
		// A mute without a room holds everywhere, and says so.
		{Refusal{Action: "mute", Reason: "calm down"}, "you are muted everywhere (calm down)"},
	}
	for _, c := range cases {
		if got := c.r.Error(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.r, got, c.want)
		}
	}
	var err error = &Refusal{Action: "ban"}
	if !errors.Is(err, ErrForbidden) || errors.Is(err, ErrMuted) {
		t.Error("a ban's refusal must be ErrForbidden only")
	}
	err = fmt.Errorf("post: %w", &Refusal{Action: "mute"})
	if !errors.Is(err, ErrMuted) || errors.Is(err, ErrForbidden) {
		t.Error("a mute's refusal must be ErrMuted only")
	}
}
