package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/syncnet/syncnet/node"
	"github.com/syncnet/syncnet/node/config"
)

func runNode(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	cfgPath := fs.String("config", "cluster.toml", "cluster config file")
	id := fs.String("id", "", "this node's id in the config (required)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	extraAdmin := fs.String("extra-admin-keys", "", "file of extra admin keys (authorized_keys format); used by `syncnet up`")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: syncnet node --config FILE --id ID\n\nRuns one node until SIGTERM or SIGINT.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *id == "" {
		fs.Usage()
		return exitError{2, "--id is required"}
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return exitError{2, fmt.Sprintf("bad --log-level %q: use debug, info, warn or error", *level)}
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})).With("node", *id)
	return node.Run(ctx, node.Options{Config: cfg, ID: *id, Logger: logger, ExtraAdminKeysFile: *extraAdmin})
}
