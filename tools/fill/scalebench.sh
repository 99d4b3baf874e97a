#!/bin/bash
# The issue-12 scale benchmark (docs/BENCHMARKS.md, "History at scale"): fill N
# messages into a copy of cluster.toml (three nodes on this machine), start the
# nodes, restart one six times, wipe another and time its catch-up.
# usage (from the repository root, after make build): tools/fill/scalebench.sh N
# (SKIP_CATCHUP=1: stop after the restarts)
set -u
N=$1
B=${SCALEBENCH_DIR:-/tmp/syncnet-scalebench}/n$N
BIN=${SYNCNET_BIN:-bin/syncnet}
rm -rf $B; mkdir -p $B
sed -e "s|^data_dir = \"data\"|data_dir = \"$B/data\"|" cluster.toml > $B/cluster.toml
ts() { date +%s.%N; }
echo "== fill $N"
t0=$(ts); $BIN fill --config $B/cluster.toml --messages $N --rooms 1000 --period 8760h > $B/fill.log 2>&1 || { cat $B/fill.log; exit 1; }
echo "fill took $(echo "$(ts) - $t0" | bc) s; WAL bytes per node: $(du -sb $B/data/node1/wal | cut -f1)"
start() { # id
  $BIN node --config $B/cluster.toml --id $1 --log-level info >> $B/$1.log 2>&1 &
  echo $! > $B/$1.pid
}
waitlog() { # id pattern count
  for i in $(seq 1 6000); do
    c=$(grep -c "$2" $B/$1.log 2>/dev/null); [ "${c:-0}" -ge "$3" ] && return 0; sleep 0.1
  done; echo "timeout waiting for $2 on $1"; return 1
}
t0=$(ts)
for id in node1 node2 node3; do start $id; done
for id in node1 node2 node3; do waitlog $id "caught up; serving SSH" 1; done
echo "first start (whole replay, 3 nodes at once): $(echo "$(ts) - $t0" | bc) s"
for id in node1 node2 node3; do waitlog $id "snapshot written" 1; done
sleep 15
for id in node1 node2 node3; do echo "idle RSS $id: $(( $(ps -o rss= -p $(cat $B/$id.pid)) / 1024 )) MiB"; done
for how in TERM KILL TERM KILL TERM KILL; do
  kill -$how $(cat $B/node2.pid); while kill -0 $(cat $B/node2.pid) 2>/dev/null; do sleep 0.02; done
  n0=$(grep -c "caught up; serving SSH" $B/node2.log)
  t0=$(ts); start node2; waitlog node2 "caught up; serving SSH" $((n0+1))
  echo "restart after SIG$how to serving SSH: $(echo "$(ts) - $t0" | bc) s; $(grep 'wal recovered' $B/node2.log | tail -1 | grep -o 'records_replayed=[0-9]* .*took=[0-9.a-zµ]*')"
done
sleep 10
echo "idle RSS node2 after restart from snapshot: $(( $(ps -o rss= -p $(cat $B/node2.pid)) / 1024 )) MiB"
if [ -n "${SKIP_CATCHUP:-}" ]; then
  for id in node1 node2 node3; do kill -TERM $(cat $B/$id.pid); done; sleep 2; exit 0
fi
# catch-up of an empty node3
kill -KILL $(cat $B/node3.pid); sleep 0.5; rm -rf $B/data/node3
t0=$(ts); start node3
waitlog node3 "promoted from learner to voting member" 1
d=$(echo "$(ts) - $t0" | bc)
echo "empty node3 caught up and promoted: $d s ($(grep promoted $B/node3.log | tail -1 | grep -o 'commit index [0-9]*'))"
sleep 5
echo "RSS node3 after catch-up: $(( $(ps -o rss= -p $(cat $B/node3.pid)) / 1024 )) MiB"
for id in node1 node2 node3; do kill -TERM $(cat $B/$id.pid); done; sleep 2
