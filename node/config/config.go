// Package config reads and checks cluster.toml, the one file that describes a
// SyncNet cluster: its name, secret, timing, admin keys and the nodes with
// their ports and ring positions.
//
// Loading is strict on purpose: an unknown key, a bare-integer duration (which
// TOML would read as nanoseconds) or two nodes on one port are configuration
// mistakes that would otherwise surface as a cluster that silently never
// elects a leader. Every error names the key and, where the file has one, the
// line.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole of cluster.toml.
type Config struct {
	Cluster Cluster `toml:"cluster"`
	Timing  Timing  `toml:"timing"`
	Auth    Auth    `toml:"auth"`
	SSH     SSH     `toml:"ssh"`
	Storage Storage `toml:"storage"`
	Metrics Metrics `toml:"metrics"`
	Log     Log     `toml:"log"` // the node's log (log.go)
	Nodes   []Node  `toml:"node"`
	Bots    []Bot   `toml:"bot"`    // per-key posting allowances (bots.go)
	Limits  Limits  `toml:"limits"` // every other user's allowance (limits.go)
	TLS     TLS     `toml:"tls"`    // peer link credentials (tls.go)

	// path is the file the config was loaded from; relative paths in it
	// (data_dir, secret_file, admin_keys_file, ssh.host_key) are resolved
	// against its directory so `syncnet node --config
	// /etc/syncnet/cluster.toml` works from any working directory.
	path string
	// lines maps each key set in the file ("ssh.host_key") to the line it
	// is written on, so errors found later can name it (see Where).
	lines map[string]int
	// text is the file's contents, to find the line of a key inside the
	// i-th [[node]] table (lines holds only a key's first occurrence).
	text string
}

// Cluster holds cluster-wide identity and storage.
type Cluster struct {
	Name       string `toml:"name"`
	DataDir    string `toml:"data_dir"`
	Secret     string `toml:"secret"`
	SecretFile string `toml:"secret_file"`
}

// Timing holds the failure-detector and election clocks.
type Timing struct {
	HeartbeatInterval Duration `toml:"heartbeat_interval"`
	FailureTimeout    Duration `toml:"failure_timeout"`
	ElectionTimeout   Duration `toml:"election_timeout"`
	ConnectTimeout    Duration `toml:"connect_timeout"`
	PostTimeout       Duration `toml:"post_timeout"`
}

// Auth lists who may log in as the reserved user "admin".
type Auth struct {
	AdminKeys     []string `toml:"admin_keys"`
	AdminKeysFile string   `toml:"admin_keys_file"`
}

// SSH holds the SSH front end's host identity and limits.
type SSH struct {
	// HostKey is the cluster's SSH host key: one private key file that every
	// node serves, so clients see one host identity whichever node they
	// reach. Empty means <data_dir>/ssh_host_ed25519_key (see HostKeyPath).
	HostKey           string   `toml:"host_key"`
	IdleTimeout       Duration `toml:"idle_timeout"`
	KeepaliveInterval Duration `toml:"keepalive_interval"`
	MaxSessions       int      `toml:"max_sessions"`
	MaxSessionsPerKey int      `toml:"max_sessions_per_key"`
}

// Storage holds what a node keeps beside its WAL and for how long: the WAL
// itself is kept whole, always; these settings bound restart time and memory.
type Storage struct {
	// SnapshotEvery: a node snapshots its applied state after this many
	// applied entries (and when it stops), so a restart replays at most
	// this many entries of the WAL.
	SnapshotEvery int `toml:"snapshot_every"`
	// SnapshotKeep: snapshot files kept; older ones are the fallback when
	// the newest is damaged.
	SnapshotKeep int `toml:"snapshot_keep"`
	// DedupeWindow: how long a retried request is recognised as the same
	// request (the exactly-once window, measured in entry times).
	DedupeWindow Duration `toml:"dedupe_window"`
	// BackgroundVerify: after start, re-verify the whole WAL hash chain at
	// low priority (start-up verifies only what follows the snapshot).
	BackgroundVerify bool `toml:"background_verify"`
	// CopyRate: MiB per second a node sends when it copies its log to a
	// node that starts empty; 0 sends as fast as the link and disks go.
	CopyRate int `toml:"copy_rate"`
}

