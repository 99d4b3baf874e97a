package state

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// Prefs holds every user's notification settings: a level per room and
// for direct messages (notify_set), the bell and keyword highlights
// (pref_set). They are replicated so they follow a user to every node and
// survive restarts. Memory is per user and setting, bounded by
// MaxNotifySettings and MaxHighlights a user; a user who changed nothing
// holds nothing.
type Prefs struct {
	mu    sync.RWMutex
	users map[string]*userPrefs
}

type userPrefs struct {
	notify     map[string]string // conversation ("@": direct messages) → level
	bellOff    bool
	highlights []string // in the order added
}

// Limits of one user's settings (Authorize refuses more).
const (
	MaxNotifySettings = 512
	MaxHighlights     = 32
	MaxHighlightLen   = 64 // bytes of one highlighted word
)

// Notification levels (notify_set); "" is the default: mentions for a
// room, all for direct messages (api.NotifySettings.Level).
var notifyLevels = []string{api.NotifyAll, api.NotifyMentions, api.NotifyNone, ""}

// NewPrefs returns empty settings: everyone has the defaults.
func NewPrefs() *Prefs { return &Prefs{users: map[string]*userPrefs{}} }

func (p *Prefs) Name() string { return "prefs" }
func (p *Prefs) Kinds() []eventlog.Kind {
	return []eventlog.Kind{eventlog.KindNotifySet, eventlog.KindPrefSet}
}

func (p *Prefs) Apply(index uint64, ev eventlog.Event) []api.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.applyLocked(index, ev)
}

func (p *Prefs) locker() sync.Locker { return &p.mu }

func (p *Prefs) user(name string) *userPrefs {
	u := p.users[name]
	if u == nil {
		u = &userPrefs{notify: map[string]string{}}
		p.users[strings.Clone(name)] = u
	}
	return u
}

// tidy forgets a user whose settings are all defaults again.
func (p *Prefs) tidy(name string) {
	if u := p.users[name]; u != nil && len(u.notify) == 0 && !u.bellOff && len(u.highlights) == 0 {
		delete(p.users, name)
	}
}

func (p *Prefs) applyLocked(index uint64, ev eventlog.Event) []api.Event {
	var name string
	switch b := ev.Body.(type) {
	case *eventlog.NotifySet:
		name = b.User
		u := p.user(name)
		if b.Level == "" {
			delete(u.notify, b.Conv)
		} else {
			u.notify[strings.Clone(b.Conv)] = strings.Clone(b.Level)
		}
	case *eventlog.PrefSet:
		name = b.User
		u := p.user(name)
		switch b.Name {
		case api.PrefBell:
			u.bellOff = b.Value == "off"
		case api.PrefHighlight:
			w := strings.ToLower(b.Value)
			i := slices.Index(u.highlights, w)
			switch {
			case b.Remove != 0 && i >= 0:
				u.highlights = slices.Delete(u.highlights, i, i+1)
			case b.Remove == 0 && i < 0:
				u.highlights = append(u.highlights, strings.Clone(w))
			}
		}
	default:
		return nil
	}
	p.tidy(name)
	return []api.Event{{Kind: api.EventSettings, Index: index, User: name}}
}

// Of returns user's settings (a copy).
func (p *Prefs) Of(user string) api.NotifySettings {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := api.NotifySettings{Bell: true, Notify: map[string]string{}}
	if u := p.users[user]; u != nil {
		out.Notify = maps.Clone(u.notify)
		out.Bell = !u.bellOff
		if len(u.highlights) > 0 {
			out.Highlights = slices.Clone(u.highlights)
		}
	}
	return out
}

// ValidHighlight says what is wrong with w as a highlighted word, or "".
func ValidHighlight(w string) string {
	switch {
	case w == "":
		return "an empty word"
	case len(w) > MaxHighlightLen:
		return "longer than 64 bytes"
	case strings.IndexFunc(w, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "not one word (no spaces or control characters)"
	}
	return ""
}

func (p *Prefs) authorizeNotify(ev eventlog.Event, b *eventlog.NotifySet, locked bool) *api.Refusal {
	refuse := func(format string, args ...any) *api.Refusal {
		return accessRefusal(ev, b.User, "", format, args...)
	}
	switch {
	case !slices.Contains(notifyLevels, b.Level):
		return refuse("notify level %q: want all, mentions or none", b.Level)
	case b.Conv == "" || len(b.Conv) > 200:
		return refuse("notify: name a room, or @ for direct messages")
	}
	if !locked {
		p.mu.RLock()
		defer p.mu.RUnlock()
	}
	if u := p.users[b.User]; b.Level != "" && u != nil && len(u.notify) >= MaxNotifySettings {
		if _, ok := u.notify[b.Conv]; !ok {
			return refuse("you have %d notification settings, the most there may be: reset some (/notify #ROOM default)", MaxNotifySettings)
		}
	}
	return nil
}

func (p *Prefs) authorizePref(ev eventlog.Event, b *eventlog.PrefSet, locked bool) *api.Refusal {
	refuse := func(format string, args ...any) *api.Refusal {
		return accessRefusal(ev, b.User, "", format, args...)
	}
	switch b.Name {
	case api.PrefBell:
		if b.Value != "on" && b.Value != "off" {
			return refuse("bell %q: want on or off", b.Value)
		}
		return nil
	case api.PrefHighlight:
		if why := ValidHighlight(b.Value); why != "" {
			return refuse("highlight %q: %s", b.Value, why)
		}
		if b.Remove != 0 {
			return nil
		}
		if !locked {
			p.mu.RLock()
			defer p.mu.RUnlock()
		}
		if u := p.users[b.User]; u != nil && len(u.highlights) >= MaxHighlights &&
			!slices.Contains(u.highlights, strings.ToLower(b.Value)) {
			return refuse("you highlight %d words, the most there may be: remove one first", MaxHighlights)
		}
		return nil
	}
	return refuse("no setting %q (bell, highlight)", b.Name)
}
