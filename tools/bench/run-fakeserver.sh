#!/bin/bash
# Runs one `syncnet bench` against a fresh tools/bench/fakeserver process (so --pid
# measures only it) with a CPU profile in $OUT/LABEL.prof. Build first:
#   go build -o /tmp/fakeserver ./tools/bench/fakeserver; go build -o bin/syncnet ./tools/cmd/syncnet
# Env: SRVGOGC (server GOGC), NICE (nice both), OUT (default /tmp), SYNCNET.
# usage: tools/bench/run-fakeserver.sh FAKESERVER_BIN LABEL [bench flags...]
bin=$1; label=$2; shift 2
prof=${OUT:-/tmp}/$label.prof
env ${SRVGOGC:+GOGC=$SRVGOGC} ${NICE:+nice -n $NICE} $bin --addr 127.0.0.1:0 --cpuprofile $prof > ${OUT:-/tmp}/$label.srv 2>&1 &
for i in $(seq 50); do grep -q addr= ${OUT:-/tmp}/$label.srv && break; sleep 0.1; done
line=$(grep addr= ${OUT:-/tmp}/$label.srv); addr=${line#addr=}; addr=${addr%% *}; pid=${line##*pid=}
echo "\$ syncnet bench --addr $addr --pid \$FAKESERVER_PID $*   # load: $(cut -d' ' -f1-3 /proc/loadavg)"
${NICE:+nice -n $NICE} /usr/bin/time -f "(bench client: %Us user %Ss sys, max RSS %M KiB)" ${SYNCNET:-bin/syncnet} bench --addr $addr --pid $pid "$@" 2>&1
kill -INT $pid; wait $pid 2>/dev/null
