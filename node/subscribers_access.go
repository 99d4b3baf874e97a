package node

import "github.com/syncnet/syncnet/node/api"

// readable reports whether a subscription of reader (api.Filter.Reader)
// may receive e: a room's message only if the reader may read the room
// (state.CanRead, asked as the event is published, right after its entry
// was applied), a direct message only between the reader and someone
// else; an edit, deletion or reaction as its message (its Room is the
// message's conversation). Everything else passes, so a reader hears of
// their own removal from a private room.
func (set *subscribers) readable(reader string, e api.Event) bool {
	if e.Kind == api.EventMessageChanged {
		return set.canRead == nil || set.canRead(reader, e.Room)
	}
	if e.Kind != api.EventMessage {
		return true
	}
	if e.Message.IsDM() {
		return e.Message.From == reader || e.Message.To == reader
	}
	return set.canRead == nil || set.canRead(reader, e.Message.Room)
}
