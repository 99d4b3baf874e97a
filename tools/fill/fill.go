package fill

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/config"
)

// Defaults and limits of Options.
const (
	DefaultRooms = 1000
	DefaultUsers = 100
	// DefaultRate is the messages per second the default Period spreads
	// the messages at.
	DefaultRate = 10
	// MinSize and MaxSize bound a message's text when Size is 0.
	MinSize = 100
	MaxSize = 200
	// MaxText is the longest text a post may have (runes; the text is
	// ASCII, so bytes too).
	MaxText = 2000
	// MaxRooms and MaxUsers bound the name tables.
	MaxRooms = 1_000_000
	MaxUsers = 1_000_000
)

// batchSize is how many entries one Append writes (about 1 MB of records
// at the default size).
const batchSize = 4096

// commitEvery is how many entries apart the CommittedUpTo records are. A
// node records its commit index at most every 100 ms while busy and again
// when idle; this keeps the records a rare minority whatever the Period.
const commitEvery = 256

// filledTerm is the one election term of a generated history.
const filledTerm = 1

// Options say what to generate. The zero value of every field but Messages
// takes its default.
type Options struct {
	// Messages is N, the number of chat messages (at least 1). They are at
	// cluster indexes 2..N+1.
	Messages int
	// Rooms is how many rooms the messages go to; the first is "general".
	Rooms int
	// Users is how many users post them.
	Users int
	// Size is every message's text length in bytes; 0 draws each from
	// MinSize..MaxSize.
	Size int
	// Seed seeds every draw (0 is seed 0, a valid seed).
	Seed uint64
	// End is the wall time of the last message; zero means now.
	End time.Time
	// Period is the wall time the messages are spread over, ending at End;
	// zero means Messages/DefaultRate seconds. At least 1µs per message.
	Period time.Duration
	// Progress, if set, is called with the number of entries each node's
	// writer has just appended (from several goroutines at once; the total
	// is Messages+1 per node).
	Progress func(entries int64)
}

// withDefaults fills in defaults and checks the limits.
func (o Options) withDefaults() (Options, error) {
	if o.Rooms == 0 {
		o.Rooms = DefaultRooms
	}
	if o.Users == 0 {
		o.Users = DefaultUsers
	}
	if o.End.IsZero() {
		o.End = time.Now()
	}
	if o.Period == 0 {
		o.Period = time.Duration(o.Messages) * time.Second / DefaultRate
	}
	var bad []string
	if o.Messages < 1 {
		bad = append(bad, fmt.Sprintf("messages must be at least 1 (got %d)", o.Messages))
	}
	if o.Rooms < 1 || o.Rooms > MaxRooms {
		bad = append(bad, fmt.Sprintf("rooms must be 1 to %d (got %d)", MaxRooms, o.Rooms))
	}
	if o.Users < 1 || o.Users > MaxUsers {
		bad = append(bad, fmt.Sprintf("users must be 1 to %d (got %d)", MaxUsers, o.Users))
	}
	if o.Size < 0 || o.Size > MaxText {
		bad = append(bad, fmt.Sprintf("size must be 1 to %d bytes, or 0 for %d-%d (got %d)", MaxText, MinSize, MaxSize, o.Size))
	}
	if o.Messages >= 1 && o.Period < time.Duration(o.Messages)*time.Microsecond {
		bad = append(bad, fmt.Sprintf("period must be at least 1µs per message (%v for %d messages; got %v)",
			time.Duration(o.Messages)*time.Microsecond, o.Messages, o.Period))
	}
	if len(bad) > 0 {
		return o, &OptionsError{Problems: bad}
	}
	return o, nil
}

// OptionsError lists what is wrong with Options.
type OptionsError struct{ Problems []string }

func (e *OptionsError) Error() string {
	s := e.Problems[0]
	for _, p := range e.Problems[1:] {
		s += "; " + p
	}
	return s
}

// ExistsError is returned, before anything is written, when a node's data
// directory already exists.
type ExistsError struct{ Dirs []string }

