package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/syncnet/syncnet/node"
	"github.com/syncnet/syncnet/node/config"
)

// runRestore runs `syncnet restore FILE --config C --id ID`: a node's data
// directory prepared from a backup (`ssh admin@node backup > FILE`).
func runRestore(ctx context.Context, args []string) error {
	return restore(ctx, args, os.Stderr)
}

func restore(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "cluster.toml", "cluster config file")
	id := fs.String("id", "", "the node whose data directory to prepare (required)")
	until := fs.String("until", "", "restore only up to an entry INDEX, or up to a TIME (RFC 3339, e.g. 2026-12-07T09:00:00Z): the entries before the first one created after it")
	newCluster := fs.Bool("new-cluster", false, "every node of a new cluster is restored from backups: none starts as a learner")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: syncnet restore FILE --config FILE --id ID [--until INDEX|TIME] [--new-cluster]\n\n"+
			"Prepares the data directory of node ID from a backup written by\n"+
			"`ssh admin@NODE backup > FILE`. It refuses a node whose WAL holds anything.\n"+
			"Every member's SHA-256 and every entry's checksum are verified first.\n\n"+
			"  A replacement node in a running cluster: restore it (it starts as a\n"+
			"  learner and catches up), or just start it empty: it copies a peer's log.\n"+
			"  A whole new cluster: restore every node from the same backup with\n"+
			"  --new-cluster, then start them.")
		fs.PrintDefaults()
	}
	var file string
	rest := args
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		if file != "" {
			fs.Usage()
			return exitError{2, fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
		}
		file, rest = fs.Arg(0), fs.Args()[1:]
	}
	if file == "" || *id == "" {
		fs.Usage()
		return exitError{2, "restore needs a backup FILE and --id"}
	}
	ro := node.RestoreOptions{ID: *id, NewCluster: *newCluster,
		Open:   func() (io.ReadCloser, error) { return os.Open(file) },
		Logger: slog.New(slog.NewTextHandler(stderr, nil))}
	if *until != "" {
		if n, err := strconv.ParseUint(*until, 10, 64); err == nil {
			ro.UntilIndex = n
		} else if t, err := time.Parse(time.RFC3339, *until); err == nil {
			ro.UntilTime = t
		} else {
			return exitError{2, fmt.Sprintf("--until %q: want an entry index or an RFC 3339 time", *until)}
		}
	}
	if _, err := os.Stat(file); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	ro.Config = cfg
	last := time.Now()
	ro.Progress = func(done, total uint64) {
		if time.Since(last) >= 2*time.Second {
			last = time.Now()
			fmt.Fprintf(stderr, "restore: %d of %d entries (%d%%)\n", done, total, done*100/max(total, 1))
		}
	}
	began := time.Now()
	info, err := node.Restore(ctx, ro)
	if err != nil {
		return err
	}
	how := "it starts as a learner and catches up from the cluster"
	if *newCluster {
		how = "restore the other nodes the same way, then start them"
	}
	state := "its state was restored from the backup's snapshot"
	if info.SnapshotApplied == 0 {
		state = "it will replay them at its first start"
	}
	fmt.Fprintf(stderr, "restore: %s now holds entries 1..%d (%s) in %s; %s.\n",
		cfg.NodeDir(*id), info.Entries, state, time.Since(began).Round(time.Millisecond), how)
	return nil
}
