package serve

import (
	"context"
	"time"

	"github.com/syncnet/syncnet/node"
	"github.com/syncnet/syncnet/node/api"
	"github.com/syncnet/syncnet/node/metrics"
)

// backend is the node as its SSH front end sees it: every method of
// *node.Node (embedded, so optional interfaces a command looks for, such
// as backup's, stay visible), with posts and direct messages timed and
// counted for metrics (streamed ones too), and Reload for `ssh admin@node reload`.
type backend struct {
	*node.Node
	met    *metrics.Metrics // nil: no metrics
	reload func() ([]string, error)
}

func (b *backend) Post(ctx context.Context, user, room, text, clientMsgID string, seenLamport uint64, action bool) (uint64, error) {
	if b.met == nil {
		return b.Node.Post(ctx, user, room, text, clientMsgID, seenLamport, action)
	}
	began := b.met.Now()
	idx, err := b.Node.Post(ctx, user, room, text, clientMsgID, seenLamport, action)
	b.met.ObservePost("post", began, err)
	return idx, err
}

func (b *backend) DirectMessage(ctx context.Context, from, to, text, clientMsgID string, action bool) (uint64, error) {
	if b.met == nil {
		return b.Node.DirectMessage(ctx, from, to, text, clientMsgID, action)
	}
	began := b.met.Now()
	idx, err := b.Node.DirectMessage(ctx, from, to, text, clientMsgID, action)
	b.met.ObservePost("direct", began, err)
	return idx, err
}

// Submit is a post of a stream (`post --stream`), timed from its
// submission to the answer of its Wait.
func (b *backend) Submit(ctx context.Context, r api.PostRequest) api.Pending {
	if b.met == nil {
		return b.Node.Submit(ctx, r)
	}
	kind := "post"
	if r.Room == "" {
		kind = "direct"
	}
	return &timedPending{Pending: b.Node.Submit(ctx, r), met: b.met, kind: kind, began: b.met.Now()}
}

type timedPending struct {
	api.Pending
	met   *metrics.Metrics
	kind  string
	began time.Time
}

func (p *timedPending) Wait(ctx context.Context) (uint64, error) {
	idx, err := p.Pending.Wait(ctx)
	p.met.ObservePost(p.kind, p.began, err)
	return idx, err
}

// Reload reads cluster.toml again and applies what can change live (see
// Reloader): what changed, or why nothing did.
func (b *backend) Reload() ([]string, error) {
	if b.reload == nil {
		return nil, errNoReload
	}
	return b.reload()
}

type reloadError string

func (e reloadError) Error() string { return string(e) }

const errNoReload = reloadError("this node was not started with a config file to read again")