func (e *ExistsError) Error() string {
	s := "refusing to overwrite: "
	for i, d := range e.Dirs {
		if i > 0 {
			s += ", "
		}
		s += d
	}
	if len(e.Dirs) == 1 {
		s += " already exists"
	} else {
		s += " already exist"
	}
	return s + " (fill writes only new node directories: remove them, or set another data_dir)"
}

// Result tells what Fill wrote.
type Result struct {
	DataDir string
	Nodes   []string // in ring order
	Leader  string   // the leader of term 1
	// LastIndex is the last cluster index, N+1, and the commit index
	// recorded in every log.
	LastIndex uint64
	Records   uint64 // WAL records in each node's log
	Bytes     int64  // segment bytes, all nodes together
	First     time.Time
	Last      time.Time // wall times of the first and last message
	Elapsed   time.Duration
}

// Fill writes, for every node of cfg, <data_dir>/<id>/wal holding the same
// replicated history of o.Messages committed messages (see the package
// documentation). It refuses (*ExistsError) if any node's directory exists,
// and removes what it created if it fails or ctx ends.
func Fill(ctx context.Context, cfg *config.Config, o Options) (res Result, err error) {
	began := time.Now()
	o, err = o.withDefaults()
	if err != nil {
		return res, err
	}
	nodes := append([]config.Node(nil), cfg.Nodes...)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Ring < nodes[j].Ring })
	if len(nodes) == 0 {
		return res, errors.New("the config has no [[node]]")
	}
	res.DataDir = cfg.DataDir()
	var exist []string
	for _, n := range nodes {
		res.Nodes = append(res.Nodes, n.ID)
		if _, err := os.Lstat(cfg.NodeDir(n.ID)); err == nil {
			exist = append(exist, cfg.NodeDir(n.ID))
		} else if !errors.Is(err, os.ErrNotExist) {
			return res, fmt.Errorf("node %s: %w", n.ID, err)
		}
	}
	if len(exist) > 0 {
		return res, &ExistsError{Dirs: exist}
	}

	// Create every directory first: a rerun after a failure finds none.
	_, statErr := os.Stat(res.DataDir)
	madeDataDir := errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(res.DataDir, 0o750); err != nil {
		return res, fmt.Errorf("create data_dir: %w", err)
	}
	var made []string
	defer func() {
		if err == nil {
			return
		}
		for _, d := range made {
			os.RemoveAll(d)
		}
		if madeDataDir {
			os.Remove(res.DataDir) // only if empty
		}
	}()
	for _, n := range nodes {
		d := cfg.NodeDir(n.ID)
		if err := os.Mkdir(d, 0o750); err != nil {
			if errors.Is(err, os.ErrExist) {
				return res, &ExistsError{Dirs: []string{d}}
			}
			return res, fmt.Errorf("node %s: %w", n.ID, err)
		}
		made = append(made, d)
	}

	g := newGenerator(o, res.Nodes)
	res.Leader, res.LastIndex = g.leader, uint64(o.Messages)+1

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ws := make([]*writer, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		ws[i] = &writer{id: n.ID, k: i, dir: cfg.WALDir(n.ID), g: g, o: o, in: make(chan *batch, 2)}
		wg.Add(1)
		go func(w *writer) {
			defer wg.Done()
			if err := w.run(ctx); err != nil {
				cancel(fmt.Errorf("node %s: %w", w.id, err))
				for range w.in { // let the generator go on to its end
				}
			}
		}(ws[i])
	}
	g.run(ctx, ws)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return res, err
	}
	res.First, res.Last = time.Unix(0, g.first).UTC(), time.Unix(0, g.last).UTC()
	for _, w := range ws {
		res.Records = w.records
		res.Bytes += w.bytes
	}
	// The records are on disk (tidwall/wal fsyncs every segment it fills
	// and Close the last one); make the new names durable too.
	for _, n := range nodes {
		for _, d := range []string{cfg.WALDir(n.ID), cfg.NodeDir(n.ID)} {
			if err := syncDir(d); err != nil {
				return res, err
			}
		}
	}
	if err := syncDir(res.DataDir); err != nil {
		return res, err
	}
	if madeDataDir {
		if err := syncDir(filepath.Dir(res.DataDir)); err != nil {
			return res, err
		}
	}
	res.Elapsed = time.Since(began)
	return res, nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// batch is a run of consecutive message entries, shared read-only by every
