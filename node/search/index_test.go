package search

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var testWords = []string{"deploy", "build", "the", "leader", "log", "commit", "café", "Straße", "东京都", "京都",
	"fix", "fixed", "fixing", "review", "a", "bug", "日本語", "привет", "don't", "x1", "ok"}

var testPhrases = []string{"deploy the build", "the a the", "ok fix review a", "a a a", "log commit the fixed",
	"x1 ok x1 ok x1", "東京都 fix"}

// corpus is a history with edits: texts[msg] is each message's current text.
type corpus struct {
	docs  []Doc
	texts map[uint64]string
	conv  map[uint64]string
	entry uint64
}

func newCorpus() *corpus { return &corpus{texts: map[uint64]string{}, conv: map[uint64]string{}} }

func (c *corpus) gen(r *rand.Rand, n int) []Doc {
	var out []Doc
	for i := 0; i < n; i++ {
		c.entry += 1 + uint64(r.IntN(3)) // entries without text between
		var b strings.Builder
		n := 1 + r.IntN(12)
		said := -1
		if r.IntN(3) == 0 { // a phrase people repeat, so long phrases have hits
			said = r.IntN(n)
		}
		for k := 0; k < n; k++ {
			if k > 0 {
				b.WriteString([]string{" ", ", ", "  ", "-"}[r.IntN(4)])
			}
			if k == said {
				b.WriteString(testPhrases[r.IntN(len(testPhrases))])
				continue
			}
			b.WriteString(testWords[r.IntN(len(testWords))])
		}
		d := Doc{Entry: c.entry, Message: c.entry, Conv: fmt.Sprintf("room%d", r.IntN(5)),
			From: fmt.Sprintf("user%d", r.IntN(4)), Time: int64(c.entry) * int64(time.Second), Text: b.String()}
		if r.IntN(5) == 0 {
			d.Conv = "@user0,user1"
		}
		if len(c.docs) > 0 && r.IntN(8) == 0 { // an edit of an older message
			old := c.docs[r.IntN(len(c.docs))]
			d.Message, d.Conv, d.From = old.Message, old.Conv, old.From
		}
		c.texts[d.Message] = d.Text
		c.conv[d.Message] = d.Conv
		c.docs = append(c.docs, d)
		out = append(out, d)
	}
	return out
}

// expected is the brute force answer: messages whose current text
// matches, ordered by the entry of their newest text, newest first.
func (c *corpus) expected(q *Query, f Filter) []uint64 {
	m := NewMatcher(q)
	seen := map[uint64]bool{}
	var out []uint64
	for i := len(c.docs) - 1; i >= 0; i-- {
		d := c.docs[i]
		if seen[d.Message] {
			continue
		}
		seen[d.Message] = true
		if f.Conv != "" && d.Conv != f.Conv || f.From != "" && d.From != f.From || d.Time < f.Since {
			continue
		}
		if f.Readable != nil && !f.Readable(d.Conv) {
			continue
		}
		if m.Match(c.texts[d.Message]) {
			out = append(out, d.Message)
		}
	}
	return out
}

