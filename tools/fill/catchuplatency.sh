#!/bin/bash
# The catch-up figures of docs/BENCHMARKS.md ("History at scale"): fill N
# messages (default 1,000,000) into a copy of cluster.toml, start the three
# nodes, time `post` through node1 idle (postlatency.sh), then kill -9 node3,
# wipe its data directory, restart it empty and time `post` again while it
# catches up; print how long it took to be promoted from learner and how
# many suspicions and leader-silent alarms the others logged meanwhile.
# usage (from the repository root, after make build): tools/fill/catchuplatency.sh [BIN]
# PORTS=K adds K to every port of cluster.toml (another cluster on this
# machine); PROFILE=1 also prints, for the copy's window, the CPU each node
# process used and node1's and node2's fsync and commit-latency histograms;
# PULSE=S stops and continues node3 every S seconds while it copies, and
# compares the posts made while it copied with those made while it was
# stopped (benchlib.sh, pulse). NODE3_DIR=DIR: see below.
set -u
N=${N:-1000000}
BIN=${1:-bin/syncnet}
HERE=$(cd "$(dirname "$0")" && pwd)
B=${SCALEBENCH_DIR:-/tmp/syncnet-catchup}/n$N
. $HERE/benchlib.sh
# REUSE=1 keeps the data of an earlier run (its node3 caught up again).
if [ "${REUSE:-0}" != 1 ] || [ ! -f $B/cluster.toml ]; then
  rm -rf $B; mkdir -p $B
  cluster_copy $B
  $BIN fill --config $B/cluster.toml --messages $N --rooms 1000 --period 8760h > $B/fill.log 2>&1 || { cat $B/fill.log; exit 1; }
else
  cluster_key $B
fi
SSH1=$(port node1 ssh_port)
for id in node1 node2 node3; do : > $B/$id.log; done
start() { $BIN node --config $B/cluster.toml --id $1 --log-level info >> $B/$1.log 2>&1 & echo $! > $B/$1.pid; }
waitlog() { # id pattern count
  for i in $(seq 1 6000); do c=$(grep -c "$2" $B/$1.log 2>/dev/null); [ "${c:-0}" -ge "$3" ] && return 0; sleep 0.1; done
  echo "timeout waiting for $2 on $1"; return 1
}
for id in node1 node2 node3; do start $id; done
for id in node1 node2 node3; do waitlog $id "caught up; serving SSH" 1; done
for id in node1 node2 node3; do verified $id; done
[ "${REUSE:-0}" = 1 ] || for id in node1 node2 node3; do waitlog $id "snapshot written" 1; done
sleep 5
profile_begin node1 node2 node3
echo "idle: $(bash $HERE/postlatency.sh $SSH1 300 idle)"
profile_end node1 node2 node3 | sed 's/^/  idle /'
kill -KILL $(cat $B/node3.pid); sleep 0.5; rm -rf $B/data/node3
# NODE3_DIR=DIR puts the wiped node's data directory in DIR (a tmpfs such
# as /dev/shm/x): the copy then costs the others CPU but no disk writes.
[ -n "${NODE3_DIR:-}" ] && { rm -rf "$NODE3_DIR"; mkdir -p "$NODE3_DIR"; ln -s "$NODE3_DIR" $B/data/node3; }
s1=$(grep -c 'to=suspected' $B/node1.log $B/node2.log | awk -F: '{s+=$2} END {print s}')
# Posts go on from just before node3 starts until it is promoted; only
# those started in that window count.
rm -f $B/during.raw $B/during.raw.stop
RAW=$B/during.raw bash $HERE/postlatency.sh $SSH1 100000 during & LAT=$!
# Start once posts are flowing (postlatency.sh first opens its connections).
for i in $(seq 1 600); do [ -f $B/during.raw ] && [ "$(wc -l < $B/during.raw)" -ge 5 ] && break; sleep 0.1; done
profile_begin node1 node2; t0=$(date +%s.%N); t0ns=$(date +%s%N); start node3
[ -n "${PULSE:-}" ] && { pulse $(cat $B/node3.pid) "grep -q 'log copied' $B/node3.log" & PUL=$!; }
waitlog node3 "promoted from learner to voting member" 1
t1ns=$(date +%s%N); profile_end node1 node2 node3 | sed 's/^/  copy /'
touch $B/during.raw.stop; wait $LAT
echo "leader during the copy: $(leader node1)"
echo "node3 promoted $(echo "($t1ns - $t0ns) / 1000000000" | bc -l | cut -c1-6) s after its start; its log: $(grep -o 'log copied.*took=[^ ]*' $B/node3.log | head -1)"
[ -n "${PULSE:-}" ] && { wait $PUL; echo "pulsed every $PULSE s until the log was copied:"; pulse_report $B/during.raw; }
echo "during the catch-up: $(awk -v a=$t0ns -v b=$t1ns '$1 >= a && $1 < b {print $2}' $B/during.raw | sort -n | awk '{a[NR]=$1} END {printf "n=%d p50=%.1fms p99=%.1fms max=%.1fms\n", NR, a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000, a[NR]/1000}')"
s2=$(grep -c 'to=suspected' $B/node1.log $B/node2.log | awk -F: '{s+=$2} END {print s}')
echo "suspicions logged by node1 and node2 since node3 was killed: $((s2 - s1)); leader-silent alarms in all: $(cat $B/node1.log $B/node2.log | grep -c 'silent for')"
for id in node1 node2 node3; do kill -TERM $(cat $B/$id.pid); done; sleep 2
