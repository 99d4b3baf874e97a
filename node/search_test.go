package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/syncnet/syncnet/node/api"
)

// searchAnswers is what a node answers to the queries, one line each.
func searchAnswers(t *testing.T, n *Node, user string, qs []api.SearchQuery) []string {
	t.Helper()
	var out []string
	for _, q := range qs {
		res, err := n.Search(context.Background(), user, q)
		if err != nil {
			t.Fatalf("search %+v: %v", q, err)
		}
		var hits []string
		for _, m := range res.Hits {
			hits = append(hits, fmt.Sprintf("%d@%s", m.Index, m.Room))
		}
		out = append(out, fmt.Sprintf("%s room=%s from=%s: %s more=%v", q.Text, q.Room, q.From, strings.Join(hits, ","), res.More))
	}
	return out
}

// waitIndexed waits until n's index is ready and covers entry i.
func waitIndexed(t *testing.T, n *Node, i uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := n.SearchStatus()
		if st.State == "ready" && st.Indexed >= i {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: search index %+v, want ready at %d", n.id, st, i)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var searchQueries = []api.SearchQuery{
	{Text: "deploy"}, {Text: `"deploy the build"`}, {Text: "build*"}, {Text: "café"}, {Text: "CAFE"},
	{Text: "東京"}, {Text: "secret"}, {Text: "deploy", Room: "ops"}, {Text: "deploy", From: "bob"},
	{Text: "deploy", Limit: 1}, {Text: "nothing-like-this"}, {Text: `"ship the cake"`}, {Text: "noon"},
}

// TestSearchSameOnEveryNodeAndAfterRestart: three nodes answer every query
// alike; an index deleted, damaged or left behind is rebuilt or caught up
// from the log at the next start and answers the same; a user never sees
// a hit from a conversation CanRead refuses them.
func TestSearchSameOnEveryNodeAndAfterRestart(t *testing.T) {
	// Catch-ups of more than two chunks build segments on two goroutines:
	// small chunks make the rebuilds after the restart take that path.
	defer func(c uint64) { searchChunk = c }(searchChunk)
	searchChunk = 8
	c := newTestCluster(t, 3)
	lead := c.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := c.nodes[lead].n
	texts := []struct{ user, room, text string }{
		{"alice", "general", "We deploy the build at noon"},
		{"bob", "general", "deploy again? the build broke"},
		{"carol", "ops", "deploy the build to ops, please"},
		{"bob", "ops", "Building now"},
		{"alice", "general", "Un café au lait"},
		{"carol", "general", "東京都に行きます"},
		{"bob", "general", "deploy deploy deploy"},
	}
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		if err := n.BindName(ctx, u, "SHA256:"+u); err != nil {
			t.Fatal(err)
		}
	}
	var last uint64
	var posted []uint64
	for i, p := range texts {
		if p.room != "general" {
			if err := n.JoinRoom(ctx, p.user, p.room); err != nil {
				t.Fatal(err)
			}
		}
		idx, err := n.Post(ctx, p.user, p.room, p.text, fmt.Sprint("s", i), 0, false)
		if err != nil {
			t.Fatal(err)
		}
		last = idx
		posted = append(posted, idx)
	}
	// An edit and a deletion: the old text and the deleted message are
	// never found again, the new text is.
	var err error
	if _, err = n.Edit(ctx, "alice", posted[0], "We ship the cake at noon"); err != nil {
		t.Fatal(err)
	}
	if last, err = n.Delete(ctx, "bob", posted[6], false, ""); err != nil {
		t.Fatal(err)
	}
	// A direct message and a private room: only their readers find them.
	idx, err := n.DirectMessage(ctx, "alice", "bob", "the secret deploy plan", "dm1", false)
	last = max(last, idx)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.JoinRoom(ctx, "dave", "vault"); err != nil {
		t.Fatal(err)
	}
	if err := n.SetRoomPrivate(ctx, "dave", "vault", true, false); err != nil {
		t.Fatal(err)
	}
	if idx, err = n.Post(ctx, "dave", "vault", "secret deploy in the vault", "v1", 0, false); err != nil {
		t.Fatal(err)
	}
	last = max(last, idx)
	users := []string{"alice", "carol", "dave"}
	answers := map[string][]string{}
	for id, rn := range c.nodes {
		waitIndexed(t, rn.n, last)
		for _, u := range users {
			got := searchAnswers(t, rn.n, u, searchQueries)
			if want, ok := answers[u]; ok && !reflect.DeepEqual(got, want) {
				t.Fatalf("%s answers %s differently:\n%s\nwant\n%s", id, u, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			answers[u] = got
		}
	}
	// What each user may read, and nothing else.
	secret := func(u string) string { return answers[u][6] }
	if !strings.Contains(secret("alice"), "@alice,bob") || strings.Contains(secret("alice"), "vault") {
		t.Fatalf("alice: %s", secret("alice"))
	}
	if strings.Contains(secret("carol"), "@") || strings.Contains(secret("carol"), "vault") || !strings.Contains(secret("carol"), ": ") {
		t.Fatalf("carol: %s", secret("carol"))
	}
	if !strings.Contains(secret("dave"), "vault") || strings.Contains(secret("dave"), "@alice,bob") {
		t.Fatalf("dave: %s", secret("dave"))
	}
	for _, line := range answers["carol"] {
		t.Log(line)
	}
	if a := answers["carol"]; !strings.Contains(a[0], "more=false") || strings.Count(a[0], "@") != 2 ||
		!strings.Contains(a[9], "more=true") || strings.Count(a[3], "@") != 1 || a[3][strings.Index(a[3], ": "):] != a[4][strings.Index(a[4], ": "):] ||
		strings.Count(a[5], "@") != 1 || strings.Count(a[10], "@") != 0 || strings.Count(a[1], "@") != 1 {
		t.Fatalf("carol's answers are not what the texts say:\n%s", strings.Join(a, "\n"))
	}
	if a := answers["carol"]; a[11] != `"ship the cake" room= from=: 6@general more=false` || a[12] != "noon room= from=: 6@general more=false" {
		t.Fatalf("the edited message is not found by its new text alone:\n%s\n%s", a[11], a[12])
	}
	if a := answers["carol"]; strings.Contains(a[0], "14@") || strings.Contains(a[0], "6@") {
		t.Fatalf("deploy finds the deleted message or the edited one's old text: %s", a[0])
	}
	if _, err := n.Search(ctx, "alice", api.SearchQuery{Text: "!!!"}); !errors.Is(err, api.ErrBadQuery) {
		t.Fatalf("a query without words: %v", err)
	}

	// Stop everything; n1 loses its index, n2's is damaged, n3's is behind
	// (its manifest from before the last posts).
	for _, id := range []string{"n1", "n2", "n3"} {
		c.stop(id)
	}
	dir := func(id string) string { return filepath.Join(c.cfg.NodeDir(id), "search") }
	if err := os.RemoveAll(dir("n1")); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir("n2"), "seg-*.post"))
	if len(segs) == 0 {
		t.Fatalf("n2 wrote no segment at stop")
	}
	os.WriteFile(segs[0], []byte("garbage"), 0o644)
	os.WriteFile(filepath.Join(dir("n3"), "manifest.json"), []byte(`{"version":2,"tokenizer":1,"covered":3,"segments":[]}`), 0o644)
	for _, id := range []string{"n1", "n2", "n3"} {
		c.start(id)
	}
	c.leader()
	for id, rn := range c.nodes {
		waitIndexed(t, rn.n, last)
		for _, u := range users {
			if got := searchAnswers(t, rn.n, u, searchQueries); !reflect.DeepEqual(got, answers[u]) {
				t.Fatalf("%s after restart answers %s differently:\n%s\nwant\n%s", id, u, strings.Join(got, "\n"), strings.Join(answers[u], "\n"))
			}
		}
	}
}
