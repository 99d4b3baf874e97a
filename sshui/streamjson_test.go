package sshui

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// decodeStd is the stream's encoding/json path.
func decodeStd(raw []byte) (streamLine, bool) {
	var l streamLine
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if dec.Decode(&l) != nil || dec.More() {
		return l, false
	}
	return l, true
}

// Whatever parseStreamLine accepts, encoding/json accepts too, with the
// same result; what it declines goes to encoding/json.
func TestParseStreamLineAgreesWithEncodingJSON(t *testing.T) {
	lines := []string{
		`{"room":"general","text":"hello","id":"a1"}`,
		` { "room" : "general" , "text" : "héllo 漢字 👍🏽", "id" : "a2" , "action" : true } `,
		`{"to":"bob","text":"hi","id":"x","action":false}`,
		`{}`, `{ }`, `{"room":""}`,
		`{"room":"general","text":"a \"quoted\" word","id":"e"}`,
		`{"room":"general","text":"line\nbreak","id":"e"}`,
		`{"room":"general","text":"\u00e9","id":"e"}`,
		`{"Room":"general","text":"x"}`,
		`{"room":"general","room":"dev","text":"x"}`,
		`{"room":"general","text":"x","extra":1}`,
		`{"room":"general","text":"x"} {"room":"dev"}`,
		`{"room":"general","text":"x"},`,
		`{"room":"general","text":"x",}`,
		`{"room":"general","text":null}`,
		`{"room":"general","text":5}`,
		`{"room":"general","action":"yes"}`,
		`{"room":"general","action":tru}`,
		`{"room":"general","text":"x"`,
		`["room"]`, `"room"`, ``, `{`, `}`, `{"room" "general"}`,
		"{\"room\":\"general\",\"text\":\"tab\there\"}",
		"{\"room\":\"general\",\"text\":\"bad \xff utf8\"}",
		"{\"room\":\"gen\x00eral\"}",
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{`{`, `}`, `"`, `:`, `,`, ` `, `\`, `room`, `text`, `id`, `to`, `action`, `true`, `false`,
		`x`, `é`, "\xff", "\n", `null`, `1`}
	for range 20000 {
		var b strings.Builder
		for range r.IntN(14) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		lines = append(lines, b.String())
	}
	fast := 0
	for _, s := range lines {
		var l streamLine
		if !parseStreamLine([]byte(s), &l) {
			continue
		}
		fast++
		want, ok := decodeStd([]byte(s))
		if !ok {
			t.Fatalf("%q: the fast path accepted what encoding/json refuses", s)
		}
		if l != want {
			t.Fatalf("%q: fast path %+v, encoding/json %+v", s, l, want)
		}
	}
	if fast < 8 {
		t.Fatalf("the fast path took only %d lines", fast)
	}
}

// appendAck writes what json.Encoder wrote.
func TestAppendAckMatchesEncodingJSON(t *testing.T) {
	acks := []streamAck{
		{ID: "a1", Index: 42},
		{ID: "x", Line: 7, Error: "room: bad <name> & \"quote\" \\ \n\t\r\b\f \x01 \x7f é \u2028\u2029 \xff", Retry: true, RetryAfter: 250},
		{Line: 3, Error: "not JSON"},
		{},
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		acks = append(acks, streamAck{ID: string(b), Index: r.Uint64N(3), Line: r.IntN(3), Error: string(b[:len(b)/2])})
	}
	for _, a := range acks {
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(a); err != nil {
			t.Fatal(err)
		}
		if got := appendAck(nil, a); string(got) != want.String() {
			t.Fatalf("%+v:\n got  %q\n want %q", a, got, want.String())
		}
	}
}
