package api

import (
	"context"
	"errors"
	"time"
)

// Search is the part of a Backend for full-text search of the history
// (issue 16). A node answers from an index in its data directory, derived
// from the log and checked against it: every hit is a message the searching
// user may read (CanRead), with its current text (an edit since or a
// deletion is seen, never an old text), matching the query. The same log
// gives the same hits on every node; a node whose index is still catching
// up says so (SearchResult.Behind) and may miss the newest messages.
type Search interface {
	// Search returns the messages matching q that user may read, newest
	// first. A query that cannot be searched is an error wrapping
	// ErrBadQuery, whose text says why.
	Search(ctx context.Context, user string, q SearchQuery) (SearchResult, error)
	// SearchStatus describes this node's index.
	SearchStatus() SearchStatus
}

// ErrBadQuery: the query holds nothing to search for, or too much.
var ErrBadQuery = errors.New("bad search")

// Search limits: a page of hits by default and at most.
const (
	SearchDefaultLimit = 20
	SearchMaxLimit     = 500
)

// SearchQuery is one search.
type SearchQuery struct {
	// Text: words (all must match), "quoted phrases", prefix* (a word
	// that starts so); case, accents on Latin, Greek and Cyrillic letters
	// and Unicode compatibility forms are ignored.
	Text  string
	Room  string    // only this room, or direct conversation (DMRoom); "": all
	From  string    // only messages of this author; "": all
	Since time.Time // only messages at or after it; zero: all
	Limit int       // at most this many hits; 0: SearchDefaultLimit
}

// SearchResult is a page of hits.
type SearchResult struct {
	// Hits, newest first (a message edited later counts as of its last
	// edit), as History shows them.
	Hits []Message `json:"hits"`
	// More: there are more hits than Limit.
	More bool `json:"more"`
	// Indexed is the last log entry the index covers, Applied the last
	// this node applied; Behind says the index is catching up (at a start,
	// or after a rebuild) and the newest messages may be missing.
	Indexed uint64 `json:"indexed"`
	Applied uint64 `json:"applied"`
	Behind  bool   `json:"behind"`
}

// SearchStatus is a node's index.
type SearchStatus struct {
	// State: "opening", "rebuilding" (from the first entry),
	// "catching up" (from where it was), "ready", "off" or "failed: ...".
	State    string `json:"state"`
	Indexed  uint64 `json:"indexed"`
	Applied  uint64 `json:"applied"`
	Docs     uint64 `json:"docs"` // texts indexed (posts, direct messages, edits)
	Segments int    `json:"segments"`
	Bytes    int64  `json:"bytes"` // on disk
}
