package chat

import (
	"testing"

	"github.com/anmitsu/go-shlex"
)

// splitLikeServer splits an exec command the way the SSH server does.
func splitLikeServer(t *testing.T, cmd string) []string {
	t.Helper()
	out, err := shlex.Split(cmd, true)
	if err != nil {
		t.Fatalf("split %q: %v", cmd, err)
	}
	return out
}
