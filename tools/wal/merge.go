package walcmd

import (
	"container/heap"

	"github.com/syncnet/syncnet/node/api"
)

// mergeBudget bounds how many messages eachMessageAll holds at a time,
// across all conversations: each reads ahead max(1, mergeBudget/n) of its
// own.
const mergeBudget = 1 << 16

// eachMessageAll calls fn with every message of every room and direct
// conversation, in cluster order, until fn returns an error, which it
// returns. The chat keeps each conversation's messages apart, in index
// order: a merge of the conversations' histories, read a chunk at a time,
// gives the log's order without holding the log.
func (r *rebuilt) eachMessageAll(fn func(api.Message) error) error {
	convs := sortedKeys(r.counts) // every conversation with a message
	if len(convs) == 0 {
		return nil
	}
	q := &convQueue{chunk: max(1, mergeBudget/len(convs))}
	for _, name := range convs {
		c := &convReader{room: name}
		if err := q.fill(r, c); err != nil {
			return err
		}
		if len(c.msgs) > 0 {
			q.convs = append(q.convs, c)
		}
	}
	heap.Init(q)
	for q.Len() > 0 {
		c := q.convs[0]
		if err := fn(c.msgs[0]); err != nil {
			return err
		}
		c.msgs = c.msgs[1:]
		if len(c.msgs) == 0 {
			if err := q.fill(r, c); err != nil {
				return err
			}
		}
		if len(c.msgs) == 0 {
			heap.Pop(q)
		} else {
			heap.Fix(q, 0)
		}
	}
	return nil
}

// convReader is one conversation's messages read ahead, after index after.
type convReader struct {
	room  string
	after uint64
	msgs  []api.Message
	done  bool
}

// convQueue orders conversations by the index of their next message.
type convQueue struct {
	convs []*convReader
	chunk int
}

// fill reads c's next chunk of messages.
func (q *convQueue) fill(r *rebuilt, c *convReader) error {
	if c.done {
		c.msgs = nil
		return nil
	}
	msgs, err := r.st.HistoryAfter(c.room, c.after, q.chunk) // as they stood: edits, deletions (changes.go)
	if err != nil {
		return err
	}
	c.msgs, c.done = msgs, len(msgs) < q.chunk
	if len(msgs) > 0 {
		c.after = msgs[len(msgs)-1].Index
	}
	return nil
}

func (q *convQueue) Len() int           { return len(q.convs) }
func (q *convQueue) Less(i, j int) bool { return q.convs[i].msgs[0].Index < q.convs[j].msgs[0].Index }
func (q *convQueue) Swap(i, j int)      { q.convs[i], q.convs[j] = q.convs[j], q.convs[i] }
func (q *convQueue) Push(x any)         { q.convs = append(q.convs, x.(*convReader)) }
func (q *convQueue) Pop() any {
	c := q.convs[len(q.convs)-1]
	q.convs = q.convs[:len(q.convs)-1]
	return c
}
