package sshui

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	tea "github.com/charmbracelet/bubbletea"
)

// program runs the chat model of one PTY session in place of bubbletea's
// Program, whose event loop, command loop and input reader were three
// goroutines per session (two beside the session's handler, about 9 KiB
// of stacks and goroutine records, plus the Program itself, per idle
// session). Here:
//
//   - the session's handler goroutine reads the terminal and decodes its
//     keys (keyDecoder) and updates the model itself;
//   - messages from elsewhere (the hub's pump, command results) update it
//     in the sender's goroutine (Send);
//   - each command runs in a goroutine of its own and sends its result, as
//     in bubbletea; tea.Batch's commands each in their own.
//
// frameModel's lock serialises the updates, as the event loop did. The
// model never draws here: frameModel draws (screen.go).
type program struct {
	fm   *frameModel
	in   io.Reader
	ctx  context.Context
	done chan struct{} // closed by quit: nothing updates the model after it
	once sync.Once
	init chan struct{} // closed once Init has run: Send waits for it

	// end, set before Run, finishes the session: it runs once, on quit,
	// in the goroutine that quit, and must make in's Read return (close
	// the channel).
	end   func()
	ended atomic.Bool
}

func newProgram(fm *frameModel, in io.Reader, ctx context.Context) *program {
	return &program{fm: fm, in: in, ctx: ctx, done: make(chan struct{}), init: make(chan struct{})}
}

// errProgramEnded is Run's answer once the program has quit.
var errProgramEnded = errors.New("chat program ended")

// Run initialises the model and reads the terminal until the program quits
// or the input ends. It returns after end has run.
func (p *program) Run() error {
	p.exec(p.fm.Init())
	close(p.init)
	stop := context.AfterFunc(p.ctx, p.quit) // the connection ended
	defer stop()
	var d keyDecoder
	var buf [256]byte
	for {
		n, err := p.in.Read(buf[:])
		if n > 0 {
			d.decode(buf[:n], n == len(buf), func(k tea.KeyMsg) { p.update(k) })
		}
		if errors.Is(err, io.EOF) {
			// The client closed its input (ssh -t < /dev/null): the session
			// goes on without keys until it quits, as with bubbletea.
			<-p.done
			p.quit() // waits for end
			return errProgramEnded
		}
		if err != nil {
			p.quit()
			break
		}
		select {
		case <-p.done:
			p.quit() // waits for end
			return errProgramEnded
		default:
		}
	}
	return errProgramEnded
}

// Send updates the model with m from the caller's goroutine (the hub's
// pump, a command's result). It waits until Init has run, and does
// nothing once the program has quit.
func (p *program) Send(m tea.Msg) {
	select {
	case <-p.init:
	case <-p.done:
		return
	}
	p.update(m)
}

// update applies one message: Quit ends the program, a batch runs its
// commands, anything else goes to the model and its command runs.
func (p *program) update(m tea.Msg) {
	select {
	case <-p.done:
		return
	default:
	}
	switch m := m.(type) {
	case tea.QuitMsg:
		p.quit()
		return
	case tea.BatchMsg:
		for _, c := range m {
			p.exec(c)
		}
		return
	}
	_, cmd := p.fm.Update(m)
	p.exec(cmd)
}

// exec runs cmd in a goroutine of its own and sends its result.
func (p *program) exec(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		defer func() { _ = recover() }() // a command's panic must not end the server
		if m := cmd(); m != nil {
			p.Send(m)
		}
	}()
}

// quit ends the program once: no update after it, and end finishes the
// session (its Read then returns). Every caller returns after end has run.
func (p *program) quit() {
	p.once.Do(func() {
		close(p.done)
		if p.end != nil {
			p.end()
		}
		p.ended.Store(true)
	})
}
