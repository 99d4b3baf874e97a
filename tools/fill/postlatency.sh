#!/bin/bash
# Post latency through the real SSH path, for docs/BENCHMARKS.md ("History at
# scale"): N sequential `post`s to 127.0.0.1:PORT by 20 users in turn, over
# persistent OpenSSH connections (ControlMaster), so the figure is the node's
# work plus one exec session, not a TCP and key exchange per post. Prints
# p50, p99 and max in ms. Run it idle, then while a node catches up
# (scalebench.sh's last step), and compare.
# usage: tools/fill/postlatency.sh PORT N TAG   (SSH_KEY=FILE: log in with that key only;
# LAT_USER=NAME: the users are NAME1..NAME20, default lat1..lat20)
set -u
P=$1; N=$2; TAG=$3
CM=$(mktemp -d)
S="ssh ${SSH_KEY:+-i $SSH_KEY -o IdentitiesOnly=yes} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ControlMaster=auto -o ControlPath=$CM/%r-%p -o ControlPersist=120"
for u in $(seq 1 20); do $S -p "$P" "${LAT_USER:-lat}$u@127.0.0.1" post general warmup >/dev/null; done
# With RAW=FILE, every post's start (ns since the epoch) and latency (µs)
# go to FILE as they happen, and the posts go on until FILE.stop exists
# (N is then a maximum): catchuplatency.sh keeps only the posts made while
# a node caught up.
post() {
  for i in $(seq 1 "$N"); do
    [ -n "${RAW:-}" ] && [ -e "$RAW.stop" ] && break
    u=$(( i % 20 + 1 ))
    t0=$(date +%s%N); $S -p "$P" "${LAT_USER:-lat}$u@127.0.0.1" post general "$TAG $i" >/dev/null || echo "post $i failed" >&2; t1=$(date +%s%N)
    if [ -n "${RAW:-}" ]; then echo "$t0 $(( (t1-t0)/1000 ))" >> "$RAW"; else echo $(( (t1-t0)/1000 )); fi
  done
}
if [ -n "${RAW:-}" ]; then post; exit 0; fi
post | sort -n | awk '{a[NR]=$1} END {printf "n=%d p50=%.1fms p99=%.1fms max=%.1fms\n", NR, a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000, a[NR]/1000}'
