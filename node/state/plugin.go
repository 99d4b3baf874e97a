package state

import (
	"fmt"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// Plugin is a feature of the node: it owns some event kinds, folds committed
// entries of those kinds into its own state, and says what sessions should
// hear about them. Adding a feature (reactions, file sharing, a bot bridge)
// means adding a plugin, not editing the core.
//
// Apply is called from the node's single apply goroutine, in index order, for
// committed entries only (I6). The events it returns may live in a buffer of
// the plugin's: use them before the next Apply and keep none. Reads of a plugin's state come from many
// session goroutines, so each plugin guards its own state.
type Plugin interface {
	Name() string
	Kinds() []eventlog.Kind
	Apply(index uint64, ev eventlog.Event) []api.Event
}

// Plugins routes committed entries to the plugin that owns their kind.
type Plugins struct {
	all    []Plugin
	byKind []Plugin // indexed by kind: looked up for every entry
	// admit, when set (the Plugins of a State), sees every entry first and
	// says whether it may change anything: exactly once and authorization.
	admit func(index uint64, ev eventlog.Event) bool
}

// NewPlugins registers ps; two plugins claiming one kind is a programming
// error and panics at start-up, not at the first such event.
func NewPlugins(ps ...Plugin) *Plugins {
	r := &Plugins{}
	for _, p := range ps {
		for _, k := range p.Kinds() {
			if int(k) >= len(r.byKind) {
				r.byKind = append(r.byKind, make([]Plugin, int(k)+1-len(r.byKind))...)
			}
			if other := r.byKind[k]; other != nil {
				panic(fmt.Sprintf("node: kind %v claimed by plugins %s and %s", k, other.Name(), p.Name()))
			}
			r.byKind[k] = p
		}
		r.all = append(r.all, p)
	}
	return r
}

// Apply hands a committed entry to its plugin. Kinds nobody owns (no-ops,
// bookkeeping) are skipped. The Plugins of a State first pass the entry
// through the State's exactly-once table and Authorize (see State.Apply):
// a repeated request or a refused entry reaches no plugin.
func (r *Plugins) Apply(index uint64, ev eventlog.Event) []api.Event {
	if r.admit != nil && !r.admit(index, ev) {
		return nil
	}
	return r.route(index, ev)
}

// route hands an admitted entry to its plugin.
func (r *Plugins) route(index uint64, ev eventlog.Event) []api.Event {
	if k := ev.Kind(); int(k) < len(r.byKind) {
		if p := r.byKind[k]; p != nil {
			return p.Apply(index, ev)
		}
	}
	return nil
}
