package walcmd

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/syncnet/syncnet/node/api"
)

// moderation is the bans and mutes the applied entries made, as the
// node's moderation plugin reported them (a refused entry reports nothing),
// folded by the plugin's rules: the latest ban on a user replaces the
// earlier ones, mutes add up, an unban lifts the ban, an unmute lifts the
// user's mutes in its room (every one when it names none). Kicks leave no
// state. It also keeps the names an admin released.
type moderation struct {
	bans     map[string]modEntry
	mutes    map[string][]modEntry
	released []modEntry
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
	case "unban":
		delete(m.bans, ev.Mod.Target)
	case "unmute":
		room := ev.Mod.Room
		kept := slices.DeleteFunc(m.mutes[ev.Mod.Target], func(e modEntry) bool { return room == "" || e.Room == room })
		if len(kept) == 0 {
			delete(m.mutes, ev.Mod.Target)
		} else {
			m.mutes[ev.Mod.Target] = kept
		}
	case "release":
		m.released = append(m.released, modEntry{ev.Mod, ev.Index})
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
	defer r.printReleased(e)
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

// printReleased lists the names an admin released, in log order, each
// with whether a key has claimed it since.
func (r *rebuilt) printReleased(e *env) {
	if len(r.mod.released) == 0 {
		return
	}
	var parts []string
	for _, m := range r.mod.released {
		state := "free"
		if _, taken := r.st.Identity.Lookup(m.Target); taken {
			state = "claimed again"
		}
		parts = append(parts, fmt.Sprintf("%s (by %s at index %d; %s)", clean(m.Target), clean(m.By), m.index, state))
	}
	fmt.Fprintf(e.stdout, "released names: %s\n", strings.Join(parts, ", "))
}