// Metrics says where each node serves its Prometheus metrics and health
// checks (/metrics, /healthz, /readyz). Each node's port is its
// metrics_port; 0 (the default) serves nothing.
type Metrics struct {
	// Host is the address the metrics listener binds: loopback by default,
	// so a node's internals are not published by accident; "0.0.0.0" (or
	// the node's own address) lets a Prometheus on another machine scrape.
	Host string `toml:"host"`
}

// Node is one member of the cluster.
type Node struct {
	ID            string `toml:"id"`
	Host          string `toml:"host"`
	SSHPort       int    `toml:"ssh_port"`
	PeerPort      int    `toml:"peer_port"`
	HeartbeatPort int    `toml:"heartbeat_port"`
	ElectionPort  int    `toml:"election_port"`
	// MetricsPort serves /metrics, /healthz and /readyz on metrics.host
	// (0: off).
	MetricsPort int `toml:"metrics_port"`
	Ring        int `toml:"ring"`
}

// Duration is a time.Duration that must be written as a string with a unit.
// A bare integer is refused because TOML decoders read it as nanoseconds,
// which turns "heartbeat_interval = 250" into a 250ns storm.
type Duration struct{ time.Duration }

// UnmarshalTOML implements toml.Unmarshaler.
func (d *Duration) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("durations are strings with a unit such as \"250ms\" or \"2s\", got %v", v)
	}
	x, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("bad duration %q: want a number with a unit such as \"250ms\"", s)
	}
	d.Duration = x
	return nil
}

// MarshalText writes the duration back in the form it is read.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default returns the settings used for every key the file leaves out. Each
// value has a one-line reason.
func Default() Config {
	return Config{
		Cluster: Cluster{
			Name:    "syncnet",
			DataDir: "data", // next to cluster.toml; one sub-directory per node
		},
		Timing: Timing{
			// 100ms heartbeats and a 4x failure timeout: a dead leader is noticed in
			// under half a second yet a loaded 2-core box does not raise false alarms.
			HeartbeatInterval: Duration{100 * time.Millisecond},
			FailureTimeout:    Duration{400 * time.Millisecond},
			// A lost election token is retried after this, plus seeded jitter.
			ElectionTimeout: Duration{300 * time.Millisecond},
			// Peer TCP dials give up after this and retry with backoff.
			ConnectTimeout: Duration{1 * time.Second},
			// A post waits this long for a leader and a quorum before failing.
			PostTimeout: Duration{5 * time.Second},
		},
		SSH: SSH{
			// Long enough for a person who steps away, short enough to bound
			// half-open connections and stuck handshakes.
			IdleTimeout:       Duration{15 * time.Minute},
			KeepaliveInterval: Duration{45 * time.Second},
			MaxSessions:       4000, // per node; well above the 2,000-session target
			MaxSessionsPerKey: 20,   // one person, many terminals; not a botnet
		},
		Storage: Storage{
			// A restart replays at most this tail: ~0.1 s of work here.
			SnapshotEvery: 100_000,
			// The newest and one fallback.
			SnapshotKeep: 2,
			// A client retrying across a night's outage is still recognised.
			DedupeWindow: Duration{24 * time.Hour},
			// Start-up trusts the snapshot's hash; this proves the rest.
			BackgroundVerify: true,
			// ~250k entries/s of 200-byte messages: above the 200k/s a new
			// node needs, while the others' commit tail stays near 2x on a
			// shared disk (docs/BENCHMARKS.md, "The copy's pace").
			CopyRate: 80,
		},
		// Metrics on loopback: scraped by a Prometheus on the same machine
		// unless the operator decides otherwise.
		Metrics: Metrics{Host: "127.0.0.1"},
		Limits:  Limits{PostRate: DefaultPostRate, PostBurst: DefaultPostBurst},
	}
}

