#!/bin/bash
# Run from the directory of a running cluster (syncnet up) whose nodes serve
# metrics on PORTS and SSH on ADDRS, with ./syncnet the binary and a [[bot]]
# key for bench write (docs/BENCHMARKS.md, "Metrics cost").
# Metrics cost (issue 14): bench write with and without a scraper that reads
# every node's /metrics once a second, in ABBA blocks on one running cluster
# (a drift of the machine's load or of the cluster's size falls equally on
# both), 4 s measured per run.
set -u
BLOCKS=${BLOCKS:-4}
ADDRS=${ADDRS:-127.0.0.1:4222,127.0.0.1:4223,127.0.0.1:4224}
PORTS=${PORTS:-"9140 9141 9142"}
run() {
  local mode=$1 SC=
  if [ $mode = on ]; then
    ( while :; do for p in $PORTS; do curl -s -o /dev/null 127.0.0.1:$p/metrics; done; sleep 1; done ) &
    SC=$!
  fi
  out=$(./syncnet bench write --addrs $ADDRS --duration 4s --warmup 1s -c 32 2>&1)
  [ -n "$SC" ] && { kill $SC; wait $SC 2>/dev/null; }
  rate=$(echo "$out" | sed -n 's/.*= \([0-9]*\) posts\/s.*/\1/p')
  cpu=$(echo "$out" | sed -n 's/.*server CPU  \([0-9.]*\) s per.*/\1/p')
  echo "scrape=$mode posts/s=$rate cpu_s_per_1000=$cpu load=$(cut -d' ' -f1 /proc/loadavg)"
}
for b in $(seq 1 $BLOCKS); do run off; run on; run on; run off; done
