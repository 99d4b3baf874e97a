package sshui_test

import (
	"strings"
	"testing"

	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// TestExecHelpPrintedOnce: --help printed the usage on stdout and the flags
// block twice on stderr. Help goes once, to stdout, exit 0.
func TestExecHelpPrintedOnce(t *testing.T) {
	ts := startServer(t, sshuitest.New("node1", nil), nil)
	for _, c := range []string{"status", "post", "history", "tail", "rooms", "who", "help"} {
		for _, flag := range []string{"--help", "-h"} {
			r := run(t, ts.addr, "admin", ts.admin, c+" "+flag)
			if r.code != 0 || r.err != "" || strings.Count(r.out, "usage: "+c) != 1 || strings.Count(r.out, "flags:") > 1 {
				t.Errorf("%s %s: code %d\nstdout %q\nstderr %q", c, flag, r.code, r.out, r.err)
			}
		}
	}
	// A bad flag: the error and the usage once, on stderr, exit 2.
	r := run(t, ts.addr, "admin", ts.admin, "history general --bogus")
	if r.code != 2 || r.out != "" || strings.Count(r.err, "usage: history") != 1 || strings.Count(r.err, "flags:") != 1 ||
		!strings.Contains(r.err, "flag provided but not defined: -bogus") {
		t.Errorf("bad flag: %+v", r)
	}
}
