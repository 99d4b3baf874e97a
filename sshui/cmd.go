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
	in   io.Reader // the session's stdin (post reads its text there)
	out  io.Writer
	err  io.Writer
	pty  bool
	now  func() time.Time
	line cmdLine // the command line after the command name

	conn   *corkConn // the session's connection (nil in tests without one)
	corked bool      // finish was called: uncork after the exit status
}

// finish holds back the rest of the command's output, its exit status and
// the channel's close, to go out in one write (corkConn) after the exit
// status. Call it once the command waits for nothing but writing its last
// lines: a cork holds every session of the connection back, though never
// for longer than corkHold.
func (e *execEnv) finish() {
	if !e.corked {
		e.corked = true
		e.conn.cork()
	}
}

// errorf prints the command's last line, an error, and returns exitError.
func (e *execEnv) errorf(format string, a ...any) int {
	e.finish()
	_, _ = fmt.Fprintf(e.err, format+"\n", a...)
	return exitError
}

// claim binds the session's name to its key on a deliberate first use (a
// post, tail --join); reading commands claim nothing. When it cannot, it
// prints why and returns false with the exit code.
func (e *execEnv) claim() (int, bool) {
	if msg := e.srv.claim(e.ctx, e.id); msg != "" {
		return e.errorf("%s", msg), false
	}
	return exitOK, true
}

// command is one exec command (one file each: cmd_*.go).
type command struct {
	name    string
	usage   string // after the name
	summary string // the first line is help's listing
	admin   bool
	run     func(e *execEnv) int
}

// commands is the exec command table, checked in one place (runCommand).
func commands() map[string]command {
	cs := []command{cmdStatus(), cmdPost(), cmdHistory(), cmdTail(), cmdRooms(), cmdWho(), cmdHelp(),
		cmdBans(), cmdLift("unban"), cmdLift("unmute"), cmdRelease(), cmdReload(), cmdBackup(), cmdMember(),
		cmdRoom(), cmdKeys(), cmdNotify(), cmdEdit(), cmdDelete(), cmdReact(), cmdSearch()}
	m := make(map[string]command, len(cs))
	for _, c := range cs {
		m[c.name] = c
	}
	return m
}

// commandTable is filled in init: cmdHelp refers to it.
var commandTable map[string]command

func init() { commandTable = commands() }

