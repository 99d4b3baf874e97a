package node

import (
	"bytes"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/syncnet/syncnet/"

// layoutRule says what the Go files under dir (its subpackages included,
// tests included) may import of ours. A package may always import its own
// subpackages.
type layoutRule struct {
	dir    string
	forbid []string // packages of ours, each with its subpackages; "" = all of ours
	except []string // allowed although forbid covers them (with subpackages)
	// stdOnly: nothing outside the standard library either.
	stdOnly bool
	why     string
}

// layoutRules is the package layout of docs/ARCHITECTURE.md ("Packages").
var layoutRules = []layoutRule{
	{dir: "eventlog", forbid: []string{""}, why: "the log imports nothing of ours"},
	{dir: "ring", forbid: []string{""}, why: "the election core imports nothing of ours"},
	{dir: "node/api", forbid: []string{""}, stdOnly: true,
		why: "the contract between a node and its front ends imports nothing of ours, nor anything outside the standard library"},
	{dir: "node/search", forbid: []string{""},
		why: "the search index is a library the node feeds: it imports nothing of ours"},
	{dir: "node/state", forbid: []string{"sshui", "tools"},
		why: "the replicated state is shared with the offline tools and knows no front end"},
	{dir: "node", forbid: []string{"sshui", "tools"},
		why: "a node knows its front ends only through node/api; the program (tools/serve) wires them"},
	{dir: "sshui", forbid: []string{"node", "ring", "eventlog", "tools"}, except: []string{"node/api"},
		why: "the SSH front end knows a node only through node/api"},
	{dir: "tools/wal", forbid: []string{"node/replica", "node/peer", "ring", "sshui"},
		why: "offline audit: the log, the fold and the contract only"},
}

// covers reports whether pkg (a path of ours, module prefix removed) is p or
// one of p's subpackages; "" covers everything of ours.
func covers(p, pkg string) bool {
	return p == "" || pkg == p || strings.HasPrefix(pkg, p+"/")
}

// TestDependenciesPointOneWay keeps the layout of docs/ARCHITECTURE.md:
// eventlog, ring and node/api import nothing of ours; node, node/state and
// tools/wal know no front end; sshui knows a node only through node/api;
// nothing a node runs imports tools.
func TestDependenciesPointOneWay(t *testing.T) {
	root := ".."
	for _, r := range layoutRules {
		files := 0
		err := filepath.WalkDir(filepath.Join(root, r.dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			files++
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if !strings.HasPrefix(p, module) {
					if r.stdOnly && strings.Contains(strings.SplitN(p, "/", 2)[0], ".") {
						t.Errorf("%s imports %s: %s", path, p, r.why)
					}
					continue
				}
				ours := strings.TrimPrefix(p, module)
				if covers(r.dir, ours) {
					continue // its own subpackages
				}
				bad := false
				for _, b := range r.forbid {
					bad = bad || covers(b, ours)
				}
				for _, e := range r.except {
					bad = bad && !covers(e, ours)
				}
				if bad {
					t.Errorf("%s imports %s: %s", path, p, r.why)
				}
			}
			return nil
		})
		if err != nil {
			t.Errorf("layout rule for %s: %v", r.dir, err)
		} else if files == 0 {
			t.Errorf("layout rule for %s: no Go files there (moved? update the rule)", r.dir)
		}
	}
}

// TestOfflinePackagesBuildWithoutTheSSHStack: the audit tool, the
// replicated state, the contract and the node itself must not pull in the
// SSH and terminal modules, not even indirectly.
func TestOfflinePackagesBuildWithoutTheSSHStack(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not available (%v): cannot list dependencies", err)
	}
	pkgs := []string{"./tools/wal", "./node/state", "./node/api", "./node"}
	cmd := exec.Command(goCmd, append([]string{"list", "-deps", "-f", "{{.ImportPath}} {{with .Module}}{{.Path}}{{end}}"}, pkgs...)...)
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", strings.Join(pkgs, " "), err, stderr.String())
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, mod, _ := strings.Cut(line, " ")
		if strings.HasPrefix(pkg, "github.com/charmbracelet/") || strings.HasPrefix(mod, "github.com/charmbracelet/") {
			if !seen[mod] {
				seen[mod] = true
				t.Errorf("go list -deps %s has %s (module %s): these packages must not depend on the SSH stack",
					strings.Join(pkgs, " "), pkg, mod)
			}
		}
	}
}
