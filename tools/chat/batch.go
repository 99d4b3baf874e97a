package chat

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/syncnet/syncnet/sshui"
)

// BatchOptions configures RunBatch.
type BatchOptions struct {
	In       io.Reader // lines to post, one message each
	Out, Err io.Writer // JSON lines of received messages; state lines
	// Linger keeps printing received messages this long after stdin closed
	// and every line was acknowledged.
	Linger time.Duration
	// Trace adds "via" (node) and "recv" (receive time) to each JSON line and
	// prints acknowledgements, for tests and the failover-gap benchmark.
	Trace bool
}

// RunBatch is `syncnet chat --batch`: every stdin line is posted, every
// received message is printed as a JSON line (the fields of history --json),
// and connection changes go to Err as lines:
//
//	connected node1 127.0.0.1:2222 at=…
//	disconnected node1 127.0.0.1:2222 at=… err=…
//	reconnected node2 127.0.0.1:2223 at=… queued=3
//	first-message node2 127.0.0.1:2223 at=… index=42 since_lost=15ms
//
// It returns once stdin is closed, every line is acknowledged (or refused)
// and Linger has passed; or when ctx ends; or with the error that made the
// client give up (every node refused it).
func RunBatch(ctx context.Context, cfg Config, o BatchOptions) error {
	var mu sync.Mutex // Out and Err are written from callbacks and here
	printErr := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = fmt.Fprintf(o.Err, format+"\n", a...)
	}
	var client *Client
	cfg.OnMessage = func(m Message, via Node) {
		doc := batchDoc{Message: m}
		if o.Trace {
			doc.Via, doc.Recv = via.Name, cfg.Now().UTC().Format(time.RFC3339Nano)
		}
		b, err := json.Marshal(doc)
		if err != nil {
			return
		}
		mu.Lock()
		_, _ = o.Out.Write(append(sshui.EscapeJSONControls(b), '\n'))
		mu.Unlock()
		firstAfterFailover(client, m, printErr)
	}
	cfg.OnState = func(s State) { printState(s, printErr) }
	cfg.OnDrop = func(id, text string, err error) { printErr("dropped %s err=%q", id, err.Error()) }
	if o.Trace {
		cfg.OnAck = func(id string, idx uint64) { printErr("acked %s index=%d", id, idx) }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Stream = true // many lines: one pipelined `post --stream` per connection
	c, err := New(cfg)
	if err != nil {
		return err
	}
	client = c
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(runCtx) }()
	eof := make(chan error, 1)
	go func() { eof <- readLines(o.In, c) }()

	select {
	case err := <-runErr:
		return err
	case err := <-eof:
		if err != nil {
			printErr("stdin: %v", err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- c.WaitSent(runCtx) }()
	select {
	case err := <-runErr:
		return err
	case <-done:
	}
	if o.Linger > 0 && !sleep(ctx, o.Linger) {
		return nil
	}
	cancel()
	return <-runErr
}

// batchDoc is one stdout line: the history --json fields, plus via and
// recv with --trace.
type batchDoc struct {
	Message
	Via  string `json:"via,omitempty"`
	Recv string `json:"recv,omitempty"`
}

func readLines(in io.Reader, c *Client) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		c.Send(strings.TrimRight(sc.Text(), "\r"))
	}
	return sc.Err()
}

func printState(s State, printf func(string, ...any)) {
	at := s.At.UTC().Format(time.RFC3339Nano)
	switch s.Kind {
	case StateConnected:
		verb := "connected"
		if s.Reconnect {
			verb = "reconnected"
		}
		printf("%s %s %s at=%s queued=%d", verb, s.Node.Name, s.Node.Addr, at, s.Queued)
	case StateDisconnected, StateUnreachable, StateRefused:
		printf("%s %s %s at=%s err=%q", s.Kind, s.Node.Name, s.Node.Addr, at, errText(s.Err))
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// firstAfterFailover prints the failover-gap line once per failover.
func firstAfterFailover(c *Client, m Message, printf func(string, ...any)) {
	if c == nil {
		return
	}
	fo := c.Failovers()
	if k := len(fo) - 1; k >= 0 && fo[k].Index == m.Index {
		f := fo[k]
		printf("first-message %s %s at=%s index=%d since_lost=%s", f.To.Name, f.To.Addr,
			f.FirstMessage.UTC().Format(time.RFC3339Nano), m.Index, f.FirstMessage.Sub(f.Lost))
	}
}
