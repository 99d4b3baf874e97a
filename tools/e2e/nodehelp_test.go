package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNodeHelp: `syncnet node --help` describes --extra-admin-keys as a
// FILE of keys (issue 14: it printed "-extra-admin-keys syncnet up", as if
// "syncnet up" were the flag's value), and says what SIGHUP reloads.
func TestNodeHelp(t *testing.T) {
	out, _ := exec.Command(binPath, "node", "--help").CombinedOutput()
	help := string(out)
	for _, want := range []string{"-extra-admin-keys FILE", "SIGHUP re-reads the config", "[limits]", "-log-file"} {
		if !strings.Contains(help, want) {
			t.Errorf("node --help lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "-extra-admin-keys syncnet") {
		t.Errorf("node --help shows syncnet as the flag's value:\n%s", help)
	}
}
