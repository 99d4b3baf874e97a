package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestDocsNameRealMetrics: every syncnet_ metric that docs/OPERATIONS.md
// and the Grafana dashboard name is one this package serves (a histogram
// with its _bucket, _sum and _count series), and OPERATIONS.md's table
// lists every one it serves.
func TestDocsNameRealMetrics(t *testing.T) {
	m := New(&fake{st: leaderOf3(1, 1, 1)}, Options{})
	ch := make(chan *prometheus.Desc, 100)
	go func() {
		for _, c := range []prometheus.Collector{m.commit, m.fsync, m.rtt, m.posts, m.c} {
			c.Describe(ch)
		}
		close(ch)
	}()
	fq := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	served, names := map[string]bool{}, map[string]bool{}
	for d := range ch {
		name := fq.FindStringSubmatch(d.String())[1]
		names[name] = true
		served[name] = true
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			served[name+suffix] = true // histograms' series (harmless for the rest)
		}
	}
	used := regexp.MustCompile(`syncnet_[a-z_]*[a-z]`)
	ops, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	dash, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	for doc, text := range map[string]string{"OPERATIONS.md": string(ops), "grafana-dashboard.json": string(dash)} {
		for _, n := range used.FindAllString(text, -1) {
			if !served[n] {
				t.Errorf("%s names %s, which no node serves", doc, n)
			}
		}
	}
	for n := range names {
		if !strings.Contains(string(ops), "`"+n+"`") {
			t.Errorf("OPERATIONS.md's table does not list %s", n)
		}
	}
}
