package eventlog

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// The request fields of the header (author, request id) round-trip, show in
// Describe and JSON, and cost nothing in records that lack them, so records
// written before they existed read back with them empty.
func TestHeaderRequestFields(t *testing.T) {
	body := &MemberJoinedRoom{RoomMember{Room: "general", User: "alice"}}
	with := Event{Header: Header{Origin: "node1", Term: 2, Index: 7, Lamport: 9, Time: 5,
		Author: "alice", RequestID: "0123456789abcdef"}, Body: body}
	rec, err := AppendRecord(nil, Hash{}, with)
	if err != nil {
		t.Fatal(err)
	}
	r, err := DecodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Event, with) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", r.Event, with)
	}
	if d := with.Describe(); !strings.Contains(d, `author="alice" request="0123456789abcdef"`) {
		t.Errorf("Describe = %s", d)
	}
	js, _ := json.Marshal(with)
	if !strings.Contains(string(js), `"author":"alice","request_id":"0123456789abcdef"`) {
		t.Errorf("JSON = %s", js)
	}

	without := with
	without.Author, without.RequestID = "", ""
	old, err := AppendRecord(nil, Hash{}, without)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(rec) - (1 + 1 + len("alice")) - (1 + 1 + len("0123456789abcdef")); len(old) != want {
		t.Errorf("record without request fields is %d bytes, want %d", len(old), want)
	}
	r, err = DecodeRecord(old)
	if err != nil || r.Event.Author != "" || r.Event.RequestID != "" {
		t.Fatalf("old record: %#v, %v", r.Event.Header, err)
	}
	if d := without.Describe(); strings.Contains(d, "author=") {
		t.Errorf("Describe without request fields = %s", d)
	}
	if js, _ := json.Marshal(without); strings.Contains(string(js), "author") || strings.Contains(string(js), "request_id") {
		t.Errorf("JSON without request fields = %s", js)
	}
}
