package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/syncnet/syncnet/node"
	"github.com/syncnet/syncnet/node/config"
	"github.com/syncnet/syncnet/tools/serve"
)

func runNode(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	cfgPath := fs.String("config", "cluster.toml", "cluster config file")
	id := fs.String("id", "", "this node's id in the config (required)")
	level := fs.String("log-level", "", "log level: debug, info, warn, error (default: [log] level of the config, else info)")
	logFile := fs.String("log-file", "", "also write the log to this file (appended); the node keeps writing it when its terminal is gone")
	extraAdmin := fs.String("extra-admin-keys", "", "a `FILE` of further admin keys, authorized_keys format (syncnet up passes the keys it adopted)")
	join := fs.String("join", "", "with an empty data directory, copy the log of the member at `HOST:PEER_PORT` (ID@HOST:PEER_PORT without TLS) and take the membership from it; the config then need list only this node (an admin runs member add first)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: syncnet node --config FILE --id ID [--log-file FILE] [--join HOST:PEER_PORT]

Runs one node until SIGTERM or SIGINT. SIGHUP re-reads the config and
applies what can change live (admin keys, session caps, log level, rate
limits: [limits] and [[bot]]), all or nothing; ssh admin@node reload does
the same.

With no admin keys in the config and every node on loopback, the node
adopts the public keys in ~/.ssh/*.pub of the user running it as admin
keys and logs so, as syncnet up does.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *id == "" {
		fs.Usage()
		return exitError{2, "--id is required"}
	}
	// A node must never die because whoever started it went away: a write
	// to a closed stdout/stderr pipe returns EPIPE instead of killing the
	// process with SIGPIPE, and the log goes on in --log-file.
	signal.Ignore(syscall.SIGPIPE)
	lvl := new(slog.LevelVar)
	if *level != "" {
		if err := lvl.UnmarshalText([]byte(*level)); err != nil {
			return exitError{2, fmt.Sprintf("bad --log-level %q: use debug, info, warn or error", *level)}
		}
	}
	var out io.Writer = &bestEffort{w: os.Stderr}
	var fileLog io.Writer = io.Discard // the log file alone (config errors: stderr gets them from main)
	if *logFile != "" {
		if err := os.MkdirAll(filepath.Dir(*logFile), 0o755); err != nil {
			return fmt.Errorf("--log-file: %w", err)
		}
		f, err := os.OpenFile(*logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("--log-file: %w", err)
		}
		defer f.Close()
		out, fileLog = &logTee{file: f, term: &bestEffort{w: os.Stderr}}, f
	}
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: lvl})).With("node", *id)
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		slog.New(slog.NewTextHandler(fileLog, nil)).With("node", *id).Error("config refused; nothing was started", "err", err)
		return err
	}
	if *level == "" {
		lvl.UnmarshalText([]byte(cfg.LogLevel())) // Load checked it
	}
	ls, ssh, metricsL, err := inheritedListeners(os.Getenv(listenFDsEnv))
	if err != nil {
		return err
	}
	reload := make(chan os.Signal, 1)
	signal.Notify(reload, syscall.SIGHUP)
	defer signal.Stop(reload)
	hup := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-reload:
				select {
				case hup <- struct{}{}:
				default:
				}
			}
		}
	}()
	err = serve.Run(ctx, serve.Options{
		Node:               node.Options{Config: cfg, ID: *id, Logger: logger, Listeners: ls, Join: *join},
		SSH:                ssh,
		Metrics:            metricsL,
		ExtraAdminKeysFile: *extraAdmin,
		ConfigPath:         *cfgPath,
		Level:              lvl,
		LevelFixed:         *level != "",
		Reload:             hup,
	})
	if errors.Is(err, node.ErrRemoved) {
		return exitError{node.ExitRemoved, err.Error()}
	}
	return err
}

// bestEffort writes to a terminal that may go away: after the first error
// (EPIPE once the reader is gone) it drops everything, and it never
// reports an error, so the log file beside it keeps every line.
type bestEffort struct {
	w    io.Writer
	dead atomic.Bool
}

func (b *bestEffort) Write(p []byte) (int, error) {
	if !b.dead.Load() {
		if _, err := b.w.Write(p); err != nil {
			b.dead.Store(true)
		}
	}
	return len(p), nil
}

// logTee writes each log line to the file, then to the terminal.
type logTee struct {
	file io.Writer
	term io.Writer
}

func (t *logTee) Write(p []byte) (int, error) {
	n, err := t.file.Write(p)
	t.term.Write(p)
	return n, err
}

// listenFDsEnv names sockets a parent bound for this node and passed as
// inherited file descriptors, as "ssh=3,peer=4,heartbeat=5,election=6"
// (and "metrics=7" for the metrics listener). Test
// harnesses bind 127.0.0.1:0 themselves, so no port is chosen and then
// re-bound later by someone else.
const listenFDsEnv = "SYNCNET_LISTEN_FDS"

// inheritedListeners opens the sockets named in spec: the node's, and the
// SSH server's and the metrics listener's (nil if not passed).
func inheritedListeners(spec string) (ls *node.Listeners, ssh, metrics net.Listener, err error) {
	if spec == "" {
		return nil, nil, nil, nil
	}
	ls = &node.Listeners{}
	for _, part := range strings.Split(spec, ",") {
		name, fdText, ok := strings.Cut(part, "=")
		fd, err := strconv.Atoi(fdText)
		if !ok || err != nil || fd < 3 {
			return nil, nil, nil, fmt.Errorf("%s: bad entry %q (want name=fd, fd >= 3)", listenFDsEnv, part)
		}
		f := os.NewFile(uintptr(fd), name)
		switch name {
		case "ssh", "peer", "metrics":
			l, err := net.FileListener(f)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s: %s: %w", listenFDsEnv, name, err)
			}
			switch name {
			case "ssh":
				ssh = l
			case "metrics":
				metrics = l
			default:
				ls.Peer = l
			}
		case "heartbeat", "election":
			c, err := net.FilePacketConn(f)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s: %s: %w", listenFDsEnv, name, err)
			}
			u, ok := c.(*net.UDPConn)
			if !ok {
				return nil, nil, nil, fmt.Errorf("%s: %s is not a UDP socket", listenFDsEnv, name)
			}
			if name == "heartbeat" {
				ls.Heartbeat = u
			} else {
				ls.Election = u
			}
		default:
			return nil, nil, nil, fmt.Errorf("%s: unknown socket %q (want ssh, peer, heartbeat, election, metrics)", listenFDsEnv, name)
		}
		f.Close() // the listener holds its own dup
	}
	return ls, ssh, metrics, nil
}
