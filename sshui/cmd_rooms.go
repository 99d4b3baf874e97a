package sshui

import "fmt"

func cmdRooms() command {
	c := command{name: "rooms", usage: "[--json]", summary: "List the rooms with member counts and topics."}
	c.run = func(e *execEnv) int {
		fs := newFlags(c)
		asJSON := fs.Bool("json", false, "one JSON object per room")
		if code, ok := parseNoArgs(e, c, fs); !ok {
			return code
		}
		e.finish()
		rows := [][]string{{"ROOM", "MEMBERS", "TOPIC"}}
		for _, r := range visibleRooms(e.b, e.id.Name) {
			if *asJSON {
				if writeJSON(e.out, r) != nil {
					return exitOK
				}
				continue
			}
			rows = append(rows, []string{"#" + Clean(r.Name, MaxNameLen) + r.mark(), r.members(), Clean(r.Topic, 200)})
		}
		if !*asJSON {
			_, _ = fmt.Fprint(e.out, table(rows))
		}
		return exitOK
	}
	return c
}
