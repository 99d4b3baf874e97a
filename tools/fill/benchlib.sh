# Shared by catchuplatency.sh and backupbench.sh (sourced, with B set):
# the cluster copy under $B and what the scripts measure besides posts.

# cluster_copy DIR writes DIR/cluster.toml: cluster.toml with its data in
# DIR/data and, with PORTS=K, every port K higher (so a benchmark can run
# beside another cluster of this machine).
cluster_copy() {
  awk -v dir="$1/data" -v k="${PORTS:-0}" '
    /^data_dir = "data"/ { print "data_dir = \"" dir "\""; next }
    /^(ssh|peer|heartbeat|election|metrics)_port = [0-9]+/ { print $1 " = " $3 + k; next }
    { print }' cluster.toml > "$1/cluster.toml"
  cluster_key "$1"
}

# cluster_key DIR makes DIR/id_ed25519 the admin key of DIR/cluster.toml
# (made once; an older copy gets it too), so the scripts need no key of the
# user's.
cluster_key() {
  [ -f "$1/id_ed25519" ] || ssh-keygen -q -t ed25519 -N "" -f "$1/id_ed25519"
  sed -i -e "s|^admin_keys = \[\]|admin_keys_file = \"$1/id_ed25519.pub\"|" "$1/cluster.toml"
}

# The scripts' ssh logs in with that key only (postlatency.sh reads SSH_KEY).
export SSH_KEY=$B/id_ed25519

# port ID KEY: a node's port in $B/cluster.toml.
port() {
  awk -v id="$1" -v key="$2" '/^id = / { cur = $3; gsub(/"/, "", cur) } cur == id && $1 == key { print $3; exit }' $B/cluster.toml
}

# leader ID: the leader a node follows (its metrics).
leader() { curl -s "http://127.0.0.1:$(port $1 metrics_port)/metrics" | sed -n 's/^syncnet_leader{leader="\([^"]*\)"} 1$/\1/p'; }

# cpu_ticks PID: user+system clock ticks of a process so far (0 if gone).
cpu_ticks() { awk '{ print $14 + $15 }' /proc/$1/stat 2>/dev/null || echo 0; }
# busy_ticks: non-idle clock ticks of the whole machine so far.
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

# hist ID NAME: the cumulative buckets, count and sum of a histogram of
# the node's /metrics ("le count" lines, then "sum S").
hist() {
  curl -s "http://127.0.0.1:$(port $1 metrics_port)/metrics" | awk -v n="$2" '
    index($0, n "_bucket{") == 1 && (n != "syncnet_commit_latency_seconds" || index($0, "kind=\"post\"")) {
      match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5); print le, $NF }
    index($0, n "_sum") == 1 && (n != "syncnet_commit_latency_seconds" || index($0, "kind=\"post\"")) { print "sum", $NF }'
}

# hist_delta BEFORE AFTER: the observations between two hist outputs, as
# count, mean, and the bucket bounds under which half and 99% fell.
hist_delta() {
  awk 'NR == FNR { a[$1] = $2; next } { d = $2 - a[$1]; if ($1 == "sum") s = d; else { le[++k] = $1; c[k] = d } }
    END { n = c[k]; if (n == 0) { print "n=0"; exit }
      for (i = 1; i <= k; i++) { if (!p50 && c[i] >= 0.5 * n) p50 = le[i]; if (!p99 && c[i] >= 0.99 * n) p99 = le[i] }
      printf "n=%d mean=%.2fms p50<=%gs p99<=%gs\n", n, 1000 * s / n, p50, p99 }' "$1" "$2"
}

# profile_begin ID...: with PROFILE=1, note the CPU of these nodes and of
# the machine, and their fsync and commit histograms.
profile_begin() {
  [ "${PROFILE:-0}" = 1 ] || return 0
  rm -f $B/*.fsync0 $B/*.commit0; unset ${!PROF_CPU0_*}
  PROF_T0=$(date +%s%N); PROF_BUSY0=$(busy_ticks)
  for id in "$@"; do
    eval "PROF_CPU0_$id=$(cpu_ticks $(cat $B/$id.pid))"
    hist $id syncnet_wal_fsync_duration_seconds > $B/$id.fsync0
    hist $id syncnet_commit_latency_seconds > $B/$id.commit0
  done
}

# profile_end ID...: print what each node used since profile_begin (a node
# started since counts from 0) and the histograms of those that had one.
profile_end() {
  [ "${PROFILE:-0}" = 1 ] || return 0
  local hz=$(getconf CLK_TCK) secs=$(echo "($(date +%s%N) - $PROF_T0) / 1000000000" | bc -l)
  echo "window $(printf %.2f $secs) s; machine busy $(echo "($(busy_ticks) - $PROF_BUSY0) / $hz / $secs" | bc -l | cut -c1-4) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
  for id in "$@"; do
    local v="PROF_CPU0_$id" c0=0; [ -n "${!v:-}" ] && c0=${!v}
    local line="$id: CPU $(echo "($(cpu_ticks $(cat $B/$id.pid)) - $c0) / $hz" | bc -l | cut -c1-5) s"
    if [ -f $B/$id.fsync0 ] && [ -n "${!v:-}" ]; then
      hist $id syncnet_wal_fsync_duration_seconds > $B/$id.fsync1
      hist $id syncnet_commit_latency_seconds > $B/$id.commit1
      line="$line; fsync $(hist_delta $B/$id.fsync0 $B/$id.fsync1); commit(post) $(hist_delta $B/$id.commit0 $B/$id.commit1)"
    fi
    echo "$line"
  done
}
