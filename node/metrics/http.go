package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/syncnet/syncnet/node"
	"github.com/syncnet/syncnet/node/api"
)

// Handler serves /metrics, /healthz, /readyz and /status.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Healthy(); err != nil {
			http.Error(w, "unhealthy: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if why := m.NotReady(); len(why) > 0 {
			http.Error(w, "not ready: "+strings.Join(why, "; "), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(StatusDoc(m.src.Status()))
	})
	return mux
}

// Healthy is nil while the process is alive and its WAL accepts writes.
func (m *Metrics) Healthy() error {
	if err := m.src.Stats().WALErr; err != nil {
		return fmt.Errorf("the WAL is poisoned: %w", err)
	}
	return nil
}

// NotReady lists why this node should not get clients now (empty: ready):
// it has not applied what its WAL recorded as committed, it is a learner,
// it does not hear a majority, or it knows no leader — what a load
// balancer in front of the SSH ports should check. It reads one Stats, the
// figures syncnet_quorum and syncnet_members_online show: "no quorum" here
// is exactly members online <= members / 2 there.
func (m *Metrics) NotReady() []string {
	return notReady(m.src.Stats())
}

func notReady(s node.Stats) []string {
	var why []string
	if s.WALErr != nil {
		why = append(why, "the WAL is poisoned")
	}
	if !s.CaughtUp {
		why = append(why, "not caught up with its own log yet")
	}
	if s.Learner {
		why = append(why, "a learner, still copying the log")
	}
	if !s.Majority {
		online := 0
		for _, up := range s.Online {
			if up {
				online++
			}
		}
		why = append(why, fmt.Sprintf("no quorum: it hears %d of %d members, itself included", online, len(s.Online)))
	}
	if s.Leader == "" {
		why = append(why, "no leader known")
	}
	return why
}

// Status is the /status document: api.ClusterStatus plus each member's
// uptime in seconds (ClusterStatus leaves it out of its JSON).
type Status struct {
	api.ClusterStatus
	Uptime map[string]float64 `json:"uptime_seconds"`
}

// StatusDoc makes the /status document of st.
func StatusDoc(st api.ClusterStatus) Status {
	d := Status{ClusterStatus: st, Uptime: map[string]float64{}}
	for _, m := range st.Members {
		d.Uptime[m.ID] = m.Uptime.Seconds()
	}
	return d
}

// Cluster turns the document back into the api form.
func (d Status) Cluster() api.ClusterStatus {
	st := d.ClusterStatus
	st.Members = append([]api.MemberStatus(nil), st.Members...)
	for i, m := range st.Members {
		st.Members[i].Uptime = time.Duration(d.Uptime[m.ID] * float64(time.Second))
	}
	return st
}

// Serve serves h on l until ctx ends.
func Serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	err := srv.Serve(l)
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
