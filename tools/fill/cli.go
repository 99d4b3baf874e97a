package fill

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/syncnet/syncnet/node/config"
)

// UsageError is a bad flag or value: `syncnet fill` exits 2 with it.
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// Synopsis is the command line of `syncnet fill`.
const Synopsis = "fill --config FILE --messages N [--rooms R] [--size BYTES] [--users U] [--seed S] [--period D]"

// Main runs `syncnet fill ARGS`: it returns nil, flag.ErrHelp after --help,
// a UsageError, or the error that stopped the fill (nothing is left behind
// then, see Fill).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return run(ctx, args, stdout, stderr, isTerminal(stderr))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, tty bool) error {
	fs := flag.NewFlagSet("fill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "cluster.toml", "the cluster config; every [[node]] gets <data_dir>/<id>/wal")
	var o Options
	fs.IntVar(&o.Messages, "messages", 0, "how many chat messages (required); they are cluster indexes 2..N+1")
	fs.IntVar(&o.Rooms, "rooms", DefaultRooms, "how many rooms, \"general\" first")
	fs.IntVar(&o.Size, "size", 0, fmt.Sprintf("every message's text in bytes, at most %d; 0 draws each from %d-%d", MaxText, MinSize, MaxSize))
	fs.IntVar(&o.Users, "users", DefaultUsers, "how many users post")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of every draw: the same flags give the same messages (only their times move, ending now)")
	fs.DurationVar(&o.Period, "period", 0, fmt.Sprintf("wall time the messages span, ending now (default: %d messages a second)", DefaultRate))
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: syncnet %s\n\n", Synopsis)
		fmt.Fprintf(stderr, "Writes the data directory of every node of the config as if a leader had posted N\n"+
			"messages and every node had replicated and committed them. Refuses to touch an\n"+
			"existing node directory. For tests and benchmarks.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return UsageError{Msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return UsageError{Msg: fmt.Sprintf("unexpected argument %q (see --help)", fs.Arg(0))}
	}
	if o.Messages == 0 {
		return UsageError{Msg: "--messages is required (see --help)"}
	}
	if _, err := o.withDefaults(); err != nil {
		return UsageError{Msg: err.Error()}
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	var bar *progressbar.ProgressBar
	if tty {
		bar = progressbar.NewOptions64(int64(o.Messages+1)*int64(len(cfg.Nodes)),
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("filling "+plural(len(cfg.Nodes), "node")),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("entries"),
			progressbar.OptionShowIts(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetRenderBlankState(true),
		)
		o.Progress = func(n int64) { _ = bar.Add64(n) }
	}
	res, err := Fill(ctx, cfg, o)
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		var oe *OptionsError
		if errors.As(err, &oe) {
			return UsageError{Msg: err.Error()}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; removed what was written (%w)", err)
		}
		return err
	}
	fmt.Fprintf(stdout, "filled %s in %s: %d messages (cluster index 2..%d, committed), %d rooms, %d users, leader %s in term %d\n",
		plural(len(res.Nodes), "node"), res.DataDir, o.Messages, res.LastIndex, o.Rooms, o.Users, res.Leader, filledTerm)
	fmt.Fprintf(stdout, "messages from %s to %s; %d WAL records and %.1f MiB per node; took %s (%.0f messages/s)\n",
		res.First.Format(time.RFC3339), res.Last.Format(time.RFC3339), res.Records,
		float64(res.Bytes)/float64(len(res.Nodes))/(1<<20), res.Elapsed.Round(time.Millisecond),
		float64(o.Messages)/res.Elapsed.Seconds())
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
