#!/bin/bash
# Metrics cost (issue 14), scraped vs not in one run: on one running cluster
# (syncnet up; ./syncnet the binary; a [[bot]] key = ~/.ssh/id_ed25519.pub
# and max_sessions_per_key >= 32 for bench write), ROUNDS rounds of A then B
# (interleaved ABAB: a drift of the machine's load or of the cluster's size
# falls on both), A without a scraper, B with one reading every node's
# /metrics once a second (15x Prometheus' usual 15 s). Each run measures
#   - committed posts/s and server CPU per 1,000 posts (all nodes):
#     bench write, 32 streams to the leader, 1 s warm-up, 4 s measured;
#   - CPU per delivered copy of the node the sessions are on: bench, 60 chat
#     sessions on the first address, 3 posters at 30 posts/s for 8 s.
# WRITE=0 or FANOUT=0 leaves one of them out. Prints each run (on stderr
# too), then the medians, the median of the per-round ratios B/A and their
# range. docs/BENCHMARKS.md, "Metrics cost".
set -u
ROUNDS=${ROUNDS:-10}
WRITE=${WRITE:-1}
FANOUT=${FANOUT:-1}
ADDRS=${ADDRS:-127.0.0.1:4222,127.0.0.1:4223,127.0.0.1:4224}
PORTS=${PORTS:-"9140 9141 9142"}
FANOUT_ADDR=${ADDRS%%,*}
fanout_pid() { # the syncnet node serving FANOUT_ADDR's port, by its config's ssh_port
  local port=${FANOUT_ADDR##*:} id
  id=$(awk -v p="$port" '/^id =/{gsub(/"/,"",$3); id=$3} /^ssh_port =/ && $3==p {print id}' cluster.toml)
  for p in $(pgrep -x syncnet); do
    if [ "$(readlink /proc/$p/cwd)" = "$PWD" ] && tr '\0' ' ' < /proc/$p/cmdline | grep -q -- "node .*--id $id "; then echo $p; fi
  done
}
run() {
  local mode=$1 SC= w= f=
  if [ $mode = B ]; then
    ( while :; do for p in $PORTS; do curl -s -o /dev/null 127.0.0.1:$p/metrics; done; sleep 1; done ) &
    SC=$!
  fi
  [ "$WRITE" = 1 ] && w=$(./syncnet bench write --addrs $ADDRS --duration 4s --warmup 1s -c 32 2>&1)
  [ "$FANOUT" = 1 ] && f=$(./syncnet bench --addr $FANOUT_ADDR --sessions 60 --posters 3 --rate 30 --duration 8s --settle 3s --pid $(fanout_pid) 2>&1)
  [ -n "$SC" ] && { kill $SC; wait $SC 2>/dev/null; }
  echo "$mode posts/s=$(echo "$w" | sed -n 's/.*= \([0-9]*\) posts\/s.*/\1/p')" \
    "cpu_s_per_1000=$(echo "$w" | sed -n 's/.*server CPU  \([0-9.]*\) s per.*/\1/p')" \
    "us_per_copy=$(echo "$f" | sed -n 's/.*;  \([0-9.]*\)µs per delivered copy.*/\1/p')" \
    "missing=$(echo "$f" | sed -n 's/.*missing \([0-9]*\).*/\1/p')" \
    "load=$(cut -d' ' -f1 /proc/loadavg)"
}
out=$(for r in $(seq 1 $ROUNDS); do run A; run B; done | while read -r l; do echo "$l" >&2; echo "$l"; done)
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) exit; if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
field() { echo "$out" | grep "^$1 " | sed -n "s|.*$2=\([0-9][0-9.]*\).*|\1|p"; }
for k in posts/s cpu_s_per_1000 us_per_copy; do
  a=$(field A $k | median); b=$(field B $k | median)
  [ -z "$a" ] && continue
  ratios=$(paste <(field A $k) <(field B $k) | awk '$1>0 && $2>0 {print $2/$1}')
  echo "$k: median not scraped $a, scraped $b; the rounds' B/A: median $(echo "$ratios" | median)," \
    "range $(echo "$ratios" | sort -g | sed -n '1p;$p' | paste -sd-)"
done
echo "load average during the run: $(echo "$out" | sed -n 's/.*load=\([0-9.]*\).*/\1/p' | sort -g | sed -n '1p;$p' | paste -sd-)"
