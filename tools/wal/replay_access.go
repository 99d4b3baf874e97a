package walcmd

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/syncnet/syncnet/node/api"
)

// printAccess lists, as of the state, the private rooms (owner and who
// they let in), the names with more than one key, and the notification
// settings that differ from the defaults.
func (r *rebuilt) printAccess(e *env) {
	w := e.stdout
	var private []api.RoomAccess
	for _, ri := range r.st.Chat.Rooms() {
		if a := r.st.Access.Room(ri.Name); a.Private {
			private = append(private, a)
		}
	}
	if len(private) == 0 {
		fmt.Fprintf(w, "\nprivate rooms: none\n")
	} else {
		fmt.Fprintf(w, "\nprivate rooms:\n%-20s %-16s  %s\n", "ROOM", "OWNER", "LET IN")
		for _, a := range private {
			fmt.Fprintf(w, "%-20s %-16s  %s\n", clean(a.Room), orDash(clean(a.Owner)), cleanJoin(a.Allowed))
		}
	}
	var keys, prefs []string
	for _, u := range r.users {
		if ks := r.st.Identity.Keys(u); len(ks) > 1 || len(ks) == 1 && ks[0].Label != "" {
			list := make([]string, len(ks))
			for i, k := range ks {
				list[i] = clean(k.Fingerprint)
				if k.Label != "" {
					list[i] += " (" + clean(k.Label) + ")"
				}
			}
			keys = append(keys, fmt.Sprintf("%s: %s", clean(u), strings.Join(list, ", ")))
		}
		if s := r.st.Prefs.Of(u); len(s.Notify) > 0 || !s.Bell || len(s.Highlights) > 0 {
			var parts []string
			for _, conv := range slices.Sorted(maps.Keys(s.Notify)) {
				where := "#" + clean(conv)
				if conv == api.NotifyDMs {
					where = "direct messages"
				}
				parts = append(parts, where+" "+clean(s.Notify[conv]))
			}
			if !s.Bell {
				parts = append(parts, "bell off")
			}
			if len(s.Highlights) > 0 {
				parts = append(parts, "highlights "+cleanJoin(s.Highlights))
			}
			prefs = append(prefs, fmt.Sprintf("%s: %s", clean(u), strings.Join(parts, "; ")))
		}
	}
	fmt.Fprintf(w, "\nkeys added to names: %s\n", listOrNone(keys))
	fmt.Fprintf(w, "notification settings: %s\n", listOrNone(prefs))
}

func listOrNone(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	return "\n  " + strings.Join(ss, "\n  ")
}
