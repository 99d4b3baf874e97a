package chat

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func TestNodeListFromConfigAndFlag(t *testing.T) {
	nodes, err := nodeList("../../cluster.toml", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) < 3 || nodes[0].Name == "" || nodes[0].Addr == "" {
		t.Fatalf("nodes = %+v", nodes)
	}
	nodes, err = nodeList("", "127.0.0.1:2222, [::1]:2223")
	if err != nil || len(nodes) != 2 || nodes[1].Addr != "[::1]:2223" || nodes[1].Name != "node2" {
		t.Fatalf("nodes = %+v, %v", nodes, err)
	}
	for _, bad := range [][2]string{{"x.toml", "127.0.0.1:1"}, {"", "nohostport"}} {
		var ue UsageError
		if _, err := nodeList(bad[0], bad[1]); !errors.As(err, &ue) {
			t.Errorf("nodeList(%q, %q) = %v, want a usage error", bad[0], bad[1], err)
		}
	}
}

func TestClassifyPost(t *testing.T) {
	var retry retryError
	if err := classifyPost(errors.New("EOF"), ""); errors.As(err, &retry) || isRefusal(err) || errors.Is(err, errNodeUnfit) {
		t.Errorf("a connection error must fail the connection: %v", err)
	}
	cases := []struct {
		stderr string
		check  func(error) bool
	}{
		{"post: rate limited: try again in 150ms", func(err error) bool {
			return errors.As(err, &retry) && retry.after == 160*time.Millisecond
		}},
		{"post: not committed: the cluster has no quorum (waited up to 5s); retry with the same --id",
			func(err error) bool { return errors.Is(err, errNodeUnfit) }},
		{"this node is shutting down; connect to another node", func(err error) bool { return errors.Is(err, errNodeUnfit) }},
		{"post: message too long: 2001 runes (max 2000)", isRefusal},
		{"post: you are muted here", isRefusal},
		{"post: something new", func(err error) bool { return errors.As(err, &retry) }},
	}
	for _, c := range cases {
		// The exit status cannot be set from outside x/crypto; classifyPost
		// treats every non-2 status alike, by its message.
		if err := classifyPost(&ssh.ExitError{}, c.stderr); !c.check(err) {
			t.Errorf("%q -> %v", c.stderr, err)
		}
	}
}