// runCommand runs the exec command line raw (at most MaxCommandLine bytes,
// checked by limitsMiddleware) for sess and sends its exit status.
func (s *Server) runCommand(sess ssh.Session, id Identity, raw string) {
	_, _, pty := sess.Pty()
	ctx, cancel := context.WithCancel(sess.Context())
	defer cancel()
	defer context.AfterFunc(s.stopCtx, cancel)()
	e := &execEnv{ctx: ctx, srv: s, b: s.b, id: id, in: sess, out: sess, err: sess.Stderr(),
		pty: pty, now: time.Now, line: cmdLine{raw}, conn: corkOf(sess)}
	name, _ := e.line.next()
	defer func() { // after the exit status, or on a panic before the router's recover writes
		if e.corked {
			e.conn.uncork() // output, exit status and close: one write
		}
	}()
	_ = sess.Exit(dispatch(e, name))
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

// newFlags makes a flag set that prints nothing itself: parseFlags prints
// help or an error with the usage, once (the flag package's own printing
// showed the flags block twice).
func newFlags(c command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// usageText is a command's help: usage line, summary, flags.
func usageText(c command, fs *flag.FlagSet) string {
	var b, flags strings.Builder
	fmt.Fprintf(&b, "usage: %s %s\n\n%s\n", c.name, c.usage, c.summary)
	fs.SetOutput(&flags)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	if flags.Len() > 0 {
		b.WriteString("\nflags:\n" + flags.String())
	}
	return b.String()
}

// parseFlags parses words as flags only. --help prints the help on stdout
// (exit 0); a bad flag prints the error and the usage on stderr (exit 2).
// ok is false when the command ends there with code.
func parseFlags(e *execEnv, c command, fs *flag.FlagSet, words []string) (code int, ok bool) {
	err := fs.Parse(words)
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, _ = io.WriteString(e.out, usageText(c, fs))
		return exitOK, false
	case err != nil:
		_, _ = fmt.Fprintf(e.err, "%s: %s\n%s", c.name, Clean(err.Error(), 200), usageText(c, fs))
		return exitUsage, false
	}
	return exitOK, true
}

// parseArgs parses the rest of the line for commands without free text:
// flags may come before, between or after the positional arguments
// ("history general --limit 5"); "--" ends the flags. It returns the
// positional arguments, or ok false and the exit code (see parseFlags).
// parseNoArgs parses a command that takes flags only, refusing any
// argument with its usage.
func parseNoArgs(e *execEnv, c command, fs *flag.FlagSet) (code int, ok bool) {
	pos, code, ok := parseArgs(e, c, fs)
	if ok && len(pos) != 0 {
		return usageErr(e, c, fs, "no arguments expected"), false
	}
	return code, ok
}

func parseArgs(e *execEnv, c command, fs *flag.FlagSet) (pos []string, code int, ok bool) {
	args := e.line.words()
	for {
		if code, ok := parseFlags(e, c, fs, args); !ok {
			return nil, code, false
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

// usageErr prints a usage error and the usage, and returns exitUsage.
func usageErr(e *execEnv, c command, fs *flag.FlagSet, format string, a ...any) int {
	e.finish()
	_, _ = fmt.Fprintf(e.err, "%s: %s\n%s", c.name, fmt.Sprintf(format, a...), usageText(c, fs))
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
			return "", quoteHint(arg, err)
		}
		return api.DMRoom(e.id.Name, n), nil
	}
	room, err := NormalizeRoom(arg)
	return room, quoteHint(arg, err)
}

// quoteHint adds to err, for an argument with quotes in it, that the
// command line has no shell quoting (cmdLine).
func quoteHint(arg string, err error) error {
	if err != nil && strings.ContainsAny(arg, `'"`) {
		return fmt.Errorf("%w (quotes are not special here: words are separated by spaces)", err)
	}
	return err
}

// missingRoom says why room, which roomArg resolved from arg, names
// nothing ("no room …", "no user …"), or "" when it exists: an empty
// answer must mean an empty room, not a typo.
func missingRoom(e *execEnv, arg, room string) string {
	if name, ok := strings.CutPrefix(arg, "@"); ok {
		n, _ := NormalizeName(name)
		if _, bound := e.b.NameOwner(n); bound || n == e.id.Name {
			return ""
		}
		return fmt.Sprintf("no user %q", n)
	}
	for _, r := range e.b.Rooms() {
		if r.Name == room {
			return ""
		}
	}
	return fmt.Sprintf("no room %q; the rooms are listed by: rooms", room)
}

func cmdHelp() command {
	c := command{name: "help", usage: "", summary: "List the commands."}
	c.run = func(e *execEnv) int {
		fs := newFlags(c)
		pos, code, ok := parseArgs(e, c, fs)
		if !ok {
			return code
		}
		if len(pos) > 0 {
			return usageErr(e, c, fs, "no arguments expected; try: COMMAND --help")
		}
		names := make([]string, 0, len(commandTable))
		for n, c := range commandTable {
			if !c.admin || e.id.Admin {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		_, _ = fmt.Fprintln(e.out, "SyncNet commands (ssh HOST COMMAND --help for details):")
		for _, n := range names {
			first, _, _ := strings.Cut(commandTable[n].summary, "\n")
			_, _ = fmt.Fprintf(e.out, "  %-8s %s\n", n, first)
		}
		_, _ = fmt.Fprintln(e.out, "Without a command, ssh with a terminal opens the chat.")
		return exitOK
	}
	return c
}
