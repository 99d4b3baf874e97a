package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
)

// UsageError is a bad command line (exit status 2).
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// Main is `syncnet bench [flags]`: one run, a summary table (or JSON) on out.
func Main(ctx context.Context, args []string, out, errOut io.Writer) error {
	if len(args) > 0 && args[0] == "write" {
		return WriteMain(ctx, args[1:], out, errOut)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var c Config
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:2222", "node SSH address (loopback only)")
	fs.IntVar(&c.Sessions, "sessions", 20, fmt.Sprintf("concurrent chat sessions, each a distinct user (max %d)", MaxSessions))
	fs.IntVar(&c.Posters, "posters", 3, "sessions that post")
	fs.Float64Var(&c.Rate, "rate", 10, "messages per second, all posters together (server default limit: 10/s per user)")
	fs.DurationVar(&c.Duration, "duration", 10e9, "posting time")
	fs.Float64Var(&c.Ramp, "ramp", 50, "new sessions per second while connecting")
	fs.StringVar(&c.Room, "room", "general", "room")
	via := fs.String("post-via", "app", "how posters send: app (type text + Enter into the chat app) or exec (post exec sessions)")
	fs.IntVar(&c.PID, "pid", 0, "server pid: report its CPU per delivered copy and RSS per session from /proc")
	fs.DurationVar(&c.Drain, "drain", 5e9, "after the last post, wait at most this for deliveries")
	fs.DurationVar(&c.Settle, "settle", 30e9, "after connecting, wait up to this long before measuring memory and posting\n(with --pid: until the server is idle; without: exactly this long)")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", 10e9, "per session: dial to first chat screen")
	fs.IntVar(&c.Width, "width", 80, "PTY columns")
	fs.IntVar(&c.Height, "height", 24, "PTY rows")
	asJSON := fs.Bool("json", false, "print the result as JSON instead of the table")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: syncnet bench write --help   (posts through SSH: exec vs stream, see its help)\n"+
			"       syncnet bench --addr HOST:PORT [--sessions N] [--posters P] [--rate R] [--duration D] [--ramp R] [--pid PID] [--json]\n\n"+
			"Opens N PTY chat sessions to one node (distinct users, in-memory keys), posts messages with\n"+
			"unique tokens and finds each token in every other session's screen. Loopback only; bounded.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return UsageError{} // the flag package printed the error and the usage
	}
	if fs.NArg() > 0 {
		return UsageError{"unexpected argument " + strconv.Quote(fs.Arg(0))}
	}
	switch *via {
	case "app":
	case "exec":
		c.Exec = true
	default:
		return UsageError{"--post-via must be app or exec"}
	}
	if err := c.Validate(); err != nil {
		return UsageError{err.Error()}
	}
	res, err := Run(ctx, c)
	if err != nil {
		return err
	}
	if *asJSON {
		return res.WriteJSON(out)
	}
	res.WriteTable(out)
	return nil
}
