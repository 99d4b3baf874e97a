package ring

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var flagUpdate = flag.Bool("update", false, "rewrite golden transcripts and the fuzz seed corpus in testdata/")

func testCodec(t testing.TB) *Codec {
	c, err := NewCodec(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sampleMessages has one message of every type, with every field set.
func sampleMessages() []Message {
	st := StatusInfo{BootID: 7, CommitIndex: 41, LastLogTerm: 3, LastLogIndex: 42, UptimeMillis: 90_000,
		Clients: 5, Messages: 1234}
	st.LogHash[0], st.LogHash[31] = 0xab, 0xcd
	ext := st
	ext.Proto, ext.MaxKind = ProtoVersion, 9
	learner := ext
	learner.Learner = true
	return []Message{
		{Type: MsgHeartbeat, From: "n1", To: "n2", Term: 3, Leader: "n1", Status: st, Incarnation: 9, Seq: 1},
		{Type: MsgHeartbeat, From: "n1", To: "n2", Term: 4, Resigned: true, Incarnation: 9, Seq: 2},
		{Type: MsgToken, From: "n2", To: "n3", Term: 5, Origin: "n1", Best: Candidate{ID: "n2", LastTerm: 3, LastIndex: 40},
			Passed: []string{"n1", "n2"}, AckID: 11, Incarnation: 9, Seq: 3},
		{Type: MsgElected, From: "n3", To: "n1", Term: 5, Leader: "n2", Origin: "n1", AckID: 12, Incarnation: 9, Seq: 4},
		{Type: MsgAck, From: "n2", To: "n1", AckID: 12, Incarnation: 9, Seq: 5},
		{Type: MsgHeartbeat, From: "n1", To: "n2", Term: 3, Leader: "n1", Status: ext, Hears: []string{"n2", "n3"},
			Incarnation: 9, Seq: 6},
		{Type: MsgHeartbeat, From: "n1", To: "n2", Term: 3, Status: ext, Incarnation: 9, Seq: 7}, // hears nobody
		{Type: MsgHeartbeat, From: "n1", To: "n2", Term: 3, Leader: "n2", Status: learner, Hears: []string{"n2"},
			Incarnation: 9, Seq: 8},
		{Type: MsgToken, From: "n2", To: "n4", Term: 6, Origin: "n1", // a best candidate of a changed membership
			Best:       Candidate{ID: "n2", LastTerm: 5, LastIndex: 50, Conf: ConfID{Index: 44, Term: 5}},
			BestVoters: []string{"n1", "n2", "n4"}, Passed: []string{"n1", "n2"}, AckID: 13, Incarnation: 9, Seq: 9},
	}
}

// TestHeartbeatCompatibility: the rules in codec.go. A heartbeat of a build
// before ext reads as Proto 0 with no MaxKind and no Hears; a heartbeat of a
// later revision, with fields this build does not know after its ext, is
// accepted and read as far as this build knows it; the encoder writes ext
// exactly when Proto is set, and an ext with proto 0 is malformed.
func TestHeartbeatCompatibility(t *testing.T) {
	c := testCodec(t)
	msgs := sampleMessages()
	withExt := msgs[5]
	legacy := withExt
	legacy.Status.Proto, legacy.Status.MaxKind, legacy.Hears = 0, 0, nil

	// A proto-0 heartbeat is exactly the old layout: it ends after status.
	old, err := c.Encode(legacy)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := c.Encode(withExt)
	extLen := 2 + 2 + 1 + (1 + 2) + (1 + 2) + 1 // proto, maxKind, hears (n2, n3), learner
	if len(full)-len(old) != extLen || !bytes.Equal(full[:len(old)-macLen], old[:len(old)-macLen]) {
		t.Fatalf("ext is not a pure suffix of the old layout (%d vs %d bytes)", len(full), len(old))
	}
	got, err := c.Decode(old)
	if err != nil || got.Status.Proto != 0 || got.Status.MaxKind != 0 || got.Hears != nil {
		t.Fatalf("old heartbeat: %+v, %v", got, err)
	}

	// A later revision appends a field: this build skips it.
	body := append(bytes.Clone(full[:len(full)-macLen]), 0xde, 0xad, 0xbe, 0xef)
	body[len(old)-macLen+1] = byte(ProtoVersion + 1) // a later proto (low byte of the u16)
	got, err = c.Decode(sign(c, body))
	if err != nil {
		t.Fatalf("newer heartbeat rejected: %v", err)
	}
	want := withExt
	want.Status.Proto = ProtoVersion + 1
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("newer heartbeat read as\n %+v\nwant\n %+v", got, want)
	}

	// ext with proto 0, a truncated ext, and ext fields without Proto.
	zero := bytes.Clone(full[:len(full)-macLen])
	zero[len(old)-macLen+1] = 0
	if _, err := c.Decode(sign(c, zero)); !errors.Is(err, ErrGarbage) {
		t.Fatalf("ext with proto 0: got %v, want ErrGarbage", err)
	}
	if _, err := c.Decode(sign(c, full[:len(full)-macLen-1])); !errors.Is(err, ErrGarbage) {
		t.Fatalf("truncated ext: got %v, want ErrGarbage", err)
	}
	bad := legacy
	bad.Hears = []string{"n2"}
	if _, err := c.Encode(bad); !errors.Is(err, ErrNeedsProto) {
		t.Fatalf("Hears without Proto: got %v, want ErrNeedsProto", err)
	}
}

// TestLearnerFlagCompatibility: the learner flag (revision 3) is one byte
// after hears, present exactly when proto >= 3. A revision-2 build reads a
// revision-3 heartbeat up to hears and skips the flag (emulated here by
// reading the same bytes with their proto field set to 2, which is all a
// revision-2 decoder looks at: it reads proto, maxKind and hears and skips
// the rest); this build reads a revision-2 heartbeat, which has no flag, as
// not a learner.
func TestLearnerFlagCompatibility(t *testing.T) {
	c := testCodec(t)
	m := sampleMessages()[7]
	if !m.Status.Learner || m.Status.Proto != 3 {
		t.Fatalf("sample: %+v", m.Status)
	}
	full, err := c.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	body := full[:len(full)-macLen]
	if body[len(body)-1] != 1 {
		t.Fatalf("the learner flag is not the last byte: %x", body)
	}
	protoAt := len(body) - 1 - (1 + 1 + 2) - 2 - 2 // learner, hears (n=1, "n2"), maxKind, proto
	if got := uint16(body[protoAt])<<8 | uint16(body[protoAt+1]); got != 3 {
		t.Fatalf("proto at %d reads %d", protoAt, got)
	}

	// A revision-2 reader: everything but the flag, which it skips.
	rev2 := bytes.Clone(body)
	rev2[protoAt+1] = 2
	got, err := c.Decode(sign(c, rev2))
	if err != nil {
		t.Fatalf("a revision-2 reader rejects a learner's heartbeat: %v", err)
	}
	want := m
	want.Status.Proto, want.Status.Learner = 2, false
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("revision-2 reading:\n %+v\nwant\n %+v", got, want)
	}

	// A revision-2 heartbeat (no flag) in this build: not a learner.
	old := want
	oldBytes, err := c.Encode(old)
	if err != nil {
		t.Fatal(err)
	}
	if len(oldBytes) != len(full)-1 {
		t.Fatalf("a proto-2 heartbeat is %d bytes, want %d (no flag)", len(oldBytes), len(full)-1)
	}
	if got, err := c.Decode(oldBytes); err != nil || !reflect.DeepEqual(got, old) {
		t.Fatalf("revision-2 heartbeat: %+v, %v", got, err)
	}

	// Proto 3 without the flag, or with a flag that is not 0 or 1: malformed.
	if _, err := c.Decode(sign(c, body[:len(body)-1])); !errors.Is(err, ErrGarbage) {
		t.Fatalf("proto 3 without the flag: got %v, want ErrGarbage", err)
	}
	two := bytes.Clone(body)
	two[len(two)-1] = 2
	if _, err := c.Decode(sign(c, two)); !errors.Is(err, ErrGarbage) {
		t.Fatalf("flag 2: got %v, want ErrGarbage", err)
	}

	// The flag is never dropped silently: it needs proto >= 3.
	for _, proto := range []uint16{0, 2} {
		bad := m
		bad.Status.Proto = proto
		if proto == 0 {
			bad.Status.MaxKind, bad.Hears = 0, nil
		}
		if _, err := c.Encode(bad); !errors.Is(err, ErrNeedsProto) {
			t.Fatalf("Learner with proto %d: got %v, want ErrNeedsProto", proto, err)
		}
	}
}

