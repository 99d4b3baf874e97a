#!/bin/bash
# Connects N mostly idle sessions to a fresh fakeserver and samples its RSS
# for 150 s: the first sample still holds the connect storm's garbage; after
# the runtime's periodic GC (every 2 min) RSS shows what idle sessions hold.
# usage: tools/bench/idle-rss.sh BIN LABEL SESSIONS: RSS of an idle server with N sessions, sampled for 150 s after connecting
bin=$1; label=$2; n=${3:-200}
$bin --addr 127.0.0.1:0 --pprof 127.0.0.1:${PPROF_PORT:-6199} > ${OUT:-/tmp}/$label.srv 2>&1 &
for i in $(seq 50); do grep -q addr= ${OUT:-/tmp}/$label.srv && break; sleep 0.1; done
line=$(grep addr= ${OUT:-/tmp}/$label.srv); addr=${line#addr=}; addr=${addr%% *}; pid=${line##*pid=}
rss() { grep VmRSS /proc/$pid/status | awk '{print $2}'; }
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
r0=$(rss)
${SYNCNET:-bin/syncnet} bench --addr $addr --pid $pid --sessions $n --posters 1 --rate 0.01 --duration 1000s --ramp 50 --drain 1s > ${OUT:-/tmp}/$label.out 2>&1 &
b=$!
sleep $((n/50 + 5))
echo "$label: $n sessions (1 poster, one line every 100 s); rss before connecting ${r0} KiB"
c0=$(cpu)
for t in 0 60 120 180 240 300; do
  [ $t -gt 0 ] && sleep 60
  r=$(rss); echo "  +${t}s after connecting: RSS $r KiB = $(( (r-r0)/n )) KiB/session; server CPU since connect $(( ($(cpu)-c0)*10 )) ms"
done
curl -s "http://127.0.0.1:${PPROF_PORT:-6199}/debug/pprof/heap?gc=1" > /dev/null; sleep 2
r=$(rss); echo "  after a forced GC (what the runtime does by itself within 2 min of quiet): RSS $r KiB = $(( (r-r0)/n )) KiB/session"
kill -INT $pid; sleep 2; kill $b 2>/dev/null; wait $b
