#!/usr/bin/env bash
# Side-by-side load test on loopback: daprd vs nginx on the same machine, in
# one run, reported as ratios. Bounded: every wrk run lasts DURATION seconds.
#
#   loadtest/run.sh            # DURATION=10 CONNS=64 REPEATS=3
#   DURATION=5 REPEATS=1 loadtest/run.sh
#
# Needs: wrk, nginx (Debian: apt-get install wrk nginx-light), python3;
# haproxy (apt-get install haproxy) for the second invoke peer; h2load
# (apt-get install nghttp2-client) for the gRPC rows; oha (cargo install oha)
# for the open-loop per-hop latency, CPU and RSS row.
# Writes loadtest/results/<date>-<sha>.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
REPEATS=${REPEATS:-3}
for tool in wrk nginx python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y wrk nginx-light python3" >&2; exit 2; }
done

cargo build --release --quiet
BIN=target/release/daprd
. loadtest/common.sh

# --- peers ---
start_nginx
HAPROXY=no
if command -v haproxy >/dev/null; then
  HAPROXY_PORT=$(free_port)
  sed -e "s|@PORT@|$NGINX_PORT|g" -e "s|@HAPROXY_PORT@|$HAPROXY_PORT|g" loadtest/conf/haproxy.cfg > "$WORK/haproxy.cfg"
  haproxy -q -f "$WORK/haproxy.cfg" &
  PIDS+=("$!")
  wait_http "http://127.0.0.1:$HAPROXY_PORT/app" 200 && HAPROXY=yes
  HAPROXY_TCP_PORT=$(free_port)
  sed -e "s|@PORT@|$NGINX_PORT|g" -e "s|@HAPROXY_TCP_PORT@|$HAPROXY_TCP_PORT|g" loadtest/conf/haproxy-tcp.cfg > "$WORK/haproxy-tcp.cfg"
  haproxy -q -f "$WORK/haproxy-tcp.cfg" &
  PIDS+=("$!")
  wait_http "http://127.0.0.1:$HAPROXY_TCP_PORT/app" 200 || HAPROXY=no
fi