// node's writer.
type batch struct {
	first   int // message number of entries[0] (its cluster index is first+2)
	entries []eventlog.Event
}

// generator draws the history. Only its run goroutine uses it, except the
// fields set by newGenerator, which are read-only after.
type generator struct {
	o       Options
	r       *rand.Rand
	rooms   []string
	users   []string
	origins []string // users[i] is connected to origins[i]
	leader  string
	starter string
	start   int64 // wall time before the first message
	step    int64 // nanoseconds per message on average
	elected int64 // wall time of the election
	first   int64 // wall times of the first and last message drawn
	last    int64

	lastLamport []uint64 // per room: the Lamport time of its last message
	hexBuf      [32]byte
	textBuf     []byte
}

func newGenerator(o Options, nodes []string) *generator {
	g := &generator{o: o, r: rand.New(rand.NewPCG(o.Seed, 0x5eed_f111)),
		rooms: roomNames(o.Rooms), users: userNames(o.Users), lastLamport: make([]uint64, o.Rooms)}
	g.origins = make([]string, len(g.users))
	for i := range g.users {
		g.origins[i] = nodes[i%len(nodes)]
	}
	// The ring's first member starts the first round; among empty logs the
	// largest id wins (ring.Candidate.Beats).
	g.starter = nodes[0]
	for _, n := range nodes {
		g.leader = max(g.leader, n)
	}
	g.step = int64(o.Period) / int64(o.Messages)
	g.start = o.End.UnixNano() - g.step*int64(o.Messages)
	g.elected = g.start - int64(2*time.Second)
	return g
}

// timeOf is the latest wall time message i can have: its time is drawn in
// (start+i·step, start+(i+1)·step], so times grow strictly and the last is
// at most End.
func (g *generator) timeOf(i int) int64 { return g.start + int64(i+1)*g.step }

// run draws every batch and hands each to every writer, then closes their
// inputs. It stops early when ctx ends.
func (g *generator) run(ctx context.Context, ws []*writer) {
	defer func() {
		for _, w := range ws {
			close(w.in)
		}
	}()
	for first := 0; first < g.o.Messages; first += batchSize {
		b := &batch{first: first, entries: make([]eventlog.Event, min(batchSize, g.o.Messages-first))}
		for j := range b.entries {
			b.entries[j] = g.message(first + j)
		}
		for _, w := range ws {
			select {
			case w.in <- b:
			case <-ctx.Done():
				return
			}
		}
	}
}

// message draws message i, stamped as the leader stamps a proposal.
func (g *generator) message(i int) eventlog.Event {
	room := g.r.IntN(len(g.rooms))
	user := g.r.IntN(len(g.users))
	size := g.o.Size
	if size == 0 {
		size = MinSize + g.r.IntN(MaxSize-MinSize+1)
	}
	id := g.requestID()
	lamport := uint64(i) + 1 // the no-op at index 1 has none
	body := &eventlog.MessagePosted{Room: g.rooms[room], From: g.users[user], Text: g.text(size),
		ClientMsgID: id, ReplyLamport: g.lastLamport[room]}
	g.lastLamport[room] = lamport
	t := g.timeOf(i) - g.r.Int64N(g.step)
	if i == 0 {
		g.first = t
	}
	g.last = t
	return eventlog.Event{
		Header: eventlog.Header{Origin: g.origins[user], Term: filledTerm, Index: uint64(i) + 2, Lamport: lamport,
			Time: t, Author: g.users[user], RequestID: id},
		Body: body,
	}
}

