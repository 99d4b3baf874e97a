package state

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// The snapshot's fields 20 and 21 (format 5): the overlays of changed
// messages (edits.go) and the threads (threads.go). See the format in
// snapshot.go.
//
//	20 m changed message {1 v index, 2 s conversation, 3 v edits,
//	                      4 m version {1 v entry index, 2 f time, 3 s text (none once deleted)} ...,
//	                      5 m deletion {1 v entry index, 2 f time, 3 s by, 4 v admin, 5 s reason},
//	                      6 m reaction {1 s emoji, 2 s user ...} ...}   (by index)
//	21 m thread {1 v parent index, 2 b reply indexes: uvarint gaps from the parent} (by index)

// editsImage is the part of an Image this file encodes: the overlays as
// they were (copies of each overlay; their slices are never changed in
// place, edits.go) and the threads (each list's length as it was: later
// replies are appended beyond it).
type editsImage struct {
	msgs    map[uint64]overlay
	threads map[uint64][]uint64
}

// captureEdits copies the overlays and threads. Call it on the apply
// goroutine, between Applies (Capture).
func (s *State) captureEdits() editsImage {
	var im editsImage
	e := s.Edits
	e.mu.RLock()
	im.msgs = make(map[uint64]overlay, len(e.msgs))
	for i, ov := range e.msgs {
		im.msgs[i] = *ov
	}
	e.mu.RUnlock()
	c := s.Chat
	c.mu.RLock()
	im.threads = make(map[uint64][]uint64, len(c.threads))
	for p, r := range c.threads {
		im.threads[p] = r[:len(r):len(r)]
	}
	c.mu.RUnlock()
	return im
}

// encode appends fields 20 and 21, in index order.
func (im *editsImage) encode(b []byte, e *encoder) []byte {
	var ve encoder
	for _, i := range slices.Sorted(maps.Keys(im.msgs)) {
		ov := im.msgs[i]
		b = e.msg(b, 20, func(m []byte) []byte {
			m = appendVarint(m, 1, i)
			m = protowire.AppendTag(m, 2, protowire.BytesType)
			m = protowire.AppendString(m, ov.conv)
			if ov.edits > 0 {
				m = appendVarint(m, 3, uint64(ov.edits))
			}
			for _, v := range ov.versions {
				m = ve.msg(m, 4, func(vm []byte) []byte {
					vm = appendVarint(vm, 1, v.index)
					vm = appendFixed(vm, 2, uint64(v.time))
					return appendStrings(vm, "", "", v.text)
				})
			}
			if ov.deleted {
				d := ov.del
				m = ve.msg(m, 5, func(dm []byte) []byte {
					dm = appendVarint(dm, 1, d.index)
					dm = appendFixed(dm, 2, uint64(d.time))
					dm = appendStrings(dm, "", "", d.by)
					if d.admin {
						dm = appendVarint(dm, 4, 1)
					}
					return appendStrings(dm, "", "", "", "", d.reason)
				})
			}
			for _, r := range ov.reacts {
				m = ve.msg(m, 6, func(rm []byte) []byte {
					rm = appendStrings(rm, r.emoji)
					for _, u := range r.users {
						rm = protowire.AppendTag(rm, 2, protowire.BytesType)
						rm = protowire.AppendString(rm, u)
					}
					return rm
				})
			}
			return m
		})
	}
	for _, p := range slices.Sorted(maps.Keys(im.threads)) {
		replies := im.threads[p]
		b = e.msg(b, 21, func(m []byte) []byte {
			m = appendVarint(m, 1, p)
			gaps := make([]byte, 0, 2*len(replies))
			prev := p
			for _, r := range replies {
				gaps = binary.AppendUvarint(gaps, r-prev)
				prev = r
			}
			m = protowire.AppendTag(m, 2, protowire.BytesType)
			return protowire.AppendBytes(m, gaps)
		})
	}
	return b
}

