# Sourced by the before/after scripts (write-ab.sh, changes-ab.sh,
# fanout-ab.sh). mkconf SSH PEER [KEY] prints a copy of cluster.toml
# ($CLUSTER_TOML, default the repository's) whose SSH ports are SSH22..SSH24
# and peer, heartbeat, election and metrics ports PEER0x..PEER4x, with room
# for 2,000 sessions a key; with KEY (a private key file), KEY.pub is an
# admin key and a [[bot]] that may post at any rate.
mkconf() {
  local repo
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  sed -e "s/2222/${1}22/; s/2223/${1}23/; s/2224/${1}24/" \
      -e "s/= 800\([0-2]\)/= ${2}0\1/; s/= 802\([0-2]\)/= ${2}2\1/; s/= 803\([0-2]\)/= ${2}3\1/" \
      -e "s/= 804\([0-2]\)/= ${2}4\1/" \
      -e 's/max_sessions_per_key = 20/max_sessions_per_key = 2000/' \
      ${3:+-e "s|^admin_keys = \\[\\]|admin_keys = [\"$(cat "$3.pub")\"]|"} "${CLUSTER_TOML:-$repo/cluster.toml}"
  [ -n "${3:-}" ] && printf '\n[[bot]]\nkey = "%s"\nrate = 1000000\nburst = 1000000\n' "$(cat "$3.pub")"
  return 0
}

# abstart A B DIR: starts `A up` in DIR/a and `B up` in DIR/b (each with
# the cluster.toml mkconf wrote there), stops both when the script exits
# (upa, upb are their pids), and waits until each has a leader (30 s at
# most). The caller then cds where it wants.
abstart() {
  cd "$3/a"; setsid "$1" up --config cluster.toml > up.out 2>&1 & upa=$!
  cd "$3/b"; setsid "$2" up --config cluster.toml > up.out 2>&1 & upb=$!
  cd "$3"
  trap 'kill -INT $upa $upb 2>/dev/null; wait $upa $upb 2>/dev/null || true' EXIT
  for _ in $(seq 1 150); do
    grep -q "msg=leading" "$3/a/up.out" && grep -q "msg=leading" "$3/b/up.out" && break; sleep 0.2
  done
}
