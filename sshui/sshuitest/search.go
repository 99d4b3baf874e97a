package sshuitest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/syncnet/syncnet/node/api"
)

// Search implements api.Search by reading every conversation user may read
// (CanRead) through History, so edits and deletions show as they do there.
// Its matching is simpler than a node's (node/search): words are lowercased
// runs of letters and digits, without Unicode normalization; "quoted
// phrases" and prefix* work; every clause must match. A query with no word
// is api.ErrBadQuery, as on a node.
func (f *Fake) Search(ctx context.Context, user string, q api.SearchQuery) (api.SearchResult, error) {
	clauses := fakeClauses(q.Text)
	if len(clauses) == 0 {
		return api.SearchResult{}, fmt.Errorf("%w: nothing to search for: give a word (letters or digits)", api.ErrBadQuery)
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = api.SearchDefaultLimit
	case limit > api.SearchMaxLimit:
		return api.SearchResult{}, fmt.Errorf("%w: at most %d hits a search", api.ErrBadQuery, api.SearchMaxLimit)
	}
	f.mu.Lock()
	convs := make([]string, 0, len(f.msgs))
	for c := range f.msgs {
		convs = append(convs, c)
	}
	applied := f.index
	f.mu.Unlock()
	var hits []api.Message
	for _, c := range convs {
		if q.Room != "" && c != q.Room || !f.CanRead(user, c) {
			continue
		}
		msgs, err := f.History(c, 0, 1<<30)
		if err != nil {
			return api.SearchResult{}, err
		}
		for _, m := range msgs {
			if m.Deleted() || q.From != "" && m.From != q.From || !q.Since.IsZero() && m.Time.Before(q.Since) {
				continue
			}
			if fakeMatch(clauses, m.Text) {
				hits = append(hits, m)
			}
		}
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].Index > hits[j].Index })
	res := api.SearchResult{Indexed: applied, Applied: applied}
	if len(hits) > limit {
		hits, res.More = hits[:limit], true
	}
	res.Hits = hits
	return res, nil
}

// SearchStatus implements api.Search: the fake's "index" is always ready.
func (f *Fake) SearchStatus() api.SearchStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, ms := range f.msgs {
		n += len(ms)
	}
	return api.SearchStatus{State: "ready", Indexed: f.index, Applied: f.index, Docs: uint64(n)}
}

type fakeClause struct {
	words  []string
	prefix bool
}

func fakeWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

func fakeClauses(s string) []fakeClause {
	var out []fakeClause
	add := func(part string) {
		p := strings.TrimSpace(part)
		prefix := strings.HasSuffix(p, "*")
		if ws := fakeWords(p); len(ws) > 0 {
			out = append(out, fakeClause{words: ws, prefix: prefix})
		}
	}
	for i, part := range strings.Split(s, `"`) {
		if i%2 == 1 {
			add(part)
			continue
		}
		for _, w := range strings.Fields(part) {
			add(w)
		}
	}
	return out
}

func fakeMatch(cs []fakeClause, text string) bool {
	ws := fakeWords(text)
	for _, c := range cs {
		found := false
		for p := 0; p+len(c.words) <= len(ws) && !found; p++ {
			found = true
			for k, w := range c.words {
				last := k == len(c.words)-1
				if last && c.prefix && !strings.HasPrefix(ws[p+k], w) || !(last && c.prefix) && ws[p+k] != w {
					found = false
					break
				}
			}
		}
		if !found {
			return false
		}
	}
	return true
}
