package chat

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	osuser "os/user"
	"strconv"
	"strings"
	"time"

	"github.com/syncnet/syncnet/node/config"
	"golang.org/x/term"
)

// UsageError is a bad command line (exit status 2).
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// Stdio is the process's standard streams.
type Stdio struct {
	In       *os.File
	Out, Err io.Writer
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// Main is `syncnet chat [flags]`. flag.ErrHelp means --help was shown.
func Main(ctx context.Context, args []string, std Stdio) error {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(std.Err)
	cfgPath := fs.String("config", "", "cluster config (cluster.toml): the nodes' ssh host:port")
	nodesArg := fs.String("nodes", "", "nodes as host:port,host:port,… (instead of --config)")
	user := fs.String("user", defaultUser(), "chat name (SSH user)")
	room := fs.String("room", "general", "room to follow and post to")
	var keys listFlag
	fs.Var(&keys, "i", "private key file (repeatable); then the agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa")
	khPath := fs.String("known-hosts", "", "known hosts file (default ~/.config/syncnet/known_hosts)")
	batch := fs.Bool("batch", false, "no UI: post stdin lines, print received messages as JSON lines, states on stderr")
	linger := fs.Duration("linger", 0, "--batch: keep printing this long after stdin closed and all lines were acknowledged")
	trace := fs.Bool("trace", false, "--batch: add via/recv to JSON lines and print acknowledgements (failover-gap measurement)")
	history := fs.Int("history", 20, "recent messages shown on the first connect (0: none)")
	dialTimeout := fs.Duration("dial-timeout", 500*time.Millisecond, "TCP connect timeout per node")
	keepalive := fs.Duration("keepalive", time.Second, "keepalive probe interval; an unanswered probe (same timeout) fails the node")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: syncnet chat [--config FILE | --nodes HOST:PORT,...] [-i KEY] [--user NAME] [--room ROOM] [--batch]\n\n"+
			"A chat client that moves to the next live node when its node fails, resumes with no gap and\n"+
			"no duplicate, and sends lines typed while disconnected once it is back.")
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
	nodes, err := nodeList(*cfgPath, *nodesArg)
	if err != nil {
		return err
	}
	if *user == "" {
		return UsageError{"no user: set --user NAME"}
	}
	interactive := !*batch && term.IsTerminal(int(std.In.Fd()))
	if !*batch && !interactive {
		return UsageError{"stdin is not a terminal: use --batch for scripts"}
	}
	auth, err := loadCLIAuth(keys, interactive, std)
	if err != nil {
		return err
	}
	defer auth.Close()
	if *khPath == "" {
		if *khPath, err = DefaultKnownHostsPath(); err != nil {
			return err
		}
	}
	kh, err := OpenKnownHosts(*khPath)
	if err != nil {
		return err
	}
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.Addr)
	}
	kh.SetCluster(addrs) // a node seen for the first time must show the cluster's key
	hist := *history
	if hist == 0 {
		hist = -1
	}
	cfg := Config{Nodes: nodes, User: *user, Room: strings.TrimPrefix(*room, "#"), Auth: auth.Methods(),
		HostKey: kh.Callback(), History: hist, DialTimeout: *dialTimeout,
		KeepaliveInterval: *keepalive, KeepaliveTimeout: *keepalive}
	if *batch {
		return RunBatch(ctx, cfg, BatchOptions{In: std.In, Out: std.Out, Err: std.Err, Linger: *linger, Trace: *trace})
	}
	return RunUI(ctx, cfg, UIOptions{In: std.In, Out: std.Out, AltScreen: true})
}

func defaultUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := osuser.Current(); err == nil {
		return u.Username
	}
	return ""
}

// nodeList reads the nodes from --config or --nodes.
func nodeList(cfgPath, list string) ([]Node, error) {
	switch {
	case cfgPath != "" && list != "":
		return nil, UsageError{"give --config or --nodes, not both"}
	case list != "":
		var nodes []Node
		for i, a := range strings.Split(list, ",") {
			a = strings.TrimSpace(a)
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, UsageError{fmt.Sprintf("--nodes: %q is not host:port", a)}
			}
			nodes = append(nodes, Node{Name: fmt.Sprintf("node%d", i+1), Addr: a})
		}
		return nodes, nil
	}
	if cfgPath == "" {
		if _, err := os.Stat("cluster.toml"); err != nil {
			return nil, UsageError{"no nodes: give --config cluster.toml or --nodes host:port,…"}
		}
		cfgPath = "cluster.toml"
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	var nodes []Node
	for _, n := range cfg.Nodes {
		host := n.Host
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		nodes = append(nodes, Node{Name: n.ID, Addr: net.JoinHostPort(host, strconv.Itoa(n.SSHPort))})
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("%s: no [[node]] entries", cfgPath)
	}
	return nodes, nil
}

func loadCLIAuth(keys []string, interactive bool, std Stdio) (*Auth, error) {
	opts := AuthOptions{KeyFiles: keys, AgentSock: os.Getenv("SSH_AUTH_SOCK")}
	if home, err := os.UserHomeDir(); err == nil {
		opts.Home = home
	}
	if interactive {
		opts.Passphrase = func(path string) ([]byte, error) {
			fmt.Fprintf(std.Err, "Enter passphrase for %s: ", path)
			pw, err := term.ReadPassword(int(std.In.Fd()))
			fmt.Fprintln(std.Err)
			return pw, err
		}
	}
	return LoadAuth(opts)
}
