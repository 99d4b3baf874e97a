#!/bin/bash
# The backup figures of docs/BENCHMARKS.md ("Backup and restore"): over the
# data of catchuplatency.sh or scalebench.sh (N messages, default 1M; run
# one of them first), start the three nodes, time `post` through node1 idle
# (postlatency.sh), then take `ssh admin@node2 backup` (a follower) while
# posting, and print its size, rate and the posts' latency during it; then
# restore it into a new directory with `syncnet restore` and time that.
# usage (from the repository root, after make build): tools/fill/backupbench.sh [BIN]
# PORTS and PROFILE as in catchuplatency.sh (PORTS must be the same);
# CIPHER=NAME passes -c NAME to the ssh that receives the backup;
# CLIENT_NICE=K runs that ssh under nice -n K (it stands for another host);
# SINK=/dev/null throws the backup away (no restore then); PULSE=S stops and
# continues that ssh every S seconds and compares the posts made while the
# backup ran with those made while it was stopped (benchlib.sh, pulse).
set -u
N=${N:-1000000}
BIN=${1:-bin/syncnet}
HERE=$(cd "$(dirname "$0")" && pwd)
B=${SCALEBENCH_DIR:-/tmp/syncnet-catchup}/n$N
[ -f $B/cluster.toml ] || { echo "no $B/cluster.toml: run catchuplatency.sh first"; exit 1; }
. $HERE/benchlib.sh
cluster_key $B
SSH1=$(port node1 ssh_port)
start() { $BIN node --config $B/cluster.toml --id $1 --log-level info >> $B/$1.log 2>&1 & echo $! > $B/$1.pid; }
waitlog() { # id pattern count
  for i in $(seq 1 6000); do c=$(grep -c "$2" $B/$1.log 2>/dev/null); [ "${c:-0}" -ge "$3" ] && return 0; sleep 0.1; done
  echo "timeout waiting for $2 on $1"; return 1
}
for id in node1 node2 node3; do : > $B/$id.log; start $id; done
for id in node1 node2 node3; do waitlog $id "caught up; serving SSH" 1; done
for id in node1 node2 node3; do verified $id; done
sleep 5
profile_begin node1 node2 node3
echo "idle: $(bash $HERE/postlatency.sh $SSH1 300 idle)"
profile_end node1 node2 node3 | sed 's/^/  idle /'
S="nice -n ${CLIENT_NICE:-0} ssh -i $SSH_KEY -o IdentitiesOnly=yes ${CIPHER:+-c $CIPHER} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
rm -f $B/during.raw $B/during.raw.stop $B/backup.tar
RAW=$B/during.raw bash $HERE/postlatency.sh $SSH1 100000 during & LAT=$!
# Start once posts are flowing (postlatency.sh first opens its connections).
for i in $(seq 1 600); do [ -f $B/during.raw ] && [ "$(wc -l < $B/during.raw)" -ge 5 ] && break; sleep 0.1; done
# The backup is taken from a follower other than node1 (which the posts go
# through): node2, or node3 if node2 leads.
L=$(leader node1); BK=node2; [ "$L" = node2 ] && BK=node3
SINK=${SINK:-$B/backup.tar}
profile_begin node1 node2 node3; t0ns=$(date +%s%N)
$S -p $(port $BK ssh_port) admin@127.0.0.1 backup > $SINK 2> $B/backup.err & BKP=$!
[ -n "${PULSE:-}" ] && { pulse $BKP "! kill -0 $BKP 2>/dev/null" & PUL=$!; }
wait $BKP || cat $B/backup.err
t1ns=$(date +%s%N); profile_end node1 node2 node3 | sed 's/^/  backup /'
echo "leader during the backup: $L; backup from $BK"
touch $B/during.raw.stop; wait $LAT
# The file's size, or (thrown away) the node's own count of what it wrote.
if [ -f "$SINK" ]; then bytes=$(stat -c %s $SINK); else bytes=$(grep -o 'done: .* MB' $B/backup.err | awk '{printf "%d", $(NF-1) * 1000000}'); fi
echo "backup: $bytes bytes in $(echo "($t1ns - $t0ns)/1000000000" | bc -l | cut -c1-6) s: $(echo "$bytes / (($t1ns - $t0ns)/1000)" | bc) MB/s; $(tail -1 $B/backup.err)"
[ -n "${PULSE:-}" ] && { wait $PUL; echo "pulsed every $PULSE s:"; pulse_report $B/during.raw; }
echo "posts during the backup: $(awk -v a=$t0ns -v b=$t1ns '$1 >= a && $1 < b {print $2}' $B/during.raw | sort -n | awk '{a[NR]=$1} END {printf "n=%d p50=%.1fms p99=%.1fms max=%.1fms\n", NR, a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000, a[NR]/1000}')"
for id in node1 node2 node3; do kill -TERM $(cat $B/$id.pid); done; sleep 2
[ "$SINK" = /dev/null ] && exit 0
R=$B/restored; rm -rf $R; mkdir -p $R
sed -e "s|^data_dir = .*|data_dir = \"$R/data\"|" $B/cluster.toml > $R/cluster.toml
t0ns=$(date +%s%N)
$BIN restore $B/backup.tar --config $R/cluster.toml --id node1 --new-cluster 2>&1 | tail -1
echo "restore took $(echo "($(date +%s%N) - $t0ns)/1000000000" | bc -l | cut -c1-6) s"
$BIN wal diff $B/data/$BK/wal $R/data/node1/wal | tail -1
rm -rf $R
