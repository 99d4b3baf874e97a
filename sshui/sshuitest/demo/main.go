// Command demo serves the chat against the in-memory fake Backend, for
// trying the UI without a cluster:
//
//	go run ./sshui/sshuitest/demo -addr 127.0.0.1:2222
//	ssh -p 2222 alice@127.0.0.1
//	ssh -p 2222 admin@127.0.0.1 status     # with a key from -admin-keys
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2222", "listen address")
	hostKey := flag.String("host-key", filepath.Join(os.TempDir(), "syncnet-demo-host-key"), "host key path")
	adminKeys := flag.String("admin-keys", "", "authorized_keys file for admin (default: ~/.ssh/*.pub)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var keys []string
	files := []string{*adminKeys}
	if *adminKeys == "" {
		home, _ := os.UserHomeDir()
		files, _ = filepath.Glob(filepath.Join(home, ".ssh", "*.pub"))
	}
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			keys = append(keys, strings.Split(string(b), "\n")...)
		}
	}
	fake := sshuitest.New("demo", time.Now)
	srv, err := sshui.New(sshui.Config{Addr: *addr, HostKeyPath: *hostKey, AdminKeys: keys, NodeID: "demo", Logger: log}, fake)
	if err != nil {
		log.Error("new", "err", err)
		os.Exit(1)
	}
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		<-ch
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	log.Info("serving", "addr", *addr, "admin_keys", len(keys))
	if err := srv.Serve(); err != nil {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}
