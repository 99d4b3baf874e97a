package sshui

import (
	"fmt"
	"sort"
	"strings"

	"github.com/syncnet/syncnet/node/api"
)

func cmdWho() command {
	c := command{name: "who", usage: "[ROOM] [--json]", summary: "List who is online (in ROOM, or anywhere)."}
	c.run = func(e *execEnv) int {
		fs := newFlags(c)
		asJSON := fs.Bool("json", false, "one JSON object per user")
		pos, code, ok := parseArgs(e, c, fs)
		if !ok {
			return code
		}
		if len(pos) > 1 {
			return usageErr(e, c, fs, "at most one room")
		}
		var people []api.Presence
		if len(pos) == 1 {
			room, err := NormalizeRoom(pos[0])
			if err != nil {
				return usageErr(e, c, fs, "%v", quoteHint(pos[0], err))
			}
			if code, ok := e.mayRead("who", room); !ok {
				return code
			}
			if why := missingRoom(e, pos[0], room); why != "" {
				return e.errorf("who: %s", why)
			}
			people = e.b.Members(room)
		} else {
			people = everyone(e.b)
		}
		e.finish()
		rows := [][]string{{"USER", "STATUS", "NODE"}}
		for _, p := range people {
			if *asJSON {
				if writeJSON(e.out, p) != nil {
					return exitOK
				}
				continue
			}
			rows = append(rows, []string{Clean(p.User, MaxNameLen), Clean(p.Status, 16), Clean(p.Node, 32)})
		}
		if !*asJSON {
			_, _ = fmt.Fprint(e.out, table(rows))
		}
		return exitOK
	}
	return c
}

// everyone is the union of all rooms' members who are not offline.
func everyone(b api.Backend) []api.Presence {
	seen := map[string]api.Presence{}
	for _, r := range b.Rooms() {
		for _, p := range b.Members(r.Name) {
			if p.Status != "offline" && p.Status != "" {
				seen[p.User] = p
			}
		}
	}
	out := make([]api.Presence, 0, len(seen))
	for _, p := range seen {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].User < out[j].User })
	return out
}

// table renders rows as aligned columns.
func table(rows [][]string) string {
	var b strings.Builder
	writeTable(&b, rows)
	return b.String()
}
