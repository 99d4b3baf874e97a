package state

import (
	"strings"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/api"
)

// Several keys per person.
//
// A name is bound to the key that first claimed it (user_registered: the
// Identity's owner map). key_added binds more keys to it, key_removed
// unbinds one; any bound key logs in as the name. Identity.keys holds, for
// a user who added a key, every key in the order bound, the first being
// owner[name] (the one NameOwner reports); a user who only ever had the
// key that claimed the name has no entry there, so its memory is per
// added key, never per message.
// Releasing a name unbinds all its keys.
//
// Rules (Authorize, from the log alone): a user adds and removes keys of
// their own name, an admin of any name; the name must be bound; a key
// bound to another name is refused (one key, one person: a key that
// already claimed several names before this rule keeps them); at most
// MaxKeys a name; a user's last key is never removed (an admin releases
// the name instead).

// MaxKeys is the most keys one name may have.
const MaxKeys = 16

// keyInfo is one of a user's keys.
type keyInfo struct {
	fp, label string
}

func timeOf(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// keysLocked is name's keys in order (the first is owner[name]); nil if
// the name is free. Holds p.mu.
func (p *Identity) keysLocked(name string) []keyInfo {
	if ks := p.keys[name]; ks != nil {
		return ks
	}
	if fp, ok := p.owner[name]; ok {
		return []keyInfo{{fp: fp}}
	}
	return nil
}

// HasKey reports whether the key fingerprint fp logs in as name.
func (p *Identity) HasKey(name, fp string) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if ks := p.keys[name]; ks != nil {
		for _, k := range ks {
			if k.fp == fp {
				return true
			}
		}
		return false
	}
	owner, ok := p.owner[name]
	return ok && owner == fp
}

// Keys lists name's keys in the order they were bound (the first is the
// one NameOwner reports); empty if the name is free.
func (p *Identity) Keys(name string) []api.Key {
	p.mu.RLock()
	defer p.mu.RUnlock()
	ks := p.keysLocked(name)
	out := make([]api.Key, len(ks))
	for i, k := range ks {
		out[i] = api.Key{Fingerprint: k.fp, Label: k.label}
	}
	return out
}

// lookup is Lookup that takes no lock when locked (ApplyRun holds it).
func (p *Identity) lookup(name string, locked bool) (string, bool) {
	if !locked {
		return p.Lookup(name)
	}
	fp, ok := p.owner[name]
	return fp, ok
}

// boundElsewhere returns a name other than name that fp is bound to.
// It scans every name: key_added is rare (a person adding a laptop).
// Holds p.mu.
func (p *Identity) boundElsewhereLocked(name, fp string) (string, bool) {
	for n, owner := range p.owner {
		if n == name {
			continue
		}
		if owner == fp {
			return n, true
		}
		for _, k := range p.keys[n] {
			if k.fp == fp {
				return n, true
			}
		}
	}
	return "", false
}

func (p *Identity) authorizeKeyAdded(ev eventlog.Event, b *eventlog.KeyAdded, locked bool) *api.Refusal {
	if !locked {
		p.mu.RLock()
		defer p.mu.RUnlock()
	}
	refuse := func(format string, args ...any) *api.Refusal {
		return accessRefusal(ev, b.By, "", format, args...)
	}
	ks := p.keysLocked(b.Name)
	switch {
	case b.By != b.Name && b.Admin == 0:
		return refuse("you may add keys to your own name only")
	case ks == nil:
		return refuse("no user %q", b.Name)
	case !strings.HasPrefix(b.KeyFingerprint, "SHA256:"):
		return refuse("%q is not a key fingerprint (SHA256:...)", b.KeyFingerprint)
	}
	for _, k := range ks {
		if k.fp == b.KeyFingerprint {
			return refuse("that key is already one of %s's keys", b.Name)
		}
	}
	if len(ks) >= MaxKeys {
		return refuse("%s has %d keys, the most a name may have: remove one first", b.Name, MaxKeys)
	}
	if _, ok := p.boundElsewhereLocked(b.Name, b.KeyFingerprint); ok {
		return refuse("that key belongs to another name: one key, one person")
	}
	return nil
}

func (p *Identity) authorizeKeyRemoved(ev eventlog.Event, b *eventlog.KeyRemoved, locked bool) *api.Refusal {
	if !locked {
		p.mu.RLock()
		defer p.mu.RUnlock()
	}
	refuse := func(format string, args ...any) *api.Refusal {
		return accessRefusal(ev, b.By, "", format, args...)
	}
	ks := p.keysLocked(b.Name)
	switch {
	case b.By != b.Name && b.Admin == 0:
		return refuse("you may remove keys of your own name only")
	case ks == nil:
		return refuse("no user %q", b.Name)
	}
	for _, k := range ks {
		if k.fp != b.KeyFingerprint {
			continue
		}
		if len(ks) == 1 {
			return refuse("%s is %s's only key: add another first (keys add), or an admin releases the name", b.KeyFingerprint, b.Name)
		}
		return nil
	}
	return refuse("%s is not one of %s's keys (keys list shows them)", b.KeyFingerprint, b.Name)
}

// applyKeyLocked folds an admitted key_added or key_removed. Holds p.mu.
func (p *Identity) applyKeyLocked(index uint64, name, fp, label, by string, added bool) []api.Event {
	ks := p.keysLocked(name)
	if ks == nil {
		return nil
	}
	if added {
		ks = append(ks[:len(ks):len(ks)], keyInfo{fp: strings.Clone(fp), label: strings.Clone(label)})
	} else {
		kept := make([]keyInfo, 0, len(ks))
		for _, k := range ks {
			if k.fp != fp {
				kept = append(kept, k)
			}
		}
		if len(kept) == len(ks) || len(kept) == 0 {
			return nil // Authorize refuses both
		}
		ks = kept
	}
	p.owner[name] = ks[0].fp
	if len(ks) == 1 && ks[0].label == "" {
		delete(p.keys, name)
	} else {
		if p.keys[name] == nil {
			name = strings.Clone(name)
		}
		p.keys[name] = ks
	}
	action := "key_removed"
	if added {
		action = "key_added"
	}
	return []api.Event{{Kind: api.EventKeys, Index: index, User: name,
		Mod: api.Moderation{Action: action, Target: fp, By: by}}}
}
