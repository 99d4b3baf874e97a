package node

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/syncnet/syncnet/"

// TestDependenciesPointOneWay keeps the layout of DESIGN.md: eventlog and
// ring import nothing of ours, sshui talks to node only through the
// interface it defines, and nothing a node runs imports tools.
func TestDependenciesPointOneWay(t *testing.T) {
	forbidden := map[string][]string{
		"eventlog":  {""},                                                                           // nothing of ours at all
		"ring":      {""},                                                                           // nothing of ours at all
		"sshui":     {"node/state", "node/replica", "node/peer", "node/config", "ring", "eventlog"}, // of node, only node/api
		"node":      {"tools"},                                                                      // a node never needs the tools
		"tools/wal": {"node/replica", "node/peer", "ring"},                                          // offline: the log and the fold only
	}
	root := ".."
	for dir, bad := range forbidden {
		filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if !strings.HasPrefix(p, module) {
					continue
				}
				ours := strings.TrimPrefix(p, module)
				if strings.HasPrefix(ours, dir+"/") || ours == dir {
					continue // its own subpackages
				}
				for _, b := range bad {
					if b == "" || ours == b || strings.HasPrefix(ours, b+"/") {
						t.Errorf("%s imports %s: dependencies must point one way", path, p)
					}
				}
			}
			return nil
		})
	}
}
