package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/syncnet/syncnet/node"
	"github.com/syncnet/syncnet/node/config"
	"github.com/syncnet/syncnet/tools/serve"
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
	ls, ssh, err := inheritedListeners(os.Getenv(listenFDsEnv))
	if err != nil {
		return err
	}
	return serve.Run(ctx, serve.Options{
		Node:               node.Options{Config: cfg, ID: *id, Logger: logger, Listeners: ls},
		SSH:                ssh,
		ExtraAdminKeysFile: *extraAdmin,
	})
}

// listenFDsEnv names sockets a parent bound for this node and passed as
// inherited file descriptors, as "ssh=3,peer=4,heartbeat=5,election=6". Test
// harnesses bind 127.0.0.1:0 themselves, so no port is chosen and then
// re-bound later by someone else.
const listenFDsEnv = "SYNCNET_LISTEN_FDS"

// inheritedListeners opens the sockets named in spec: the node's, and the
// SSH server's (nil if not passed).
func inheritedListeners(spec string) (ls *node.Listeners, ssh net.Listener, err error) {
	if spec == "" {
		return nil, nil, nil
	}
	ls = &node.Listeners{}
	for _, part := range strings.Split(spec, ",") {
		name, fdText, ok := strings.Cut(part, "=")
		fd, err := strconv.Atoi(fdText)
		if !ok || err != nil || fd < 3 {
			return nil, nil, fmt.Errorf("%s: bad entry %q (want name=fd, fd >= 3)", listenFDsEnv, part)
		}
		f := os.NewFile(uintptr(fd), name)
		switch name {
		case "ssh", "peer":
			l, err := net.FileListener(f)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %s: %w", listenFDsEnv, name, err)
			}
			if name == "ssh" {
				ssh = l
			} else {
				ls.Peer = l
			}
		case "heartbeat", "election":
			c, err := net.FilePacketConn(f)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %s: %w", listenFDsEnv, name, err)
			}
			u, ok := c.(*net.UDPConn)
			if !ok {
				return nil, nil, fmt.Errorf("%s: %s is not a UDP socket", listenFDsEnv, name)
			}
			if name == "heartbeat" {
				ls.Heartbeat = u
			} else {
				ls.Election = u
			}
		default:
			return nil, nil, fmt.Errorf("%s: unknown socket %q (want ssh, peer, heartbeat, election)", listenFDsEnv, name)
		}
		f.Close() // the listener holds its own dup
	}
	return ls, ssh, nil
}
