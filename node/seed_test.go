package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/config"
	"github.com/syncnet/syncnet/node/replica"
)

// A wiped node copies a follower's log and snapshot before it starts:
// it starts from that snapshot (which it could not have had otherwise),
// holds the same history, is promoted, then carries commits with the
// leader alone, and ends with the leader's applied-log hash.
func TestSeedEmptyNodeFromSnapshot(t *testing.T) {
	c := newTestClusterConf(t, 3, "[storage]\nsnapshot_every = 500\n", func(o *Options) { o.PostRate = -1 })
	lead := c.leader()
	const posts = 3000
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < posts; i += 16 {
				c.post(lead, fmt.Sprintf("u%d", w), fmt.Sprintf("m%d", i), fmt.Sprintf("id%d", i))
			}
		}()
	}
	wg.Wait()
	want := c.sameHistoryEverywhere(posts)
	var f, other string
	for id := range c.nodes {
		switch {
		case id == lead:
		case f == "":
			f = id
		default:
			other = id
		}
	}
	c.stop(f)
	if err := os.RemoveAll(c.cfg.NodeDir(f)); err != nil {
		t.Fatal(err)
	}
	c.start(f)
	n := c.nodes[f].n
	if n.recoveredFromSnapshot < 500 {
		t.Fatalf("the wiped node started from snapshot of entry %d: it did not seed", n.recoveredFromSnapshot)
	}
	if got := c.waitHistory(f, posts); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("seeded %s's history differs", f)
	}
	deadline := time.Now().Add(15 * time.Second)
	for n.learnerNow.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the seeded node was never promoted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.stop(other) // from now on every commit needs the seeded node
	last := c.post(lead, "u0", "after", "after")
	for n.Applied() < last || c.nodes[lead].n.Applied() < last {
		if time.Now().After(deadline) {
			t.Fatalf("entry %d not applied on %s and %s", last, f, lead)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ln := c.nodes[lead].n
	c.stop(f)
	c.stop(lead)
	if n.hash.index != ln.hash.index || n.hash.h != ln.hash.h {
		t.Fatalf("applied-log hash differs: %s at %d, leader %d", f, n.hash.index, ln.hash.index)
	}
}

// seedFrames is a scripted transfer.
type seedFrames struct {
	frames []seedFrame
}

type seedFrame struct {
	typ uint8
	p   []byte
}

func (s *seedFrames) Send(typ uint8, p []byte) error {
	s.frames = append(s.frames, seedFrame{typ, append([]byte(nil), p...)})
	return nil
}

func (s *seedFrames) Flush() error { return nil }

func (s *seedFrames) Recv() (uint8, []byte, error) {
	if len(s.frames) == 0 {
		return 0, nil, errors.New("connection closed")
	}
	f := s.frames[0]
	s.frames = s.frames[1:]
	return f.typ, f.p, nil
}

// seedScript makes a transfer of count entries without a snapshot, and
// returns its frames and the entries.
func seedScript(t *testing.T, count int) []seedFrame {
	t.Helper()
	return seedScriptText(t, count, func(i int) string { return fmt.Sprintf("m%d", i) })
}

// seedScriptText is seedScript with entry i's text made by text.
func seedScriptText(t *testing.T, count int, text func(i int) string) []seedFrame {
	t.Helper()
	var ents []replica.Entry
	for i := 1; i <= count; i++ {
		e := replica.Entry{Index: uint64(i), Term: 1}
		if i == 1 {
			e.Type = replica.EntryNoop
		} else {
			data, err := eventlog.AppendRecord(nil, eventlog.Hash{}, eventlog.Event{Header: eventlog.Header{Origin: "n1", Time: int64(i)},
				Body: &eventlog.MessagePosted{Room: "general", From: "alice", Text: text(i)}})
			if err != nil {
				t.Fatal(err)
			}
			e.Data = data
		}
		ents = append(ents, e)
	}
	o := seedOffer{commit: uint64(count)}
	frames := []seedFrame{{seedManifest, o.encode()}}
	for i := 0; i < count; i += 7 {
		frames = append(frames, seedFrame{seedEntries, appendSeedEntries(nil, ents[i:min(count, i+7)])})
	}
	return append(frames, seedFrame{seedEnd, binary.AppendUvarint(nil, uint64(count))})
}

func seedTarget(t *testing.T) (Options, string) {
	t.Helper()
	cfg, err := config.Parse("test.toml", fmt.Sprintf("[cluster]\nname = \"t\"\ndata_dir = %q\nsecret = \"test-secret-0123456789\"\n"+
		"[[node]]\nid = \"n1\"\nhost = \"127.0.0.1\"\nssh_port = 1\npeer_port = 2\nheartbeat_port = 3\nelection_port = 4\nring = 0\n"+
		"[[node]]\nid = \"n2\"\nhost = \"127.0.0.1\"\nssh_port = 5\npeer_port = 6\nheartbeat_port = 7\nelection_port = 8\nring = 1\n", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Config: cfg, ID: "n2", NoSync: true}
	o.Logger = slog.New(slog.NewTextHandler(&testLogWriter{t: t}, nil))
	return o, cfg.WALDir("n2")
}

// receiveScript runs a scripted transfer into a fresh node directory, and
// installs it if it was received whole.
func receiveScript(t *testing.T, frames []seedFrame) (string, error) {
	o, walDir := seedTarget(t)
	staging := filepath.Join(o.Config.NodeDir(o.ID), "seed.tmp")
	if err := os.MkdirAll(staging, 0o700); err != nil {
		t.Fatal(err)
	}
	in := &seedInstall{o: o, staging: staging, from: "n1"}
	err := in.receive(&seedFrames{frames: frames})
	if err == nil {
		err = in.install(walDir)
	}
	return walDir, err
}

func TestSeedInstallsWholeTransfer(t *testing.T) {
	walDir, err := receiveScript(t, seedScript(t, 40))
	if err != nil {
		t.Fatal(err)
	}
	l, err := eventlog.Open(walDir, eventlog.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.LastSeq() != 41 { // 40 entries and the commit record
		t.Fatalf("installed WAL holds %d records", l.LastSeq())
	}
	ev, err := l.Read(40)
	if err != nil || ev.Index != 40 || ev.Body.(*eventlog.MessagePosted).Text != "m40" {
		t.Fatalf("record 40: %+v %v", ev, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(walDir), learnerMarker)); err != nil {
		t.Fatalf("no learner marker after a seed: %v", err)
	}
}

// Every way a transfer can be wrong is refused, and nothing is installed.
func TestSeedRefusesBadTransfers(t *testing.T) {
	damaged := seedScript(t, 40)
	p := append([]byte(nil), damaged[2].p...)
	p[len(p)-10] ^= 0x40 // inside an entry's record: its CRC fails
	damaged[2].p = p

	short := seedScript(t, 40)
	short = append(short[:3], short[len(short)-1]) // entries missing before the end

	gap := seedScript(t, 40)
	gap = append(gap[:2], gap[3:]...)

	wrongHash := seedScript(t, 40)
	o := seedOffer{commit: 40, applied: 32, term: 1, stateLen: 3, hash: logHash{index: 32}}
	o.hash.h[0] = 1
	wrongHash[0].p = o.encode()
	wrongHash = append(wrongHash[:1], append([]seedFrame{{seedState, []byte("abc")}}, wrongHash[1:]...)...)

	refused := []seedFrame{{seedError, []byte("disk on fire")}}

	for name, frames := range map[string][]seedFrame{
		"damaged entry": damaged, "ends early": short, "gap": gap, "state not of the log": wrongHash, "peer refuses": refused,
	} {
		t.Run(name, func(t *testing.T) {
			walDir, err := receiveScript(t, frames)
			if err == nil {
				t.Fatal("accepted")
			}
			t.Log(err)
			if empty, _ := walIsEmpty(walDir); !empty {
				t.Fatal("a refused transfer left records in the WAL")
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(walDir), learnerMarker)); err == nil {
				t.Fatal("a refused transfer wrote the learner marker")
			}
		})
	}
}

// A crash after any step of an install leaves a node that either still has
// an empty WAL (it seeds again, and the second transfer installs whole) or
// holds the whole copy; always with the learner marker once anything of
// the copy is in place.
func TestSeedInstallCrashAtEveryStep(t *testing.T) {
	for _, step := range []string{"marker", "chunks", "emptied", "wal"} {
		t.Run(step, func(t *testing.T) {
			o, walDir := seedTarget(t)
			nodeDir := o.Config.NodeDir(o.ID)
			attempt := func(crashAt string) error {
				staging := filepath.Join(nodeDir, "seed.tmp")
				if err := os.RemoveAll(staging); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(staging, 0o700); err != nil {
					t.Fatal(err)
				}
				in := &seedInstall{o: o, staging: staging, from: "n1",
					crashAfter: func(s string) bool { return s == crashAt }}
				if err := in.receive(&seedFrames{frames: seedScript(t, 40)}); err != nil {
					t.Fatal(err)
				}
				return in.install(walDir)
			}
			if err := attempt(step); !errors.Is(err, errCrashed) {
				t.Fatalf("install did not stop after %s: %v", step, err)
			}
			if _, err := os.Stat(filepath.Join(nodeDir, learnerMarker)); err != nil {
				t.Fatalf("after a crash at %s: no learner marker: %v", step, err)
			}
			empty, err := walIsEmpty(walDir)
			if err != nil {
				t.Fatal(err)
			}
			if empty {
				// What the next start does: seed again.
				if err := attempt(""); err != nil {
					t.Fatalf("seeding again after a crash at %s: %v", step, err)
				}
			}
			l, err := eventlog.Open(walDir, eventlog.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if l.LastSeq() != 41 {
				t.Fatalf("after a crash at %s: the WAL holds %d records, want the 40 entries and the commit record", step, l.LastSeq())
			}
		})
	}
}

// scribbledFrames hands out each frame in one buffer that the next Recv
// overwrites, as a peer stream's RecvShared does: a receiver that kept a
// payload after the next Recv would install garbage.
type scribbledFrames struct {
	seedFrames
	buf []byte
}

func (s *scribbledFrames) Recv() (uint8, []byte, error) {
	for i := range s.buf {
		s.buf[i] = 0xA5
	}
	typ, p, err := s.seedFrames.Recv()
	if err != nil {
		return typ, p, err
	}
	if cap(s.buf) < len(p) {
		s.buf = make([]byte, len(p))
	}
	s.buf = append(s.buf[:0], p...)
	return typ, s.buf, nil
}

// The receiver copies what it keeps out of each frame (frames arrive in a
// reused buffer), through enough entries for several batches to be
// written and handed back for reuse: every record installed is the one
// sent.
func TestSeedReceiverKeepsNoFrame(t *testing.T) {
	const count = 3000
	text := func(i int) string { return fmt.Sprintf("m%d %s", i, strings.Repeat("x", 1000+i%700)) }
	o, walDir := seedTarget(t)
	staging := filepath.Join(o.Config.NodeDir(o.ID), "seed.tmp")
	if err := os.MkdirAll(staging, 0o700); err != nil {
		t.Fatal(err)
	}
	in := &seedInstall{o: o, staging: staging, from: "n1"}
	if err := in.receive(&scribbledFrames{seedFrames: seedFrames{frames: seedScriptText(t, count, text)}}); err != nil {
		t.Fatal(err)
	}
	if err := in.install(walDir); err != nil {
		t.Fatal(err)
	}
	l, err := eventlog.Open(walDir, eventlog.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := uint64(2); i <= count; i++ {
		ev, err := l.Read(i)
		if err != nil {
			t.Fatal(err)
		}
		if m, ok := ev.Body.(*eventlog.MessagePosted); !ok || ev.Index != i || m.Text != text(int(i)) {
			t.Fatalf("record %d holds %s", i, ev.Body.Describe())
		}
	}
}

// sendEntries cuts entries into frames of at most seedPart bytes (an entry
// larger than that alone), in order, none lost.
func TestSeedEntriesFrames(t *testing.T) {
	var ents []replica.Entry
	for i := 1; i <= 300; i++ {
		size := 100 + i*37%5000
		if i%50 == 0 {
			size = seedPart + i // larger than a frame
		}
		e := replica.Entry{Index: uint64(i), Term: uint64(1 + i/100), Data: bytes.Repeat([]byte{byte(i)}, size)}
		if i%9 == 0 {
			e.Type, e.Data = replica.EntryNoop, nil
		}
		ents = append(ents, e)
	}
	var sink seedFrames
	if _, err := sendEntries(&sink, ents, nil); err != nil {
		t.Fatal(err)
	}
	var got []replica.Entry
	for _, f := range sink.frames {
		n := 0
		err := decodeSeedEntries(f.p, func(e replica.Entry) error {
			n++
			got = append(got, e)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.p) > seedPart && n > 1 {
			t.Fatalf("a frame of %d entries holds %d bytes, more than %d", n, len(f.p), seedPart)
		}
	}
	if len(got) != len(ents) {
		t.Fatalf("%d entries sent in frames, %d received", len(ents), len(got))
	}
	for i, e := range got {
		w := ents[i]
		if e.Index != w.Index || e.Term != w.Term || e.Type != w.Type || !bytes.Equal(e.Data, w.Data) {
			t.Fatalf("entry %d: got index %d term %d type %d, %d bytes", w.Index, e.Index, e.Term, e.Type, len(e.Data))
		}
	}
	if len(sink.frames) < 10 {
		t.Fatalf("only %d frames for %d entries of up to 5 KB and six of a frame's size", len(sink.frames), len(ents))
	}
}

// A transfer read in many spans (buffers reused from one to the next)
// carries every committed entry exactly as the replica's reader reads it.
func TestSeedSendsEntriesInSpans(t *testing.T) {
	c := newTestClusterConf(t, 3, "", func(o *Options) { o.PostRate = -1 })
	lead := c.leader()
	const posts = 700
	for i := 0; i < posts; i++ {
		c.post(lead, fmt.Sprintf("u%d", i%5), fmt.Sprintf("m%d %s", i, strings.Repeat("y", i%300)), fmt.Sprintf("id%d", i))
	}
	c.sameHistoryEverywhere(posts)
	n := c.nodes[lead].n
	defer func(s uint64) { seedReadSpan = s }(seedReadSpan)
	seedReadSpan = 97
	o, _ := n.seedOfferNow()
	var sink seedFrames
	if err := n.sendSeed(&sink, o, nil); err != nil {
		t.Fatal(err)
	}
	var got []replica.Entry
	for _, f := range sink.frames {
		if f.typ == seedEntries {
			if err := decodeSeedEntries(f.p, func(e replica.Entry) error { got = append(got, e); return nil }); err != nil {
				t.Fatal(err)
			}
		}
	}
	want, err := n.reader.Entries(1, o.commit+1, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(got)) != o.commit || len(want) != len(got) {
		t.Fatalf("%d entries sent, %d read through Entries, %d committed", len(got), len(want), o.commit)
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Index != w.Index || g.Term != w.Term || g.Type != w.Type || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("entry %d sent differs from the one Entries reads (index %d term %d type %d)", w.Index, g.Index, g.Term, g.Type)
		}
	}
}

// The sender reads the entries up to its snapshot without checking their
// chain links (the receiver proves them by the applied-log hash), and the
// entries after it with their links checked. So a record of the serving
// node's WAL replaced on disk by a well-formed one (valid CRC, another
// text) is refused by the receiver if it lies at or below the snapshot,
// and by the sender itself after it; a record with a flipped byte is
// refused by the sender (its CRC) wherever it lies. Nothing is installed
// in any of these cases, and the untouched log installs whole.
func TestSeedSenderTrustsOnlyProvenEntries(t *testing.T) {
	c := newTestClusterConf(t, 3, "[storage]\nsnapshot_every = 300\n", func(o *Options) { o.PostRate = -1 })
	lead := c.leader()
	const posts = 700
	for i := 0; i < posts; i++ {
		c.post(lead, fmt.Sprintf("u%d", i%5), fmt.Sprintf("message %04d", i), fmt.Sprintf("id%d", i))
	}
	c.sameHistoryEverywhere(posts)
	n := c.nodes[lead].n
	deadline := time.Now().Add(10 * time.Second)
	for n.snaps.status().applied < 300 {
		if time.Now().After(deadline) {
			t.Fatal("no snapshot written")
		}
		time.Sleep(10 * time.Millisecond)
	}
	defer func(s uint64) { seedReadSpan = s }(seedReadSpan)
	seedReadSpan = 97 // spans that end at and cross the snapshot's entry
	o, state, err := n.seedSnapshot()
	if err != nil || o.applied == 0 || o.applied >= o.commit {
		t.Fatalf("offer %+v: %v", o, err)
	}
	transfer := func() ([]seedFrame, error) {
		var sink seedFrames
		err := n.sendSeed(&sink, o, state)
		return sink.frames, err
	}
	frames, err := transfer()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := receiveScript(t, frames); err != nil {
		t.Fatalf("the untouched log: %v", err)
	}

	// rewrite changes the stored record of entry index in place (the
	// same length) and returns a function that puts it back.
	rewrite := func(index uint64, change func(rec []byte)) func() {
		t.Helper()
		lo, hi, err := n.reader.idx.Span(index, index)
		if err != nil {
			t.Fatal(err)
		}
		var seq uint64
		if err := n.reader.wal.ReadRecords(lo, hi, func(s uint64, rec []byte) error {
			if _, i, _, _, err := eventlog.ToEntryForm(nil, rec); err == nil && i == index {
				seq = s
			}
			return nil
		}); err != nil || seq == 0 {
			t.Fatalf("entry %d in WAL records %d..%d: %v", index, lo, hi, err)
		}
		dir := c.cfg.WALDir(lead)
		names, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var path string
		var first uint64
		for _, e := range names {
			var f uint64
			if _, err := fmt.Sscanf(e.Name(), "%d", &f); err == nil && len(e.Name()) == 20 && f <= seq && f >= first {
				path, first = filepath.Join(dir, e.Name()), f
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		off := 0
		for s := first; s < seq; s++ {
			size, k := binary.Uvarint(data[off:])
			off += k + int(size)
		}
		size, k := binary.Uvarint(data[off:])
		off += k
		rec := data[off : off+int(size)]
		orig := append([]byte(nil), rec...)
		change(rec)
		// Written in place: the node may append to the same file.
		put := func(b []byte) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err == nil {
				_, err = f.WriteAt(b, int64(off))
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		put(rec)
		return func() { put(orig) }
	}
	// forged: the record sealed again with one letter of its text
	// changed (a valid CRC, the same length and chain position).
	forged := func(rec []byte) {
		r, err := eventlog.DecodeRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		m := r.Event.Body.(*eventlog.MessagePosted)
		m.Text = strings.Replace(m.Text, "message", "messagE", 1)
		b, err := eventlog.AppendRecord(nil, r.Prev, r.Event)
		if err != nil || len(b) != len(rec) {
			t.Fatalf("forged record of %d bytes for %d: %v", len(b), len(rec), err)
		}
		copy(rec, b)
	}
	flipped := func(rec []byte) { rec[len(rec)-10] ^= 0x20 }
	posted := func(index uint64) bool { // a post (not a no-op or a session record)
		ents, err := n.reader.entryRecords(index, index)
		if err != nil {
			t.Fatal(err)
		}
		if ents[0].Type != replica.EntryNormal {
			return false
		}
		ev, err := eventlog.EntryEvent(ents[0].Data, index, ents[0].Term)
		return err == nil && ev.Kind() == eventlog.KindMessagePosted
	}
	pick := func(from, to uint64) uint64 {
		for i := from; i <= to; i++ {
			if posted(i) {
				return i
			}
		}
		t.Fatalf("no post among entries %d..%d", from, to)
		return 0
	}
	below, above := pick(o.applied/2, o.applied), pick(o.applied+1, o.commit)
	for _, tc := range []struct {
		name       string
		index      uint64
		change     func([]byte)
		senderSays string // "": the sender sends it all and the receiver refuses
	}{
		{"forged below the snapshot", below, forged, ""},
		{"flipped below the snapshot", below, flipped, "checksum"},
		{"forged after the snapshot", above, forged, "chain"},
		{"flipped after the snapshot", above, flipped, "checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restore := rewrite(tc.index, tc.change)
			defer restore()
			frames, err := transfer()
			if tc.senderSays != "" {
				if err == nil || !strings.Contains(err.Error(), tc.senderSays) {
					t.Fatalf("the sender sent entry %d (%s): %v", tc.index, tc.name, err)
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatalf("the sender refused entry %d, which the receiver proves: %v", tc.index, err)
			}
			walDir, err := receiveScript(t, frames)
			if err == nil || !strings.Contains(err.Error(), "applied-log hash") {
				t.Fatalf("the receiver took a forged entry %d: %v", tc.index, err)
			}
			t.Log(err)
			if empty, _ := walIsEmpty(walDir); !empty {
				t.Fatal("a refused transfer left records in the WAL")
			}
		})
	}
}

// A paced copy sends rate bytes a second on average, frames in order and
// whole; a stall (the receiver stopped) earns no burst after it.
func TestSeedPacedSink(t *testing.T) {
	var sink seedFrames
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var slept time.Duration
	p := newPacedSink(&sink, 1<<20, func() time.Time { return clock }, func(d time.Duration) {
		slept += d
		clock = clock.Add(d)
	})
	frame := make([]byte, 256<<10)
	for i := range 8 {
		frame[0] = byte(i)
		if err := p.Send(seedEntries, frame); err != nil {
			t.Fatal(err)
		}
	}
	// 2 MiB at 1 MiB/s: the first frame goes at once, the other seven
	// each wait their quarter second.
	if want := 7 * 250 * time.Millisecond; slept != want {
		t.Fatalf("8 frames of 256 KiB at 1 MiB/s waited %s, want %s", slept, want)
	}
	if len(sink.frames) != 8 || sink.frames[7].p[0] != 7 || len(sink.frames[7].p) != len(frame) {
		t.Fatalf("frames sent: %d, the last %d bytes", len(sink.frames), len(sink.frames[len(sink.frames)-1].p))
	}
	// The receiver was stopped for ten seconds: the next frames go at the
	// rate again, not in a burst that makes up for the stall.
	clock = clock.Add(10 * time.Second)
	slept = 0
	for range 4 {
		if err := p.Send(seedEntries, frame); err != nil {
			t.Fatal(err)
		}
	}
	if want := 3 * 250 * time.Millisecond; slept != want {
		t.Fatalf("after a stall, 4 frames waited %s, want %s", slept, want)
	}
}
