package ring

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsOnlyStandardLibrary: ring sits at the bottom of the dependency
// graph (docs/ARCHITECTURE.md): it must not import eventlog, node or anything else of
// the module, nor third-party packages.
func TestImportsOnlyStandardLibrary(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first := strings.Split(path, "/")[0]
			if strings.Contains(first, ".") && !strings.HasPrefix(path, "golang.org/x/") {
				t.Errorf("%s imports %s", f, path)
			}
		}
	}
}
