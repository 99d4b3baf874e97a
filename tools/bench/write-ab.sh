#!/usr/bin/env bash
# Before/after in one run: starts two three-node clusters side by side (A on
# the ports of write-matrix.sh, 27xx/87xx; B on 29xx/89xx), each a copy of
# cluster.toml with the caller's ~/.ssh/id_ed25519 as a [[bot]], and runs
# `syncnet bench write` against A, then B, ROUNDS times, so both see the
# same machine load. Compare the medians of the rounds. KEY is the private
# key (default ~/.ssh/id_ed25519): it is made a [[bot]] and an admin key.
# PA=NN and PB=NN move A and B to other SSH (NN22..24) and peer (NN+60)
# ports, for two such runs on one machine.
#
#   tools/bench/write-ab.sh SYNCNET_A SYNCNET_B DIR ROUNDS [bench write flags]
#   e.g. tools/bench/write-ab.sh /tmp/before /tmp/after /tmp/ab 5 --mode exec -c 64 --duration 10s
#
# The benchmark itself runs with SYNCNET_B. Name the binaries syncnet-*:
# bench write finds the nodes (for their CPU) by name and working directory.
set -euo pipefail
a=$(realpath "$1"); b=$(realpath "$2"); dir=$(realpath -m "$3"); rounds=$4; shift 4
repo=$(cd "$(dirname "$0")/../.." && pwd)
key=$(realpath "${KEY:-$HOME/.ssh/id_ed25519}")
rm -rf "$dir"; mkdir -p "$dir/a" "$dir/b"
. "$repo/tools/bench/abconf.sh" # mkconf, abstart
pa=${PA:-27}; pb=${PB:-29}
mkconf "$pa" $((pa + 60)) "$key" > "$dir/a/cluster.toml"
mkconf "$pb" $((pb + 60)) "$key" > "$dir/b/cluster.toml"
abstart "$a" "$b" "$dir"
sleep 2
for i in $(seq 1 "$rounds"); do
  for side in a b; do
    p=$pa; [ $side = b ] && p=$pb
    echo "== round $i, $side ($( [ $side = a ] && echo "$a" || echo "$b"))"
    (cd "$dir/$side" && "$b" bench write -i "$key" --addrs 127.0.0.1:${p}22,127.0.0.1:${p}23,127.0.0.1:${p}24 "$@") || echo "run failed"
  done
done
