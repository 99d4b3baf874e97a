// Command fakeserver serves the SSH chat (sshui) over an in-memory backend
// (sshuitest.Fake) in its own process, so `syncnet bench --pid` can measure
// the SSH layer's CPU and memory before real nodes are involved:
//
//	go run ./tools/bench/fakeserver --addr 127.0.0.1:2299 &
//	bin/syncnet bench --addr 127.0.0.1:2299 --pid $! --sessions 200
//
// It prints "addr=HOST:PORT pid=PID" once listening and stops on SIGINT or
// SIGTERM. Loopback only.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	maxSessions := flag.Int("max-sessions", 10000, "session cap")
	rate := flag.Float64("rate-limit", 0, "messages/s per user (0: the server default)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this loopback address (heap and goroutine profiles)")
	memRate := flag.Int("memprofilerate", 0, "runtime.MemProfileRate (0: Go's default; 1: every allocation, for exact heap profiles)")
	logLevel := flag.String("log", "", "log the SSH server's lines at this level (debug, info, warn) to stderr; default: none")
	flag.Parse()
	var logger *slog.Logger
	if *logLevel != "" {
		var lv slog.Level
		if err := lv.UnmarshalText([]byte(*logLevel)); err != nil {
			fmt.Fprintln(os.Stderr, "fakeserver: --log:", err)
			os.Exit(2)
		}
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	}
	if *memRate > 0 {
		runtime.MemProfileRate = *memRate
	}
	if *pprofAddr != "" {
		ln, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fakeserver:", err)
			os.Exit(1)
		}
		http.HandleFunc("/gc", gcHandler)
		go func() { _ = http.Serve(ln, nil) }() // DefaultServeMux carries net/http/pprof
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "fakeserver:", err)
			os.Exit(1)
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	if err := run(*addr, *maxSessions, *rate, logger); err != nil {
		fmt.Fprintln(os.Stderr, "fakeserver:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(addr string, maxSessions int, rate float64, logger *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s: loopback only", addr)
	}
	dir, err := os.MkdirTemp("", "syncnet-fakeserver")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv, err := sshui.New(sshui.Config{Listener: ln, NodeID: "fake1", HostKeyPath: filepath.Join(dir, "host_ed25519"),
		MaxSessions: maxSessions, RateLimit: rate, Logger: logger}, sshuitest.New("fake1", time.Now))
	if err != nil {
		return err
	}
	server.Store(srv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	fmt.Printf("addr=%s pid=%d\n", ln.Addr(), os.Getpid())
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return <-done
}

// gcHandler (GET /gc on the --pprof address) collects twice, so stacks
// that grew in a burst are shrunk too (each GC at most halves one), returns
// the freed pages to the OS, and prints what the runtime holds: what idle
// sessions cost, without the garbage of their connect storm.
var server atomic.Pointer[sshui.Server] // for gcHandler

func gcHandler(w http.ResponseWriter, _ *http.Request) {
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	sessions := 0
	if s := server.Load(); s != nil {
		sessions = s.Sessions()
	}
	fmt.Fprintf(w, "heap_inuse=%d stack_inuse=%d sys=%d goroutines=%d sessions=%d\n",
		m.HeapInuse, m.StackInuse, m.Sys, runtime.NumGoroutine(), sessions)
}
