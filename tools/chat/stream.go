package chat

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// streamWindow bounds the lines one stream session has sent and not seen
// answered (the server caps its own side too).
const streamWindow = 128

// streamSender posts the queue through one `post --stream` session on
// conn (Config.Stream, set by --batch): every queued line is written as a
// JSON line with its id, pipelined, and leaves the queue when its ack
// comes (or its refusal). A line that was sent but not acked when the
// connection fails stays queued and goes out again, with the same id,
// through the next node: exactly once (I5), whatever the first node
// committed before it died.
func (c *Client) streamSender(ctx context.Context, conn *ssh.Client) error {
	sess, err := conn.NewSession()
	if err != nil {
		return fmt.Errorf("open stream session: %w", err)
	}
	defer func() { _ = sess.Close() }()
	stdin, err1 := sess.StdinPipe()
	stdout, err2 := sess.StdoutPipe()
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if err := sess.Start("post --stream"); err != nil {
		return fmt.Errorf("start stream: %w", err)
	}
	inflight := make(chan outgoing, streamWindow)
	var mu sync.Mutex
	written := map[string]bool{} // ids written on this session and not answered
	readErr := make(chan error, 1)
	go func() { readErr <- c.readAcks(ctx, stdout, inflight, &mu, written) }()

	w := bufio.NewWriter(stdin)
	for {
		batch, changed := c.unsent(&mu, written, streamWindow)
		for _, o := range batch {
			select {
			case inflight <- o:
			case err := <-readErr:
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
			line, _ := json.Marshal(struct {
				Room string `json:"room"`
				Text string `json:"text"`
				ID   string `json:"id"`
			}{c.cfg.Room, o.text, o.id})
			if _, err := w.Write(append(line, '\n')); err != nil {
				return fmt.Errorf("stream: %w", err)
			}
			if len(inflight) == cap(inflight) {
				if err := w.Flush(); err != nil {
					return fmt.Errorf("stream: %w", err)
				}
			}
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case err := <-readErr:
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// unsent returns up to n queued lines not yet written on this session,
// marking them written, and the channel that says when the queue changes.
func (c *Client) unsent(mu *sync.Mutex, written map[string]bool, n int) ([]outgoing, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	var out []outgoing
	for _, o := range c.queue {
		if len(out) == n {
			break
		}
		if !written[o.id] {
			written[o.id] = true
			out = append(out, o)
		}
	}
	return out, c.changed
}

// streamAck is one answer line of `post --stream`.
type streamAck struct {
	ID         string `json:"id"`
	Index      uint64 `json:"index"`
	Error      string `json:"error"`
	Retry      bool   `json:"retry"`
	RetryAfter int64  `json:"retry_after_ms"`
}

// readAcks reads the answers, one per line written and in that order.
func (c *Client) readAcks(ctx context.Context, r io.Reader, inflight <-chan outgoing, mu *sync.Mutex, written map[string]bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var o outgoing
		select {
		case o = <-inflight:
		default:
			return fmt.Errorf("stream: an answer for no line: %q", sc.Text())
		}
		var a streamAck
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return fmt.Errorf("stream: bad answer %q: %w", sc.Text(), err)
		}
		switch {
		case a.Error == "":
			if c.remove(o.id) && c.cfg.OnAck != nil {
				c.callback(func() { c.cfg.OnAck(o.id, a.Index) })
			}
		case a.Retry && strings.Contains(a.Error, "no quorum"):
			// This node cannot commit: another one gets the queue.
			return fmt.Errorf("%w: %s", errNodeUnfit, a.Error)
		case a.Retry:
			after := max(time.Duration(a.RetryAfter)*time.Millisecond, 10*time.Millisecond)
			c.cfg.Logf("chat: stream %s: %s", o.id, a.Error)
			time.AfterFunc(after, func() { // send it again on this session, same id
				mu.Lock()
				delete(written, o.id)
				mu.Unlock()
				c.mu.Lock()
				c.notifyLocked()
				c.mu.Unlock()
			})
		default:
			err := refusal{strings.TrimPrefix(a.Error, "post: ")}
			if c.remove(o.id) && c.cfg.OnDrop != nil {
				c.callback(func() { c.cfg.OnDrop(o.id, o.text, err) })
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.New("stream: the node ended the session")
}
