package search

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The benchmarks' history: SEARCHBENCH_MESSAGES messages (default
// 1,000,000) of 100-200 bytes in 1,000 rooms from 100 users, drawn as
// tools/fill draws them (its words, uniformly: every word is in about a
// fifth of the messages, the worst case for posting lists) or, with
// SEARCHBENCH_ZIPF=1, from a vocabulary of 50,000 words with Zipf's law
// (s=1.07: a few very common words, a long tail of rare ones, as in chat).
var fillWords = []string{
	"the", "a", "to", "and", "of", "in", "is", "it", "that", "for", "on", "with", "this", "we", "you", "i",
	"be", "have", "not", "are", "but", "at", "so", "if", "or", "can", "just", "now", "then", "there",
	"deploy", "build", "test", "node", "leader", "log", "commit", "index", "term", "cluster", "server",
	"message", "room", "chat", "ssh", "key", "branch", "merge", "review", "patch", "bug", "fix", "issue",
	"release", "version", "config", "timeout", "latency", "disk", "fsync", "network", "packet", "retry",
	"today", "tomorrow", "yesterday", "morning", "lunch", "coffee", "meeting", "later", "soon", "again",
	"looks", "good", "great", "fine", "broken", "slow", "fast", "weird", "done", "ready", "working",
	"think", "know", "see", "try", "check", "run", "push", "pull", "ship", "wait", "help", "thanks",
	"please", "sure", "maybe", "yes", "no", "ok", "nice", "cool", "agreed", "why", "how", "what", "when",
	"who", "where", "does", "did", "will", "would", "should", "could", "about", "after", "before", "still",
}

type benchGen struct {
	r     *rand.Rand
	zipf  *rand.Zipf
	vocab []string
	buf   []byte
	entry uint64
	start int64
}

func newBenchGen(seed uint64) *benchGen {
	g := &benchGen{r: rand.New(rand.NewPCG(seed, 7)), vocab: fillWords, start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()}
	if os.Getenv("SEARCHBENCH_ZIPF") == "1" {
		g.vocab = make([]string, 50_000)
		for i := range g.vocab {
			g.vocab[i] = benchWord(i)
		}
		g.zipf = rand.NewZipf(g.r, 1.07, 2, uint64(len(g.vocab)-1))
	}
	return g
}

// benchWord makes the i-th word of the vocabulary: 2-10 letters.
func benchWord(i int) string {
	r := rand.New(rand.NewPCG(uint64(i), 11))
	b := make([]byte, 2+r.IntN(9))
	for k := range b {
		b[k] = byte('a' + r.IntN(26))
	}
	return string(b) + strconv.Itoa(i%10)
}

func (g *benchGen) word() string {
	if g.zipf != nil {
		return g.vocab[g.zipf.Uint64()]
	}
	return g.vocab[g.r.IntN(len(g.vocab))]
}

func (g *benchGen) doc() Doc {
	size := 100 + g.r.IntN(101)
	b := g.buf[:0]
	for len(b) < size {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, g.word()...)
	}
	b = b[:size]
	g.buf = b
	g.entry++
	return Doc{Entry: g.entry, Message: g.entry, Conv: "room" + strconv.Itoa(g.r.IntN(1000)),
		From: "user" + strconv.Itoa(g.r.IntN(100)), Time: g.start + int64(g.entry)*int64(time.Millisecond), Text: string(b)}
}

