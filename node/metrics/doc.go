// Package metrics serves a node's Prometheus metrics and health checks:
// /metrics, /healthz, /readyz and /status (the cluster status as JSON, for
// `syncnet up`), on the node's metrics_port.
//
// Most figures are gauges and counters read when Prometheus scrapes, from
// what the node keeps anyway (node.Stats, the published status): a node
// nobody scrapes pays nothing for them. Only two histograms are fed on the
// hot path, one observation each: the commit latency of posts made through
// this node (ObservePost, called around the node's Post) and the duration of each
// WAL fsync (node.ObserveWALSync). A third takes each peer link's round trip,
// about once a second per peer (node.ObservePeerRTT). docs/OPERATIONS.md
// lists every metric.
package metrics
