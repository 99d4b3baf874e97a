#!/bin/bash
# Connects N mostly idle sessions to a fresh fakeserver and samples its RSS
# for 150 s: the first sample still holds the connect storm's garbage; after
# the runtime's periodic GC (every 2 min) RSS shows what idle sessions hold.
# usage: tools/bench/idle-rss.sh BIN LABEL SESSIONS: RSS of an idle server with N sessions, sampled for 150 s after connecting
bin=$1; label=$2; n=${3:-200}
$bin --addr 127.0.0.1:0 > ${OUT:-/tmp}/$label.srv 2>&1 &
for i in $(seq 50); do grep -q addr= ${OUT:-/tmp}/$label.srv && break; sleep 0.1; done
line=$(grep addr= ${OUT:-/tmp}/$label.srv); addr=${line#addr=}; addr=${addr%% *}; pid=${line##*pid=}
rss() { grep VmRSS /proc/$pid/status | awk '{print $2}'; }
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
r0=$(rss)
${SYNCNET:-bin/syncnet} bench --addr $addr --pid $pid --sessions $n --posters 1 --rate 0.02 --duration 200s --ramp 50 --drain 1s > ${OUT:-/tmp}/$label.out 2>&1 &
b=$!
sleep $((n/50 + 5))
echo "$label: $n sessions (1 poster, one line per 50 s); rss before connecting ${r0} KiB"
c0=$(cpu)
for t in 0 30 60 90 120 150; do
  [ $t -gt 0 ] && sleep 30
  r=$(rss); echo "  +${t}s after connecting: RSS $r KiB = $(( (r-r0)/n )) KiB/session; server CPU since connect $(( ($(cpu)-c0)*10 )) ms"
done
kill -INT $pid; wait $b
