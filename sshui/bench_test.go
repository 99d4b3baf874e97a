package sshui_test

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/syncnet/syncnet/node/api"
	. "github.com/syncnet/syncnet/sshui"
	"github.com/syncnet/syncnet/sshui/sshuitest"
)

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type countSender struct{ n atomic.Int64 }

func (c *countSender) Send(tea.Msg) { c.n.Add(1) }

// BenchmarkHubDeliver: one committed message fanned out to N sessions'
// queues and pumps (no rendering). Metric: CPU per delivered copy.
func BenchmarkHubDeliver(b *testing.B) {
	for _, n := range []int{100, 1000, 2000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			h := NewHub(sshuitest.New("node1", nil), HubConfig{Queue: 256})
			senders := make([]*countSender, n)
			for i := range senders {
				senders[i] = &countSender{}
				h.Register(fmt.Sprint("u", i), senders[i]).SetRooms([]string{"general"})
			}
			total := func() (s int64) {
				for _, c := range senders {
					s += c.n.Load()
				}
				return s
			}
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := range b.N {
				h.Deliver(msgEvent("general", uint64(i+1)))
				if i%128 == 127 { // let pumps drain: a live system is not a burst
					for total() < int64(n)*int64(i+1-64) {
						time.Sleep(50 * time.Microsecond)
					}
				}
			}
			for total() < int64(n)*int64(b.N)-int64(n)*256 {
				time.Sleep(100 * time.Microsecond)
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(int64(n)*int64(b.N)), "cpu-ns/delivery")
			h.Stop()
		})
	}
}

// counting wraps the chat model to count committed messages it applied.
type counting struct {
	*App
	n *atomic.Int64
}

func (c counting) Update(m tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := c.App.Update(m)
	if _, ok := m.(EventMsg); ok {
		c.n.Add(1)
	}
	return c, cmd
}

// BenchmarkChatFanout: one message to N real chat programs (Update, View,
// bubbletea's renderer writing 80×24 frames to io.Discard), through the hub.
// Metric: process CPU per delivered copy, everything included.
func BenchmarkChatFanout(b *testing.B) {
	for _, n := range []int{50, 200} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			f := sshuitest.New("node1", nil)
			h := NewHub(f, HubConfig{Queue: 4096}) // no drops: every copy is counted
			var applied atomic.Int64
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{}, n)
			for i := range n {
				user := fmt.Sprint("u", i)
				app := NewTestApp(f, Identity{Name: user}, Config{NodeID: "node1"}, asciiRenderer())
				p := tea.NewProgram(counting{app, &applied}, tea.WithInput(nil), tea.WithOutput(io.Discard),
					tea.WithoutSignalHandler(), tea.WithContext(ctx))
				c := h.Register(user, p)
				c.SetRooms([]string{"general"})
				c.Resize(80, 24)
				go func() { _, _ = p.Run(); done <- struct{}{} }()
			}
			time.Sleep(100 * time.Millisecond)
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := range b.N {
				m := api.Message{Index: uint64(i + 1000), Room: "general", From: "bob", Text: fmt.Sprint("message number ", i), Time: time.Unix(0, 0)}
				h.Deliver(api.Event{Kind: api.EventMessage, Index: m.Index, Message: m})
				waitApplied(b, &applied, int64(n)*int64(i+1)-int64(n)*64)
			}
			waitApplied(b, &applied, int64(n)*int64(b.N))
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(int64(n)*int64(b.N)), "cpu-ns/delivery")
			cancel()
			for range n {
				<-done
			}
			h.Stop()
		})
	}
}

// BenchmarkView: one full 80×24 frame of a busy room.
func BenchmarkView(b *testing.B) {
	c := newChat(b, 80, 24, false)
	for i := range 200 {
		c.f.Append(api.Message{Room: "general", From: "bob", Text: fmt.Sprint("filler line with some words ", i)})
	}
	c.app.Update(ResyncMsg{})
	b.ResetTimer()
	for range b.N {
		_ = c.app.View()
	}
}

// BenchmarkIdleSessionMemory: heap + stacks per idle chat program with its
// hub client (the SSH connection's own buffers are not included).
func BenchmarkIdleSessionMemory(b *testing.B) {
	const n = 200
	f := sshuitest.New("node1", nil)
	for i := range 50 {
		f.Append(api.Message{Room: "general", From: "bob", Text: fmt.Sprint("history line ", i)})
	}
	h := NewHub(f, HubConfig{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, n)
	for i := range n {
		user := fmt.Sprint("u", i)
		app := NewTestApp(f, Identity{Name: user}, Config{NodeID: "node1"}, asciiRenderer())
		p := tea.NewProgram(app, tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithoutSignalHandler(), tea.WithContext(ctx))
		c := h.Register(user, p)
		c.Resize(80, 24)
		go func() { _, _ = p.Run(); done <- struct{}{} }()
	}
	time.Sleep(300 * time.Millisecond)
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64((after.HeapInuse+after.StackInuse)-(before.HeapInuse+before.StackInuse)) / n
	for range b.N {
	}
	b.ReportMetric(per/1024, "KiB/session")
	cancel()
	for range n {
		<-done
	}
	h.Stop()
}

// waitApplied waits until the programs applied want messages, with a deadline.
func waitApplied(b *testing.B, applied *atomic.Int64, want int64) {
	deadline := time.Now().Add(30 * time.Second)
	for applied.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("applied %d of %d messages", applied.Load(), want)
		}
		time.Sleep(50 * time.Microsecond)
	}
}
