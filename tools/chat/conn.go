package chat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// resumeAfter is how long a first tail (started with --limit, not --from)
// must have run before an empty room counts as "seen up to index 0": by
// then its history has arrived, so resuming with --from 0 cannot replay an
// old room in full.
const resumeAfter = time.Second

// stableAfter is how long a connection must have served for its loss to
// reset the reconnect backoff.
const stableAfter = time.Second

// FatalError is a refusal that no other node would answer differently
// (the name belongs to another key, a ban): Run returns it.
type FatalError struct{ Msg string }

func (e *FatalError) Error() string { return e.Msg }

// refusedError marks a node that must not be tried again (host key changed,
// authentication failed).
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// Run connects and keeps the client connected, moving to the next node
// whenever the current one fails, until ctx ends (then it returns nil) or
// every node refused the client or the server refused the user (an error).
func (c *Client) Run(ctx context.Context) error {
	n := len(c.cfg.Nodes)
	refused := make([]error, n)
	next, misses := 0, 0
	backoff := 100 * time.Millisecond
	var lost *Node // the node whose connection ended, until another serves
	var lostAt time.Time
	for ctx.Err() == nil {
		if err := allRefused(refused); err != nil {
			return err
		}
		i := next
		next = (next + 1) % n
		if refused[i] != nil {
			continue
		}
		node := c.cfg.Nodes[i]
		c.emitState(StateConnecting, node, nil, lost != nil)
		conn, err := c.dial(ctx, node)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var re *refusedError
			if errors.As(err, &re) {
				refused[i] = fmt.Errorf("%s: %w", node, re.err)
				c.emitState(StateRefused, node, re.err, false)
				continue
			}
			c.emitState(StateUnreachable, node, err, false)
			if misses++; misses >= live(refused) {
				misses = 0
				if !sleep(ctx, backoff) {
					return nil
				}
				backoff = min(backoff*2, c.cfg.MaxBackoff)
			}
			continue
		}
		began, seen := time.Now(), c.Last()
		err = c.serve(ctx, conn, node, lost, lostAt)
		_ = conn.Close()
		c.setConnected(node, false)
		if ctx.Err() != nil {
			return nil
		}
		var fe *FatalError
		if errors.As(err, &fe) {
			c.emitState(StateRefused, node, err, false)
			return err
		}
		c.emitState(StateDisconnected, node, err, false)
		lost, lostAt = &node, c.cfg.Now()
		next = (i + 1) % n // round-robin from the one after the failed node
		// A connection that failed at once, having delivered nothing, counts
		// as a miss, so nodes that accept and then refuse are not retried in a
		// tight loop; one that served resets the backoff, so failover stays
		// immediate.
		if time.Since(began) >= stableAfter || c.Last() > seen {
			misses, backoff = 0, 100*time.Millisecond
		} else if misses++; misses >= live(refused) {
			misses = 0
			if !sleep(ctx, backoff) {
				return nil
			}
			backoff = min(backoff*2, c.cfg.MaxBackoff)
		}
	}
	return nil
}

func allRefused(refused []error) error {
	var errs []error
	for _, e := range refused {
		if e == nil {
			return nil
		}
		errs = append(errs, e)
	}
	return fmt.Errorf("no usable node: %w", errors.Join(errs...))
}

