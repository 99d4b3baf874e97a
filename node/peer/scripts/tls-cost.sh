#!/bin/bash
# Encryption cost (issue 13): committed posts/s, p50 and server CPU of two
# three-node clusters on this machine, one with peer TLS and sealed ring
# datagrams (the default) and one with [tls] insecure = true, both running
# at once and measured alternately in ABBA blocks (a drift of the
# machine's load falls equally on both). docs/BENCHMARKS.md, "Peer
# security cost".
#   BIN=bin/syncnet BLOCKS=4 [C=32 WINDOW=64] node/peer/scripts/tls-cost.sh   # from the repository root
set -eu
BIN=$(realpath "${BIN:-bin/syncnet}")
BLOCKS=${BLOCKS:-4}
C=${C:-32}
WINDOW=${WINDOW:-64}
KEY=${KEY:-$HOME/.ssh/id_ed25519}
W=$(mktemp -d /tmp/tls-cost.XXXX)
mk() { # name ssh-base port-base insecure
  mkdir -p "$W/$1"
  sed -e "s/ssh_port = 222\([0-9]\)/ssh_port = $2\1/; s/peer_port = 800\([0-9]\)/peer_port = ${3}0\1/" \
      -e "s/heartbeat_port = 802\([0-9]\)/heartbeat_port = ${3}2\1/; s/election_port = 803\([0-9]\)/election_port = ${3}3\1/" \
      -e "s/metrics_port = 804\([0-9]\)/metrics_port = ${3}4\1/; s/^insecure = false/insecure = $4/" \
      -e "s/^max_sessions_per_key = .*/max_sessions_per_key = 200/" cluster.toml > "$W/$1/cluster.toml"
  printf '\n[[bot]]\nkey = "%s"\nrate = 100000\nburst = 100000\n' "$(cat "$KEY.pub")" >> "$W/$1/cluster.toml"
  (cd "$W/$1" && exec "$BIN" up --config cluster.toml > up.out 2>&1) &
  echo $! > "$W/$1/up.pid"
}
mk tls 461 96 false
mk plain 471 97 true
trap 'kill -TERM $(cat $W/tls/up.pid) $(cat $W/plain/up.pid) 2>/dev/null; wait' EXIT
for d in tls plain; do
  for i in $(seq 60); do grep -q 'cluster is healthy' "$W/$d/up.out" && break; sleep 1; done
done
grep -q INSECURE "$W/plain/up.out" && grep -q 'mutual TLS 1.3' "$W/tls/up.out" || { echo "clusters did not start as expected"; exit 1; }
run() { # name ssh-base
  local out
  out=$(cd "$W/$1" && "$BIN" bench write --addrs 127.0.0.1:${2}2,127.0.0.1:${2}3,127.0.0.1:${2}4 -i "$KEY" --duration 4s --warmup 1s -c $C --window $WINDOW --pids "$(pgrep -d, -P "$(cat "$W/$1/up.pid")")" 2>&1)
  echo "$out" > "$W/$1.last"
  echo "$1 posts/s=$(echo "$out" | sed -n 's/.*= \([0-9]*\) posts\/s.*/\1/p') $(echo "$out" | grep -o 'p50 [^,]*' | head -1) cpu_s_per_1000=$(echo "$out" | sed -n 's/.*server CPU  \([0-9.]*\) s per.*/\1/p') load=$(cut -d' ' -f1 /proc/loadavg)"
}
for b in $(seq 1 "$BLOCKS"); do run tls 461; run plain 471; run plain 471; run tls 461; done