// editsField folds field 20 or 21 into d (format 5 and later).
func (d *restorer) editsField(f field) error {
	if d.version < 5 {
		return fmt.Errorf("unknown field %d", f.num)
	}
	if err := f.want(protowire.BytesType); err != nil {
		return err
	}
	if f.num == 21 {
		return d.threadField(f.b)
	}
	var (
		index uint64
		ov    overlay
		conv  bool
	)
	err := fields(f.b, func(g field) error {
		switch g.num {
		case 1:
			index = g.v
			return g.want(protowire.VarintType)
		case 2:
			ov.conv, conv = string(g.b), true
			return g.want(protowire.BytesType)
		case 3:
			ov.edits = int(g.v)
			return g.want(protowire.VarintType)
		case 4:
			var v version
			err := fields(g.b, func(h field) error {
				switch h.num {
				case 1:
					v.index = h.v
				case 2:
					v.time = int64(h.v)
				case 3:
					v.text = string(h.b)
				default:
					return fmt.Errorf("version: unknown field %d", h.num)
				}
				return nil
			})
			if err != nil || v.index <= index {
				return fmt.Errorf("version of message %d: entry %d, %d bytes of text, %v", index, v.index, len(v.text), err)
			}
			ov.versions = append(ov.versions, v)
		case 5:
			if ov.deleted {
				return fmt.Errorf("message %d deleted twice", index)
			}
			ov.deleted = true
			err := fields(g.b, func(h field) error {
				switch h.num {
				case 1:
					ov.del.index = h.v
				case 2:
					ov.del.time = int64(h.v)
				case 3:
					ov.del.by = string(h.b)
				case 4:
					ov.del.admin = h.v != 0
				case 5:
					ov.del.reason = string(h.b)
				default:
					return fmt.Errorf("deletion: unknown field %d", h.num)
				}
				return nil
			})
			if err != nil || ov.del.index <= index {
				return fmt.Errorf("deletion of message %d: entry %d, %v", index, ov.del.index, err)
			}
		case 6:
			var r reaction
			err := fields(g.b, func(h field) error {
				switch h.num {
				case 1:
					r.emoji = string(h.b)
				case 2:
					if slices.Contains(r.users, string(h.b)) {
						return fmt.Errorf("user %q twice", h.b)
					}
					r.users = append(r.users, string(h.b))
				default:
					return fmt.Errorf("unknown field %d", h.num)
				}
				return nil
			})
			if err != nil || r.emoji == "" || len(r.users) == 0 ||
				slices.ContainsFunc(ov.reacts, func(o reaction) bool { return o.emoji == r.emoji }) {
				return fmt.Errorf("reaction %q to message %d: %d users, %v", r.emoji, index, len(r.users), err)
			}
			ov.reacts = append(ov.reacts, r)
		default:
			return fmt.Errorf("unknown field %d", g.num)
		}
		return nil
	})
	switch {
	case err != nil:
		return fmt.Errorf("field 20: %v", err)
	case index == 0 || !conv:
		return fmt.Errorf("field 20: a changed message without its index or conversation")
	case d.edits.msgs[index] != nil:
		return fmt.Errorf("field 20: message %d twice", index)
	case ov.empty(), ov.edits != len(ov.versions), ov.deleted && len(ov.reacts) > 0,
		slices.ContainsFunc(ov.versions, func(v version) bool { return (v.text == "") != ov.deleted }):
		return fmt.Errorf("field 20: message %d: %d edits, %d versions, deleted %v, %d reactions",
			index, ov.edits, len(ov.versions), ov.deleted, len(ov.reacts))
	}
	d.edits.msgs[index] = &ov
	return nil
}

// threadField folds one thread (field 21).
func (d *restorer) threadField(b []byte) error {
	var parent uint64
	var gaps []byte
	err := fields(b, func(g field) error {
		switch g.num {
		case 1:
			parent = g.v
			return g.want(protowire.VarintType)
		case 2:
			gaps = g.b
			return g.want(protowire.BytesType)
		}
		return fmt.Errorf("unknown field %d", g.num)
	})
	if err != nil || parent == 0 || len(gaps) == 0 {
		return fmt.Errorf("field 21: thread of %d: %d bytes of replies, %v", parent, len(gaps), err)
	}
	if _, dup := d.chat.threads[parent]; dup {
		return fmt.Errorf("field 21: thread of %d twice", parent)
	}
	var replies []uint64
	prev := parent
	for len(gaps) > 0 {
		g, n := binary.Uvarint(gaps)
		if n <= 0 || g == 0 || prev+g < prev {
			return fmt.Errorf("field 21: thread of %d: a bad gap after reply %d", parent, prev)
		}
		prev += g
		replies = append(replies, prev)
		gaps = gaps[n:]
	}
	if d.chat.threads == nil {
		d.chat.threads = map[uint64][]uint64{}
	}
	d.chat.threads[parent] = replies
	return nil
}
