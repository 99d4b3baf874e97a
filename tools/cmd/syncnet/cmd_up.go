package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/syncnet/syncnet/tools/up"
)

func runUp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	cfgPath := fs.String("config", "cluster.toml", "cluster config file")
	logs := fs.String("logs", "logs", "directory for <id>.log of every node")
	level := fs.String("log-level", "info", "log level of the nodes: debug, info, warn, error")
	noRestart := fs.Bool("no-restart", false, "a node that exits stops every node and up exits (non-zero unless it exited cleanly): for scripts and CI")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: syncnet up [flags]

Runs every node of the config as a child process and supervises them: a
node that exits is restarted with backoff (1s, doubling up to 30s), so
killing a node shows failover and recovery. Ctrl-C, SIGTERM and SIGHUP
(the terminal closing) stop every node cleanly; no node outlives up. Each
node writes its log to <logs>/<id>.log itself, and up shows the lines here.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	// The terminal may go away (closed, or `make run | tee` interrupted):
	// writing to it must not kill us before we stop the nodes.
	signal.Ignore(syscall.SIGPIPE)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		select {
		case s := <-hup:
			cancel(up.Cause{Signal: s})
		case <-ctx.Done():
		}
	}()
	// A second Ctrl-C (or SIGTERM) while the nodes stop kills them at once.
	hurry := make(chan struct{})
	go func() {
		<-ctx.Done()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(again)
		<-again
		close(hurry)
	}()
	return up.Run(ctx, up.Options{ConfigPath: *cfgPath, Binary: self, LogsDir: *logs, LogLevel: *level,
		Out: os.Stdout, NoRestart: *noRestart, Hurry: hurry})
}