func live(refused []error) int {
	k := 0
	for _, e := range refused {
		if e == nil {
			k++
		}
	}
	return max(k, 1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (c *Client) setConnected(n Node, on bool) {
	c.mu.Lock()
	c.node, c.connected = n, on
	c.mu.Unlock()
}

// dial opens an SSH connection to n: TCP within DialTimeout, handshake and
// auth within HandshakeTimeout.
func (c *Client) dial(ctx context.Context, n Node) (*ssh.Client, error) {
	d := net.Dialer{Timeout: c.cfg.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", n.Addr)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(c.cfg.HandshakeTimeout))
	cc, chans, reqs, err := ssh.NewClientConn(nc, n.Addr, &ssh.ClientConfig{
		User: c.cfg.User, Auth: c.cfg.Auth, HostKeyCallback: c.cfg.HostKey,
		Timeout: c.cfg.HandshakeTimeout,
	})
	if err != nil {
		_ = nc.Close()
		var hk *HostKeyChangedError
		if errors.As(err, &hk) || strings.Contains(err.Error(), "unable to authenticate") {
			return nil, &refusedError{err}
		}
		return nil, fmt.Errorf("ssh handshake: %w", err)
	}
	_ = nc.SetDeadline(time.Time{})
	return ssh.NewClient(cc, chans, reqs), nil
}

// serve runs the tail, the sender and the keepalive on conn until the first
// of them fails or ctx ends.
func (c *Client) serve(ctx context.Context, conn *ssh.Client, n Node, lost *Node, lostAt time.Time) error {
	tail, err := c.startTail(conn)
	if err != nil {
		return err
	}
	c.setConnected(n, true)
	if lost != nil {
		c.mu.Lock()
		c.failovers = append(c.failovers, Failover{From: *lost, To: n, Lost: lostAt, Connected: c.cfg.Now()})
		c.mu.Unlock()
	}
	c.emitState(StateConnected, n, nil, lost != nil)

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	go func() { errc <- c.readTail(tail, n) }()
	go func() {
		if c.cfg.Stream {
			errc <- c.streamSender(sctx, conn)
			return
		}
		errc <- c.sender(sctx, conn)
	}()
	go func() { errc <- c.keepalive(sctx, conn) }()
	running := 3
	select {
	case err = <-errc:
		running--
	case <-ctx.Done():
		err = ctx.Err()
	}
	cancel()
	_ = conn.Close() // ends the tail read and any post in flight
	for range running {
		<-errc
	}
	return err
}

// tailSession is a running `tail` exec session.
type tailSession struct {
	sess    *ssh.Session
	out     io.Reader
	stderr  *bytes.Buffer
	started time.Time
	resume  bool
}

func (c *Client) tailCommand() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// --join: the user follows the room as a member, shown online while
	// connected (a failover-client user is a user).
	if c.resume {
		return fmt.Sprintf("tail --join --json --from %d -- %s", c.last, c.cfg.Room), true
	}
	limit := max(c.cfg.History, 0)
	return fmt.Sprintf("tail --join --json --limit %d -- %s", limit, c.cfg.Room), false
}

func (c *Client) startTail(conn *ssh.Client) (*tailSession, error) {
	sess, err := conn.NewSession()
	if err != nil {
		return nil, fmt.Errorf("open tail session: %w", err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		_ = sess.Close()
		return nil, err
	}
	t := &tailSession{sess: sess, out: out, stderr: &bytes.Buffer{}}
	sess.Stderr = &limitedWriter{w: t.stderr, n: 4096}
	cmd, resume := c.tailCommand()
	t.resume = resume
	if err := sess.Start(cmd); err != nil {
		_ = sess.Close()
		return nil, fmt.Errorf("start tail: %w", err)
	}
	c.cfg.Logf("chat: %s", cmd)
	t.started = time.Now()
	return t, nil
}

// readTail delivers the tail's JSON lines until the session ends; it always
// returns an error saying why the stream stopped.
func (c *Client) readTail(t *tailSession, n Node) error {
	defer func() { _ = t.sess.Close() }()
	r := bufio.NewReaderSize(t.out, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			var m Message
			if jerr := json.Unmarshal(line, &m); jerr != nil {
				c.cfg.Logf("chat: %s: skipped a line tail printed: %v", n.Name, jerr)
			} else {
				c.deliver(m, n)
			}
		}
		if err != nil {
			break
		}
	}
	werr := t.sess.Wait()
	if !t.resume && time.Since(t.started) >= resumeAfter {
		c.mu.Lock()
		c.resume = true
		c.mu.Unlock()
	}
	return tailEnded(werr, t.stderr.String())
}

// tailEnded explains why a tail stopped. Refusals that every node would
// repeat are fatal; the rest mean "try another node".
func tailEnded(err error, stderr string) error {
	msg := strings.TrimSpace(stderr)
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		if ee.ExitStatus() == 2 || isFatal(msg) {
			return &FatalError{Msg: "the node refused: " + msg}
		}
		return fmt.Errorf("tail exited with status %d: %s", ee.ExitStatus(), msg)
	}
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	if msg != "" {
		return fmt.Errorf("tail ended: %s", msg)
	}
	return errors.New("tail ended")
}

// isFatal matches sshui's refusals that depend on the user, not the node.
func isFatal(msg string) bool {
	for _, s := range []string{"belongs to another key", "banned", "invalid user", "public key is required",
		"permission denied", "is private", "you were removed from #"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// keepalive probes the server; an unanswered probe fails the connection.
func (c *Client) keepalive(ctx context.Context, conn *ssh.Client) error {
	tick := time.NewTicker(c.cfg.KeepaliveInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := conn.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		t := time.NewTimer(c.cfg.KeepaliveTimeout)
		select {
		case err := <-reply:
			t.Stop()
			if err != nil {
				return fmt.Errorf("keepalive: %w", err)
			}
		case <-t.C:
			return fmt.Errorf("keepalive: no answer within %s", c.cfg.KeepaliveTimeout)
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// parseIndex reads the index post prints.
func parseIndex(out string) (uint64, error) {
	return strconv.ParseUint(strings.TrimSpace(out), 10, 64)
}
