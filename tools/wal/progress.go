package walcmd

import (
	"encoding/binary"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressMin is the smallest log that gets a bar: smaller ones are read
// before anyone could look at it.
var progressMin int64 = 50_000

// progress is a bar on stderr while a scan runs, shown only when stderr is a
// terminal; otherwise every method does nothing.
type progress struct {
	bar   *progressbar.ProgressBar
	first uint64
}

// newProgress sizes the bar in records: segment names give every segment's
// count but the last, whose entries are counted by their length prefixes.
func newProgress(e *env, s *source, what string) *progress {
	if !e.tty || len(s.segments) == 0 {
		return &progress{}
	}
	total := s.estimateRecords()
	if total < progressMin {
		return &progress{} // over before anyone could read it
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(e.stderr),
		progressbar.OptionSetDescription(what+" "+s.dir),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("records"),
		progressbar.OptionShowIts(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetRenderBlankState(true),
	)
	return &progress{bar: bar, first: s.segments[0].first}
}

func (p *progress) set(seq uint64) {
	if p.bar != nil {
		_ = p.bar.Set64(int64(seq - p.first))
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
// checking them (the scan does that); 0 if it cannot be read.
func countEntries(path string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var n int64
	for off := 0; off < len(data); n++ {
		l, k := binary.Uvarint(data[off:])
		if k <= 0 || l == 0 || l > uint64(len(data)-off-k) {
			break
		}
		off += k + int(l)
	}
	return n
}