func benchMessages() int {
	if n, err := strconv.Atoi(os.Getenv("SEARCHBENCH_MESSAGES")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// BenchmarkIndexAdd indexes b.N messages into an empty index on disk
// (flushes and background merges included) and reports messages/s.
//
//	go test -run '^$' -bench IndexAdd -benchtime 1000000x ./node/search/
func BenchmarkIndexAdd(b *testing.B) {
	x, err := Open(b.TempDir(), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	g := newBenchGen(1)
	docs := make([]Doc, 0, 256)
	prep := os.Getenv("SEARCHBENCH_PREPARE") == "1"
	p := NewPreparer()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		docs = append(docs, g.doc())
		if len(docs) == cap(docs) || i == b.N-1 {
			if prep {
				p.Prepare(docs)
			}
			if err := x.Add(docs, g.entry); err != nil {
				b.Fatal(err)
			}
			docs = docs[:0]
		}
	}
	if err := x.Flush(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/msg")
	st := x.Stats()
	b.ReportMetric(float64(st.Bytes)/float64(b.N), "B/msg")
}

// benchIndex opens (building it the first time) an index of
// benchMessages() messages in SEARCHBENCH_DIR (default a temporary
// directory), merged down, and returns the generator that drew it.
func benchIndex(b *testing.B) (*Index, int) {
	n := benchMessages()
	dir := os.Getenv("SEARCHBENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	zipf := os.Getenv("SEARCHBENCH_ZIPF") == "1"
	dir = filepath.Join(dir, fmt.Sprintf("idx-%d-zipf%v", n, zipf))
	x, err := Open(dir, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	if x.Covered() == uint64(n) {
		return x, n
	}
	if err := x.Reset(); err != nil {
		b.Fatal(err)
	}
	g := newBenchGen(1)
	start := time.Now()
	docs := make([]Doc, 0, 1024)
	for i := 0; i < n; i++ {
		docs = append(docs, g.doc())
		if len(docs) == cap(docs) || i == n-1 {
			if err := x.Add(docs, g.entry); err != nil {
				b.Fatal(err)
			}
			docs = docs[:0]
		}
	}
	if err := x.Flush(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d messages in %s (%.0f msgs/s), %d segments, %.1f MB", n, time.Since(start).Round(time.Millisecond),
		float64(n)/time.Since(start).Seconds(), x.Stats().Segments, float64(x.Stats().Bytes)/1e6)
	for {
		merged, err := x.mergeOnce()
		if err != nil {
			b.Fatal(err)
		}
		if !merged {
			break
		}
	}
	return x, n
}

// BenchmarkQuery runs queries against the index of benchMessages()
// messages and reports p50 and p99 of the time to the first 20 candidates
// (what a search page shows; the node then reads each hit's current text,
// which BenchmarkSearch in package node measures).
//
//	SEARCHBENCH_MESSAGES=10000000 SEARCHBENCH_DIR=/tmp/sb go test -run '^$' -bench Query -benchtime 1x -timeout 30m ./node/search/
func BenchmarkQuery(b *testing.B) {
	x, _ := benchIndex(b)
	defer x.Close()
	b.Logf("index: %d segments, %.1f MB", x.Stats().Segments, float64(x.Stats().Bytes)/1e6)
	g := newBenchGen(99)
	kinds := []struct {
		name string
		q    func() string
		f    func() Filter
	}{
		{"word", func() string { return g.word() }, nil},
		{"phrase2", func() string { return `"` + g.word() + " " + g.word() + `"` }, nil},
		{"phrase3", func() string { return `"` + g.word() + " " + g.word() + " " + g.word() + `"` }, nil},
		{"phrase3-said", func() string { return `"` + saidPhrase(g, 3) + `"` }, nil},
		{"two-words", func() string { return g.word() + " " + g.word() }, nil},
		{"prefix", func() string { w := g.word(); return w[:min(len(w), 3)] + "*" }, nil},
		{"word-in-room", func() string { return g.word() }, func() Filter { return Filter{Conv: "room" + strconv.Itoa(g.r.IntN(1000))} }},
		{"absent", func() string { return "zzqx" + strconv.Itoa(g.r.IntN(1000)) }, nil},
	}
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			const runs = 400
			var lat []time.Duration
			hits := 0
			for i := 0; i < runs*b.N; i++ {
				q, err := Parse(k.q())
				if err != nil {
					b.Fatal(err)
				}
				f := Filter{}
				if k.f != nil {
					f = k.f()
				}
				t0 := time.Now()
				n := 0
				err = x.Search(context.Background(), q, f, func(Candidate) (bool, error) { n++; return n < 20, nil })
				if _, broad := err.(*PrefixError); err != nil && !broad {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				hits += n
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[int(math.Ceil(float64(len(lat))*0.99))-1].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(hits)/float64(len(lat)), "hits/query")
		})
	}
}

// saidPhrase is k consecutive words of a message the generator draws: a
// phrase someone said (the history holds it, and likely others like it),
// unlike k random words.
func saidPhrase(g *benchGen, k int) string {
	ws := strings.Fields(g.doc().Text)
	if len(ws) < k+2 {
		return strings.Join(ws, " ")
	}
	i := g.r.IntN(len(ws) - k - 1) // not the last word, which may be cut
	return strings.Join(ws[i:i+k], " ")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
