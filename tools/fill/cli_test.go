package fill

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfig writes a one-node cluster.toml whose data_dir is "data",
// next to it.
func writeConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "cluster.toml")
	text := "[cluster]\ndata_dir = \"data\"\nsecret = \"test-secret-0123456789\"\n" +
		"[[node]]\nid = \"solo\"\nhost = \"127.0.0.1\"\nssh_port = 12222\npeer_port = 12223\nheartbeat_port = 12224\nelection_port = 12225\nring = 0\n"
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCLI(t *testing.T) {
	cfg := writeConfig(t)
	for _, args := range [][]string{
		{"--config", cfg},
		{"--config", cfg, "--messages", "-5"},
		{"--config", cfg, "--messages", "10", "--size", "2001"},
		{"--config", cfg, "--messages", "10", "--rooms", "0x"},
		{"--config", cfg, "--messages", "10", "extra"},
		{"--config", cfg, "--messages", "10", "--nope"},
	} {
		var out, errb bytes.Buffer
		var ue UsageError
		if err := run(context.Background(), args, &out, &errb, false); !errors.As(err, &ue) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "data")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a usage error wrote data: %v", err)
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &out, &errb, false); !errors.Is(err, flag.ErrHelp) ||
		!strings.Contains(errb.String(), "Usage: syncnet fill --config FILE --messages N") {
		t.Errorf("--help: %v %q", err, errb.String())
	}

	// A fill on a terminal shows a bar on stderr and a summary on stdout.
	out.Reset()
	errb.Reset()
	if err := run(context.Background(), []string{"--config", cfg, "--messages", "3000", "--seed", "3"}, &out, &errb, true); err != nil {
		t.Fatalf("fill: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "filled 1 node in ") || !strings.Contains(out.String(), "3000 messages (cluster index 2..3001, committed)") {
		t.Errorf("stdout %q", out.String())
	}
	if !strings.Contains(errb.String(), "filling 1 node") {
		t.Errorf("no progress bar on the terminal: stderr %q", errb.String())
	}
	wal := filepath.Join(filepath.Dir(cfg), "data", "solo", "wal")
	if out := runWAL(t, "verify", wal); !strings.Contains(out, "committed 3001") {
		t.Errorf("verify: %q", out)
	}

	// Again: refused, saying why, and nothing is touched.
	out.Reset()
	errb.Reset()
	err := run(context.Background(), []string{"--config", cfg, "--messages", "10"}, &out, &errb, false)
	var ee *ExistsError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), filepath.Join(filepath.Dir(cfg), "data", "solo")+" already exists") {
		t.Errorf("second fill: %v", err)
	}
}
