package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// maxErrors is how many failure messages a Result keeps.
const maxErrors = 10

// Result is one run's figures. In JSON, durations are nanoseconds and sizes
// bytes.
type Result struct {
	Addr     string        `json:"addr"`
	Room     string        `json:"room"`
	Sessions int           `json:"sessions"`
	Posters  int           `json:"posters"`
	Rate     float64       `json:"rate"`
	Duration time.Duration `json:"duration"`
	Ramp     float64       `json:"ramp"`
	Exec     bool          `json:"exec_posts"`
	PID      int           `json:"pid,omitempty"`

	Connected      int           `json:"connected"`
	ConnectFailed  int           `json:"connect_failed"`
	ConnectElapsed time.Duration `json:"connect_elapsed"`
	ConnectP50     time.Duration `json:"connect_p50"`
	ConnectP99     time.Duration `json:"connect_p99"`
	ConnectMax     time.Duration `json:"connect_max"`

	Sent       int   `json:"sent"`
	SendFailed int   `json:"send_failed"`
	Expected   int64 `json:"deliveries_expected"`
	Seen       int64 `json:"deliveries_seen"`
	Missing    int64 `json:"deliveries_missing"`
	Dropped    int   `json:"sessions_dropped"` // sessions whose output ended early

	Unseen          int `json:"messages_unseen"`       // messages no other session saw (never committed?)
	SessionsMissing int `json:"sessions_missing"`      // sessions that missed at least one message
	WorstMissing    int `json:"worst_session_missing"` // the most messages one session missed

	LatencyP50 time.Duration `json:"latency_p50"`
	LatencyP99 time.Duration `json:"latency_p99"`
	LatencyMax time.Duration `json:"latency_max"`
	Elapsed    time.Duration `json:"elapsed"` // posting + drain

	SettleTime     time.Duration `json:"settle"`                      // after connecting, before posting
	SettleCPU      time.Duration `json:"server_cpu_settle,omitempty"` // server CPU during it
	ServerCPU      time.Duration `json:"server_cpu,omitempty"`
	CPUPerDelivery time.Duration `json:"server_cpu_per_delivery,omitempty"`
	RSSBefore      int64         `json:"server_rss_before,omitempty"`
	RSSAfter       int64         `json:"server_rss_after,omitempty"`
	RSSPerSession  int64         `json:"server_rss_per_session,omitempty"`

	Notes  []string `json:"notes,omitempty"`
	Errors []string `json:"errors,omitempty"`
	Failed int      `json:"errors_total"`

	mu      sync.Mutex
	connect []time.Duration
	latency []time.Duration
}

func (r *Result) note(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Notes = append(r.Notes, fmt.Sprintf(format, a...))
}

func (r *Result) fail(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Failed++
	if len(r.Errors) < maxErrors {
		r.Errors = append(r.Errors, fmt.Sprintf(format, a...))
	}
}

func (r *Result) addSendFailed() {
	r.mu.Lock()
	r.SendFailed++
	r.mu.Unlock()
}

// finish computes the percentiles.
func (r *Result) finish() {
	r.ConnectP50, r.ConnectP99, r.ConnectMax = percentiles(r.connect)
	r.LatencyP50, r.LatencyP99, r.LatencyMax = percentiles(r.latency)
}

// percentiles returns p50, p99 and max (nearest rank).
func percentiles(d []time.Duration) (p50, p99, mx time.Duration) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return rank(0.50), rank(0.99), s[len(s)-1]
}

// WriteJSON writes r as one indented JSON object.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the summary a person reads.
func (r *Result) WriteTable(w io.Writer) {
	mode := "typed into the chat app"
	if r.Exec {
		mode = "post exec sessions"
	}
	p := func(format string, a ...any) { _, _ = fmt.Fprintf(w, format+"\n", a...) }
	p("syncnet bench → %s  room #%s  (%s)", r.Addr, r.Room, mode)
	p("  %-22s %d / %d  (%d failed, %d ended early)", "sessions connected", r.Connected, r.Sessions, r.ConnectFailed, r.Dropped)
	p("  %-22s p50 %s  p99 %s  max %s  (ramp %g/s, all in %s)", "connect time",
		ms(r.ConnectP50), ms(r.ConnectP99), ms(r.ConnectMax), r.Ramp, ms(r.ConnectElapsed))
	p("  %-22s %d  (%d posters, %g/s for %s; %d failed)", "messages sent", r.Sent, r.Posters, r.Rate, r.Duration, r.SendFailed)
	p("  %-22s expected %d  seen %d  missing %d", "deliveries", r.Expected, r.Seen, r.Missing)
	if r.Missing > 0 {
		p("  %-22s %d sessions missed messages; the worst missed %d; %d messages were seen by nobody", "",
			r.SessionsMissing, r.WorstMissing, r.Unseen)
	}
	p("  %-22s p50 %s  p99 %s  max %s", "delivery latency", ms(r.LatencyP50), ms(r.LatencyP99), ms(r.LatencyMax))
	if r.PID > 0 {
		p("  %-22s %s total over %s;  %s per delivered copy  (pid %d)", "server CPU",
			ms(r.ServerCPU), ms(r.Elapsed), us(r.CPUPerDelivery), r.PID)
		p("  %-22s %s in the %s after the last connect, until idle", "server CPU settling", ms(r.SettleCPU), ms(r.SettleTime))
		p("  %-22s %s → %s;  %.1f KiB per session", "server RSS",
			mib(r.RSSBefore), mib(r.RSSAfter), float64(r.RSSPerSession)/1024)
	}
	for _, n := range r.Notes {
		p("  note: %s", n)
	}
	if r.Failed > 0 {
		p("  %d errors, first %d:", r.Failed, len(r.Errors))
		for _, e := range r.Errors {
			p("    %s", e)
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
func us(d time.Duration) string { return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond)) }
func mib(b int64) string        { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
