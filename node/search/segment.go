package search

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
)

// A segment is the documents of a run of consecutive log entries, in five
// files named after it, written once and never changed:
//
//	NAME.docs   16 bytes a document (docRec), in ordinal order
//	NAME.post   per term, in hash order: its skip table (last ordinal,
//	            end offset: uint32 each, per block), then its postings
//	NAME.terms  24 bytes a term, in hash order: hash u64, offset of its
//	            skip table in .post u64, postings u32, blocks u32
//	NAME.words  the text of every token term, sorted: uvarint length, bytes
//	NAME.meta   JSON: the entries covered, counts, times, the conversations
//	            (a document's conv indexes them) and the CRC-32C of each file
//
// All little-endian. Opening a segment checks every file's size and CRC, so
// a damaged segment is found at start and rebuilt, never read.

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// segMeta is a segment's NAME.meta.
type segMeta struct {
	First   uint64 `json:"first"` // entries covered, inclusive
	Last    uint64 `json:"last"`
	Docs    uint32 `json:"docs"`
	Terms   uint64 `json:"terms"`
	Words   uint64 `json:"words"`
	MinTime uint32 `json:"min_time"`
	MaxTime uint32 `json:"max_time"`
	// PairsFrom: from this document on, every two pair words in a row
	// (the index's PairWords) are filed as their pair term; Docs: none.
	PairsFrom uint32            `json:"pairs_from"`
	Convs     []string          `json:"convs"`
	Files     map[string]fileID `json:"files"`
}

type fileID struct {
	Size int64  `json:"size"`
	CRC  uint32 `json:"crc32c"`
}

var segFiles = []string{"docs", "post", "terms", "words"}

const (
	readAhead   = 32 << 10
	termRecSize = 24
	termSample  = 64 // every 64th term's hash is kept in memory
	wordSample  = 64
)

// fileWriter writes one file of a segment through a buffer, counting its
// size and CRC.
type fileWriter struct {
	f   *os.File
	w   *bufio.Writer
	crc hash.Hash32
	n   int64
}

func createFile(path string) (*fileWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return &fileWriter{f: f, w: bufio.NewWriterSize(f, 256<<10), crc: crc32.New(crcTable)}, nil
}

func (w *fileWriter) Write(p []byte) (int, error) {
	w.crc.Write(p)
	w.n += int64(len(p))
	return w.w.Write(p)
}

func (w *fileWriter) close(sync bool) (fileID, error) {
	err := w.w.Flush()
	if err == nil && sync {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return fileID{Size: w.n, CRC: w.crc.Sum32()}, err
}

// segWriter writes a new segment's files.
type segWriter struct {
	dir, name string
	files     map[string]*fileWriter
	meta      segMeta
	sync      bool
	buf       []byte
	lastWord  string
}

func newSegWriter(dir, name string, sync bool) (*segWriter, error) {
	w := &segWriter{dir: dir, name: name, files: map[string]*fileWriter{}, sync: sync}
	for _, f := range segFiles {
		fw, err := createFile(filepath.Join(dir, name+"."+f))
		if err != nil {
			w.abort()
			return nil, err
		}
		w.files[f] = fw
	}
	return w, nil
}

func (w *segWriter) abort() {
	for _, f := range w.files {
		f.f.Close()
	}
	removeSegment(w.dir, w.name)
}

func removeSegment(dir, name string) {
	for _, f := range append(segFiles, "meta") {
		os.Remove(filepath.Join(dir, name+"."+f))
	}
}

func (w *segWriter) doc(d docRec) error {
	var b [docRecSize]byte
	binary.LittleEndian.PutUint64(b[0:], d.msg)
	binary.LittleEndian.PutUint32(b[8:], d.conv)
	binary.LittleEndian.PutUint32(b[12:], d.time)
	w.meta.Docs++
	_, err := w.files["docs"].Write(b[:])
	return err
}

// term writes one term: its skip table and stream, and its entry.
func (w *segWriter) term(h uint64, count uint32, skips []uint32, stream []byte) error {
	post := w.files["post"]
	off := post.n
	w.buf = w.buf[:0]
	for _, v := range skips {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, v)
	}
	if _, err := post.Write(w.buf); err != nil {
		return err
	}
	if _, err := post.Write(stream); err != nil {
		return err
	}
	var b [termRecSize]byte
	binary.LittleEndian.PutUint64(b[0:], h)
	binary.LittleEndian.PutUint64(b[8:], uint64(off))
	binary.LittleEndian.PutUint32(b[16:], count)
	binary.LittleEndian.PutUint32(b[20:], uint32(len(skips)/2))
	w.meta.Terms++
	_, err := w.files["terms"].Write(b[:])
	return err
}

