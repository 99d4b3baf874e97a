package walcmd

import (
	"bufio"
	"encoding/binary"
	"os"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressMin is the smallest log that gets a bar: smaller ones are read
// before anyone could look at it.
var progressMin int64 = 50_000

// progress is a bar on stderr while scans run, shown only when stderr is a
// terminal; otherwise every method does nothing. Several scans may advance
// one bar (diff).
type progress struct {
	bar  *progressbar.ProgressBar
	read atomic.Int64 // records read so far
}

// newProgress sizes the bar in records (total is called only on a
// terminal: segment names give every segment's count but the last, whose
// entries are counted by their length prefixes).
func newProgress(e *env, total func() int64, description string) *progress {
	if !e.tty {
		return &progress{}
	}
	n := total()
	if n < progressMin {
		return &progress{} // over before anyone could read it
	}
	bar := progressbar.NewOptions64(n,
		progressbar.OptionSetWriter(e.stderr),
		progressbar.OptionSetDescription(description),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("records"),
		progressbar.OptionShowIts(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetRenderBlankState(true),
	)
	return &progress{bar: bar}
}

// add counts n more records read.
func (p *progress) add(n int64) {
	if p.bar != nil {
		_ = p.bar.Set64(p.read.Add(n))
	}
}

func (p *progress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// estimateRecords returns the number of records in the segment files, from
// their names and the length prefixes of the last one, without checking them.
func (s *source) estimateRecords() int64 {
	if s.records < 0 && len(s.segments) > 0 {
		last := s.segments[len(s.segments)-1]
		s.records = int64(last.first-s.segments[0].first) + countEntries(last.path)
	}
	return max(s.records, 0)
}

// countEntries counts the uvarint-prefixed entries of a segment file without
// checking them (the scan does that), skipping over their bytes; 0 if it
// cannot be read.
func countEntries(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	r := bufio.NewReader(f)
	var n int64
	for left := fi.Size(); left > 0; n++ {
		l, err := binary.ReadUvarint(r)
		k := int64(uvarintLen(l))
		if err != nil || l == 0 || k > left || l > uint64(left-k) {
			break
		}
		if _, err := r.Discard(int(l)); err != nil {
			break
		}
		left -= k + int64(l)
	}
	return n
}

func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}
