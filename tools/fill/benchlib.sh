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
# ... and names its users after that key, so data filled or used with
# another key (whose lat1..lat20 are bound to it) does not refuse them.
[ -f $B/id_ed25519.pub ] && export LAT_USER=k$(sha256sum < $B/id_ed25519.pub | cut -c1-6)u

# port ID KEY: a node's port in $B/cluster.toml.
port() {
  awk -v id="$1" -v key="$2" '/^id = / { cur = $3; gsub(/"/, "", cur) } cur == id && $1 == key { print $3; exit }' $B/cluster.toml
}

# verified ID: after a start from a snapshot a node re-verifies its whole
# WAL in the background (background_verify; 10M records take it 15-30 s of
# CPU): wait for that before anything is measured. A node that replayed
# its whole WAL at start does not.
verified() {
  grep "wal recovered" $B/$1.log | grep -q "verified_from_record=1 " && return 0
  waitlog $1 "background WAL verification done" 1
}

# leader ID: the leader a node follows (its metrics).
leader() { curl -s "http://127.0.0.1:$(port $1 metrics_port)/metrics" | sed -n 's/^syncnet_leader{leader="\([^"]*\)"} 1$/\1/p'; }

# cpu_ticks PID: user+system clock ticks of a process so far (0 if gone).
cpu_ticks() { awk '{ print $14 + $15 }' /proc/$1/stat 2>/dev/null || echo 0; }
# wait_ms PID: how long the threads of a process have waited for a core
# (run queue delay, summed over its live threads; schedstat), in ms.
wait_ms() { cat /proc/$1/task/*/schedstat 2>/dev/null | awk '{ s += $2 } END { printf "%d", s / 1e6 }'; }
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

# gcstat ID: "GC cycles, bytes allocated, longest stop-the-world pause
# since the node started" of the node's Go runtime.
gcstat() {
  curl -s "http://127.0.0.1:$(port $1 metrics_port)/metrics" |
    awk '/^go_gc_duration_seconds_count / { c = $2 } /^go_memstats_alloc_bytes_total / { a = $2 }
      /^go_gc_duration_seconds\{quantile="1"\}/ { m = $2 } END { printf "%d %.0f %.1f", c, a, m * 1000 }'
}

# hist_delta BEFORE AFTER: the observations between two hist outputs, as
# count, mean, the bucket bounds under which half and 99% fell, and p99
# estimated inside its bucket by linear interpolation (as Prometheus's
# histogram_quantile does; the buckets are 2-2.5x apart, so the estimate
# says more than the bound and is still only an estimate).
hist_delta() {
  awk 'NR == FNR { a[$1] = $2; next } { d = $2 - a[$1]; if ($1 == "sum") s = d; else { le[++k] = $1; c[k] = d } }
    END { n = c[k]; if (n == 0) { print "n=0"; exit }
      for (i = 1; i <= k; i++) {
        if (!p50 && c[i] >= 0.5 * n) p50 = le[i]
        if (!p99 && c[i] >= 0.99 * n) { p99 = le[i]; lo = i > 1 ? le[i-1] : 0; below = i > 1 ? c[i-1] : 0
          est = (le[i] == "+Inf" || c[i] == below) ? lo : lo + (le[i] - lo) * (0.99 * n - below) / (c[i] - below) }
      }
      printf "n=%d mean=%.2fms p50<=%gs p99<=%gs p99~%.1fms\n", n, 1000 * s / n, p50, p99, 1000 * est }' "$1" "$2"
}

# profile_begin ID...: with PROFILE=1, note the CPU of these nodes and of
# the machine, and their fsync and commit histograms.
profile_begin() {
  [ "${PROFILE:-0}" = 1 ] || return 0
  rm -f $B/*.fsync0 $B/*.commit0 $B/*.gc0; unset ${!PROF_CPU0_*} ${!PROF_WAIT0_*}
  PROF_T0=$(date +%s%N); PROF_BUSY0=$(busy_ticks)
  for id in "$@"; do
    eval "PROF_CPU0_$id=$(cpu_ticks $(cat $B/$id.pid)) PROF_WAIT0_$id=$(wait_ms $(cat $B/$id.pid))"
    hist $id syncnet_wal_fsync_duration_seconds > $B/$id.fsync0
    hist $id syncnet_commit_latency_seconds > $B/$id.commit0
    gcstat $id > $B/$id.gc0
  done
}

# profile_end ID...: print what each node used since profile_begin (a node
# started since counts from 0) and the histograms of those that had one.
profile_end() {
  [ "${PROFILE:-0}" = 1 ] || return 0
  local hz=$(getconf CLK_TCK) secs=$(echo "($(date +%s%N) - $PROF_T0) / 1000000000" | bc -l)
  echo "window $(printf %.2f $secs) s; machine busy $(echo "($(busy_ticks) - $PROF_BUSY0) / $hz / $secs" | bc -l | cut -c1-4) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
  for id in "$@"; do
    local v="PROF_CPU0_$id" w="PROF_WAIT0_$id" c0=0 w0=0; [ -n "${!v:-}" ] && c0=${!v} w0=${!w}
    local line="$id: CPU $(echo "($(cpu_ticks $(cat $B/$id.pid)) - $c0) / $hz" | bc -l | cut -c1-5) s, waited $(( $(wait_ms $(cat $B/$id.pid)) - w0 )) ms for a core"
    if [ -f $B/$id.fsync0 ] && [ -n "${!v:-}" ]; then
      hist $id syncnet_wal_fsync_duration_seconds > $B/$id.fsync1
      hist $id syncnet_commit_latency_seconds > $B/$id.commit1
      local gc=$(echo $(cat $B/$id.gc0) $(gcstat $id) | awk '{ printf "%d GCs, %.0f MB allocated, longest GC pause since start %s ms", $4 - $1, ($5 - $2) / 1e6, $6 }')
      line="$line; $gc; fsync $(hist_delta $B/$id.fsync0 $B/$id.fsync1); commit(post) $(hist_delta $B/$id.commit0 $B/$id.commit1)"
    fi
    echo "$line"
  done
}

# Pulsed measurement (PULSE=S): on a machine others load too, an idle
# figure taken a minute before says little about the load during the copy.
# pulse PID DONE runs in the background and alternates S seconds of the
# copy running with S seconds of it stopped (SIGSTOP to the process that
# receives it: the sender then waits on its socket), until the command
# DONE succeeds; each change goes to $B/phases ("ns run|stop|end"). Posts
# made while the copy ran and while it was stopped then come from the same
# minutes of the machine's load (pulse_report).
pulse() {
  local pid=$1 done=$2 t i=0
  : > $B/phases; rm -f $B/phase.*
  while :; do
    echo "$(date +%s%N) run" >> $B/phases; pulse_hist $((i += 1)) run
    for t in $(seq 1 $((PULSE * 10))); do eval "$done" && break 2; sleep 0.1; done
    kill -STOP $pid; echo "$(date +%s%N) stop" >> $B/phases; pulse_hist $((i += 1)) stop
    sleep $PULSE
    kill -CONT $pid
  done
  echo "$(date +%s%N) end" >> $B/phases; pulse_hist $((i += 1)) end
}

# pulse_hist N PHASE: node1's commit-latency and fsync histograms as phase
# N starts.
pulse_hist() {
  hist node1 syncnet_commit_latency_seconds > $B/phase.$1.$2.commit
  hist node1 syncnet_wal_fsync_duration_seconds > $B/phase.$1.$2.fsync
  echo "$(date +%s%N) $(head -1 /proc/stat)" > $B/phase.$1.$2.stat
}

# pulse_report RAW: the posts of RAW ("start_ns latency_us") started while
# the copy ran and while it was stopped, and how long it ran in all.
pulse_report() {
  awk 'NR == FNR { t[++k] = $1; s[k] = $2; next }
    { for (i = k; i >= 1 && t[i] > $1; i--); if (i >= 1 && s[i] != "end") print s[i], $2 }' $B/phases "$1" |
  sort -k1,1 -k2n | awk '{ a[$1, ++n[$1]] = $2 } END {
    for (c in n) printf "  copy %s: n=%d p50=%.1fms p90=%.1fms p99=%.1fms max=%.1fms\n", (c == "run" ? "running" : "stopped"), n[c],
      a[c, int(n[c] * .5)] / 1000, a[c, int(n[c] * .9)] / 1000, a[c, int(n[c] * .99)] / 1000, a[c, n[c]] / 1000 }'
  awk '$2 == "run" { r = $1 } $2 != "run" && r { s += $1 - r; r = 0 } END { printf "  the copy ran %.2f s in all\n", s / 1e9 }' $B/phases
  # node1's own commit latencies and fsyncs (its histograms) by phase.
  local ph m n=$(ls $B/phase.*.commit | wc -l) i
  for m in commit fsync; do for ph in run stop; do
    : > $B/phase.sum0; : > $B/phase.sum1
    for i in $(seq 1 $((n - 1))); do
      [ -f $B/phase.$i.$ph.$m ] || continue
      cat $B/phase.$i.$ph.$m >> $B/phase.sum0; cat $B/phase.$((i + 1)).*.$m >> $B/phase.sum1
    done
    for f in $B/phase.sum0 $B/phase.sum1; do awk '{ s[$1] += $2; if (!($1 in o)) o[$1] = ++k } END { for (x in s) print o[x], x, s[x] }' $f | sort -n | cut -d' ' -f2- > $f.t; done
    echo "  node1's $m, copy $([ $ph = run ] && echo running || echo stopped): $(hist_delta $B/phase.sum0.t $B/phase.sum1.t)"
  done; done
  # What the machine's cores did in each kind of phase (/proc/stat; nice
  # is user time of niced threads).
  for ph in run stop; do
    for i in $(seq 1 $((n - 1))); do
      [ -f $B/phase.$i.$ph.stat ] && cat $B/phase.$i.$ph.stat $B/phase.$((i + 1)).*.stat
    done | awk -v ph=$ph -v hz=$(getconf CLK_TCK) 'NR % 2 == 1 { t0 = $1; for (j = 3; j <= 10; j++) a[j] = $j; next }
      { dt += ($1 - t0) / 1e9; for (j = 3; j <= 10; j++) d[j] += $j - a[j] }
      END { printf "  cores, copy %s: user %.2f nice %.2f system %.2f softirq %.2f iowait %.2f steal %.2f idle %.2f\n", ph == "run" ? "running" : "stopped",
        d[3] / hz / dt, d[4] / hz / dt, d[5] / hz / dt, d[9] / hz / dt, d[7] / hz / dt, d[10] / hz / dt, d[6] / hz / dt }'
  done
}
