package walcmd

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/syncnet/syncnet/tools/gctune"
)

// Exit codes; see the package documentation.
const (
	ExitOK       = 0
	ExitProblem  = 1
	ExitUsage    = 2
	ExitTornOnly = 3
	ExitInput    = 4
)

// ExitError carries an exit code out of Main. Msg, if not empty, is printed
// on stderr by the caller.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Msg
}

func exitf(code int, format string, args ...any) error {
	return &ExitError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// env is what a subcommand writes to.
type env struct {
	ctx    context.Context
	stdout *bufio.Writer
	stderr io.Writer
	// tty is true when stderr is a terminal: progress bars are shown.
	tty bool
	// outTTY is true when stdout is a terminal.
	outTTY bool
}

// note writes one informational line on stderr.
func (e *env) note(format string, args ...any) {
	fmt.Fprintf(e.stderr, "syncnet wal: "+format+"\n", args...)
}

type subcommand struct {
	name, args, summary string
	run                 func(e *env, args []string) error
}

func subcommands() []subcommand {
	return []subcommand{
		{"dump", "[--json] [--from SEQ] [--to SEQ] [--kind K] DIR", "print every record", runDump},
		{"verify", "[--all] DIR", "check checksums, hash chain and the log's invariants", runVerify},
		{"stats", "DIR", "counts, rooms, users, size, terms and leaders", runStats},
		{"replay", "[--until INDEX|TIME] [--room R] [--include-uncommitted] DIR", "rebuild state as it stood at a point", runReplay},
		{"diff", "DIR1 DIR2 [DIR...]", "compare the committed logs of several nodes", runDiff},
		{"export", exportSynopsis, "transcript of a room, or of them all, for archiving", runExport},
	}
}

// Main runs `syncnet wal ARGS`. It returns nil, flag.ErrHelp after --help, or
// an error; an *ExitError carries a specific exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return run(ctx, args, stdout, stderr, isTerminal(stderr), isTerminal(stdout))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, tty, outTTY bool) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return &ExitError{Code: ExitUsage}
		}
		return flag.ErrHelp
	}
	for _, c := range subcommands() {
		if c.name != args[0] {
			continue
		}
		// The tools hold a window of the log, and replay, export and stats
		// node/state's plugins: a roomier GC while what is live is small
		// (gctune.Roomy; GOGC in the environment overrides it).
		defer gctune.Roomy()()
		w := bufio.NewWriterSize(stdout, 64<<10)
		e := &env{ctx: ctx, stdout: w, stderr: stderr, tty: tty, outTTY: outTTY}
		err := c.run(e, args[1:])
		if ferr := w.Flush(); err == nil && ferr != nil {
			err = exitf(ExitInput, "write output: %v", ferr)
		}
		return err
	}
	usage(stderr)
	return exitf(ExitUsage, "unknown wal subcommand %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Audit SyncNet write-ahead logs offline (read-only; safe on a live node's directory).\n\nUsage:\n")
	const argsWidth = 62
	for _, c := range subcommands() {
		if len(c.args) > argsWidth {
			// Too long for the column: the summary goes under it, aligned.
			fmt.Fprintf(w, "  syncnet wal %-7s %s\n  %-19s %-*s %s\n", c.name, c.args, "", argsWidth, "", c.summary)
			continue
		}
		fmt.Fprintf(w, "  syncnet wal %-7s %-*s %s\n", c.name, argsWidth, c.args, c.summary)
	}
	fmt.Fprintf(w, "\nDIR is a wal directory (<data_dir>/<id>/wal) or a node directory holding wal/.\n")
	fmt.Fprintf(w, "Exit codes: 0 ok, 1 problem found, 2 usage, 3 torn tail only (verify), 4 unreadable input.\n")
	fmt.Fprintf(w, "Run 'syncnet wal SUBCOMMAND --help' for its flags.\n")
}

// newFlags returns a flag set whose --help prints the synopsis, the
// description and the flags.
func newFlags(e *env, name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet("wal "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: syncnet wal %s %s\n\n%s\n", name, synopsis, wrap(description, 78))
		var hasFlags bool
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintf(e.stderr, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses args allowing flags after positional arguments ("export DIR
// --room R") and checks the count of positionals.
func parse(fs *flag.FlagSet, args []string, minPos, maxPos int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &ExitError{Code: ExitUsage} // flag already printed why
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) < minPos || (maxPos >= 0 && len(pos) > maxPos) {
		fs.Usage()
		want := fmt.Sprintf("%d", minPos)
		switch {
		case maxPos < 0:
			want = fmt.Sprintf("at least %d", minPos)
		case maxPos != minPos:
			want = fmt.Sprintf("%d to %d", minPos, maxPos)
		}
		return nil, exitf(ExitUsage, "%s: want %s directory argument(s), got %d", fs.Name(), want, len(pos))
	}
	return pos, nil
}

func wrap(s string, width int) string {
	var b strings.Builder
	col := 0
	for _, w := range strings.Fields(s) {
		if col > 0 && col+1+len(w) > width {
			b.WriteByte('\n')
			col = 0
		} else if col > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += len(w)
	}
	return b.String()
}
