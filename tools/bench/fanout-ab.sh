#!/usr/bin/env bash
# CPU per delivered copy, before/after in one run: for ROUNDS rounds and
# each of the two binaries in turn, starts a three-node cluster (a copy of
# cluster.toml on ports 31xx/91xx) with `up`, opens SESSIONS chat sessions
# on node1 with `syncnet bench`, posts 50 messages/s from 10 of them for
# 10 s, and prints node1's CPU per delivered copy, delivery latency and
# missing copies. Compare the medians of the rounds.
#
#   tools/bench/fanout-ab.sh SYNCNET_A SYNCNET_B DIR ROUNDS [SESSIONS]
set -euo pipefail
a=$(realpath "$1"); b=$(realpath "$2"); dir=$(realpath -m "$3"); rounds=$4; sessions=${5:-200}
repo=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$dir"; mkdir -p "$dir"
. "$repo/tools/bench/abconf.sh" # mkconf
for round in $(seq 1 "$rounds"); do
  for bin in "$a" "$b"; do
    d=$dir/run; rm -rf "$d"; mkdir -p "$d"; cd "$d"
    mkconf 31 91 > cluster.toml
    setsid "$bin" up --config cluster.toml > up.out 2>&1 & up=$!
    for _ in $(seq 1 200); do grep -q "cluster is healthy" up.out && break; sleep 0.3; done
    pid=$(pgrep -f "^$bin node --config cluster.toml --id node1")
    echo "== round $round, $bin (load $(cut -d' ' -f1-3 /proc/loadavg))"
    "$b" bench --addr 127.0.0.1:3122 --sessions "$sessions" --posters 10 --rate 50 --duration 10s --pid "$pid" --settle 10s 2>&1 |
      grep -E "deliveries|delivery latency|per delivered copy" || true
    kill -INT "$up"; wait "$up" || true
  done
done
