package fill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncnet/syncnet/eventlog"
	"github.com/syncnet/syncnet/node/config"
	"github.com/syncnet/syncnet/node/state"
	walcmd "github.com/syncnet/syncnet/tools/wal"
)

// testMessages is N in these tests: small, the machine is shared.
const testMessages = 5000

// testEnd is the wall time of the last message, fixed so runs compare.
var testEnd = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// testConfig returns a config of size nodes whose data_dir is dataDir; the
// ports are the given ones, or made up when ports is nil (nothing binds).
func testConfig(t testing.TB, dataDir string, size int, ports [][4]int) *config.Config {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "[cluster]\nname = \"test\"\ndata_dir = %q\nsecret = \"test-secret-0123456789\"\n", dataDir)
	b.WriteString("[timing]\nheartbeat_interval = \"50ms\"\nfailure_timeout = \"250ms\"\nelection_timeout = \"150ms\"\npost_timeout = \"10s\"\n")
	for i := 0; i < size; i++ {
		ps := [4]int{12000 + i, 13000 + i, 14000 + i, 15000 + i}
		if ports != nil {
			ps = ports[i]
		}
		fmt.Fprintf(&b, "[[node]]\nid = \"n%d\"\nhost = \"127.0.0.1\"\nssh_port = %d\npeer_port = %d\nheartbeat_port = %d\nelection_port = %d\nring = %d\n",
			i+1, ps[0], ps[1], ps[2], ps[3], i)
	}
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "test.toml"), b.String())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func testOptions() Options {
	return Options{Messages: testMessages, Rooms: 40, Users: 30, Seed: 7, End: testEnd}
}

// walLog reads a node's WAL back the way a node recovering does: Open
// (every record verified, I8), then the fold into the replicated log.
func walLog(t *testing.T, dir string) (state.ReplicatedLog, []eventlog.Event) {
	t.Helper()
	l, err := eventlog.Open(dir, eventlog.Options{NoSync: true, Logf: t.Logf})
	if err != nil {
		t.Fatalf("eventlog.Open %s: %v", dir, err)
	}
	defer l.Close()
	var rl state.ReplicatedLog
	var local []eventlog.Event
	err = l.Iter(0, func(seq uint64, ev eventlog.Event) error {
		if ev.Index == 0 {
			local = append(local, ev)
		}
		return rl.Add(seq, ev)
	})
	if err != nil {
		t.Fatalf("fold %s: %v", dir, err)
	}
	return rl, local
}

