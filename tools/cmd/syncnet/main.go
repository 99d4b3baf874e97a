// Command syncnet is the one SyncNet binary: run a node, run a local cluster,
// chat with failover, audit WAL files, and generate load.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/syncnet/syncnet/tools/up"
)

type command struct {
	name, usage, summary string
	run                  func(ctx context.Context, args []string) error
}

func commands() []command {
	return []command{
		{"node", "node --config FILE --id ID [--log-level LEVEL] [--log-file FILE]", "run one node of the cluster", runNode},
		{"up", "up [--config FILE] [--logs DIR] [--log-level LEVEL] [--no-restart]", "run and supervise every node of a config (make run)", runUp},
		{"certs", "certs init|issue|show [--config FILE] [--id ID] ...", "make and check the peer links' CA and node certificates (mutual TLS)", runCerts},
		{"hostkey", "hostkey [--config FILE] [--create]", "print the known_hosts line that trusts every node (one host key)", runHostkey},
		{"chat", "chat [--config FILE | --nodes HOST:PORT,...] [-i KEY] [--user NAME]", "chat client that fails over between nodes", runChat},
		{"wal", "wal dump|verify|stats|replay|diff|export ... DIR", "audit WAL files offline", runWAL},
		{"restore", "restore FILE --config FILE --id ID [--until INDEX|TIME] [--new-cluster]", "prepare a node's data directory from a backup (ssh admin@NODE backup > FILE)", runRestore},
		{"bench", "bench ...", "load generator for a running cluster", runBench},
		{"fill", "fill --config FILE --messages N [--rooms R] [--size B] ...", "write N committed messages into new data directories (tests, benchmarks)", runFill},
	}
}

func usage() {
	fmt.Fprintf(os.Stderr, "syncnet: a distributed chat system served over SSH\n\nUsage:\n")
	for _, c := range commands() {
		fmt.Fprintf(os.Stderr, "  syncnet %-60s %s\n", c.usage, c.summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun 'syncnet COMMAND --help' for a command's flags.\n")
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	// node and up stop in order whatever signals follow the first (the
	// kernel's Pdeathsig can arrive more than once: once per thread of a
	// dying parent); other commands end at a second Ctrl-C.
	persistent := os.Args[1] == "node" || os.Args[1] == "up"
	ctx, stop := signalContext(persistent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, c := range commands() {
		if c.name == os.Args[1] {
			err := c.run(ctx, os.Args[2:])
			if errors.Is(err, flag.ErrHelp) {
				return
			}
			var ee exitError
			if errors.As(err, &ee) {
				if ee.msg != "" {
					fmt.Fprintln(os.Stderr, "syncnet "+c.name+": "+ee.msg)
				}
				os.Exit(ee.code)
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "syncnet %s: %v\n", c.name, err)
				os.Exit(1)
			}
			return
		}
	}
	fmt.Fprintf(os.Stderr, "syncnet: unknown command %q\n\n", os.Args[1])
	usage()
	os.Exit(2)
}

// exitError carries a specific exit code out of a subcommand.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

// signalContext is canceled by the first of sigs, with up.Cause naming it
// (context.Cause). After it, unless persistent, the signals have their
// default effect again, so a second Ctrl-C ends a command that is slow to
// stop; persistent keeps catching them (a clean stop is not cut short).
func signalContext(persistent bool, sigs ...os.Signal) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := make(chan os.Signal, 1)
	signal.Notify(c, sigs...)
	go func() {
		select {
		case s := <-c:
			if !persistent {
				signal.Reset(sigs...)
			}
			cancel(up.Cause{Signal: s})
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(c); cancel(context.Canceled) }
}
