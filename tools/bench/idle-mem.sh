#!/usr/bin/env bash
# Memory of idle chat sessions, after a GC: for each fakeserver binary and
# each session count, starts the server, connects N chat sessions with
# `syncnet bench` (one poster, one line every 100 s), waits WAIT seconds
# (default 70: past pumpLinger, so no session holds a pump), then asks the
# server to collect twice and return freed pages (GET /gc) and prints RSS
# and the runtime's heap and stacks per session, and the benchmark's connect
# figures (sessions connected, connect time p50/p99). Binaries are run one after
# the other for each count, so before and after see the same load.
#
#   tools/bench/idle-mem.sh "FAKESERVER_A FAKESERVER_B" "100 1000" [SYNCNET]
set -euo pipefail
bins=$1; counts=$2; syncnet=${3:-bin/syncnet}; wait=${WAIT:-70}; out=${OUT:-/tmp}
port=${PPROF_PORT:-6197}
for n in $counts; do
  for bin in $bins; do
    log=$out/idle-mem.$$.srv
    "$bin" --addr 127.0.0.1:0 --pprof 127.0.0.1:$port --max-sessions $((n + 100)) > "$log" 2>&1 &
    srv=$!
    for _ in $(seq 50); do grep -q addr= "$log" && break; sleep 0.1; done
    line=$(grep addr= "$log"); addr=${line#addr=}; addr=${addr%% *}
    r0=$(awk '/VmRSS/{print $2}' /proc/$srv/status)
    "$syncnet" bench --addr "$addr" --pid $srv --sessions "$n" --posters 1 --rate 0.01 \
        --duration 1000s --ramp ${RAMP:-50} --drain 1s > "$out/idle-mem.$$.bench" 2>&1 &
    b=$!
    sleep $((n / ${RAMP:-50} + wait))
    gc=$(curl -s "http://127.0.0.1:$port/gc"); sleep 1
    r=$(awk '/VmRSS/{print $2}' /proc/$srv/status)
    heap=$(sed 's/.*heap_inuse=\([0-9]*\).*/\1/' <<<"$gc"); stack=$(sed 's/.*stack_inuse=\([0-9]*\).*/\1/' <<<"$gc")
    g=$(sed 's/.*goroutines=\([0-9]*\).*/\1/' <<<"$gc"); s=$(sed 's/.*sessions=\([0-9]*\).*/\1/' <<<"$gc")
    [ "$s" -gt 0 ] || { echo "$(basename "$bin") n=$n: no session connected"; s=1; }
    echo "$(basename "$bin") n=$n: $s sessions open; RSS $r0 -> $r KiB = $(( (r - r0) / s )) KiB/session;" \
         "heap $((heap / 1024 / s)) KiB, stacks $((stack / 1024 / s)) KiB, goroutines $((g / s))/session; load $(cut -d' ' -f1 /proc/loadavg)"
    # The benchmark first (it reports sessions that ended before it did),
    # then the server.
    kill $b 2>/dev/null || true; wait $b 2>/dev/null || true; kill -INT $srv; wait $srv 2>/dev/null || true
    grep -E "sessions connected|connect time" "$out/idle-mem.$$.bench" | sed 's/^ */    /' || true
  done
done
