#!/bin/bash
# Issue 13's target "a learner added to a cluster holding 1M messages is
# promoted within 10 s": fill N messages (default 1,000,000) into a copy of
# cluster.toml, start the three nodes, `member add node4` through node1,
# start node4 with an empty data directory (its own cluster.toml lists it),
# and ask `member promote node4` every 200 ms until the leader accepts;
# print the time from node4's start to its promotion, and from the add.
# usage (from the repository root, after make build): tools/fill/learnerbench.sh [BIN]
# PORTS=K as in catchuplatency.sh; REUSE=1 keeps an earlier fill (node4's
# data and membership are reset: the fill is copied back from a pristine copy).
set -u
N=${N:-1000000}
BIN=${1:-bin/syncnet}
HERE=$(cd "$(dirname "$0")" && pwd)
B=${SCALEBENCH_DIR:-/tmp/syncnet-learner}/n$N
. $HERE/benchlib.sh
if [ "${REUSE:-0}" != 1 ] || [ ! -d $B/pristine ]; then
  rm -rf $B; mkdir -p $B
  cluster_copy $B
  $BIN fill --config $B/cluster.toml --messages $N --rooms 1000 --period 8760h > $B/fill.log 2>&1 || { cat $B/fill.log; exit 1; }
  cp -a $B/data $B/pristine
else
  cluster_key $B
  rm -rf $B/data && cp -a $B/pristine $B/data
fi
# node4: the next ports after node3's, on loopback; its cluster.toml lists it.
P=$(( $(port node3 ssh_port) + 1 )); PP=$(( $(port node3 peer_port) + 1 ))
HB=$(( $(port node3 heartbeat_port) + 1 )); EL=$(( $(port node3 election_port) + 1 ))
cp $B/cluster.toml $B/cluster4.toml
printf '\n[[node]]\nid = "node4"\nhost = "127.0.0.1"\nssh_port = %d\npeer_port = %d\nheartbeat_port = %d\nelection_port = %d\nring = 3\n' $P $PP $HB $EL >> $B/cluster4.toml
SSH1=$(port node1 ssh_port)
S="ssh -i $SSH_KEY -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p $SSH1 admin@127.0.0.1"
start() { $BIN node --config $2 --id $1 --log-level info >> $B/$1.log 2>&1 & echo $! > $B/$1.pid; }
waitlog() { # id pattern count
  for i in $(seq 1 6000); do c=$(grep -c "$2" $B/$1.log 2>/dev/null); [ "${c:-0}" -ge "$3" ] && return 0; sleep 0.1; done
  echo "timeout waiting for $2 on $1"; return 1
}
for id in node1 node2 node3 node4; do : > $B/$id.log; done
for id in node1 node2 node3; do start $id $B/cluster.toml; done
for id in node1 node2 node3; do waitlog $id "caught up; serving SSH" 1; done
sleep 3
ta=$(date +%s%N)
$S member add node4 --host 127.0.0.1 --ssh-port $P --peer-port $PP --heartbeat-port $HB --election-port $EL || exit 1
t0=$(date +%s%N)
start node4 $B/cluster4.toml
tries=0
until out=$($S member promote node4 2>&1); do
  tries=$((tries + 1))
  case "$out" in *"caught up"*|*"not been heard"*) sleep 0.2 ;; *) echo "promote: $out"; break ;; esac
  [ $tries -gt 600 ] && { echo "not promoted within 120 s: $out"; break; }
done
t1=$(date +%s%N)
echo "$out"
echo "node4 promoted $(echo "($t1 - $t0) / 1000000000" | bc -l | cut -c1-5) s after its start ($(echo "($t1 - $ta) / 1000000000" | bc -l | cut -c1-5) s after the add), $tries refusals; its copy: $(grep -o 'log copied.*took=[^ ]*' $B/node4.log | head -1)"
$S member list
for id in node1 node2 node3 node4; do kill -TERM $(cat $B/$id.pid) 2>/dev/null; done; sleep 2
