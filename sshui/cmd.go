package sshui

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/ssh"
	"github.com/syncnet/syncnet/node/api"
)

// Exit codes of exec commands.
const (
	exitOK    = 0
	exitError = 1 // the command failed (no quorum, permission denied, …)
	exitUsage = 2 // bad arguments
)

// execEnv is what an exec command runs with.
type execEnv struct {
	ctx  context.Context
	srv  *Server
	b    api.Backend
	id   Identity
	out  io.Writer
	err  io.Writer
	pty  bool
	now  func() time.Time
	args []string // after the command name
}

func (e *execEnv) errorf(format string, a ...any) int {
	_, _ = fmt.Fprintf(e.err, format+"\n", a...)
	return exitError
}

// command is one exec command (one file each: cmd_*.go).
type command struct {
	name    string
	usage   string // after the name
	summary string
	admin   bool
	run     func(e *execEnv) int
}

// commands is the exec command table, checked in one place (runCommand).
func commands() map[string]command {
	cs := []command{cmdStatus(), cmdPost(), cmdHistory(), cmdTail(), cmdRooms(), cmdWho(), cmdHelp()}
	m := make(map[string]command, len(cs))
	for _, c := range cs {
		m[c.name] = c
	}
	return m
}

// commandTable is filled in init: cmdHelp refers to it.
var commandTable map[string]command

func init() { commandTable = commands() }

// runCommand runs one exec command for sess and returns the exit code.
func (s *Server) runCommand(sess ssh.Session, id Identity, args []string) int {
	_, _, pty := sess.Pty()
	ctx, cancel := context.WithCancel(sess.Context())
	defer cancel()
	defer context.AfterFunc(s.stopCtx, cancel)()
	e := &execEnv{ctx: ctx, srv: s, b: s.b, id: id, out: sess, err: sess.Stderr(),
		pty: pty, now: time.Now, args: args[1:]}
	return dispatch(e, args[0])
}

func dispatch(e *execEnv, name string) int {
	c, ok := commandTable[name]
	if !ok {
		_, _ = fmt.Fprintf(e.err, "unknown command %q; try: help\n", Clean(name, 64))
		return exitUsage
	}
	if c.admin && !e.id.Admin {
		_, _ = fmt.Fprintln(e.err, "permission denied: this command is for admins")
		return exitError
	}
	return c.run(e)
}

// newFlags makes a ContinueOnError flag set whose usage goes to e.out.
func newFlags(e *execEnv, c command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(e.err)
	fs.Usage = func() {
		_, _ = fmt.Fprintf(fs.Output(), "usage: %s %s\n\n%s\n", c.name, c.usage, c.summary)
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(e.err)
		if b.Len() > 0 {
			_, _ = fmt.Fprintf(fs.Output(), "\nflags:\n%s", b.String())
		}
	}
	return fs
}

// parseArgs parses flags that may come before, between or after positional
// arguments ("post general hi --id x"); "--" ends flag parsing. It returns
// the positional arguments, or an exit code when parsing ended the command
// (--help: 0 with usage on stdout; a bad flag: 2).
func parseArgs(e *execEnv, fs *flag.FlagSet, args []string) ([]string, int, bool) {
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(e.out)
			fs.Usage()
			return nil, exitOK, false
		}
		if err != nil {
			return nil, exitUsage, false
		}
		rest := fs.Args()
		used := len(args) - len(rest)
		if used > 0 && args[used-1] == "--" {
			return append(pos, rest...), 0, true
		}
		if len(rest) == 0 {
			return pos, 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// usageErr prints a usage error and returns exitUsage.
func usageErr(e *execEnv, fs *flag.FlagSet, format string, a ...any) int {
	_, _ = fmt.Fprintf(e.err, "%s: %s\n", fs.Name(), fmt.Sprintf(format, a...))
	fs.Usage()
	return exitUsage
}

// newClientID makes a random client message id for callers that give none.
func newClientID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// roomArg resolves a room argument: "general", "#general", or "@bob" for the
// direct conversation with bob.
func roomArg(e *execEnv, arg string) (string, error) {
	if name, ok := strings.CutPrefix(arg, "@"); ok {
		n, err := NormalizeName(name)
		if err != nil {
			return "", err
		}
		return api.DMRoom(e.id.Name, n), nil
	}
	return NormalizeRoom(arg)
}

func cmdHelp() command {
	c := command{name: "help", usage: "", summary: "List the commands."}
	c.run = func(e *execEnv) int {
		names := make([]string, 0, len(commandTable))
		for n, c := range commandTable {
			if !c.admin || e.id.Admin {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		_, _ = fmt.Fprintln(e.out, "SyncNet commands (ssh HOST COMMAND --help for details):")
		for _, n := range names {
			c := commandTable[n]
			_, _ = fmt.Fprintf(e.out, "  %-8s %s\n", n, c.summary)
		}
		_, _ = fmt.Fprintln(e.out, "Without a command, ssh with a terminal opens the chat.")
		return exitOK
	}
	return c
}
