package chat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// errNodeUnfit means the node answered but cannot commit (no quorum, full,
// shutting down): the connection is given up so another node is tried.
var errNodeUnfit = errors.New("node cannot take posts")

// sender posts the queue's head, in order, until the connection fails.
// A line leaves the queue only when a node acknowledged it (committed) or
// refused it for good; otherwise it is resent, always with its id (I5).
func (c *Client) sender(ctx context.Context, conn *ssh.Client) error {
	for {
		o, ok, changed := c.head()
		if !ok {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-changed:
				continue
			}
		}
		idx, err := c.post(conn, o)
		var retry retryError
		switch {
		case err == nil:
			if c.remove(o.id) && c.cfg.OnAck != nil {
				c.callback(func() { c.cfg.OnAck(o.id, idx) })
			}
		case errors.As(err, &retry):
			c.cfg.Logf("chat: post %s: %v", o.id, err)
			if !sleep(ctx, retry.after) {
				return ctx.Err()
			}
		case errors.Is(err, errNodeUnfit):
			return err
		case isRefusal(err):
			if c.remove(o.id) && c.cfg.OnDrop != nil {
				c.callback(func() { c.cfg.OnDrop(o.id, o.text, err) })
			}
		default:
			return fmt.Errorf("post: %w", err)
		}
	}
}

// refusal is a post the server will never accept (too long, muted, bad
// arguments): retrying elsewhere would not help.
type refusal struct{ msg string }

func (r refusal) Error() string { return r.msg }

func isRefusal(err error) bool {
	var r refusal
	return errors.As(err, &r)
}

// retryError asks to post again on the same node after a pause.
type retryError struct {
	msg   string
	after time.Duration
}

func (r retryError) Error() string { return r.msg }

// post runs `post --id ID -- ROOM -` in a new session on conn, with the
// text on stdin: it arrives byte for byte, whatever it holds (the server
// takes the command line word by word, with no shell quoting).
func (c *Client) post(conn *ssh.Client, o outgoing) (uint64, error) {
	sess, err := conn.NewSession()
	if err != nil {
		return 0, fmt.Errorf("open post session: %w", err)
	}
	defer func() { _ = sess.Close() }()
	var out, serr bytes.Buffer
	sess.Stdout = &limitedWriter{w: &out, n: 256}
	sess.Stderr = &limitedWriter{w: &serr, n: 4096}
	sess.Stdin = strings.NewReader(o.text)
	err = sess.Run("post --id " + o.id + " -- " + c.cfg.Room + " -")
	if err == nil {
		idx, perr := parseIndex(out.String())
		if perr != nil {
			return 0, fmt.Errorf("post printed %q: %w", out.String(), perr)
		}
		return idx, nil
	}
	return 0, classifyPost(err, strings.TrimSpace(serr.String()))
}

var tryAgainIn = regexp.MustCompile(`try again in ([0-9.]+[a-zµ]+)`)

// classifyPost maps a failed post to what the sender does next.
func classifyPost(err error, stderr string) error {
	var ee *ssh.ExitError
	if !errors.As(err, &ee) {
		return err // the connection failed: another node gets the line
	}
	// The refusal as the user reads it: "you are muted everywhere …", not
	// "refused: post: you are muted …".
	why := strings.TrimPrefix(stderr, "post: ")
	switch {
	case ee.ExitStatus() == 2:
		return refusal{why}
	case strings.Contains(stderr, "rate limited"):
		after := time.Second
		if m := tryAgainIn.FindStringSubmatch(stderr); m != nil {
			if d, perr := time.ParseDuration(m[1]); perr == nil && d > 0 {
				after = min(d+10*time.Millisecond, 5*time.Second)
			}
		}
		return retryError{msg: stderr, after: after}
	case strings.Contains(stderr, "too many sessions for your key"):
		return retryError{msg: stderr, after: 500 * time.Millisecond}
	case strings.Contains(stderr, "no quorum"), strings.Contains(stderr, "shutting down"),
		strings.Contains(stderr, "is full"):
		return fmt.Errorf("%w: %s", errNodeUnfit, stderr)
	case isFatal(stderr), strings.Contains(stderr, "too long"), strings.Contains(stderr, "muted"):
		return refusal{why}
	}
	// Unknown: pause and retry here; a node that is really failing also
	// ends the tail or the keepalive, which moves the client on.
	return retryError{msg: fmt.Sprintf("post exited with status %d: %s", ee.ExitStatus(), stderr), after: time.Second}
}