// word writes the next word; words come sorted, each once.
func (w *segWriter) word(s string) error {
	w.buf = binary.AppendUvarint(w.buf[:0], uint64(len(s)))
	w.buf = append(w.buf, s...)
	w.meta.Words++
	w.lastWord = s
	_, err := w.files["words"].Write(w.buf)
	return err
}

// finish closes the files and writes the meta file last: a segment
// without its meta was never finished.
func (w *segWriter) finish() error {
	w.meta.Files = map[string]fileID{}
	var err error
	for _, f := range segFiles {
		id, cerr := w.files[f].close(w.sync)
		if err == nil {
			err = cerr
		}
		w.meta.Files[f] = id
	}
	if err != nil {
		removeSegment(w.dir, w.name)
		return err
	}
	data, _ := json.Marshal(w.meta)
	if err := writeFileSync(filepath.Join(w.dir, w.name+".meta"), data, w.sync); err != nil {
		removeSegment(w.dir, w.name)
		return err
	}
	return nil
}

func writeFileSync(path string, data []byte, sync bool) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeMem writes a memory segment as segment name.
func writeMem(dir, name string, m *memSegment, sync bool) (err error) {
	w, err := newSegWriter(dir, name, sync)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			w.abort()
		}
	}()
	w.meta.First, w.meta.Last = m.first, m.last
	w.meta.MinTime, w.meta.MaxTime = m.minTime, m.maxTime
	w.meta.PairsFrom = m.pairsComplete()
	w.meta.Convs = m.convs
	for _, d := range m.docs {
		if err := w.doc(d); err != nil {
			return err
		}
	}
	type hk struct {
		h uint64
		k uint32
	}
	hs := make([]hk, 0, len(m.terms))
	for h, k := range m.terms {
		hs = append(hs, hk{h, k})
	}
	slices.SortFunc(hs, func(a, b hk) int { return cmp.Compare(a.h, b.h) })
	var skips []uint32
	var data []byte
	recs, start := m.sortPairLog()
	for _, t := range hs {
		e := &m.encs[t.k]
		n := e.n
		if e.deferKey != 0 { // a pair whose postings wait in the log
			key := e.deferKey - 1
			n, skips, data = encodePair(recs[start[key]:start[key+1]], skips[:0], data[:0])
			if n == 0 {
				continue
			}
		} else {
			skips = m.table(skips[:0], e)
			data = m.post.appendTo(data[:0], &e.stream)
		}
		if err := w.term(t.h, n, skips, data); err != nil {
			return err
		}
	}
	ws := make([]string, 0, m.words)
	for i := range m.encs {
		if e := &m.encs[i]; e.wordLen > 0 {
			ws = append(ws, m.wordOf(e))
		}
	}
	slices.Sort(ws)
	for _, s := range ws {
		if err := w.word(s); err != nil {
			return err
		}
	}
	return w.finish()
}

// segment is an open, immutable segment. Readers hold a reference while
// they use it (acquire/release); a merged-away segment's files are closed
// and removed once the last reader lets go.
type segment struct {
	dir, name string
	meta      segMeta
	files     map[string]*os.File
	samples   []uint64 // hash of terms 0, 64, 128, ...
	words     []string // words 0, 64, 128, ...
	wordOffs  []int64  // where each sampled word starts in .words
	refs      atomic.Int32
	obsolete  atomic.Bool
}

// errDamaged marks a segment that cannot be used: the index drops it and
// everything after it, and indexes those entries again.
var errDamaged = errors.New("damaged")