// verified runs the search and keeps the candidates whose current text
// matches, as the node does.
func verified(t *testing.T, x *Index, c *corpus, q *Query, f Filter) []uint64 {
	t.Helper()
	m := NewMatcher(q)
	var out []uint64
	err := x.Search(context.Background(), q, f, func(cd Candidate) (bool, error) {
		if cd.Conv != c.conv[cd.Message] {
			t.Fatalf("candidate %d in %s, but it is in %s", cd.Message, cd.Conv, c.conv[cd.Message])
		}
		if m.Match(c.texts[cd.Message]) {
			out = append(out, cd.Message)
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var testQueries = []string{"deploy", "Deploy build", `"deploy build"`, "fix*", `"the leader"`, "cafe", "strasse",
	"京都", "京", "东京都", "日本", "don't", `"fix the bu*"`, "f*", "привет log", `"a a"`, "x1", "missing", `"bug fixed"`,
	`"deploy the build"`, `"the a the"`, `"ok fix review a"`, `"a a a"`, `"log commit the fix*"`, `"x1 ok x1 ok x1"`}

func checkQueries(t *testing.T, x *Index, c *corpus) {
	t.Helper()
	filters := []Filter{{}, {Conv: "room1"}, {From: "user2"}, {Since: int64(c.entry/2) * int64(time.Second)},
		{Readable: func(conv string) bool { return !strings.HasPrefix(conv, "@") }}, {Conv: "room2", From: "user1"}}
	for _, qs := range testQueries {
		q, err := Parse(qs)
		if err != nil {
			t.Fatal(err)
		}
		for fi, f := range filters {
			want := c.expected(q, f)
			got := verified(t, x, c, q, f)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("query %s filter %d: got %d hits %v\nwant %d %v", qs, fi, len(got), head(got), len(want), head(want))
			}
		}
	}
}

func head(s []uint64) []uint64 {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

func TestIndexMatchesBruteForce(t *testing.T) {
	for _, merge := range []bool{false, true} {
		t.Run(fmt.Sprintf("merge=%v", merge), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			o := Options{FlushDocs: 97, MergeFactor: 2, NoSync: true, NoMerge: !merge, PairsAfter: 60}
			x, err := Open(dir, o)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			c := newCorpus()
			for round := 0; round < 6; round++ {
				docs := c.gen(r, 50+r.IntN(200))
				for len(docs) > 0 {
					k := min(len(docs), 1+r.IntN(40))
					covered := docs[k-1].Entry
					if k < len(docs) && docs[k].Entry > covered+1 {
						covered++ // an entry without text after the batch
					}
					if k%2 == 0 { // tokenized ahead, as a catch-up does
						NewPreparer().Prepare(docs[:k])
					}
					if err := x.Add(docs[:k], covered); err != nil {
						t.Fatal(err)
					}
					docs = docs[k:]
				}
				if round%3 == 1 {
					checkQueries(t, x, c)
				}
			}
			if merge {
				waitMerged(t, x)
			}
			paired := 0
			for _, s := range x.segs {
				if s.meta.PairsFrom < s.meta.Docs {
					paired++
				}
			}
			if len(x.pairWords) == 0 || paired == 0 || x.segs[0].meta.PairsFrom == 0 {
				t.Fatalf("pair words %q; %d segments with pairs; the first has them from %d", x.pairWords, paired, x.segs[0].meta.PairsFrom)
			}
			st := x.Stats()
			if st.Docs != uint64(len(c.docs)) {
				t.Fatalf("index holds %d documents, added %d", st.Docs, len(c.docs))
			}
			if merge && st.Segments > 8 || !merge && st.Segments < 6 {
				t.Fatalf("%d segments (merge %v)", st.Segments, merge)
			}
			checkQueries(t, x, c)
			if err := x.Flush(); err != nil {
				t.Fatal(err)
			}
			x.Close()
			// Reopened, it holds the same.
			y, err := Open(dir, o)
			if err != nil {
				t.Fatal(err)
			}
			defer y.Close()
			if cov := y.Covered(); cov != c.entry {
				t.Fatalf("reopened covers %d, want %d", cov, c.entry)
			}
			checkQueries(t, y, c)
		})
	}
}

// waitMerged waits until no more merges are due.
func waitMerged(t *testing.T, x *Index) {
	t.Helper()
	for i := 0; ; i++ {
		merged, err := x.mergeOnce()
		if err != nil {
			t.Fatal(err)
		}
		if !merged {
			return
		}
	}
}

// fourSegments opens an index in dir and adds 200 generated documents in
// four Adds of 50 (with FlushDocs 50 and no merges: four segments), then
// flushes; seed picks the documents, which it returns with the corpus.
func fourSegments(t *testing.T, dir string, o Options, seed uint64) (*Index, *corpus, []Doc) {
	t.Helper()
	x, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, seed+1))
	c := newCorpus()
	docs := c.gen(r, 200)
	for i := 0; i < 200; i += 50 {
		if err := x.Add(docs[i:i+50], docs[i+49].Entry); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Flush(); err != nil {
		t.Fatal(err)
	}
	return x, c, docs
}

func TestIndexDamagedSegmentIsDropped(t *testing.T) {
	dir := t.TempDir()
	o := Options{FlushDocs: 50, NoSync: true, NoMerge: true,
		Check: func(e uint64) (EntryCheck, error) { return EntryCheck{Term: 1, Sum: 7}, nil }}
	x, c, docs := fourSegments(t, dir, o, 3)
	segs := x.Stats().Segments
	x.Close()
	if segs != 4 {
		t.Fatalf("%d segments, want 4", segs)
	}
	if cov, check := mustOpen(t, dir, o); cov != c.entry || check != (EntryCheck{Term: 1, Sum: 7}) {
		t.Fatalf("reopened: covered %d check %v", cov, check)
	}
	// Flip a byte of the third segment's postings.
	p := filepath.Join(dir, "seg-000002.post")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	os.WriteFile(p, b, 0o644)
	cov, check := mustOpen(t, dir, o)
	if want := docs[99].Entry; cov != want || check != (EntryCheck{}) {
		t.Fatalf("after damage: covered %d check %v, want %d and no check", cov, check, want)
	}
	// A manifest that does not decode empties the index.
	os.WriteFile(filepath.Join(dir, "manifest.json"), []byte("{garbage"), 0o644)
	if cov, _ := mustOpen(t, dir, o); cov != 0 {
		t.Fatalf("after a bad manifest: covered %d", cov)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "seg-*")); len(left) != 0 {
		t.Fatalf("files of unused segments left: %v", left)
	}
}

func mustOpen(t *testing.T, dir string, o Options) (uint64, EntryCheck) {
	t.Helper()
	x, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	return x.Check()
}

func TestIndexRefusesOutOfOrder(t *testing.T) {
	x, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if err := x.Add([]Doc{{Entry: 5, Message: 5, Text: "a"}}, 5); err != nil {
		t.Fatal(err)
	}
	if err := x.Add([]Doc{{Entry: 5, Message: 5, Text: "a"}}, 6); err == nil {
		t.Fatal("an entry added twice was taken")
	}
	if err := x.Add(nil, 4); err == nil {
		t.Fatal("covered went back")
	}
}

func TestPrefixTooBroad(t *testing.T) {
	x, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var docs []Doc
	for i := 1; i <= MaxPrefixTerms+10; i++ {
		docs = append(docs, Doc{Entry: uint64(i), Message: uint64(i), Conv: "r", Text: fmt.Sprintf("w%d", i)})
	}
	if err := x.Add(docs, uint64(len(docs))); err != nil {
		t.Fatal(err)
	}
	q, _ := Parse("w*")
	err = x.Search(context.Background(), q, Filter{}, func(Candidate) (bool, error) { return true, nil })
	if _, ok := err.(*PrefixError); !ok {
		t.Fatalf("w* over %d words: %v", len(docs), err)
	}
	q, _ = Parse("w12*")
	n := 0
	if err := x.Search(context.Background(), q, Filter{}, func(Candidate) (bool, error) { n++; return true, nil }); err != nil || n != 111 {
		t.Fatalf("w12*: %d hits, %v", n, err)
	}
}

// A search that walks a long list without offering anything (the user may
// read none of it) still ends when its context does.
func TestSearchEndsWithItsContext(t *testing.T) {
	x, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var docs []Doc
	for i := 1; i <= 5000; i++ {
		docs = append(docs, Doc{Entry: uint64(i), Message: uint64(i), Conv: "secret", Text: "deploy"})
	}
	if err := x.Add(docs, 5000); err != nil {
		t.Fatal(err)
	}
	q, _ := Parse("deploy")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	asked := 0
	err = x.Search(ctx, q, Filter{Readable: func(string) bool { asked++; return false }}, func(Candidate) (bool, error) {
		t.Fatal("a document of a conversation the user may not read was offered")
		return false, nil
	})
	if !errors.Is(err, context.Canceled) || asked != 1 {
		t.Fatalf("err %v, Readable asked %d times (want once per conversation)", err, asked)
	}
}

// A rebuild may build segments on several goroutines and append them in
// entry order: the index answers as if every document had been added.
func TestIndexBuildAppend(t *testing.T) {
	dir := t.TempDir()
	o := Options{FlushDocs: 97, MergeFactor: 2, NoSync: true, PairsAfter: 60}
	x, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	r := rand.New(rand.NewPCG(5, 6))
	c := newCorpus()
	docs := c.gen(r, 1200)
	// Some added the usual way first, then chunks built at once.
	if err := x.Add(docs[:100], docs[99].Entry); err != nil {
		t.Fatal(err)
	}
	if err := x.Flush(); err != nil {
		t.Fatal(err)
	}
	x.ChoosePairs(docs[100:])
	type chunk struct {
		docs        []Doc
		first, last uint64
	}
	var chunks []chunk
	first := docs[99].Entry + 1
	for i := 100; i < len(docs); i += 150 {
		j := min(i+150, len(docs))
		chunks = append(chunks, chunk{docs[i:j], first, docs[j-1].Entry})
		first = docs[j-1].Entry + 1
	}
	built := make([]*Built, len(chunks))
	errs := make(chan error, len(chunks))
	for k, ch := range chunks {
		go func() {
			var err error
			built[k], err = x.Build(ch.docs, ch.first, ch.last)
			errs <- err
		}()
	}
	for range chunks {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Append(built[1]); err == nil {
		t.Fatal("a segment out of order was appended")
	}
	for _, b := range built[2:] {
		b.Discard()
	}
	built[1], _ = x.Build(chunks[1].docs, chunks[1].first, chunks[1].last)
	for k := range chunks[2:] {
		built[k+2], _ = x.Build(chunks[k+2].docs, chunks[k+2].first, chunks[k+2].last)
	}
	for _, b := range built {
		if err := x.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	waitMerged(t, x)
	if x.Covered() != c.entry || x.Stats().Docs != uint64(len(docs)) {
		t.Fatalf("covers %d with %d documents, want %d with %d", x.Covered(), x.Stats().Docs, c.entry, len(docs))
	}
	checkQueries(t, x, c)
	if left, _ := filepath.Glob(filepath.Join(dir, "seg-*.meta")); len(left) != x.Stats().Segments {
		t.Fatalf("%d segment files for %d segments: discarded ones left behind", len(left), x.Stats().Segments)
	}
}

func TestIndexOneProcessAtATime(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{NoSync: true}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("a second Open of the same index: %v", err)
	}
	x.Close()
	y, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	y.Close()
}

// TestMergeStopsWhenClosing: a merge in progress gives up once the index
// is closing (a node's stop waits for the merge goroutine, and a merge of
// the largest segments takes long), leaves no file of its new segment, and
// the segments it would have merged answer as before.
func TestMergeStopsWhenClosing(t *testing.T) {
	dir := t.TempDir()
	o := Options{FlushDocs: 50, NoSync: true, NoMerge: true}
	x, _, _ := fourSegments(t, dir, o, 5)
	before, _ := os.ReadDir(dir)
	var stop atomic.Bool
	stop.Store(true)
	x.mu.Lock()
	run := append([]*segment{}, x.segs...)
	x.mu.Unlock()
	if err := mergeSegments(dir, "seg-999999", run, false, &stop); !errors.Is(err, errMergeStopped) {
		t.Fatalf("a merge told to stop: %v", err)
	}
	removeSegment(dir, "seg-999999") // as mergeOnce does on any error
	after, _ := os.ReadDir(dir)
	if len(after) != len(before) {
		t.Fatalf("files before the stopped merge %d, after %d", len(before), len(after))
	}
	stop.Store(false)
	if err := mergeSegments(dir, "seg-999998", run, false, &stop); err != nil {
		t.Fatalf("the same merge not stopped: %v", err)
	}
	x.Close()
}

// TestPairLogCollisions: pair terms whose postings wait in the pair log
// are written as if filed as they came, also when a pair's hash is
// another term's (a token seen before or after the pair, in the same
// document or later ones; another pair; an author): the two are one term;
// and when a pair stands too far into a text for a record.
func TestPairLogCollisions(t *testing.T) {
	for _, maxPos := range []int32{0, 7} {
		t.Run(fmt.Sprint("maxPos=", maxPos), func(t *testing.T) { testPairLog(t, maxPos) })
	}
}

func testPairLog(t *testing.T, maxPos int32) {
	h := termHash
	collide := func(a, b uint64) uint64 {
		switch {
		case a == h("deploy") && b == h("build"):
			return h("x1")
		case a == h("the") && b == h("a"):
			return pairTerm(h("ok"), h("fix"))
		case a == h("log") && b == h("commit"):
			return fromTerm("user2")
		case a == h("fix") && b == h("review"):
			return h("missing") // never a token: stays in the log
		}
		return pairTerm(a, b)
	}
	r := rand.New(rand.NewPCG(7, 8))
	c := newCorpus()
	var docs []Doc
	for i, text := range []string{"deploy build now", "the a the deploy build", "deploy build x1 the a",
		"foo x1 deploy build", "ok fix review ok fix"} {
		docs = append(docs, Doc{Entry: uint64(i + 1), Message: uint64(i + 1), Conv: "room0", From: "user0", Time: 1, Text: text})
	}
	c.entry = uint64(len(docs))
	docs = append(docs, c.gen(r, 3000)...)
	pairs := pairIndexes(append(slices.Clone(testWords), "now", "foo", "fix", "review", "commit"))
	var files [2]string
	for i, noDefer := range []bool{false, true} {
		m := newMemSegment(pairs)
		m.testPairHash, m.testNoDefer, m.testMaxPos = collide, noDefer, maxPos
		m.first, m.last = 1, docs[len(docs)-1].Entry
		for _, d := range docs {
			m.add(d)
		}
		if !noDefer {
			if k := m.terms[h("x1")]; m.encs[k].deferKey != 0 {
				t.Fatal("a token with a deferred pair's hash left it deferred")
			}
			if k := m.terms[h("missing")]; maxPos == 0 && m.encs[k].deferKey == 0 || m.pairs1 == 0 {
				t.Fatal("no pair left in the log")
			}
			filed := 0 // pairs filed as they came
			for _, e := range m.pairTab {
				if e != 0 && e&deferBit == 0 {
					filed++
				}
			}
			if maxPos > 0 && filed < 10 || maxPos == 0 && filed > 4 {
				t.Fatalf("%d pairs filed as they came (maxPos %d)", filed, maxPos)
			}
		}
		dir := t.TempDir()
		if err := writeMem(dir, "seg", m, false); err != nil {
			t.Fatal(err)
		}
		s, err := openSegment(dir, "seg")
		if err != nil {
			t.Fatal(err)
		}
		s.close()
		for _, f := range segFiles {
			b, err := os.ReadFile(filepath.Join(dir, "seg."+f))
			if err != nil {
				t.Fatal(err)
			}
			files[i] += f + ":" + string(b)
		}
	}
	if files[0] != files[1] {
		t.Fatal("the segment written from the pair log differs from the one filed as it came")
	}
}
