package e2e

import (
	"os/exec"
	"testing"
)

// makeCerts makes the peer TLS credentials of nodes on several hosts as
// docs/OPERATIONS.md says: a CA once, then each node's key and
// certificate, with syncnet certs; here every host reads the same
// directory ([tls] dir, by default <data_dir>/certs).
func makeCerts(t *testing.T, cfgPath string, ids []string) {
	t.Helper()
	runCerts := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(binPath, append([]string{"certs"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("syncnet certs %v: %v\n%s", args, err, out)
		}
	}
	runCerts("init", "--config", cfgPath)
	for _, id := range ids {
		runCerts("issue", "--config", cfgPath, "--id", id)
	}
}