// openSegment opens segment name and checks every file against its meta.
func openSegment(dir, name string) (*segment, error) {
	data, err := os.ReadFile(filepath.Join(dir, name+".meta"))
	if err != nil {
		return nil, fmt.Errorf("segment %s: %w: %v", name, errDamaged, err)
	}
	s := &segment{dir: dir, name: name, files: map[string]*os.File{}}
	s.refs.Store(1)
	if err := json.Unmarshal(data, &s.meta); err != nil {
		return nil, fmt.Errorf("segment %s: %w: meta: %v", name, errDamaged, err)
	}
	for _, f := range segFiles {
		fh, err := os.Open(filepath.Join(dir, name+"."+f))
		if err != nil {
			s.close()
			return nil, fmt.Errorf("segment %s: %w: %v", name, errDamaged, err)
		}
		s.files[f] = fh
		if err := s.check(f); err != nil {
			s.close()
			return nil, fmt.Errorf("segment %s.%s: %w: %v", name, f, errDamaged, err)
		}
	}
	if s.meta.Files["docs"].Size != int64(s.meta.Docs)*docRecSize ||
		s.meta.Files["terms"].Size != int64(s.meta.Terms)*termRecSize {
		s.close()
		return nil, fmt.Errorf("segment %s: %w: sizes disagree with the counts", name, errDamaged)
	}
	return s, nil
}

// check reads file f whole: its size and CRC must be the meta's. On the
// way it samples the term hashes and the words.
func (s *segment) check(f string) error {
	want, ok := s.meta.Files[f]
	if !ok {
		return errors.New("not in the meta file")
	}
	// 64 KiB: a segment is opened after every flush, and four buffers of
	// 1 MiB were a third of what indexing 65,536 texts allocated.
	r := bufio.NewReaderSize(s.files[f], 64<<10)
	crc := crc32.New(crcTable)
	var n int64
	switch f {
	case "terms":
		var b [termRecSize]byte
		for i := 0; ; i++ {
			if _, err := io.ReadFull(r, b[:]); err != nil {
				if err == io.EOF {
					break
				}
				return err
			}
			crc.Write(b[:])
			n += termRecSize
			if i%termSample == 0 {
				s.samples = append(s.samples, binary.LittleEndian.Uint64(b[:]))
			}
		}
	case "words":
		var prev string
		for i := 0; ; i++ {
			l, err := binary.ReadUvarint(r)
			if err == io.EOF {
				break
			}
			if err != nil || l > 1<<16 {
				return fmt.Errorf("bad word length at byte %d", n)
			}
			w := make([]byte, l)
			if _, err := io.ReadFull(r, w); err != nil {
				return err
			}
			var lb [binary.MaxVarintLen64]byte
			crc.Write(lb[:binary.PutUvarint(lb[:], l)])
			crc.Write(w)
			if i > 0 && string(w) <= prev {
				return fmt.Errorf("words out of order at byte %d", n)
			}
			if i%wordSample == 0 {
				s.words = append(s.words, string(w))
				s.wordOffs = append(s.wordOffs, n)
			}
			prev = string(w)
			n += int64(binary.PutUvarint(lb[:], l)) + int64(l)
		}
	default:
		c, err := io.Copy(crc, r)
		if err != nil {
			return err
		}
		n = c
	}
	if n != want.Size || crc.Sum32() != want.CRC {
		return fmt.Errorf("size %d crc %08x, want size %d crc %08x", n, crc.Sum32(), want.Size, want.CRC)
	}
	return nil
}

func (s *segment) close() {
	for _, f := range s.files {
		f.Close()
	}
}

func (s *segment) acquire() { s.refs.Add(1) }

func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		s.close()
		if s.obsolete.Load() {
			removeSegment(s.dir, s.name)
		}
	}
}

func (s *segment) readAt(f string, off int64, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := s.files[f].ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("segment %s.%s at %d: %w", s.name, f, off, err)
	}
	return b, nil
}

type termInfo struct {
	off    int64
	count  uint32
	blocks uint32
}

