#!/usr/bin/env bash
# The write benchmark matrix of docs/BENCHMARKS.md ("Writes through SSH"):
# starts a three-node cluster of SYNCNET in a scratch directory (a copy of
# cluster.toml on other ports, with the caller's ~/.ssh/id_ed25519 as a
# [[bot]] and enough sessions per key), runs `syncnet bench write` for each
# MODE/TARGET/CONCURRENCY given, and counts from the nodes' logs the
# suspicions and elections during each run (works for builds whose status
# has no ring figures too). BENCH is the binary that runs the benchmark.
#
#   tools/bench/write-matrix.sh SYNCNET BENCH DIR "exec:leader:1 stream:spread:64 ..." [bench flags]
#
# CLUSTER_TOML picks the cluster.toml to copy (default: the repository's;
# an older build needs the file of its own commit); BOT=0 leaves out the
# [[bot]] (builds before issue 17 do not know it). KEY is the private key
# (default ~/.ssh/id_ed25519): it is made a [[bot]] and an admin key.
set -euo pipefail
syncnet=$(realpath "$1"); bench=$(realpath "$2"); dir=$3; runs=$4; shift 4
repo=$(cd "$(dirname "$0")/../.." && pwd)
key=$(realpath "${KEY:-$HOME/.ssh/id_ed25519}")
rm -rf "$dir"; mkdir -p "$dir"; cd "$dir"
sed -e 's/2222/2722/; s/2223/2723/; s/2224/2724/' \
    -e 's/= 800\([0-2]\)/= 870\1/; s/= 802\([0-2]\)/= 872\1/; s/= 803\([0-2]\)/= 873\1/' \
    -e 's/= 804\([0-2]\)/= 874\1/' \
    -e 's/max_sessions_per_key = 20/max_sessions_per_key = 2000/' \
    -e "s|^admin_keys = \\[\\]|admin_keys = [\"$(cat "$key.pub")\"]|" "${CLUSTER_TOML:-$repo/cluster.toml}" > cluster.toml
if [ "${BOT:-1}" = 1 ]; then
  printf '\n[[bot]]\nkey = "%s"\nrate = 1000000\nburst = 1000000\n' "$(cat "$key.pub")" >> cluster.toml
fi
setsid "$syncnet" up --config cluster.toml > up.out 2>&1 &
up=$!
trap 'kill -INT $up 2>/dev/null; wait $up 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q "msg=leading" up.out && break; sleep 0.2; done
sleep 2
for r in $runs; do
  IFS=: read -r mode target conc <<<"$r"
  s0=$(grep -c "to=suspected" up.out || true); e0=$(grep -c "msg=leading" up.out || true)
  "$bench" bench write --addrs 127.0.0.1:2722,127.0.0.1:2723,127.0.0.1:2724 \
      -i "$key" --mode "$mode" --target "$target" -c "$conc" "$@" || echo "run $r failed"
  s1=$(grep -c "to=suspected" up.out || true); e1=$(grep -c "msg=leading" up.out || true)
  echo "  logs        $((s1 - s0)) suspicions, $((e1 - e0)) new leaders during the run"
  sleep 2
done
