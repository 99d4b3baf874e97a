package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncnet/syncnet/node/config"
	"github.com/syncnet/syncnet/tools/serve"
)

func writeConfig(t *testing.T, hosts ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("[cluster]\nname = \"c\"\ndata_dir = \"data\"\nsecret = \"test-secret-0123456789\"\n")
	for i, h := range hosts {
		fmt.Fprintf(&b, "[[node]]\nid = \"n%d\"\nhost = %q\nssh_port = %d\npeer_port = %d\nheartbeat_port = %d\nelection_port = %d\nring = %d\n",
			i+1, h, 6422+i, 9600+i, 9620+i, 9630+i, i)
	}
	path := filepath.Join(t.TempDir(), "cluster.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHostkeyPrintsTheLine: `syncnet hostkey` prints exactly the known_hosts
// line on stdout (for >> ~/.ssh/known_hosts), creating the key on a
// one-machine cluster, and prints the same line again later.
func TestHostkeyPrintsTheLine(t *testing.T) {
	path := writeConfig(t, "127.0.0.1", "127.0.0.1")
	var out, errOut bytes.Buffer
	if err := hostkey([]string{"--config", path}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	cfg, _ := config.Load(path)
	k, err := serve.LoadHostKey(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := serve.KnownHostsLine(cfg, k.Signer.PublicKey()) + "\n"; out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
	if !strings.Contains(errOut.String(), "created the cluster SSH host key "+cfg.HostKeyPath()) ||
		!strings.Contains(errOut.String(), k.Fingerprint()) {
		t.Errorf("stderr %q", errOut.String())
	}
	first := out.String()
	out.Reset()
	errOut.Reset()
	if err := hostkey([]string{"--config", path}, &out, &errOut); err != nil || out.String() != first || strings.Contains(errOut.String(), "created") {
		t.Errorf("second run: %v, stdout %q, stderr %q", err, out.String(), errOut.String())
	}
}

// TestHostkeySeveralHosts: without the key, a cluster on several hosts
// needs --create, which then says to copy the file to every host.
func TestHostkeySeveralHosts(t *testing.T) {
	path := writeConfig(t, "10.0.0.1", "10.0.0.2")
	var out, errOut bytes.Buffer
	err := hostkey([]string{"--config", path}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--create") {
		t.Fatalf("without --create: %v", err)
	}
	if err := hostkey([]string{"--config", path, "--create"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "[10.0.0.1]:6422,[10.0.0.2]:6423 ssh-ed25519 ") {
		t.Errorf("stdout %q", out.String())
	}
	if !strings.Contains(errOut.String(), "copy ") || !strings.Contains(errOut.String(), "every host") {
		t.Errorf("stderr does not say to copy the key: %q", errOut.String())
	}
}

func TestHostkeyUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := hostkey([]string{"--help"}, &out, &errOut); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
	var ee exitError
	if err := hostkey([]string{"extra"}, &out, &errOut); !errors.As(err, &ee) || ee.code != 2 {
		t.Errorf("an extra argument: %v, want exit 2", err)
	}
}
