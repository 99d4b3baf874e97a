package chat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Node is one cluster member the client may use.
type Node struct {
	Name string // shown to the user ("node2"); Addr when empty
	Addr string // host:port of the node's SSH server
}

func (n Node) String() string {
	if n.Name == "" || n.Name == n.Addr {
		return n.Addr
	}
	return n.Name + " (" + n.Addr + ")"
}

// Message is one committed chat message as `tail --json` prints it (the
// history --json contract). Text is raw: clean it before showing it.
type Message struct {
	Index   uint64 `json:"index"`
	ID      string `json:"id"`
	Room    string `json:"room"`
	From    string `json:"from"`
	To      string `json:"to,omitempty"`
	Text    string `json:"text"`
	Lamport uint64 `json:"lamport"`
	Time    string `json:"time"`
	Action  bool   `json:"action,omitempty"`

	note string // the UI's own line ("not sent: …"), not a message
}

// StateKind is what happened to the connection.
type StateKind int

const (
	StateConnecting   StateKind = iota + 1 // dialing Node
	StateConnected                         // tail running on Node (Reconnect: after a loss)
	StateDisconnected                      // the connection to Node ended (Err says why)
	StateUnreachable                       // dialing Node failed (Err); the next one is tried
	StateRefused                           // Node can never be used (changed host key, auth); skipped from now on
)

func (k StateKind) String() string {
	switch k {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateDisconnected:
		return "disconnected"
	case StateUnreachable:
		return "unreachable"
	case StateRefused:
		return "refused"
	}
	return fmt.Sprintf("state(%d)", int(k))
}

// State is a connection state change.
type State struct {
	Kind      StateKind
	Node      Node
	Err       error
	Reconnect bool      // StateConnected after an earlier connection was lost
	Queued    int       // lines not yet acknowledged
	At        time.Time // when the client observed it
}

// Failover records one move to another node, for the failover-gap figure:
// the user-visible gap is FirstMessage minus the moment the old node died
// (which only the caller killing it knows; Lost is when the client noticed).
type Failover struct {
	From, To     Node
	Lost         time.Time // the client noticed the old connection had ended
	Connected    time.Time // the tail on To was running
	FirstMessage time.Time // the first message received through To (zero until then)
	Index        uint64    // that message's index
}

// Config configures a Client. Zero durations take the defaults noted.
type Config struct {
	Nodes []Node // tried round-robin, starting with Nodes[0]
	User  string // chat name (SSH user)
	Room  string // room to follow and post to (default "general")
	Auth  []ssh.AuthMethod
	// HostKey checks node host keys (required; see KnownHosts).
	HostKey ssh.HostKeyCallback
	// History is how many recent messages the first tail prints (default 20;
	// < 0: none). Later tails resume with --from.
	History int
	// DialTimeout bounds one TCP connect (default 500ms): a dead node costs
	// at most this before the next one is tried.
	DialTimeout time.Duration
	// HandshakeTimeout bounds the SSH handshake and auth (default 3s).
	HandshakeTimeout time.Duration
	// KeepaliveInterval between keepalive@openssh.com probes, each of which
	// must be answered within KeepaliveTimeout (defaults 1s and 1s); this
	// catches a node that is stopped or cut off without closing TCP.
	KeepaliveInterval, KeepaliveTimeout time.Duration
	// MaxBackoff between rounds in which no node could be reached (default 2s).
	MaxBackoff time.Duration
	// IDPrefix starts every client message id (default: 12 random hex digits).
	IDPrefix string
	// Stream posts through one pipelined `post --stream` session per
	// connection instead of one exec `post` per line (--batch).
	Stream bool

	// Callbacks, all optional. They are serialized (never two at once), in
	// event order, and run on the client's goroutines: keep them short.
	OnMessage func(m Message, via Node)
	OnState   func(s State)
	OnAck     func(id string, index uint64)    // a line is committed
	OnDrop    func(id, text string, err error) // a line was refused for good
	Now       func() time.Time                 // default time.Now
	Logf      func(format string, args ...any) // debug log (default: none)
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.DialTimeout, 500*time.Millisecond)
	def(&c.HandshakeTimeout, 3*time.Second)
	def(&c.KeepaliveInterval, time.Second)
	def(&c.KeepaliveTimeout, time.Second)
	def(&c.MaxBackoff, 2*time.Second)
	if c.Room == "" {
		c.Room = "general"
	}
	if c.History == 0 {
		c.History = 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if c.IDPrefix == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		c.IDPrefix = hex.EncodeToString(b[:])
	}
}