func TestCodecRoundTrip(t *testing.T) {
	c := testCodec(t)
	for _, m := range sampleMessages() {
		b, err := c.Encode(m)
		if err != nil {
			t.Fatalf("encode %s: %v", m.Describe(), err)
		}
		got, err := c.Decode(b)
		if err != nil {
			t.Fatalf("decode %s: %v", m.Describe(), err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
		}
	}
}

// TestFlippedBitFailsAuthentication flips every bit of every sample
// datagram: each must be rejected (I8), never decoded into something else.
func TestFlippedBitFailsAuthentication(t *testing.T) {
	c := testCodec(t)
	for _, m := range sampleMessages() {
		b, _ := c.Encode(m)
		for i := 0; i < len(b)*8; i++ {
			x := bytes.Clone(b)
			x[i/8] ^= 1 << (i % 8)
			if _, err := c.Decode(x); err == nil {
				t.Fatalf("%s: flipping bit %d was not detected", m.Describe(), i)
			}
		}
	}
}

func TestWrongSecretFails(t *testing.T) {
	other, _ := NewCodec([]byte("another secret of enough length"))
	b, _ := testCodec(t).Encode(sampleMessages()[0])
	if _, err := other.Decode(b); !errors.Is(err, ErrBadMAC) {
		t.Fatalf("got %v, want ErrBadMAC", err)
	}
	if _, err := NewCodec([]byte("short")); err == nil {
		t.Fatal("a short secret was accepted")
	}
}

// TestGuardRejections: each kind of bad input is rejected and counted
// under its own reason.
func TestGuardRejections(t *testing.T) {
	c := testCodec(t)
	var met Metrics
	g := NewGuard(c, "n2", []string{"n1", "n2", "n3"}, &met)
	enc := func(m Message) []byte {
		b, err := c.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	hb := func(from, to string, inc, seq uint64) []byte {
		return enc(Message{Type: MsgHeartbeat, From: from, To: to, Term: 1, Incarnation: inc, Seq: seq})
	}
	good := hb("n1", "n2", 5, 10)
	forged := bytes.Clone(good)
	forged[len(forged)-1] ^= 1
	cases := []struct {
		name string
		in   []byte
		want error
		ctr  func() uint64
	}{
		{"accepted", good, nil, met.Accepted.Load},
		{"replayed", good, ErrReplayed, met.Replayed.Load},
		{"bad mac", forged, ErrBadMAC, met.BadMAC.Load},
		{"truncated", good[:10], ErrTruncated, met.Truncated.Load},
		{"empty", nil, ErrTruncated, met.Truncated.Load},
		{"oversized", make([]byte, MaxMessage+1), ErrOversized, met.Oversized.Load},
		{"bad version", append([]byte{9}, good[1:]...), ErrBadVersion, met.BadVersion.Load},
		{"unknown sender", hb("mallory", "n2", 1, 1), ErrUnknownSender, met.UnknownSender.Load},
		{"self as sender", hb("n2", "n2", 1, 1), ErrUnknownSender, met.UnknownSender.Load},
		{"misdirected", hb("n1", "n3", 5, 11), ErrMisdirected, met.Misdirected.Load},
		{"newer seq", hb("n1", "n2", 5, 12), nil, met.Accepted.Load},
		{"reordered within window", hb("n1", "n2", 5, 11), nil, met.Accepted.Load},
		{"jump ahead", hb("n1", "n2", 5, 200), nil, met.Accepted.Load},
		{"older than window", hb("n1", "n2", 5, 100), ErrStale, met.Stale.Load},
		{"older incarnation", hb("n1", "n2", 4, 100), ErrStale, met.Stale.Load},
		{"newer incarnation resets", hb("n1", "n2", 6, 1), nil, met.Accepted.Load},
		{"seq zero", hb("n1", "n2", 6, 0), ErrStale, met.Stale.Load},
		{"garbage with valid mac", garbageWithMAC(c), ErrGarbage, met.Garbage.Load},
	}
	for _, tc := range cases {
		before := tc.ctr()
		_, err := g.Accept(tc.in)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
		if tc.ctr() != before+1 {
			t.Errorf("%s: counter did not move (%v)", tc.name, met.Snapshot())
		}
	}
}

// garbageWithMAC is a correctly authenticated datagram whose body does not
// parse (as if a member had a bug): rejected as garbage, not trusted.
func garbageWithMAC(c *Codec) []byte {
	b, _ := c.Encode(Message{Type: MsgAck, From: "n1", To: "n2", Incarnation: 6, Seq: 50})
	body := append(bytes.Clone(b[:len(b)-macLen]), 0xff) // trailing byte
	return sign(c, body)
}

func sign(c *Codec, body []byte) []byte {
	m := newMAC(c.key)
	m.Write(body)
	return m.Sum(body)
}

// TestRejectedInputChangesNothing: messages the core cannot accept leave
// term and leader alone.
func TestRejectedInputChangesNothing(t *testing.T) {
	c := newCluster(t, 1, simParamsN(3))
	c.runUntilLeader(200)
	n := c.nodes["n1"].n
	hs, leader := n.HardState(), n.Leader()
	bad := []Message{
		{Type: MsgElected, From: "mallory", To: "n1", Term: 99, Leader: "mallory", Origin: "mallory"},
		{Type: MsgElected, From: "n2", To: "n9", Term: 99, Leader: "n2", Origin: "n2"},
		{Type: MsgType(77), From: "n2", To: "n1", Term: 99},
		{Type: MsgToken, From: "n2", To: "n1", Term: 99, Origin: "n2", Best: Candidate{ID: "zz"}, Passed: []string{"n2"}},
		{Type: MsgToken, From: "n2", To: "n1", Term: 99, Origin: "n3", Best: Candidate{ID: "n2"}, Passed: []string{"n2", "n2"}},
		{Type: MsgElected, From: "n2", To: "n1", Term: 99, Leader: "nobody", Origin: "n2"},
	}
	for _, m := range bad {
		_ = n.Step(m)
		if n.HardState() != hs || n.Leader() != leader {
			t.Fatalf("%s changed the state: %s leader %s", m.Describe(), n.HardState().Describe(), n.Leader())
		}
	}
}

func simParamsN(nodes int) simParams {
	p := defaultSim
	p.Nodes = nodes
	return p
}

// TestWriteFuzzCorpus rewrites testdata/fuzz/ from the sample messages
// (with -update).
func TestWriteFuzzCorpus(t *testing.T) {
	if !*flagUpdate {
		t.Skip("run with -update to rewrite the fuzz seed corpus")
	}
	c := testCodec(t)
	for i, m := range sampleMessages() {
		b, _ := c.Encode(m)
		writeCorpus(t, "FuzzDecode", i, b)
		writeCorpus(t, "FuzzDecodeUnauthenticated", i, b[:len(b)-macLen])
		writeCorpusFile(t, "FuzzStep", i, fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbyte('\\x%02x')\n", b[:len(b)-macLen], 9+i))
	}
}

func writeCorpus(t *testing.T, target string, i int, b []byte) {
	writeCorpusFile(t, target, i, fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b))
}

func writeCorpusFile(t *testing.T, target string, i int, body string) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
