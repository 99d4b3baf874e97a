package sshui

import (
	"fmt"
	"strings"
	"time"

	"github.com/syncnet/syncnet/node/api"
)

// Moderation as people read it: who, what, where, why and until when, in
// whole sentences. The same words serve the moderator's confirmation, the
// notice others see, /bans and the exec bans command.

// untilText says when m ends, as seen at now in loc: "until 16:04 UTC (in
// 59m)", "until 2026-01-03 09:00 CET (in 17h)" or "with no end".
func untilText(until, now time.Time, loc *time.Location) string {
	if until.IsZero() {
		return "with no end"
	}
	u, n := until.In(loc), now.In(loc)
	layout := "2006-01-02 15:04 MST"
	if u.YearDay() == n.YearDay() && u.Year() == n.Year() {
		layout = "15:04 MST"
	}
	return "until " + u.Format(layout) + " (in " + durText(until.Sub(now)) + ")"
}

// durText is d for people, rounded up to a minute: "59m", "3h5m", "2d4h".
func durText(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	switch {
	case m < 1:
		return "less than a minute"
	case m < 60:
		return fmt.Sprintf("%dm", m)
	case m < 24*60:
		if m%60 == 0 {
			return fmt.Sprintf("%dh", m/60)
		}
		return fmt.Sprintf("%dh%dm", m/60, m%60)
	}
	if h := m / 60 % 24; h != 0 {
		return fmt.Sprintf("%dd%dh", m/60/24, h)
	}
	return fmt.Sprintf("%dd", m/60/24)
}

// scopeText is where a mute holds.
func scopeText(room string) string {
	if room == "" {
		return "everywhere"
	}
	return "in #" + Clean(room, MaxNameLen)
}

// reasonText ends a sentence with the reason, if any.
func reasonText(reason string) string {
	if reason == "" {
		return "."
	}
	return ": " + Clean(reason, 200) + "."
}

// modSentence tells what m did, for everyone: "bob was banned by alice
// until 16:04 UTC (in 1h): spam."
func modSentence(m api.Moderation, now time.Time, loc *time.Location) string {
	who, by := Clean(m.Target, MaxNameLen), Clean(m.By, MaxNameLen)
	switch m.Action {
	case "kick":
		return who + " was kicked by " + by + reasonText(m.Reason)
	case "ban":
		return who + " was banned by " + by + " " + untilText(m.Until, now, loc) + reasonText(m.Reason)
	case "mute":
		return who + " was muted " + scopeText(m.Room) + " by " + by + " " + untilText(m.Until, now, loc) + reasonText(m.Reason)
	case "unban":
		return who + " is no longer banned (lifted by " + by + ")."
	case "unmute":
		return who + " is no longer muted " + scopeText(m.Room) + " (lifted by " + by + ")."
	case "release":
		return "The name " + who + " was released by " + by + ": the next key to use it owns it."
	}
	return who + ": " + Clean(m.Action, 16) + " by " + by + "."
}

// sanctionLine is one row of /bans and the bans command: "bob: banned by
// alice until 16:04 UTC (in 1h): spam."
func sanctionLine(m api.Moderation, now time.Time, loc *time.Location) string {
	what := "banned"
	if m.Action == "mute" {
		what = "muted " + scopeText(m.Room)
	}
	return Clean(m.Target, MaxNameLen) + ": " + what + " by " + Clean(m.By, MaxNameLen) + " " +
		untilText(m.Until, now, loc) + reasonText(m.Reason)
}

// sanctionsText lists ms, or says there are none.
func sanctionsText(ms []api.Moderation, now time.Time, loc *time.Location) string {
	if len(ms) == 0 {
		return "Nobody is banned or muted."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Bans and mutes in force (%d):", len(ms))
	for _, m := range ms {
		b.WriteString("\n  " + sanctionLine(m, now, loc))
	}
	return b.String()
}