// Load reads path, applies defaults for absent keys and validates the result.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := decode(path, string(raw))
	if err != nil {
		return nil, err
	}
	// Every problem at once, in file order: what the text shows and what
	// the files and DNS show (the address clash check with resolved names
	// only when the text's own rules hold, so a clash is not reported
	// twice).
	verrs := cfg.validate()
	if err := joinByLine(append(verrs, cfg.check(len(verrs) == 0)...)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// joinByLine joins errs in the order of the lines they name ("line N: …"
// first), those naming no line last, each group in the order found.
func joinByLine(errs []error) error {
	slices.SortStableFunc(errs, func(a, b error) int {
		la, lb := errLine(a), errLine(b)
		switch {
		case la == lb:
			return 0
		case la == 0:
			return 1
		case lb == 0:
			return -1
		}
		return la - lb
	})
	return errors.Join(errs...)
}

// errLine is the N of an error that starts "line N: ", else 0.
func errLine(err error) int {
	var n int
	var rest string
	if k, _ := fmt.Sscanf(err.Error(), "line %d: %s", &n, &rest); k < 1 {
		return 0
	}
	return n
}

// Parse decodes text as the contents of the file name (used in messages and to
// resolve relative paths) and validates it.
func Parse(name, text string) (*Config, error) {
	cfg, err := decode(name, text)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return cfg, nil
}

// decode reads text into a config over the defaults and refuses unknown
// keys; nothing else is checked.
func decode(name, text string) (*Config, error) {
	cfg := Default()
	cfg.path = name
	cfg.text = text
	md, err := toml.Decode(text, &cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, describeTOMLError(err))
	}
	cfg.lines = map[string]int{}
	for _, k := range md.Keys() {
		if _, seen := cfg.lines[k.String()]; !seen {
			cfg.lines[k.String()] = keyLine(text, k)
		}
	}
	if und := md.Undecoded(); len(und) > 0 {
		lines := make([]int, len(und))
		for i, k := range und {
			lines[i] = keyLine(text, k)
		}
		order := make([]int, len(und))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return lines[a] - lines[b] })
		var msgs []string
		for _, i := range order {
			msgs = append(msgs, fmt.Sprintf("%s: line %d: unknown key %q", name, lines[i], und[i].String()))
		}
		return nil, errors.New(strings.Join(msgs, "\n"))
	}
	return &cfg, nil
}

func describeTOMLError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d: %s", pe.Position.Line, pe.Message)
	}
	// Type mismatches are plain errors whose text already names the line.
	return errors.New(strings.TrimPrefix(err.Error(), "toml: "))
}

// keyLine finds the line on which key k is written: the first assignment of
// its last segment after the header of its table. It returns 0 if not found.
func keyLine(text string, k toml.Key) int {
	if len(k) == 0 {
		return 0
	}
	last := k[len(k)-1]
	table := strings.Join(k[:len(k)-1], ".")
	inTable := table == ""
	assign := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(last) + `"?\s*=`)
	header := regexp.MustCompile(`^\s*\[\[?\s*([^\]]+?)\s*\]\]?`)
	for i, line := range strings.Split(text, "\n") {
		if m := header.FindStringSubmatch(line); m != nil {
			if m[1] == strings.Join(k, ".") {
				return i + 1 // the unknown key is itself a table
			}
			inTable = m[1] == table
			continue
		}
		if inTable && assign.MatchString(line) {
			return i + 1
		}
	}
	return 0
}

var idPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,31}$`)

// Validate checks the cross-field rules that TOML cannot express, from the
// text alone (no file, no DNS: see Check). Each error starts with the line
// of the key it names when the file sets it; they come in file order.
func (c *Config) Validate() error { return joinByLine(c.validate()) }

func (c *Config) validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, errors.New(c.linePrefix(key)+fmt.Sprintf(format, args...)))
	}

	if c.Cluster.DataDir == "" {
		bad("cluster.data_dir", "cluster.data_dir is empty")
	}
	if c.Cluster.Secret == "" && c.Cluster.SecretFile == "" {
		bad("cluster", "cluster.secret or cluster.secret_file is required: peers authenticate every packet with it")
	}
	if c.Cluster.Secret != "" && c.Cluster.SecretFile != "" {
		bad("cluster.secret_file", "set only one of cluster.secret and cluster.secret_file")
	}
	if s := c.Cluster.Secret; s != "" && len(strings.TrimSpace(s)) < minSecret {
		bad("cluster.secret", "cluster.secret is shorter than %d characters", minSecret)
	}
	c.validateTiming(bad)
	c.validateBots(bad)
	c.validateLimits(bad)
	c.validateTLS(bad)
	if c.SSH.MaxSessions < 1 {
		bad("ssh.max_sessions", "ssh.max_sessions must be at least 1 (got %d)", c.SSH.MaxSessions)
	}
	if c.SSH.MaxSessionsPerKey < 1 {
		bad("ssh.max_sessions_per_key", "ssh.max_sessions_per_key must be at least 1 (got %d)", c.SSH.MaxSessionsPerKey)
	}
	if st := c.Storage; st.SnapshotEvery < 1 {
		bad("storage.snapshot_every", "storage: snapshot_every must be at least 1 (got %d)", st.SnapshotEvery)
	}
	if st := c.Storage; st.SnapshotKeep < 1 {
		bad("storage.snapshot_keep", "storage: snapshot_keep at least 1 (got %d)", st.SnapshotKeep)
	}
	if st := c.Storage; st.CopyRate < 0 {
		bad("storage.copy_rate", "storage: copy_rate must not be negative (got %d; 0 sends as fast as it can)", st.CopyRate)
	}
	if st := c.Storage; st.DedupeWindow.Duration < time.Minute {
		bad("storage.dedupe_window", "storage: dedupe_window at least 1m (got %s)", st.DedupeWindow)
	}
	if h := c.Metrics.Host; h == "" || strings.ContainsAny(h, " /") {
		bad("metrics.host", "metrics.host %q is not a host name or address (\"127.0.0.1\" serves on loopback only)", h)
	}
	c.validateHostKey(bad)
	c.validateLog(bad)
	c.validateNodes(bad, offlineResolver)
	return errs
}

// minSecret is the shortest cluster secret accepted.
const minSecret = 16

// validateHostKey catches the host_key mistakes visible without the file:
// an explicitly empty path, and the public half given instead of the
// private key. The file itself (present, private, a key) is checked when
// the node starts (tools/serve).
func (c *Config) validateHostKey(bad func(string, string, ...any)) {
	if _, set := c.lines["ssh.host_key"]; set && strings.TrimSpace(c.SSH.HostKey) == "" {
		bad("ssh.host_key", "ssh.host_key is empty: leave it out for the default <data_dir>/ssh_host_ed25519_key")
	}
	if strings.HasSuffix(c.SSH.HostKey, ".pub") {
		bad("ssh.host_key", "ssh.host_key %q is a public key: give the private key file (the same name without .pub)", c.SSH.HostKey)
	}
}

func (c *Config) validateTiming(bad func(string, string, ...any)) {
	t := c.Timing
	for _, d := range []struct {
		name string
		d    Duration
	}{
		{"heartbeat_interval", t.HeartbeatInterval}, {"failure_timeout", t.FailureTimeout},
		{"election_timeout", t.ElectionTimeout}, {"connect_timeout", t.ConnectTimeout},
		{"post_timeout", t.PostTimeout},
	} {
		if d.d.Duration <= 0 {
			bad("timing."+d.name, "timing.%s must be positive, got %s", d.name, d.d)
		}
	}
	if t.HeartbeatInterval.Duration >= t.FailureTimeout.Duration {
		key := "timing.failure_timeout"
		if c.Line(key) == 0 {
			key = "timing.heartbeat_interval"
		}
		bad(key, "timing.heartbeat_interval (%s) must be shorter than timing.failure_timeout (%s): otherwise every node looks dead between two heartbeats",
			t.HeartbeatInterval, t.FailureTimeout)
	}
}

// resolver turns a node's host into the addresses it stands for; ok is
// false when it cannot (then no clash is checked for it).
type resolver func(host string) (ips []string, err error)

// offlineResolver knows IP literals and "localhost" only: what Validate
// can tell without asking DNS. localhost is 127.0.0.1 (and ::1), so
// "localhost" and "127.0.0.1" on one port are seen to clash.
func offlineResolver(host string) ([]string, error) {
	if strings.EqualFold(host, "localhost") {
		return []string{"127.0.0.1", "::1"}, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return []string{ip.String()}, nil
	}
	return nil, nil
}

// bind is one socket a node will bind, for the clash check.
type bind struct {
	who   string // "node1 ssh_port"
	host  string // as written
	ips   []string
	port  int
	proto string
}

func (b bind) clashes(o bind) bool {
	if b.port != o.port || b.proto != o.proto {
		return false
	}
	for _, x := range b.ips {
		for _, y := range o.ips {
			if x == y || x == "0.0.0.0" || y == "0.0.0.0" || x == "::" || y == "::" {
				return true
			}
		}
	}
	return false
}

func (c *Config) validateNodes(bad func(string, string, ...any), resolve resolver) {
	if len(c.Nodes) == 0 {
		bad("node", "no [[node]] entries: a cluster needs at least one node")
		return
	}
	ids := map[string]bool{}
	rings := map[int]string{}
	var binds []bind
	for i, n := range c.Nodes {
		where := fmt.Sprintf("node %d (id %q)", i+1, n.ID)
		nbad := func(key, format string, args ...any) {
			errs := fmt.Sprintf(format, args...)
			bad("", "%s%s: %s", c.nodeLinePrefix(i, key), where, errs)
		}
		if !idPattern.MatchString(n.ID) {
			nbad("id", "id must be 1-32 letters, digits, '-' or '_'")
		}
		if ids[n.ID] {
			nbad("id", "duplicate id")
		}
		ids[n.ID] = true
		if n.Host == "" {
			nbad("host", "host is empty")
		}
		if n.Ring < 0 || n.Ring >= len(c.Nodes) {
			nbad("ring", "ring position %d is outside 0..%d (one position per node, each used once)", n.Ring, len(c.Nodes)-1)
		}
		if other, dup := rings[n.Ring]; dup {
			nbad("ring", "ring position %d is also used by %s", n.Ring, other)
		}
		rings[n.Ring] = n.ID
		ips, _ := resolve(n.Host)
		if len(ips) == 0 {
			ips = []string{strings.ToLower(n.Host)}
		}
		ports := []struct {
			name, proto string
			port        int
			ips         []string
		}{
			{"ssh_port", "tcp", n.SSHPort, ips}, {"peer_port", "tcp", n.PeerPort, ips},
			{"heartbeat_port", "udp", n.HeartbeatPort, ips}, {"election_port", "udp", n.ElectionPort, ips},
		}
		if n.MetricsPort != 0 {
			// The metrics listener binds metrics.host on the node's machine.
			mips, _ := resolve(c.Metrics.Host)
			if len(mips) == 0 {
				mips = []string{strings.ToLower(c.Metrics.Host)}
			}
			if isLoopback(c.Metrics.Host) && !isLoopback(n.Host) {
				mips = nil // loopback of another machine: clashes with nothing listed
			}
			ports = append(ports, struct {
				name, proto string
				port        int
				ips         []string
			}{"metrics_port", "tcp", n.MetricsPort, mips})
		}
		for _, p := range ports {
			if p.port < 1 || p.port > 65535 {
				nbad(p.name, "%s %d is not a port (1-65535)", p.name, p.port)
				continue
			}
			host := n.Host
			if p.name == "metrics_port" {
				host = c.Metrics.Host
			}
			b := bind{who: n.ID + " " + p.name, host: host, ips: p.ips, port: p.port, proto: p.proto}
			for _, o := range binds {
				if b.clashes(o) {
					same := ""
					if !strings.EqualFold(b.host, o.host) {
						same = fmt.Sprintf(" (%q and %q are one address)", b.host, o.host)
					}
					nbad(p.name, "%s %d clashes with %s%s", p.name, p.port, o.who, same)
					break
				}
			}
			binds = append(binds, b)
		}
	}
	for r := range c.Nodes {
		if _, ok := rings[r]; !ok {
			bad("node", "ring positions must be 0..%d, each used once; %d is missing", len(c.Nodes)-1, r)
		}
	}
}

// Node returns the node with the given id.
func (c *Config) Node(id string) (Node, error) {
	for _, n := range c.Nodes {
		if n.ID == id {
			return n, nil
		}
	}
	var known []string
	for _, n := range c.Nodes {
		known = append(known, n.ID)
	}
	return Node{}, fmt.Errorf("no node %q in %s (known: %s)", id, c.path, strings.Join(known, ", "))
}

// Path is the file this config was loaded from.
func (c *Config) Path() string { return c.path }

// Line is the line of the file on which key (dotted, "ssh.host_key") is
// set, or 0 if the file does not set it.
func (c *Config) Line(key string) int { return c.lines[key] }

// Where names key's place for an error found after loading:
// "cluster.toml: line 42" when the file sets it, else "cluster.toml".
func (c *Config) Where(key string) string {
	if l := c.Line(key); l > 0 {
		return fmt.Sprintf("%s: line %d", c.path, l)
	}
	return c.path
}

// linePrefix is "line N: " when the file sets key, else "".
func (c *Config) linePrefix(key string) string {
	if l := c.Line(key); l > 0 {
		return fmt.Sprintf("line %d: ", l)
	}
	return ""
}

// NodeLine is the line on which key ("ssh_port") of the i-th [[node]]
// table is written, the line of the table's header when the key is not
// there, or 0 when the file has no such table.
func (c *Config) NodeLine(i int, key string) int {
	header := regexp.MustCompile(`^\s*\[`)
	nodeHeader := regexp.MustCompile(`^\s*\[\[\s*node\s*\]\]`)
	assign := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(key) + `"?\s*=`)
	seen, at := -1, 0
	for ln, line := range strings.Split(c.text, "\n") {
		switch {
		case nodeHeader.MatchString(line):
			seen++
			if seen == i {
				at = ln + 1
			} else if seen > i {
				return at
			}
		case header.MatchString(line):
			if seen == i {
				return at
			}
		case seen == i && key != "" && assign.MatchString(line):
			return ln + 1
		}
	}
	return at
}

