#!/usr/bin/env bash
# Used for docs/BENCHMARKS.md, "Edits, replies, reactions: cost of plain posts".
#   tools/bench/changes-ab.sh SYNCNET_BEFORE SYNCNET_AFTER DIR ROUNDS   (binaries named syncnet-before, syncnet-after)
# Before/after in one run (derived from write-ab.sh, on ports of
# their own: A 37xx/97xx, B 39xx/99xx): two three-node clusters side by
# side, a copy of cluster.toml each with KEY as a [[bot]] and admin key; per
# round A then B: committed posts/s and server CPU per 1,000 posts (bench
# write, 32 streams spread, 1 s warm-up, 4 s measured), then CPU per
# delivered copy of the node that 60 chat sessions are on (bench, 3 posters
# at 30 posts/s, 8 s).
set -uo pipefail
a=$(realpath "$1"); b=$(realpath "$2"); dir=$(realpath -m "$3"); rounds=$4
repo=$(cd "$(dirname "$0")/../.." && pwd)
key=$(realpath "${KEY:-$HOME/.ssh/id_ed25519}")
rm -rf "$dir"; mkdir -p "$dir/a" "$dir/b"
. "$repo/tools/bench/abconf.sh" # mkconf, abstart
mkconf 37 97 "$key" > "$dir/a/cluster.toml"
mkconf 39 99 "$key" > "$dir/b/cluster.toml"
abstart "$a" "$b" "$dir"
sleep 3
nodepid() { # the node of side $1 serving ssh port $2
  local d=$dir/$1 id
  id=$(awk -v p="$2" '/^id =/{gsub(/"/,"",$3); id=$3} /^ssh_port =/ && $3==p {print id}' "$d/cluster.toml")
  for p in $(pgrep -f "syncnet-(before|after) node"); do
    if [ "$(readlink /proc/$p/cwd)" = "$d" ] && tr '\0' ' ' < /proc/$p/cmdline | grep -q -- "--id $id "; then echo $p; fi
  done
}
for i in $(seq 1 "$rounds"); do
  for side in a b; do
    p=37; bin=$a; [ $side = b ] && { p=39; bin=$b; }
    w=$(cd "$dir/$side" && "$b" bench write -i "$key" --addrs 127.0.0.1:${p}22,127.0.0.1:${p}23,127.0.0.1:${p}24 --duration 4s --warmup 1s -c 32 2>&1)
    pid=$(nodepid $side ${p}22)
    f=$(cd "$dir/$side" && "$b" bench --addr 127.0.0.1:${p}22 --sessions 60 --posters 3 --rate 30 --duration 8s --settle 3s --pid "$pid" 2>&1)
    echo "round=$i side=$side posts/s=$(echo "$w" | sed -n 's/.*= \([0-9]*\) posts\/s.*/\1/p')" \
      "cpu_s_per_1000=$(echo "$w" | sed -n 's/.*server CPU  \([0-9.]*\) s per.*/\1/p')" \
      "us_per_copy=$(echo "$f" | sed -n 's/.*;  \([0-9.]*\)µs per delivered copy.*/\1/p')" \
      "missing=$(echo "$f" | sed -n 's/.*missing \([0-9]*\).*/\1/p')" \
      "load=$(cut -d' ' -f1 /proc/loadavg)"
    [ "$i" = 1 ] && { echo "$w" | tail -5; echo "$f" | tail -8; } > "$dir/$side/sample.txt"
  done
done
