package sshui

import (
	"fmt"
	"testing"

	"github.com/syncnet/syncnet/node/api"
)

// TestExplainRefusals: a refusal and a reused id are explained to the user
// in words (the refusals' own messages are tested in node/api).
func TestExplainRefusals(t *testing.T) {
	err := fmt.Errorf("post: %w", &api.Refusal{Action: "mute"})
	if got := explain(err, "5s"); got != "you are muted everywhere" { // a mute without a room holds everywhere
		t.Errorf("explain = %q", got)
	}
	if got := explain(fmt.Errorf("%w: x", api.ErrIDReused), "5s"); got != "this request id was already used for a different request; nothing was changed" {
		t.Errorf("explain = %q", got)
	}
}
