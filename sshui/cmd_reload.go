package sshui

import (
	"fmt"
	"strings"
)

// Reloader is what a Backend offers when its node can re-read its
// configuration while running (tools/serve's wiring does): the changes
// applied, or why none was.
type Reloader interface {
	Reload() (changed []string, err error)
}

// cmdReload re-reads cluster.toml on this node: `ssh admin@node reload`,
// the same as SIGHUP to the node.
func cmdReload() command {
	c := command{name: "reload", admin: true,
		summary: "Re-read cluster.toml on this node and apply what can change live (admin keys, session caps, log level, [limits] and [[bot]] allowances), all or nothing (admin).\n" +
			"Anything else that changed is named and nothing is applied: restart the node for it."}
	c.run = func(e *execEnv) int {
		fs := newFlags(c)
		if code, ok := parseNoArgs(e, c, fs); !ok {
			return code
		}
		r, can := e.b.(Reloader)
		if !can {
			return e.errorf("reload: this node cannot re-read its configuration")
		}
		changed, err := r.Reload()
		if err != nil {
			return e.errorf("%v", err)
		}
		if len(changed) == 0 {
			_, _ = fmt.Fprintln(e.out, "reloaded: nothing that can change live was changed")
			return 0
		}
		_, _ = fmt.Fprintln(e.out, "reloaded: "+strings.Join(changed, "; "))
		return 0
	}
	return c
}
