//go:build pprof

// A profiling build for benchmarks: `go build -tags pprof -o /tmp/syncnet-prof
// ./tools/cmd/syncnet`. Every `syncnet node` of such a build serves
// net/http/pprof on a loopback port of its own and writes that address to
// DIR/ID.pprof when SYNCNET_PPROF_DIR=DIR is set, so a benchmark can take CPU
// profiles and execution traces of real nodes (docs/BENCHMARKS.md says which
// figures came from it). Release builds do not contain it.
package main

import (
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"path/filepath"
	"slices"
)

func init() {
	dir := os.Getenv("SYNCNET_PPROF_DIR")
	if dir == "" || len(os.Args) < 2 || os.Args[1] != "node" {
		return
	}
	id := "node"
	if i := slices.Index(os.Args, "--id"); i >= 0 && i+1 < len(os.Args) {
		id = os.Args[i+1]
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return
	}
	_ = os.WriteFile(filepath.Join(dir, id+".pprof"), []byte(ln.Addr().String()+"\n"), 0o644)
	go http.Serve(ln, nil) //nolint:errcheck // a debugging aid; it ends with the process
}
