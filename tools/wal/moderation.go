package walcmd

import (
	"fmt"
	"sort"
	"time"

	"github.com/syncnet/syncnet/node/api"
)

// moderation is the bans and mutes the applied entries made, as the
// node's moderation plugin reported them (a refused entry reports nothing):
// the latest ban on a user replaces the earlier ones, mutes add up (the
// plugin's rules). Kicks leave no state.
type moderation struct {
	bans  map[string]modEntry
	mutes map[string][]modEntry
}

// modEntry is one ban or mute and the cluster index that made it.
type modEntry struct {
	api.Moderation
	index uint64
}

func (m *moderation) add(ev api.Event) {
	switch ev.Mod.Action {
	case "ban":
		if m.bans == nil {
			m.bans = map[string]modEntry{}
		}
		m.bans[ev.Mod.Target] = modEntry{ev.Mod, ev.Index}
	case "mute":
		if m.mutes == nil {
			m.mutes = map[string][]modEntry{}
		}
		m.mutes[ev.Mod.Target] = append(m.mutes[ev.Mod.Target], modEntry{ev.Mod, ev.Index})
	}
}

// inForce returns the bans, then the mutes, that hold at t (no end, or an
// end after t), each sorted by user and index.
func (m *moderation) inForce(t time.Time) []modEntry {
	holds := func(e modEntry) bool { return e.Until.IsZero() || t.Before(e.Until) }
	var bans, mutes []modEntry
	for _, e := range m.bans {
		if holds(e) {
			bans = append(bans, e)
		}
	}
	for _, es := range m.mutes {
		for _, e := range es {
			if holds(e) {
				mutes = append(mutes, e)
			}
		}
	}
	for _, l := range [][]modEntry{bans, mutes} {
		sort.Slice(l, func(i, j int) bool {
			if l[i].Target != l[j].Target {
				return l[i].Target < l[j].Target
			}
			return l[i].index < l[j].index
		})
	}
	return append(bans, mutes...)
}

// printModeration lists the bans and mutes in force at the state's time:
// --until's time if one was given, else the last applied entry's.
func (r *rebuilt) printModeration(e *env) {
	at, why := r.lastTime, "the time of the last applied entry"
	if r.until.time != 0 {
		at, why = r.until.time, "the --until time"
	}
	w := e.stdout
	list := r.mod.inForce(time.Unix(0, at).UTC())
	if len(list) == 0 {
		fmt.Fprintf(w, "\nmoderation in force at %s: none\n", fmtTime(at))
		return
	}
	fmt.Fprintf(w, "\nmoderation in force at %s (%s):\n", fmtTime(at), why)
	fmt.Fprintf(w, "%-6s %-16s %-16s %-16s %8s  %-20s  %s\n", "ACTION", "USER", "BY", "WHERE", "INDEX", "UNTIL", "REASON")
	for _, m := range list {
		where := "every room"
		if m.Room != "" {
			where = "#" + clean(m.Room)
		}
		until := "for ever"
		if !m.Until.IsZero() {
			until = m.Until.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%-6s %-16s %-16s %-16s %8d  %-20s  %s\n", m.Action, clean(m.Target), clean(m.By), where, m.index,
			until, orDash(clean(m.Reason)))
	}
}