// requestID draws 16 bytes in hex, as node.newRequestID does.
func (g *generator) requestID() string {
	var b [16]byte
	for k := 0; k < 16; k += 8 {
		v := g.r.Uint64()
		for j := 0; j < 8; j++ {
			b[k+j] = byte(v >> (8 * j))
		}
	}
	hex.Encode(g.hexBuf[:], b[:])
	return string(g.hexBuf[:])
}

// text draws size bytes of words: no leading or trailing space, a capital
// first letter, printable ASCII only.
func (g *generator) text(size int) string {
	b := g.textBuf[:0]
	for len(b) < size {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, words[g.r.IntN(len(words))]...)
	}
	b = b[:size]
	if b[0] >= 'a' && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	if b[size-1] == ' ' {
		b[size-1] = '.'
	}
	g.textBuf = b
	return string(b)
}

// writer appends one node's log.
type writer struct {
	id  string
	k   int // position in ring order: spreads the local records' times
	dir string
	g   *generator
	o   Options
	in  chan *batch

	records uint64
	bytes   int64
	recs    []eventlog.Event
}

// local is a local record of this node at wall time t.
func (w *writer) local(t int64, b eventlog.Body) eventlog.Event {
	return eventlog.Event{Header: eventlog.Header{Origin: w.id, Term: filledTerm, Time: t}, Body: b}
}

// skew is this node's delay behind the leader's clock for its own records.
func (w *writer) skew() int64 {
	return int64(w.k)*int64(700*time.Microsecond) + int64(2*time.Millisecond)
}

func (w *writer) run(ctx context.Context) error {
	// NoSync: one fsync at the end (Close), besides the one tidwall/wal
	// does of every segment it fills. It does not change what is on disk.
	l, err := eventlog.Open(w.dir, eventlog.Options{NoSync: true,
		Logf: func(string, ...any) {}})
	if err != nil {
		return err
	}
	err = w.write(ctx, l)
	if cerr := l.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	w.bytes, err = dirBytes(w.dir)
	return err
}

func (w *writer) write(ctx context.Context, l *eventlog.Log) error {
	g := w.g
	// The election of term 1 as each node's driver records it (ready.go:
	// ringRecords, then replicaRecords once the replica follows the ring),
	// then the leader's no-op, committed at once.
	t := g.elected + int64(w.k)*int64(1300*time.Microsecond)
	recs := []eventlog.Event{
		w.local(t, &eventlog.TermStarted{Term: filledTerm, Candidate: g.starter}),
		w.local(t, &eventlog.VoteCast{Term: filledTerm, Candidate: g.starter}),
		w.local(t+3000, &eventlog.TermStarted{Term: filledTerm}),
		w.local(t+int64(4*time.Millisecond), &eventlog.LeaderElected{Term: filledTerm, Leader: g.leader}),
		{Header: eventlog.Header{Term: filledTerm, Index: 1}, Body: &eventlog.NoOp{}},
		w.local(t+int64(7*time.Millisecond), &eventlog.CommittedUpTo{Index: 1}),
	}
	if err := w.append(ctx, l, recs, 1); err != nil {
		return err
	}
	for b := range w.in {
		recs = w.recs[:0]
		for j := range b.entries {
			ev := b.entries[j]
			recs = append(recs, ev)
			n := b.first + j + 1 // messages so far
			if n%commitEvery == 0 || n == w.o.Messages {
				recs = append(recs, w.local(ev.Time+w.skew(), &eventlog.CommittedUpTo{Index: ev.Index}))
			}
		}
		w.recs = recs
		if err := w.append(ctx, l, recs, int64(len(b.entries))); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (w *writer) append(ctx context.Context, l *eventlog.Log, recs []eventlog.Event, entries int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, _, err := l.Append(ctx, recs...); err != nil {
		return err
	}
	w.records += uint64(len(recs))
	if w.o.Progress != nil {
		w.o.Progress(entries)
	}
	return nil
}

// dirBytes sums the sizes of the files in dir.
func dirBytes(dir string) (int64, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, de := range des {
		if fi, err := de.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n, nil
}
