package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/syncnet/syncnet/tools/up"
)

func runUp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	cfgPath := fs.String("config", "cluster.toml", "cluster config file")
	logs := fs.String("logs", "logs", "directory for <id>.log of every node")
	level := fs.String("log-level", "info", "log level of the nodes: debug, info, warn, error")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: syncnet up [flags]\n\nRuns every node of the config as a child process until Ctrl-C.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	return up.Run(ctx, up.Options{ConfigPath: *cfgPath, Binary: self, LogsDir: *logs, LogLevel: *level, Out: os.Stdout})
}