// lookup finds term h.
func (s *segment) lookup(h uint64) (termInfo, bool, error) {
	i := sort.Search(len(s.samples), func(i int) bool { return s.samples[i] > h }) - 1
	if i < 0 {
		return termInfo{}, false, nil
	}
	from := int64(i) * termSample
	n := min(int64(termSample), int64(s.meta.Terms)-from)
	b, err := s.readAt("terms", from*termRecSize, int(n)*termRecSize)
	if err != nil {
		return termInfo{}, false, err
	}
	j := sort.Search(int(n), func(j int) bool { return binary.LittleEndian.Uint64(b[j*termRecSize:]) >= h })
	if j == int(n) || binary.LittleEndian.Uint64(b[j*termRecSize:]) != h {
		return termInfo{}, false, nil
	}
	r := b[j*termRecSize:]
	return termInfo{off: int64(binary.LittleEndian.Uint64(r[8:])), count: binary.LittleEndian.Uint32(r[16:]),
		blocks: binary.LittleEndian.Uint32(r[20:])}, true, nil
}

// list returns term h's posting list, or nil.
func (s *segment) list(h uint64) (*postingList, error) {
	ti, ok, err := s.lookup(h)
	if !ok || err != nil {
		return nil, err
	}
	return s.listAt(ti)
}

func (s *segment) listAt(ti termInfo) (*postingList, error) {
	b, err := s.readAt("post", ti.off, int(ti.blocks)*8)
	if err != nil {
		return nil, err
	}
	skips := make([]uint32, 2*ti.blocks)
	for i := range skips {
		skips[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	base := ti.off + int64(ti.blocks)*8
	// Searches walk a list from its end down: each read takes the 32 KiB
	// before the block asked for as well, so a dense list costs a read per
	// few dozen blocks, not one per block.
	var win []byte
	var winFrom uint32
	return newPostingList(ti.count, skips, func(from, to uint32) ([]byte, error) {
		if to < from || base+int64(to) > s.meta.Files["post"].Size {
			return nil, fmt.Errorf("segment %s: posting block %d..%d out of range", s.name, from, to)
		}
		if from >= winFrom && to <= winFrom+uint32(len(win)) && win != nil {
			return win[from-winFrom : to-winFrom], nil
		}
		start := from
		if to-from < readAhead {
			start = to - min(to, readAhead)
		}
		b, err := s.readAt("post", base+int64(start), int(to-start))
		if err != nil {
			return nil, err
		}
		win, winFrom = b, start
		return b[from-start:], nil
	}), nil
}

// docRange returns documents from..to-1.
func (s *segment) docRange(from, to uint32) ([]docRec, error) {
	if to > s.meta.Docs || from > to {
		return nil, fmt.Errorf("segment %s: documents %d..%d of %d", s.name, from, to, s.meta.Docs)
	}
	b, err := s.readAt("docs", int64(from)*docRecSize, int(to-from)*docRecSize)
	if err != nil {
		return nil, err
	}
	out := make([]docRec, to-from)
	for i := range out {
		r := b[i*docRecSize:]
		out[i] = docRec{msg: binary.LittleEndian.Uint64(r), conv: binary.LittleEndian.Uint32(r[8:]), time: binary.LittleEndian.Uint32(r[12:])}
		if int(out[i].conv) >= len(s.meta.Convs) {
			return nil, fmt.Errorf("segment %s: document %d names conversation %d of %d", s.name, from+uint32(i), out[i].conv, len(s.meta.Convs))
		}
	}
	return out, nil
}

// prefixTerms returns the hashes of the words that start with p, at most
// limit+1 of them.
func (s *segment) prefixTerms(p string, limit int) ([]uint64, error) {
	i := sort.Search(len(s.words), func(i int) bool { return s.words[i] >= p }) - 1
	if i < 0 {
		i = 0
	}
	if len(s.words) == 0 {
		return nil, nil
	}
	sr := io.NewSectionReader(s.files["words"], s.wordOffs[i], s.meta.Files["words"].Size-s.wordOffs[i])
	r := bufio.NewReaderSize(sr, 16<<10)
	var out []uint64
	var w []byte
	for len(out) <= limit {
		l, err := binary.ReadUvarint(r)
		if err == io.EOF {
			break
		}
		if err != nil || l > 1<<16 {
			return nil, fmt.Errorf("segment %s: bad word list", s.name)
		}
		w = slices.Grow(w[:0], int(l))[:l]
		if _, err := io.ReadFull(r, w); err != nil {
			return nil, fmt.Errorf("segment %s: %w", s.name, err)
		}
		if bytes.HasPrefix(w, []byte(p)) {
			out = append(out, termHash(string(w)))
		} else if string(w) > p {
			break
		}
	}
	return out, nil
}

// mergeSegments writes the documents of segs (consecutive, oldest first)
// as one new segment name.
// errMergeStopped is mergeSegments' answer once stop is set: the new
// segment is abandoned and the merged ones stay.
var errMergeStopped = errors.New("search index: merge stopped")

func mergeSegments(dir, name string, segs []*segment, sync bool, stop *atomic.Bool) (err error) {
	w, err := newSegWriter(dir, name, sync)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			w.abort()
		}
	}()
	w.meta.First, w.meta.Last = segs[0].meta.First, segs[len(segs)-1].meta.Last
	w.meta.MinTime = segs[0].meta.MinTime
	convID := map[string]uint32{}
	bases := make([]uint32, len(segs))
	for k, s := range segs {
		bases[k] = w.meta.Docs
		if s.meta.PairsFrom > 0 { // pairs are complete only after every part's gap
			w.meta.PairsFrom = w.meta.Docs + s.meta.PairsFrom
		}
		w.meta.MinTime = min(w.meta.MinTime, s.meta.MinTime)
		w.meta.MaxTime = max(w.meta.MaxTime, s.meta.MaxTime)
		remap := make([]uint32, len(s.meta.Convs))
		for i, c := range s.meta.Convs {
			id, ok := convID[c]
			if !ok {
				id = uint32(len(w.meta.Convs))
				w.meta.Convs = append(w.meta.Convs, c)
				convID[c] = id
			}
			remap[i] = id
		}
		r := bufio.NewReaderSize(io.NewSectionReader(s.files["docs"], 0, s.meta.Files["docs"].Size), 1<<20)
		var b [docRecSize]byte
		for i := uint32(0); i < s.meta.Docs; i++ {
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return fmt.Errorf("segment %s: docs: %w", s.name, err)
			}
			c := binary.LittleEndian.Uint32(b[8:])
			if int(c) >= len(remap) {
				return fmt.Errorf("segment %s: document %d names conversation %d", s.name, i, c)
			}
			binary.LittleEndian.PutUint32(b[8:], remap[c])
			if i%4096 == 0 && stop.Load() {
				return errMergeStopped
			}
			w.meta.Docs++
			if _, err := w.files["docs"].Write(b[:]); err != nil {
				return err
			}
		}
	}
	if err := mergeTerms(w, segs, bases, stop); err != nil {
		return err
	}
	if err := mergeWords(w, segs); err != nil {
		return err
	}
	return w.finish()
}

