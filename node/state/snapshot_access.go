package state

import (
	"fmt"
	"maps"
	"slices"
)

// The snapshot's fields 30 to 34 (format 5): private rooms, extra keys,
// notification settings. See the format in snapshot.go.
//
//	30 m private room {1 s room, 2 s owner}
//	31 m let in      {1 s room, 2 s user}       (after its room's 30)
//	32 m key         {1 s name, 2 s fingerprint, 3 s label}
//	                 (every key of a name that added one, in order; the
//	                 first is the name's field 7 fingerprint)
//	33 m notify      {1 s user, 2 s conversation, 3 s level}
//	34 m pref        {1 s user, 2 s name, 3 s value} (bell "off"; each
//	                 highlighted word, in order)

// accessImage is the part of an Image this file encodes.
type accessImage struct {
	private map[string]*roomAccess // copies
	keys    map[string][]keyInfo
	prefs   map[string]*userPrefs // copies
}

// captureAccess copies the access, key and settings state. Call it on the
// apply goroutine, between Applies (Capture).
func (s *State) captureAccess() accessImage {
	var im accessImage
	a := s.Access
	a.mu.RLock()
	im.private = make(map[string]*roomAccess, len(a.private))
	for room, r := range a.private {
		im.private[room] = &roomAccess{owner: r.owner, allowed: maps.Clone(r.allowed)}
	}
	a.mu.RUnlock()

	id := s.Identity
	id.mu.RLock()
	im.keys = make(map[string][]keyInfo, len(id.keys))
	for n, ks := range id.keys {
		im.keys[n] = slices.Clone(ks)
	}
	id.mu.RUnlock()

	p := s.Prefs
	p.mu.RLock()
	im.prefs = make(map[string]*userPrefs, len(p.users))
	for u, up := range p.users {
		im.prefs[u] = &userPrefs{notify: maps.Clone(up.notify), bellOff: up.bellOff, highlights: slices.Clone(up.highlights)}
	}
	p.mu.RUnlock()
	return im
}

// encode appends fields 30 to 34, in key order.
func (im *accessImage) encode(b []byte, e *encoder) []byte {
	rooms := slices.Sorted(maps.Keys(im.private))
	for _, room := range rooms {
		b = e.msg(b, 30, func(m []byte) []byte { return appendStrings(m, room, im.private[room].owner) })
	}
	for _, room := range rooms {
		for _, u := range slices.Sorted(maps.Keys(im.private[room].allowed)) {
			b = e.msg(b, 31, func(m []byte) []byte { return appendStrings(m, room, u) })
		}
	}
	for _, n := range slices.Sorted(maps.Keys(im.keys)) {
		for _, k := range im.keys[n] {
			b = e.msg(b, 32, func(m []byte) []byte { return appendStrings(m, n, k.fp, k.label) })
		}
	}
	users := slices.Sorted(maps.Keys(im.prefs))
	for _, u := range users {
		up := im.prefs[u]
		for _, conv := range slices.Sorted(maps.Keys(up.notify)) {
			b = e.msg(b, 33, func(m []byte) []byte { return appendStrings(m, u, conv, up.notify[conv]) })
		}
	}
	for _, u := range users {
		up := im.prefs[u]
		if up.bellOff {
			b = e.msg(b, 34, func(m []byte) []byte { return appendStrings(m, u, "bell", "off") })
		}
		for _, w := range up.highlights {
			b = e.msg(b, 34, func(m []byte) []byte { return appendStrings(m, u, "highlight", w) })
		}
	}
	return b
}

// accessField folds one of fields 30 to 34 into d (format 5 and later).
func (d *restorer) accessField(f field) error {
	if d.version < 5 {
		return fmt.Errorf("unknown field %d", f.num)
	}
	var a, b, c string
	out := []*string{&a, &b, &c}
	if f.num <= 31 {
		out = out[:2]
	}
	if err := strs(f.b, out, nil); err != nil {
		return fmt.Errorf("field %d: %v", f.num, err)
	}
	switch f.num {
	case 30:
		if _, dup := d.acc.private[a]; dup || a == "" {
			return fmt.Errorf("private room %q twice or unnamed", a)
		}
		d.acc.private[a] = &roomAccess{owner: b, allowed: map[string]bool{}}
		d.acc.n.Add(1)
	case 31:
		r := d.acc.private[a]
		if r == nil || r.allowed[b] {
			return fmt.Errorf("user %q let into %q, which is not private, or twice", b, a)
		}
		r.allowed[b] = true
	case 32:
		for _, k := range d.ident.keys[a] {
			if k.fp == b {
				return fmt.Errorf("key %q of %q twice", b, a)
			}
		}
		d.ident.keys[a] = append(d.ident.keys[a], keyInfo{fp: b, label: c})
	case 33:
		up := d.prefs.user(a)
		if _, dup := up.notify[b]; dup || c == "" {
			return fmt.Errorf("notify setting of %q for %q twice or empty", a, b)
		}
		up.notify[b] = c
	case 34:
		up := d.prefs.user(a)
		switch {
		case b == "bell" && c == "off" && !up.bellOff:
			up.bellOff = true
		case b == "highlight" && c != "" && !slices.Contains(up.highlights, c):
			up.highlights = append(up.highlights, c)
		default:
			return fmt.Errorf("preference %q=%q of %q: unknown or twice", b, c, a)
		}
	}
	return nil
}

// finishAccess checks what only the whole snapshot tells: a name's keys
// start with the key its field 7 binds, and are more than one or one with
// a label (keys.go).
func (d *restorer) finishAccess() error {
	for n, ks := range d.ident.keys {
		if d.ident.owner[n] != ks[0].fp || len(ks) == 1 && ks[0].label == "" {
			return fmt.Errorf("keys of %q: %d, the first not the name's key, or one without a label", n, len(ks))
		}
	}
	return nil
}