func (c *Config) nodeLinePrefix(i int, key string) string {
	if l := c.NodeLine(i, key); l > 0 {
		return fmt.Sprintf("line %d: ", l)
	}
	return ""
}

// HostKeyPath is the cluster SSH host key file: ssh.host_key resolved
// against the config file, or <data_dir>/ssh_host_ed25519_key by default.
func (c *Config) HostKeyPath() string {
	if c.SSH.HostKey != "" {
		return c.resolve(c.SSH.HostKey)
	}
	return filepath.Join(c.DataDir(), "ssh_host_ed25519_key")
}

// resolve makes p relative to the config file's directory.
func (c *Config) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || c.path == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.path), p)
}

// DataDir is the cluster data directory, resolved against the config file.
func (c *Config) DataDir() string { return c.resolve(c.Cluster.DataDir) }

// NodeDir is where one node keeps its state: <data_dir>/<id>.
func (c *Config) NodeDir(id string) string { return filepath.Join(c.DataDir(), id) }

// WALDir is where one node keeps its WAL: <data_dir>/<id>/wal.
func (c *Config) WALDir(id string) string { return filepath.Join(c.NodeDir(id), "wal") }

// SecretBytes returns the cluster secret, reading secret_file if set.
func (c *Config) SecretBytes() ([]byte, error) {
	if c.Cluster.SecretFile == "" {
		return []byte(c.Cluster.Secret), nil
	}
	b, err := os.ReadFile(c.resolve(c.Cluster.SecretFile))
	if err != nil {
		return nil, fmt.Errorf("read cluster.secret_file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if len(s) < minSecret {
		return nil, fmt.Errorf("cluster.secret_file %s: secret is shorter than %d characters", c.Cluster.SecretFile, minSecret)
	}
	return []byte(s), nil
}

// AdminKeyLines returns admin_keys plus the lines of admin_keys_file, skipping
// blanks and comments (authorized_keys format).
func (c *Config) AdminKeyLines() ([]string, error) {
	lines := append([]string(nil), c.Auth.AdminKeys...)
	if c.Auth.AdminKeysFile == "" {
		return lines, nil
	}
	b, err := os.ReadFile(c.resolve(c.Auth.AdminKeysFile))
	if err != nil {
		return nil, fmt.Errorf("read auth.admin_keys_file: %w", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// Loopback reports whether every node listens on a loopback address, which is
// when `syncnet up` may adopt the local user's keys as admin keys.
func (c *Config) Loopback() bool {
	for _, n := range c.Nodes {
		if !isLoopback(n.Host) {
			return false
		}
	}
	return true
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// OneMachine reports whether every node runs on one machine: all on
// loopback, or all on the same host. Only then may a node create the
// cluster host key when it is missing, since every node reads the same
// file; nodes on several hosts would each create a different one.
func (c *Config) OneMachine() bool {
	if c.Loopback() {
		return true
	}
	for _, n := range c.Nodes {
		if n.Host != c.Nodes[0].Host {
			return false
		}
	}
	return true
}