type termCursor struct {
	r   *bufio.Reader
	cur termInfo
	h   uint64
	ok  bool
}

func (c *termCursor) next() error {
	var b [termRecSize]byte
	if _, err := io.ReadFull(c.r, b[:]); err != nil {
		if err == io.EOF {
			c.ok = false
			return nil
		}
		return err
	}
	c.h = binary.LittleEndian.Uint64(b[:])
	c.cur = termInfo{off: int64(binary.LittleEndian.Uint64(b[8:])), count: binary.LittleEndian.Uint32(b[16:]),
		blocks: binary.LittleEndian.Uint32(b[20:])}
	c.ok = true
	return nil
}

func mergeTerms(w *segWriter, segs []*segment, bases []uint32, stop *atomic.Bool) error {
	cs := make([]*termCursor, len(segs))
	// Each segment's postings are stored term after term in hash order,
	// the order the merge takes them in: read them as one stream.
	posts := make([]*bufio.Reader, len(segs))
	postAt := make([]int64, len(segs))
	for k, s := range segs {
		cs[k] = &termCursor{r: bufio.NewReaderSize(io.NewSectionReader(s.files["terms"], 0, s.meta.Files["terms"].Size), 256<<10)}
		if err := cs[k].next(); err != nil {
			return err
		}
		posts[k] = bufio.NewReaderSize(io.NewSectionReader(s.files["post"], 0, s.meta.Files["post"].Size), 1<<20)
	}
	read := func(k int, off int64, buf []byte) ([]byte, error) {
		if off != postAt[k] {
			return nil, fmt.Errorf("segment %s: postings at %d, expected at %d", segs[k].name, off, postAt[k])
		}
		if _, err := io.ReadFull(posts[k], buf); err != nil {
			return nil, fmt.Errorf("segment %s: postings at %d: %w", segs[k].name, off, err)
		}
		postAt[k] += int64(len(buf))
		return buf, nil
	}
	var skips []uint32
	var stream, raw, data []byte
	for n := 0; ; n++ {
		if n%1024 == 0 && stop.Load() {
			return errMergeStopped
		}
		var h uint64
		found := false
		for _, c := range cs {
			if c.ok && (!found || c.h < h) {
				h, found = c.h, true
			}
		}
		if !found {
			return nil
		}
		skips, stream = skips[:0], stream[:0]
		var count, last uint32
		for k, c := range cs {
			if !c.ok || c.h != h {
				continue
			}
			s := segs[k]
			var err error
			if raw, err = read(k, c.cur.off, slices.Grow(raw[:0], int(c.cur.blocks)*8)[:int(c.cur.blocks)*8]); err != nil {
				return err
			}
			if len(raw) == 0 {
				return fmt.Errorf("segment %s: term %016x has no blocks", s.name, h)
			}
			end := int(binary.LittleEndian.Uint32(raw[len(raw)-4:]))
			if data, err = read(k, c.cur.off+int64(len(raw)), slices.Grow(data[:0], end)[:end]); err != nil {
				return err
			}
			first, n := binary.Uvarint(data)
			if n <= 0 {
				return fmt.Errorf("segment %s: bad postings of term %016x", s.name, h)
			}
			ord := uint32(first) + bases[k]
			var head [binary.MaxVarintLen64]byte
			hn := binary.PutUvarint(head[:], uint64(ord-last))
			shift := int64(len(stream)) + int64(hn-n)
			stream = append(stream, head[:hn]...)
			stream = append(stream, data[n:]...)
			for b := 0; b < len(raw)/8; b++ {
				lo := binary.LittleEndian.Uint32(raw[8*b:]) + bases[k]
				eo := int64(binary.LittleEndian.Uint32(raw[8*b+4:])) + shift
				skips = append(skips, lo, uint32(eo))
				last = lo
			}
			count += c.cur.count
			if err := c.next(); err != nil {
				return err
			}
		}
		if int64(len(stream)) > 1<<32-1 {
			return fmt.Errorf("term %016x: postings over 4 GiB", h)
		}
		if err := w.term(h, count, skips, stream); err != nil {
			return err
		}
	}
}

