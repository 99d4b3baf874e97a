#!/usr/bin/env bash
# The SSH layer's cost of one exec `post`, before and after, in one run:
# two fakeservers (sshui over the in-memory backend, so no consensus or
# fsync in the figure) side by side, `syncnet bench write --mode exec`
# against A, then B, ROUNDS times. Compare the medians of "server CPU".
#
#   tools/bench/exec-fake-ab.sh FAKESERVER_A FAKESERVER_B ROUNDS [SYNCNET] [bench write flags]
set -euo pipefail
a=$1; b=$2; rounds=$3; syncnet=${4:-bin/syncnet}; shift 4 || shift $#
out=${OUT:-/tmp}
start() { # $1: binary, $2: label
  "$1" --addr 127.0.0.1:0 --rate-limit 1000000 > "$out/exec-ab.$2.srv" 2>&1 &
  for _ in $(seq 50); do grep -q addr= "$out/exec-ab.$2.srv" && break; sleep 0.1; done
}
start "$a" a; pa=$!
start "$b" b; pb=$!
trap 'kill -INT $pa $pb 2>/dev/null; wait $pa $pb 2>/dev/null || true' EXIT
addr() { l=$(grep addr= "$out/exec-ab.$1.srv"); l=${l#addr=}; echo "${l%% *}"; }
for i in $(seq 1 "$rounds"); do
  for side in a b; do
    pid=$pa; [ $side = b ] && pid=$pb
    echo "== round $i, $side"
    "$syncnet" bench write --addrs "$(addr $side)" --pids $pid --mode exec --target spread \
        -c 64 --duration 8s --warmup 2s "$@" | grep -E "mode|committed|latency|server CPU" || echo "run failed"
  done
done
