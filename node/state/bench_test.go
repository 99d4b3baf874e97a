package state

import (
	"strconv"
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
)

// BenchmarkChatApply folds chat messages into the chat plugin, as a node
// does for every committed entry and `wal replay` does for a whole log.
//
//	go test -run '^$' -bench ChatApply -benchmem ./node/state/
func BenchmarkChatApply(b *testing.B) {
	s := New(time.Now)
	evs := make([]eventlog.Event, 1000)
	for i := range evs {
		evs[i] = ev(&eventlog.MessagePosted{Room: "room" + strconv.Itoa(i%3), From: "user" + strconv.Itoa(i%50),
			Text: "a chat message of a typical length, about one line of text", ClientMsgID: "c" + strconv.Itoa(i)}, uint64(i))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := evs[i%len(evs)]
		body := *e.Body.(*eventlog.MessagePosted)
		body.ClientMsgID = strconv.Itoa(i)
		e.Body = &body
		s.Plugins.Apply(uint64(i+1), e)
	}
}