func mergeWords(w *segWriter, segs []*segment) error {
	type cursor struct {
		r   *bufio.Reader
		cur string
		ok  bool
	}
	next := func(c *cursor) error {
		l, err := binary.ReadUvarint(c.r)
		if err == io.EOF {
			c.ok = false
			return nil
		}
		if err != nil || l > 1<<16 {
			return errors.New("bad word list")
		}
		b := make([]byte, l)
		if _, err := io.ReadFull(c.r, b); err != nil {
			return err
		}
		c.cur, c.ok = string(b), true
		return nil
	}
	cs := make([]*cursor, len(segs))
	for k, s := range segs {
		cs[k] = &cursor{r: bufio.NewReaderSize(io.NewSectionReader(s.files["words"], 0, s.meta.Files["words"].Size), 256<<10)}
		if err := next(cs[k]); err != nil {
			return fmt.Errorf("segment %s: %w", s.name, err)
		}
	}
	for {
		var min string
		found := false
		for _, c := range cs {
			if c.ok && (!found || strings.Compare(c.cur, min) < 0) {
				min, found = c.cur, true
			}
		}
		if !found {
			return nil
		}
		if err := w.word(min); err != nil {
			return err
		}
		for _, c := range cs {
			if c.ok && c.cur == min {
				if err := next(c); err != nil {
					return err
				}
			}
		}
	}
}
