package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/search"
)

// Search implements api.Search. The index proposes candidates newest
// first, never from a conversation user may not read (state.CanRead, asked
// once per conversation); each is then held to the message as history shows
// it now (State.MessageAt: the current text of an edited message, a deleted
// message has none) and kept only if that text matches. So the index is
// never trusted over the log: a stale text, a deleted message or a hash
// collision costs a read, never a wrong hit.
func (n *Node) Search(ctx context.Context, user string, q api.SearchQuery) (api.SearchResult, error) {
	pq, err := search.Parse(q.Text)
	if err != nil {
		return api.SearchResult{}, fmt.Errorf("%w: %v", api.ErrBadQuery, err)
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = api.SearchDefaultLimit
	case limit > api.SearchMaxLimit:
		return api.SearchResult{}, fmt.Errorf("%w: at most %d hits a search", api.ErrBadQuery, api.SearchMaxLimit)
	}
	x := n.search.index()
	if x == nil {
		return api.SearchResult{}, fmt.Errorf("search is not available on this node yet (index %s); try again shortly or use another node", n.search.state())
	}
	res := api.SearchResult{Indexed: x.Covered(), Applied: n.applied.Load()}
	st := n.search.state()
	res.Behind = st != "ready"
	f := search.Filter{Conv: q.Room, From: q.From, Readable: func(conv string) bool { return n.state.CanRead(user, conv) }}
	if !q.Since.IsZero() {
		f.Since = q.Since.UnixNano()
	}
	m := search.NewMatcher(pq)
	err = x.Search(ctx, pq, f, func(c search.Candidate) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		msg, ok, err := n.state.MessageAt(c.Message)
		if err != nil {
			return false, err
		}
		if !ok || msg.Deleted() || msg.Room != c.Conv || !n.state.CanRead(user, msg.Room) ||
			q.From != "" && msg.From != q.From || !q.Since.IsZero() && msg.Time.Before(q.Since) ||
			!m.Match(msg.Text) {
			return true, nil
		}
		if len(res.Hits) == limit {
			res.More = true
			return false, nil
		}
		res.Hits = append(res.Hits, msg)
		return true, nil
	})
	var pe *search.PrefixError
	if errors.As(err, &pe) {
		return api.SearchResult{}, fmt.Errorf("%w: %v", api.ErrBadQuery, err)
	}
	if err != nil {
		return api.SearchResult{}, fmt.Errorf("search: %w", err)
	}
	return res, nil
}

// SearchStatus implements api.Search.
func (n *Node) SearchStatus() api.SearchStatus { return n.search.status(n.applied.Load()) }