// Client is the failover core: connection manager, resume and send queue.
type Client struct {
	cfg Config

	mu        sync.Mutex
	queue     []outgoing    // unacknowledged lines, in typing order
	changed   chan struct{} // closed and replaced whenever queue changes
	seq       uint64
	last      uint64 // highest index delivered to OnMessage
	resume    bool   // a tail has run long enough: later tails use --from last
	node      Node
	connected bool
	failovers []Failover

	cbMu sync.Mutex // serializes callbacks
}

type outgoing struct{ id, text string }

// New checks cfg and returns a client; call Run to connect.
func New(cfg Config) (*Client, error) {
	if len(cfg.Nodes) == 0 {
		return nil, errors.New("chat: no nodes")
	}
	if cfg.User == "" {
		return nil, errors.New("chat: no user name")
	}
	if cfg.HostKey == nil {
		return nil, errors.New("chat: no host key callback")
	}
	for i, n := range cfg.Nodes {
		if n.Addr == "" {
			return nil, fmt.Errorf("chat: node %d has no address", i+1)
		}
		if n.Name == "" {
			cfg.Nodes[i].Name = n.Addr
		}
	}
	cfg.setDefaults()
	return &Client{cfg: cfg, changed: make(chan struct{})}, nil
}

// Send queues text for posting and returns its client id. The line is sent
// as soon as a node is connected, retried with the same id until a node
// acknowledges it (OnAck) or refuses it for good (OnDrop). A blank line is
// ignored and gets the id "".
func (c *Client) Send(text string) string {
	if strings.TrimSpace(text) == "" {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	id := fmt.Sprintf("%s-%d", c.cfg.IDPrefix, c.seq)
	c.queue = append(c.queue, outgoing{id: id, text: text})
	c.notifyLocked()
	return id
}

// Queued is the number of lines not yet acknowledged or dropped.
func (c *Client) Queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// Last is the highest index delivered to OnMessage (0: none yet).
func (c *Client) Last() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Connected reports the node in use, if any.
func (c *Client) Connected() (Node, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.node, c.connected
}

// Failovers lists the moves to another node so far.
func (c *Client) Failovers() []Failover {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Failover(nil), c.failovers...)
}

// WaitSent blocks until every queued line is acknowledged or dropped, or
// ctx ends.
func (c *Client) WaitSent(ctx context.Context) error {
	for {
		c.mu.Lock()
		n, ch := len(c.queue), c.changed
		c.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

func (c *Client) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// head is the oldest unacknowledged line, or a channel that says when to
// look again.
func (c *Client) head() (outgoing, bool, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		return outgoing{}, false, c.changed
	}
	return c.queue[0], true, c.changed
}

// remove takes id off the queue; false if it was not there.
func (c *Client) remove(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, o := range c.queue {
		if o.id == id {
			if i == 0 { // the usual case: acks come in order; no copy
				c.queue = c.queue[1:]
				c.notifyLocked()
				return true
			}
			c.queue = append(c.queue[:i:i], c.queue[i+1:]...)
			c.notifyLocked()
			return true
		}
	}
	return false
}

// callback runs f serialized with every other callback.
func (c *Client) callback(f func()) {
	c.cbMu.Lock()
	defer c.cbMu.Unlock()
	f()
}

func (c *Client) emitState(kind StateKind, n Node, err error, reconnect bool) {
	s := State{Kind: kind, Node: n, Err: err, Reconnect: reconnect, Queued: c.Queued(), At: c.cfg.Now()}
	if c.cfg.OnState != nil {
		c.callback(func() { c.cfg.OnState(s) })
	}
}

// deliver hands m to OnMessage unless an index at or above it was already
// delivered (the second guard against duplicates; tail --from is the first).
func (c *Client) deliver(m Message, via Node) {
	c.mu.Lock()
	if m.Index <= c.last {
		c.mu.Unlock()
		c.cfg.Logf("chat: dropped duplicate index %d from %s", m.Index, via.Name)
		return
	}
	c.last = m.Index
	c.resume = true
	if k := len(c.failovers) - 1; k >= 0 && c.failovers[k].FirstMessage.IsZero() {
		c.failovers[k].FirstMessage = c.cfg.Now()
		c.failovers[k].Index = m.Index
	}
	c.mu.Unlock()
	if c.cfg.OnMessage != nil {
		c.callback(func() { c.cfg.OnMessage(m, via) })
	}
}
