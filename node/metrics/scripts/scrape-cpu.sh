#!/bin/bash
# CPU one /metrics scrape costs a node: 500 scrapes in a row, minus the
# node's idle CPU over the same time (measured right after), from /proc.
PORT=${PORT:-9140}
P=$(ss -ltnp "sport = :$PORT" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
cpu() { awk '{print $14+$15}' /proc/$P/stat; }
hz=$(getconf CLK_TCK)
for round in 1 2 3; do
  a=$(cpu); t0=$(date +%s%N)
  for i in $(seq 1 500); do curl -s -o /dev/null 127.0.0.1:$PORT/metrics; done
  t1=$(date +%s%N); b=$(cpu)
  sleep $(( (t1-t0)/1000000000 )); c=$(cpu)
  echo "round $round: $(( (b-a)*1000/hz )) ms CPU for 500 scrapes in $(( (t1-t0)/1000000 )) ms; idle $(( (c-b)*1000/hz )) ms over about as long; per scrape $(( ((b-a)-(c-b))*1000000/hz/500 )) us; body $(curl -s 127.0.0.1:$PORT/metrics | wc -c) bytes; load $(cut -d' ' -f1 /proc/loadavg)"
done