# Components: the in-memory defaults, plus state.redis ("redisstore") when
# the machine's Redis answers (T8).
mkdir -p "$WORK/components"
cp examples/resources/*.yaml "$WORK/components/"
REDIS=no
if command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  REDIS=yes
  cat > "$WORK/components/redisstore.yaml" <<'YAML'
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: redisstore
spec:
  type: state.redis
  version: v1
  metadata:
  - name: redisHost
    value: 127.0.0.1:6379
YAML
  cat > "$WORK/components/redispubsub.yaml" <<'YAML'
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: redispubsub
spec:
  type: pubsub.redis
  version: v1
  metadata:
  - name: redisHost
    value: 127.0.0.1:6379
  - name: consumerID
    value: loadtest
  - name: maxLenApprox
    value: "100000"
YAML
  redis-cli -h 127.0.0.1 -p 6379 del lt-orders lt-latency lt-bench >/dev/null
fi

start_daprd() { # workers [app_port] [http_port] -> sets DAPRD_PID, DAPRD_PORT, DAPRD_GRPC_PORT
  DAPRD_PORT=${3:-$(free_port)}
  DAPRD_GRPC_PORT=$(free_port)
  "$BIN" --app-id loadtest --app-port "${2:-$NGINX_PORT}" --dapr-http-port "$DAPRD_PORT" --dapr-grpc-port "$DAPRD_GRPC_PORT" \
    --metrics-port "$(free_port)" --metrics-listen-address 127.0.0.1 --dapr-listen-addresses 127.0.0.1 \
    --resources-path "$WORK/components" --log-level info --workers "$1" > "$WORK/daprd.log" 2>&1 &
  DAPRD_PID=$!
  PIDS+=("$DAPRD_PID")
  wait_http "http://127.0.0.1:$DAPRD_PORT/v1.0/healthz" 204
}
stop_daprd() { kill "$DAPRD_PID"; wait "$DAPRD_PID" 2>/dev/null || true; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# wrk → "rps p50_us p99_us"; WRK_SCRIPT=<lua> for POST scenarios
bench() { # url
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency ${WRK_SCRIPT:+-s "$WRK_SCRIPT"} "$1" | python3 loadtest/parse_wrk.py
}
median_run() { # url -> median of REPEATS runs (by rps)
  for _ in $(seq 1 "$REPEATS"); do bench "$1"; done | sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'
}

start_daprd 0
sleep 1   # idle: start-up settled (the app initialized, its pages released)
IDLE_RSS=$(rss_kib "$DAPRD_PID")
curl -s -X POST -H 'content-type: application/json' -d '[{"key":"order-1","value":{"id":1,"item":"book"}}]' \
  "http://127.0.0.1:$DAPRD_PORT/v1.0/state/statestore" >/dev/null
if [ "$REDIS" = yes ]; then
  curl -s -X POST -H 'content-type: application/json' -d '[{"key":"order-1","value":{"id":1,"item":"book"}}]' \
    "http://127.0.0.1:$DAPRD_PORT/v1.0/state/redisstore" >/dev/null
fi
wrk -t1 -c4 -d1s "http://127.0.0.1:$NGINX_PORT/" >/dev/null   # warm-up
wrk -t1 -c4 -d1s "http://127.0.0.1:$DAPRD_PORT/v1.0/healthz" >/dev/null

ROWS=()
row() { # name daprd_url peer_url peer_name
  local d p
  p=$(median_run "$3"); d=$(median_run "$2")
  ROWS+=("$(python3 - "$1" "$4" "$d" "$p" <<'PY'
import sys
name, peer, d, p = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
dr, pr = float(d[0]), float(p[0])
print(f"| {name} | {dr:,.0f} | {peer}: {pr:,.0f} | {dr/pr:.2f}x | {float(d[1]):.0f} / {float(d[2]):.0f} | {float(p[1]):.0f} / {float(p[2]):.0f} |")
PY
)")
}
row "GET /v1.0/healthz (204)" "http://127.0.0.1:$DAPRD_PORT/v1.0/healthz" "http://127.0.0.1:$NGINX_PORT/" "nginx return 200"
row "GET /v1.0/metadata (~400 B JSON)" "http://127.0.0.1:$DAPRD_PORT/v1.0/metadata" "http://127.0.0.1:$NGINX_PORT/json" "nginx static JSON"
row "GET /v1.0/state (in-memory)" "http://127.0.0.1:$DAPRD_PORT/v1.0/state/statestore/order-1" "http://127.0.0.1:$NGINX_PORT/" "nginx return 200"
# T1: service invocation (daprd → app) vs nginx and haproxy reverse-proxying
# to the same app, and haproxy as a bare L4 relay (parses nothing: the floor
# for any proxy process). Interleaved: each round runs daprd, then every peer,
# and the ratio is the median of the rounds' ratios, so the VM's drift
# between rounds does not land on one side.
INVOKE="GET /v1.0/invoke/loadtest/method/app (app: nginx)"
INVOKE_PEERS=("nginx proxy_pass|http://127.0.0.1:$NGINX_PORT/proxy/app")
if [ "$HAPROXY" = yes ]; then
  INVOKE_PEERS+=("haproxy (http-reuse always)|http://127.0.0.1:$HAPROXY_PORT/app")
  INVOKE_PEERS+=("haproxy mode tcp (L4 relay, parses nothing)|http://127.0.0.1:$HAPROXY_TCP_PORT/app")
else
  ROWS+=("| invoke vs haproxy skipped: haproxy not installed (apt-get install haproxy) | | | | | |")
fi
: > "$WORK/rounds"
for round in $(seq 1 "$REPEATS"); do
  printf '%s\tdaprd\t%s\n' "$round" "$(bench "http://127.0.0.1:$DAPRD_PORT/v1.0/invoke/loadtest/method/app")" >> "$WORK/rounds"
  for peer in "${INVOKE_PEERS[@]}"; do
    printf '%s\t%s\t%s\n' "$round" "${peer%%|*}" "$(bench "${peer#*|}")" >> "$WORK/rounds"
  done
done
while IFS= read -r r; do ROWS+=("$r"); done < <(python3 loadtest/rounds.py "$WORK/rounds" "invoke $INVOKE" \
  "haproxy mode tcp (L4 relay, parses nothing)|haproxy (http-reuse always)")
# T8: a Redis read through the sidecar vs redis-benchmark's GET straight to
# Redis, both with $CONNS connections.
if [ "$REDIS" = yes ] && command -v redis-benchmark >/dev/null; then
  d=$(median_run "http://127.0.0.1:$DAPRD_PORT/v1.0/state/redisstore/order-1")
  rb=$(for _ in $(seq 1 "$REPEATS"); do
         redis-benchmark -h 127.0.0.1 -p 6379 -t get -c "$CONNS" -n 300000 --csv 2>/dev/null | awk -F'"' '/"GET"/ {print $4}'
       done | sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}')
  ROWS+=("$(python3 - "$d" "$rb" <<'PY'
import sys
d, rb = sys.argv[1].split(), float(sys.argv[2])
print(f"| GET /v1.0/state (state.redis, HGETALL) | {float(d[0]):,.0f} | redis-benchmark -t get -c same: {rb:,.0f} | {float(d[0])/rb:.2f}x | {float(d[1]):.0f} / {float(d[2]):.0f} | |")
PY
)")
else
  ROWS+=("| state.redis skipped: no Redis at 127.0.0.1:6379 or no redis-benchmark | | | | | |")
fi
# T5: publish. The subscriber is the nginx app (GET /dapr/subscribe → /app,
# which answers 200 "ok": delivered). In-memory: vs nginx answering the same
# POST; Redis Streams: vs redis-benchmark XADD straight to Redis (the floor).
export WRK_SCRIPT=loadtest/publish.lua
row "POST /v1.0/publish (pubsub.in-memory, delivered to the app)" "http://127.0.0.1:$DAPRD_PORT/v1.0/publish/pubsub/orders" "http://127.0.0.1:$NGINX_PORT/" "nginx return 200 (POST)"
if [ "$REDIS" = yes ] && command -v redis-benchmark >/dev/null; then
  d=$(median_run "http://127.0.0.1:$DAPRD_PORT/v1.0/publish/redispubsub/lt-orders")
  rb=$(for _ in $(seq 1 "$REPEATS"); do
         # A 300-byte value: about the size of the CloudEvent the sidecar adds.
         redis-benchmark -h 127.0.0.1 -p 6379 -c "$CONNS" -n 300000 --csv XADD lt-bench MAXLEN '~' 100000 '*' data "$(printf 'x%.0s' $(seq 1 300))" 2>/dev/null \
           | python3 -c 'import csv,sys; print(list(csv.reader(sys.stdin))[1][1])'
       done | sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}')
  ROWS+=("$(python3 - "$d" "$rb" <<'PY'
import sys
d, rb = sys.argv[1].split(), float(sys.argv[2])
print(f"| POST /v1.0/publish (pubsub.redis, XADD + delivery) | {float(d[0]):,.0f} | redis-benchmark XADD -c same: {rb:,.0f} | {float(d[0])/rb:.2f}x | {float(d[1]):.0f} / {float(d[2]):.0f} | |")
PY
)")
fi
unset WRK_SCRIPT
# gRPC vs HTTP/1.1 for the same operation, one load generator (h2load) for both.
GRPC_ROWS=()
if command -v h2load >/dev/null; then
  printf '\0\0\0\0\0' > "$WORK/empty.grpc"   # one empty gRPC message
  h2run() { # args... -> req/s (median of REPEATS)
    for _ in $(seq 1 "$REPEATS"); do
      h2load -D "$DURATION" -c 16 -m 10 -t "$THREADS" "$@" 2>/dev/null | awk '/^finished in/ {print $4}'
    done | sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'
  }
  H1=$(h2run --h1 "http://127.0.0.1:$DAPRD_PORT/v1.0/metadata")
  G=$(h2run -d "$WORK/empty.grpc" -H 'content-type: application/grpc' -H 'te: trailers' \
      "http://127.0.0.1:$DAPRD_GRPC_PORT/dapr.proto.runtime.v1.Dapr/GetMetadata")
  GRPC_ROWS+=("| GetMetadata: gRPC (h2c, 16 conns x 10 streams) vs HTTP/1.1 GET /v1.0/metadata (16 conns, pipelined 10) | $G | $H1 | $(python3 -c "print(f'{$G/$H1:.2f}x')") |")
  # GetState{store_name: "statestore", key: "order-1"}, gRPC-framed.
  python3 -c 'import sys; m=b"\x0a\x0astatestore\x12\x07order-1"; sys.stdout.buffer.write(b"\0"+len(m).to_bytes(4,"big")+m)' > "$WORK/getstate.grpc"
  H1=$(h2run --h1 "http://127.0.0.1:$DAPRD_PORT/v1.0/state/statestore/order-1")
  G=$(h2run -d "$WORK/getstate.grpc" -H 'content-type: application/grpc' -H 'te: trailers' \
      "http://127.0.0.1:$DAPRD_GRPC_PORT/dapr.proto.runtime.v1.Dapr/GetState")
  GRPC_ROWS+=("| GetState (in-memory): gRPC vs HTTP/1.1 GET /v1.0/state/statestore/order-1 | $G | $H1 | $(python3 -c "print(f'{$G/$H1:.2f}x')") |")
else
  GRPC_ROWS+=("| gRPC scenarios skipped: h2load not installed (apt-get install nghttp2-client) | | | |")
fi
LOADED_RSS=$(rss_kib "$DAPRD_PID")
stop_daprd

# Publish → delivery latency at 1000 events/s; the subscriber app is a
# small Python server (loadtest/pubsub_latency.py), the same for every row.
LAT_ROWS=()
lat_row() { # pubsub topic label
  local app_port http_port py out
  app_port=$(free_port)
  http_port=$(free_port)
  python3 loadtest/pubsub_latency.py "$http_port" "$app_port" "$1" "$2" 1000 "$DURATION" > "$WORK/lat.$2" 2>&1 &
  py=$!
  start_daprd 0 "$app_port" "$http_port"
  wait "$py" || true
  stop_daprd
  out=$(tail -1 "$WORK/lat.$2")
  LAT_ROWS+=("| $3 | $(echo "$out" | awk '{print $1 " / " $2 " | " $3 " of " $4}') |")
}
lat_row pubsub lt-mem "pubsub.in-memory"
if [ "$REDIS" = yes ]; then lat_row redispubsub lt-latency "pubsub.redis (Redis Streams)"; fi

# T2-T4: one invoke hop at 1000 req/s, open loop (oha --latency-correction),
# 1 KiB POST bodies, on a fresh sidecar: latency added over the direct call to
# the app (medians of REPEATS alternating runs), the sidecar's CPU per 1000
# req/s (utime + stime over the run) and its peak RSS during the load.
HOP_ROWS=()
if command -v oha >/dev/null; then
  head -c 1024 /dev/zero | tr '\0' 'x' > "$WORK/1k"
  ohr() { # url -> "p50_us p99_us rps ok_ratio"
    oha -z "${DURATION}s" -q 1000 --latency-correction -c 16 --no-tui -m POST -D "$WORK/1k" \
      --output-format json "$1" | python3 loadtest/parse_oha.py
  }
  # On-CPU nanoseconds of every thread of the processes named (schedstat).
  cpu_ns() { local t=0 f; for p in "$@"; do for f in /proc/"$p"/task/*/schedstat; do t=$((t + $(awk '{print $1}' "$f"))); done; done; echo "$t"; }
  start_daprd 0
  VIA="http://127.0.0.1:$DAPRD_PORT/v1.0/invoke/loadtest/method/app"
  oha -z 1s -q 1000 -c 16 --no-tui -m POST -D "$WORK/1k" "$VIA" >/dev/null   # warm-up
  : > "$WORK/hop"
  # The peers, each measured right after daprd in every round: haproxy as an
  # HTTP proxy, and haproxy as a bare L4 relay (the floor for any proxy).
  PEERS=()
  if [ "$HAPROXY" = yes ]; then
    PEERS+=("haproxy.cfg|http://127.0.0.1:$HAPROXY_PORT/app|haproxy (peer, HTTP)")
    PEERS+=("haproxy-tcp.cfg|http://127.0.0.1:$HAPROXY_TCP_PORT/app|haproxy mode tcp (L4 relay, the floor)")
  fi
  for peer in "${PEERS[@]}"; do : > "$WORK/hop.${peer%%|*}"; done
  PEAK_RSS=0
  for _ in $(seq 1 "$REPEATS"); do
    direct=$(ohr "http://127.0.0.1:$NGINX_PORT/app")
    c0=$(cpu_ns "$DAPRD_PID")
    echo 0 > "$WORK/peak"
    ( peak=0; while kill -0 "$DAPRD_PID" 2>/dev/null; do
        r=$(rss_kib "$DAPRD_PID"); [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" > "$WORK/peak"; sleep 0.2
      done ) &
    sampler=$!
    via=$(ohr "$VIA")
    kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
    c1=$(cpu_ns "$DAPRD_PID")
    p=$(cat "$WORK/peak"); [ "$p" -gt "$PEAK_RSS" ] && PEAK_RSS=$p
    echo "$direct $via $((c1 - c0))" >> "$WORK/hop"
    for peer in "${PEERS[@]}"; do
      IFS='|' read -r cfg url _ <<< "$peer"
      pids=$(pgrep -f "haproxy -q -f $WORK/$cfg\$" || true)
      [ -n "$pids" ] || continue
      # shellcheck disable=SC2086
      h0=$(cpu_ns $pids)
      viah=$(ohr "$url")
      # shellcheck disable=SC2086
      h1=$(cpu_ns $pids)
      echo "$direct $viah $((h1 - h0))" >> "$WORK/hop.$cfg"
    done
  done
  stop_daprd
  HOP_ROWS+=("| daprd $(python3 loadtest/hop_row.py "$WORK/hop" "$DURATION" "$PEAK_RSS KiB")")
  for peer in "${PEERS[@]}"; do
    IFS='|' read -r cfg _ name <<< "$peer"
    [ -s "$WORK/hop.$cfg" ] && HOP_ROWS+=("| $name $(python3 loadtest/hop_row.py "$WORK/hop.$cfg" "$DURATION" "—")")
  done
else
  HOP_ROWS+=("| skipped: oha not installed (cargo install oha) | | | | | | |")
fi

# per-core scaling (wrk shares the same cores: a lower bound)
start_daprd 1; ONE=$(median_run "http://127.0.0.1:$DAPRD_PORT/v1.0/healthz" | awk '{print $1}'); stop_daprd
start_daprd 2; TWO=$(median_run "http://127.0.0.1:$DAPRD_PORT/v1.0/healthz" | awk '{print $1}'); stop_daprd

# start-up: process start -> /v1.0/healthz/outbound 204 (no app port)
STARTUP_MS=$(python3 loadtest/startup.py "$BIN" 10)

DRIVER=$(grep -o 'workers run the [a-z_ ()]* driver' "$WORK/daprd.log" | head -1 || true)
SHA=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
OUT="loadtest/results/$(date -u +%Y-%m-%d)-$SHA.md"
{
  echo "# daprd loadtest $(date -u +%Y-%m-%dT%H:%MZ) ($SHA)"
  echo
  echo "Machine: $(nproc) cores, kernel $(uname -r); daprd: ${DRIVER:-driver unknown}; $(wrk --version 2>&1 | head -1 | cut -c1-40); $(nginx -v 2>&1); $(haproxy -v 2>/dev/null | head -1 | cut -d' ' -f1-3); $(oha --version 2>/dev/null)"
  echo "wrk -t$THREADS -c$CONNS -d${DURATION}s, median of $REPEATS runs; load generator and servers share the same cores."
  echo
  echo "| scenario | daprd req/s | peer req/s | ratio | daprd p50 / p99 (µs) | peer p50 / p99 (µs) |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "| scenario (h2load -D $DURATION) | gRPC req/s | HTTP/1.1 req/s | ratio |"
  echo "|---|---|---|---|"
  printf '%s\n' "${GRPC_ROWS[@]}"
  echo
  echo "| publish → delivery at 1000 events/s, ${DURATION}s | p50 / p99 (µs) | delivered |"
  echo "|---|---|---|"
  printf '%s\n' "${LAT_ROWS[@]}"
  echo
  echo "One invoke hop at 1000 req/s open loop (oha -q 1000 --latency-correction -c 16, 1 KiB POST, ${DURATION}s, median of $REPEATS alternating runs; app: nginx):"
  echo
  echo "| hop | direct p50 / p99 (µs) | via the hop p50 / p99 (µs) | added p50 / p99 (µs) | req/s via the hop | hop's vCPU per 1000 req/s | peak RSS under load |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${HOP_ROWS[@]}"
  echo
  echo "| measure | value |"
  echo "|---|---|"
  echo "| RSS idle (2 workers, in-memory components) | ${IDLE_RSS} KiB |"
  echo "| RSS after the load above | ${LOADED_RSS} KiB |"
  echo "| start → healthz/outbound 204 (median of 10) | ${STARTUP_MS} ms |"
  echo "| healthz req/s, 1 worker → 2 workers | ${ONE} → ${TWO} ($(python3 -c "print(f'{$TWO/$ONE:.2f}x')")) |"
  echo
  echo "Later: invoke over gRPC and sidecar-to-sidecar."
} > "$OUT"
cat "$OUT"
