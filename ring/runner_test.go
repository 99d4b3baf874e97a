package ring

// Runner is the ring's own real-time driver for its real-socket test
// (realcluster_test.go); a node drives its ring core from node.Node.loop.

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// maxCatchUp bounds how many missed ticks a Runner replays at once. A
// longer stall (an overloaded machine) dilates time instead: replaying it
// all would make members whose datagrams still wait in socket buffers look
// silent (measured: 2 false suspicions per minute with 50, none with 5).
const maxCatchUp = 5

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	Node      *Node
	Transport Transport
	// Tick is the real duration of one tick (e.g. 10ms with
	// HeartbeatTicks 10 for a 100ms heartbeat).
	Tick time.Duration
	// Persist must durably store hs (fsync) before returning; a Runner
	// sends nothing from a Ready whose HardState failed to persist, and
	// stops. nil means nothing is persisted (tests only).
	Persist func(HardState) error
	// OnReady, if set, is called after persisting and sending, before
	// Advance: the place to log SoftState and MemberChanges. It runs on the
	// Runner's goroutine with the Node locked: it must not call Runner
	// methods (Do, Status) and should not block.
	OnReady func(Ready)
	// OnSendError, if set, sees every failed send (the core recovers from
	// lost messages by itself). Same rules as OnReady.
	OnSendError func(to string, err error)
}

// Runner is the thin real-time driver around a Node: it owns the one
// goroutine that turns transport input and a ticker into Step/Tick and
// handles each Ready in order — persist, send, apply, advance. node/ can
// embed it or copy its loop.
type Runner struct {
	cfg  RunnerConfig
	mu   sync.Mutex // guards cfg.Node
	stop chan struct{}
	done chan struct{}
	err  error
	once sync.Once
}

// NewRunner returns a Runner; call Start to run it.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	if cfg.Node == nil || cfg.Transport == nil || cfg.Tick <= 0 {
		return nil, errors.New("ring: runner needs a Node, a Transport and a positive Tick")
	}
	return &Runner{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// Start runs the loop on a new goroutine.
func (r *Runner) Start() { go r.loop() }

// Stop ends the loop and waits for it; it does not close the transport.
// It returns the error that stopped the loop, if any.
func (r *Runner) Stop() error {
	r.once.Do(func() { close(r.stop) })
	<-r.done
	return r.err
}

// Done is closed when the loop has ended (Stop, or a Persist failure).
func (r *Runner) Done() <-chan struct{} { return r.done }

// Do runs f with exclusive access to the Node (SetLocalStatus, reads);
// outputs it causes are handled on the next turn.
func (r *Runner) Do(f func(n *Node)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.cfg.Node)
}

// Status returns the Node's status snapshot.
func (r *Runner) Status() (st Status) {
	r.Do(func(n *Node) { st = n.Status() })
	return st
}

func (r *Runner) loop() {
	defer close(r.done)
	tk := time.NewTicker(r.cfg.Tick)
	defer tk.Stop()
	last := time.Now()
	for {
		select {
		case <-r.stop:
			return
		case now := <-tk.C:
			// A busy machine delays and drops ticker ticks; catch up so
			// that ticks keep pace with real time (failure timeouts are
			// counted in ticks).
			due := min(max(int(now.Sub(last)/r.cfg.Tick), 1), maxCatchUp)
			last = last.Add(time.Duration(due) * r.cfg.Tick)
			if now.Sub(last) > r.cfg.Tick*maxCatchUp {
				last = now
			}
			r.mu.Lock()
			if due > 1 {
				// Messages that arrived while we were stalled are older
				// than the ticks we are about to replay: step them first,
				// or a stall here would look like silence from everyone.
				r.drainLocked()
			}
			for i := 0; i < due; i++ {
				r.cfg.Node.Tick()
			}
			r.mu.Unlock()
		case m := <-r.cfg.Transport.Recv():
			r.mu.Lock()
			_ = r.cfg.Node.Step(m) // rejected input changes nothing; counted in Drops
			r.mu.Unlock()
		}
		if err := r.handleReady(); err != nil {
			r.err = err
			return
		}
	}
}

// drainLocked steps every message already waiting in the transport.
func (r *Runner) drainLocked() {
	for i := 0; i < 4096; i++ {
		select {
		case m := <-r.cfg.Transport.Recv():
			_ = r.cfg.Node.Step(m)
		default:
			return
		}
	}
}

func (r *Runner) handleReady() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.cfg.Node
	for n.HasReady() {
		rd := n.Ready()
		if rd.HardState != nil && r.cfg.Persist != nil {
			if err := r.cfg.Persist(*rd.HardState); err != nil {
				return fmt.Errorf("ring: persist %s: %w", rd.HardState.Describe(), err)
			}
		}
		for _, m := range rd.Messages {
			if err := r.cfg.Transport.Send(m.To, m); err != nil && r.cfg.OnSendError != nil {
				r.cfg.OnSendError(m.To, err)
			}
		}
		if r.cfg.OnReady != nil {
			r.cfg.OnReady(rd)
		}
		n.Advance(rd)
	}
	return nil
}