// TestFilledLogs: every node's directory opens with eventlog.Open, holds
// N+1 entries all committed (a no-op at 1, then the messages stamped as a
// leader stamps them), the election of term 1, and the same entries as
// every other node; `wal verify` and `wal diff` pass.
func TestFilledLogs(t *testing.T) {
	cfg := testConfig(t, filepath.Join(t.TempDir(), "data"), 3, nil)
	var progressed atomic.Int64
	o := testOptions()
	o.Progress = func(n int64) { progressed.Add(n) } // from every node's writer
	res, err := Fill(context.Background(), cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	if got := progressed.Load(); got != 3*(testMessages+1) {
		t.Errorf("progress counted %d entries, want %d", got, 3*(testMessages+1))
	}
	if res.LastIndex != testMessages+1 || res.Leader != "n3" || len(res.Nodes) != 3 {
		t.Fatalf("result %+v", res)
	}
	var first []state.Entry
	for _, id := range res.Nodes {
		rl, local := walLog(t, cfg.WALDir(id))
		if got := rl.LastIndex(); got != testMessages+1 {
			t.Fatalf("%s: last index %d, want %d", id, got, testMessages+1)
		}
		if rl.Commit != testMessages+1 || rl.MaxTerm != 1 || rl.Discarded != 0 {
			t.Fatalf("%s: commit %d, max term %d, discarded %d", id, rl.Commit, rl.MaxTerm, rl.Discarded)
		}
		if uint64(len(rl.Entries)+len(local)) != res.Records {
			t.Errorf("%s: %d records, result says %d", id, len(rl.Entries)+len(local), res.Records)
		}
		checkElection(t, id, local)
		checkEntries(t, id, rl.Entries, o)
		if first == nil {
			first = rl.Entries
			continue
		}
		for i := range rl.Entries {
			a, b := first[i].Event, rl.Entries[i].Event
			ra, _ := eventlog.AppendRecord(nil, eventlog.Hash{}, a)
			rb, _ := eventlog.AppendRecord(nil, eventlog.Hash{}, b)
			if !bytes.Equal(ra, rb) {
				t.Fatalf("%s: entry %d differs from %s's: %s vs %s", id, i+1, res.Nodes[0], b.Describe(), a.Describe())
			}
		}
	}

	// The audit tools agree: each log verifies clean, the three agree.
	var dirs []string
	for _, id := range res.Nodes {
		dirs = append(dirs, cfg.WALDir(id))
		out := runWAL(t, "verify", cfg.WALDir(id))
		if !strings.HasPrefix(out, "OK ") || !strings.Contains(out, fmt.Sprintf("committed %d", testMessages+1)) {
			t.Errorf("wal verify %s: %q", id, out)
		}
	}
	out := runWAL(t, append([]string{"diff"}, dirs...)...)
	if !strings.Contains(out, fmt.Sprintf("AGREE: committed entries identical on 3 nodes up to cluster index %d", testMessages+1)) {
		t.Errorf("wal diff: %q", out)
	}
	if res.Bytes <= 0 || res.First.After(res.Last) || res.Last.After(testEnd) {
		t.Errorf("result %+v", res)
	}
}

func runWAL(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if err := walcmd.Main(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("wal %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// checkElection: the records a node's driver writes for term 1, in order.
func checkElection(t *testing.T, id string, local []eventlog.Event) {
	t.Helper()
	want := []string{
		`term_started term=1 candidate="n1"`, `vote_cast term=1 candidate="n1"`, `term_started term=1 candidate=""`,
		`leader_elected term=1 leader="n3"`, `committed_up_to index=1`,
	}
	if len(local) < len(want) {
		t.Fatalf("%s: %d local records", id, len(local))
	}
	for i, w := range want {
		ev := local[i]
		got := ev.Kind().String() + " " + ev.Body.Describe()
		if got != w || ev.Origin != id || ev.Term != 1 || ev.Time == 0 {
			t.Errorf("%s: local record %d is %q origin %q term %d time %d, want %q from %s", id, i, got, ev.Origin, ev.Term, ev.Time, w, id)
		}
	}
	var last uint64
	for _, ev := range local[len(want):] {
		c, ok := ev.Body.(*eventlog.CommittedUpTo)
		if !ok || c.Index <= last || ev.Origin != id {
			t.Fatalf("%s: unexpected local record %s", id, ev.Describe())
		}
		last = c.Index
	}
	if last != testMessages+1 || len(local)-len(want) < testMessages/commitEvery {
		t.Errorf("%s: %d CommittedUpTo records after index 1, the last at %d", id, len(local)-len(want), last)
	}
}

// checkEntries: index 1 is the leader's no-op; every other entry is a
// post stamped like placeAsLeader stamps one.
func checkEntries(t *testing.T, id string, ents []state.Entry, o Options) {
	t.Helper()
	noop := ents[0].Event
	if _, ok := noop.Body.(*eventlog.NoOp); !ok || noop.Index != 1 || noop.Term != 1 || noop.Origin != "" || noop.Time != 0 || noop.Lamport != 0 {
		t.Fatalf("%s: entry 1 is %s", id, noop.Describe())
	}
	rooms, users, ids := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var lamport uint64
	var when int64
	for _, en := range ents[1:] {
		ev := en.Event
		m, ok := ev.Body.(*eventlog.MessagePosted)
		if !ok {
			t.Fatalf("%s: entry %d is %s", id, ev.Index, ev.Describe())
		}
		if ev.Term != 1 || ev.Lamport <= lamport || ev.Time <= when || ev.Time > testEnd.UnixNano() {
			t.Fatalf("%s: entry %d: term %d, Lamport %d after %d, time %d after %d", id, ev.Index, ev.Term, ev.Lamport, lamport, ev.Time, when)
		}
		if m.ReplyLamport >= ev.Lamport {
			t.Fatalf("%s: entry %d answers Lamport %d, not earlier than its own %d", id, ev.Index, m.ReplyLamport, ev.Lamport)
		}
		lamport, when = ev.Lamport, ev.Time
		if ev.Author != m.From || len(ev.RequestID) != 32 || m.ClientMsgID != ev.RequestID || ids[ev.RequestID] {
			t.Fatalf("%s: entry %d: author %q from %q request %q client id %q", id, ev.Index, ev.Author, m.From, ev.RequestID, m.ClientMsgID)
		}
		ids[ev.RequestID] = true
		if n := len(m.Text); n < MinSize || n > MaxSize || strings.TrimSpace(m.Text) != m.Text {
			t.Fatalf("%s: entry %d: text of %d bytes %q", id, ev.Index, n, m.Text)
		}
		for _, c := range m.Text {
			if c < ' ' || c > '~' {
				t.Fatalf("%s: entry %d: text %q", id, ev.Index, m.Text)
			}
		}
		if ev.Origin == "" {
			t.Fatalf("%s: entry %d has no origin", id, ev.Index)
		}
		rooms[m.Room], users[m.From] = true, true
	}
	if len(rooms) != o.Rooms || len(users) != o.Users || !rooms["general"] {
		t.Errorf("%s: %d rooms, %d users; want %d and %d, general among them", id, len(rooms), len(users), o.Rooms, o.Users)
	}
	span := time.Duration(ents[len(ents)-1].Event.Time - ents[1].Event.Time)
	if want := time.Duration(testMessages) * time.Second / DefaultRate; span < want*9/10 || span > want {
		t.Errorf("%s: messages span %v, want about %v", id, span, want)
	}
}

// TestFillIsDeterministic: the same options write the same bytes.
func TestFillIsDeterministic(t *testing.T) {
	o := testOptions()
	o.Messages = 1000
	var segs [2]map[string][]byte
	for i := range segs {
		cfg := testConfig(t, filepath.Join(t.TempDir(), "data"), 3, nil)
		if _, err := Fill(context.Background(), cfg, o); err != nil {
			t.Fatal(err)
		}
		segs[i] = readTree(t, cfg.DataDir())
	}
	if len(segs[0]) < 3 || len(segs[0]) != len(segs[1]) {
		t.Fatalf("files: %d and %d", len(segs[0]), len(segs[1]))
	}
	for name, b := range segs[0] {
		if !bytes.Equal(b, segs[1][name]) {
			t.Errorf("%s differs between two runs with the same seed", name)
		}
	}
}

// readTree returns every regular file under root but the locks, by path.
func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "LOCK" {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFillRefusesExisting: one existing node directory stops the fill
// before anything is written, and is left as it was.
func TestFillRefusesExisting(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cfg := testConfig(t, data, 3, nil)
	if err := os.MkdirAll(cfg.WALDir("n2"), 0o750); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(cfg.WALDir("n2"), "keep")
	if err := os.WriteFile(keep, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Fill(context.Background(), cfg, testOptions())
	var ee *ExistsError
	if !errors.As(err, &ee) || len(ee.Dirs) != 1 || ee.Dirs[0] != cfg.NodeDir("n2") {
		t.Fatalf("err = %v, want an ExistsError naming %s", err, cfg.NodeDir("n2"))
	}
	if !strings.Contains(err.Error(), "refusing to overwrite") || !strings.Contains(err.Error(), cfg.NodeDir("n2")) {
		t.Errorf("message %q", err)
	}
	if b, err := os.ReadFile(keep); err != nil || string(b) != "mine" {
		t.Errorf("existing file: %q %v", b, err)
	}
	for _, id := range []string{"n1", "n3"} {
		if _, err := os.Stat(cfg.NodeDir(id)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was created: %v", id, err)
		}
	}

	// Once the directories are filled, a second fill refuses every one.
	data2 := filepath.Join(t.TempDir(), "data")
	cfg2 := testConfig(t, data2, 3, nil)
	o := testOptions()
	o.Messages = 100
	if _, err := Fill(context.Background(), cfg2, o); err != nil {
		t.Fatal(err)
	}
	before := readTree(t, data2)
	if _, err := Fill(context.Background(), cfg2, o); !errors.As(err, &ee) || len(ee.Dirs) != 3 {
		t.Fatalf("second fill: %v", err)
	}
	after := readTree(t, data2)
	if len(before) != len(after) {
		t.Fatalf("files changed: %d then %d", len(before), len(after))
	}
	for name, b := range before {
		if !bytes.Equal(b, after[name]) {
			t.Errorf("%s changed", name)
		}
	}
}

// TestFillCancelledLeavesNothing: a fill stopped half way removes the
// directories it made, data_dir included when it made it.
func TestFillCancelledLeavesNothing(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cfg := testConfig(t, data, 3, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := testOptions()
	o.Messages = 50_000
	o.Progress = func(int64) { cancel() }
	if _, err := Fill(ctx, cfg, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data_dir left behind: %v", err)
	}
}

// TestOptionsLimits: bad options are refused before anything is written.
func TestOptionsLimits(t *testing.T) {
	for _, o := range []Options{
		{Messages: 0}, {Messages: 10, Rooms: -1}, {Messages: 10, Users: MaxUsers + 1},
		{Messages: 10, Size: MaxText + 1}, {Messages: 10, Size: -3}, {Messages: 1000, Period: time.Microsecond},
	} {
		cfg := testConfig(t, filepath.Join(t.TempDir(), "data"), 1, nil)
		var oe *OptionsError
		if _, err := Fill(context.Background(), cfg, o); !errors.As(err, &oe) {
			t.Errorf("%+v: err = %v, want an OptionsError", o, err)
		}
		if _, err := os.Stat(cfg.DataDir()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%+v: data_dir created", o)
		}
	}
	// --size gives every text that length.
	cfg := testConfig(t, filepath.Join(t.TempDir(), "data"), 1, nil)
	if _, err := Fill(context.Background(), cfg, Options{Messages: 300, Size: 1, Rooms: 1, Users: 1, End: testEnd}); err != nil {
		t.Fatal(err)
	}
	rl, _ := walLog(t, cfg.WALDir("n1"))
	for _, en := range rl.Entries[1:] {
		m := en.Event.Body.(*eventlog.MessagePosted)
		if len(m.Text) != 1 || m.Room != "general" || m.From != "alice" || en.Event.Origin != "n1" {
			t.Fatalf("entry %d: %s", en.Event.Index, en.Event.Describe())
		}
	}
}

// TestNames: every generated name is valid for the SSH front end and unique.
func TestNames(t *testing.T) {
	for _, names := range [][]string{userNames(5000), roomNames(5000)} {
		seen := map[string]bool{}
		for _, n := range names {
			if n == "" || len(n) > 32 || seen[n] || strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
				t.Fatalf("bad or repeated name %q", n)
			}
			seen[n] = true
		}
	}
}

// freePorts binds a node's four sockets on loopback port 0.
type sockets struct {
	ssh, peer *net.TCPListener
	hb, el    *net.UDPConn
}

func bindNode(t testing.TB) (*sockets, [4]int) {
	t.Helper()
	lo := net.IPv4(127, 0, 0, 1)
	var s sockets
	var err error
	if s.ssh, err = net.ListenTCP("tcp", &net.TCPAddr{IP: lo}); err != nil {
		t.Fatal(err)
	}
	if s.peer, err = net.ListenTCP("tcp", &net.TCPAddr{IP: lo}); err != nil {
		t.Fatal(err)
	}
	if s.hb, err = net.ListenUDP("udp", &net.UDPAddr{IP: lo}); err != nil {
		t.Fatal(err)
	}
	if s.el, err = net.ListenUDP("udp", &net.UDPAddr{IP: lo}); err != nil {
		t.Fatal(err)
	}
	return &s, [4]int{s.ssh.Addr().(*net.TCPAddr).Port, s.peer.Addr().(*net.TCPAddr).Port,
		s.hb.LocalAddr().(*net.UDPAddr).Port, s.el.LocalAddr().(*net.UDPAddr).Port}
}
