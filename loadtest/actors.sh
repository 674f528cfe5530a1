#!/usr/bin/env bash
# Actors on loopback: the real `placement` and `daprd` binaries, an nginx app
# hosting actor type T (loadtest/conf/nginx-actors.conf: every answer is the
# app's port), three rows:
#
# 1. actor method call vs plain service invocation on the same sidecar and
#    app: `POST /v1.0/actors/T/<id>/method/m` over 1,000 ids (so no turn lock
#    is contended), and over one id (every call waits for the previous one's
#    turn), against `POST /v1.0/invoke/<app>/method/m`; wrk -t2 -c64, one
#    Lua script (loadtest/actors.lua) for all three; interleaved rounds, each
#    ratio the median of the rounds' ratios, with the spread;
# 2. 100,000 activations: a fresh sidecar, each of 100,000 ids called once
#    (loadtest/actor_calls.py, 64 connections), then the same ids again (all
#    active): wall time of each pass, daprd's on-CPU time per call
#    (schedstat), VmRSS before and after, the RSS per active actor, and the
#    metadata API's activeActors count;
# 3. a placement membership change: SIDECARS sidecars (--workers 1) hosting
#    T, then one more; the time from its process start until a call through
#    every sidecar for an id that moves to it is answered by its app (that
#    sidecar applied and unlocked the new table), and from its SIGTERM until
#    every remaining sidecar routes the id away again; JOINS repeats
#    (loadtest/actors_membership.py).
#
#   loadtest/actors.sh         # DURATION=8 REPEATS=5 ACTIVATIONS=100000 SIDECARS=10 JOINS=5
#
# Needs wrk, nginx (apt-get install -y wrk nginx-light), python3, curl.
# Writes loadtest/results/<date>-<sha>-actors.md (or $OUT) and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-8}
REPEATS=${REPEATS:-5}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
ACTIVATIONS=${ACTIVATIONS:-100000}
SIDECARS=${SIDECARS:-10}
JOINS=${JOINS:-5}
for tool in wrk nginx python3 curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y wrk nginx-light python3 curl" >&2; exit 2; }
done

cargo build --release --quiet --bin daprd --bin placement
BIN=target/release/daprd
PLACEMENT=target/release/placement
. loadtest/common.sh

# --- the app: one nginx, one port per sidecar (rows 1 and 2, then row 3's) ---
APP_PORTS=()
for _ in $(seq 1 $((SIDECARS + 3))); do APP_PORTS+=("$(free_port)"); done
for p in "${APP_PORTS[@]}"; do echo "        listen 127.0.0.1:$p reuseport;"; done > "$WORK/listen"
sed -e "/@LISTEN@/{r $WORK/listen" -e 'd' -e '}' -e "s|@DIR@|$WORK|g" loadtest/conf/nginx-actors.conf > "$WORK/nginx.conf"
nginx -c "$WORK/nginx.conf" -p "$WORK" &
sleep 0.3
PIDS+=("$(cat "$WORK/nginx.pid")")
wait_http "http://127.0.0.1:${APP_PORTS[0]}/m" 200

# --- placement ---
PL_PORT=$(free_port)
PL_HEALTHZ=$(free_port)
"$PLACEMENT" --listen-address 127.0.0.1 --port "$PL_PORT" --healthz-listen-address 127.0.0.1 \
  --healthz-port "$PL_HEALTHZ" --metrics-port "$(free_port)" --log-level warn > "$WORK/placement.log" 2>&1 &
PIDS+=("$!")
wait_http "http://127.0.0.1:$PL_HEALTHZ/healthz" 200

mkdir -p "$WORK/components"
cat > "$WORK/components/actorstore.yaml" <<'YAML'
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: actorstore
spec:
  type: state.in-memory
  version: v1
  metadata:
  - name: actorStateStore
    value: "true"
YAML

# The flags of one sidecar: app_id app_port http_port internal_port workers [log_level]
sidecar_args() {
  echo --app-id "$1" --app-port "$2" --dapr-http-port "$3" --dapr-grpc-port "$(free_port)" \
    --dapr-internal-grpc-port "$4" --dapr-internal-grpc-listen-address 127.0.0.1 \
    --metrics-port "$(free_port)" --metrics-listen-address 127.0.0.1 --dapr-listen-addresses 127.0.0.1 \
    --placement-host-address "127.0.0.1:$PL_PORT" --resources-path "$WORK/components" \
    --log-level "${6:-warn}" --workers "$5"
}
start_sidecar() { # app_id app_port workers -> SC_PID, SC_PORT; ready = the placement table arrived
  SC_PORT=$(free_port)
  # shellcheck disable=SC2046
  "$BIN" $(sidecar_args "$1" "$2" "$SC_PORT" "$(free_port)" "$3") > "$WORK/$1.log" 2>&1 &
  SC_PID=$!
  PIDS+=("$SC_PID")
}
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ns() { local t=0 f; for f in /proc/"$1"/task/*/schedstat; do t=$((t + $(awk '{print $1}' "$f"))); done; echo "$t"; }
active_actors() { # port -> actorRuntime.activeActors count of T
  curl -s "http://127.0.0.1:$1/v1.0/metadata" | python3 -c \
    'import json,sys; print(sum(a.get("count", 0) for a in json.load(sys.stdin)["actorRuntime"].get("activeActors", []) if a["type"] == "T"))'
}

# === 1. actor method call vs service invocation ===
start_sidecar actorsapp "${APP_PORTS[0]}" 0
wait_http "http://127.0.0.1:$SC_PORT/v1.0/healthz" 204
R1_PID=$SC_PID
R1="http://127.0.0.1:$SC_PORT"
python3 loadtest/actor_calls.py "$SC_PORT" 1000 16 T "" >/dev/null   # activates ids 0..999 (no turn is ever a first call)
bench() { # name path_template ids -> "name rps p50 p99"
  echo "$1 $(PATH_TEMPLATE=$2 IDS=$3 wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s loadtest/actors.lua "$R1" \
    | python3 loadtest/parse_wrk.py)"
}
PATH_TEMPLATE=/v1.0/actors/T/{id}/method/m IDS=1000 wrk -t1 -c4 -d1s -s loadtest/actors.lua "$R1" >/dev/null
PATH_TEMPLATE=/v1.0/invoke/actorsapp/method/m wrk -t1 -c4 -d1s -s loadtest/actors.lua "$R1" >/dev/null
: > "$WORK/row1"
for r in $(seq 1 "$REPEATS"); do
  # The plain call sits between the two actor variants; which goes first alternates.
  if [ $((r % 2)) = 1 ]; then order="many invoke one"; else order="one invoke many"; fi
  for s in $order; do
    case $s in
      many) line=$(bench many "/v1.0/actors/T/{id}/method/m" 1000) ;;
      one) line=$(bench one "/v1.0/actors/T/{id}/method/m" 1) ;;
      invoke) line=$(bench invoke /v1.0/invoke/actorsapp/method/m 1) ;;
    esac
    echo "$r $line" | tee -a "$WORK/row1" >&2
  done
done
stop_pid "$R1_PID"
ROW1=$(python3 - "$WORK/row1" <<'PY'
import statistics, sys
from collections import defaultdict
rounds = defaultdict(dict)
for line in open(sys.argv[1]):
    r, name, rps, p50, p99 = line.split()
    rounds[r][name] = (float(rps), float(p50), float(p99))
med = statistics.median
inv = [rs["invoke"] for rs in rounds.values()]
print(f"| `POST /v1.0/invoke/actorsapp/method/m` (plain call, the peer) | {med(x[0] for x in inv):,.0f} | | | "
      f"{med(x[1] for x in inv):.0f} / {med(x[2] for x in inv):.0f} |")
for name, text in (("many", "`POST /v1.0/actors/T/<id>/method/m`, 1,000 ids"),
                   ("one", "`POST /v1.0/actors/T/0/method/m`, one id (turn-serialised)")):
    xs = [rs[name] for rs in rounds.values()]
    ratios = [rs[name][0] / rs["invoke"][0] for rs in rounds.values()]
    print(f"| {text} | {med(x[0] for x in xs):,.0f} | **{med(ratios):.2f}x** | {min(ratios):.2f}-{max(ratios):.2f} "
          f"| {med(x[1] for x in xs):.0f} / {med(x[2] for x in xs):.0f} |")
PY
)

# === 2. 100,000 activations ===
start_sidecar actors2 "${APP_PORTS[1]}" 0
wait_http "http://127.0.0.1:$SC_PORT/v1.0/healthz" 204
# Warm-up without activating anything (the app connections, buffers, pools).
PATH_TEMPLATE=/v1.0/invoke/actors2/method/m wrk -t1 -c64 -d1s -s loadtest/actors.lua "http://127.0.0.1:$SC_PORT" >/dev/null
sleep 1
R2_PID=$SC_PID
RSS0=$(rss_kib "$R2_PID")
N0=$(active_actors "$SC_PORT")
C0=$(cpu_ns "$R2_PID")
PASS1=$(python3 loadtest/actor_calls.py "$SC_PORT" "$ACTIVATIONS" 64 T a)
C1=$(cpu_ns "$R2_PID")
sleep 1
RSS1=$(rss_kib "$R2_PID")
N1=$(active_actors "$SC_PORT")
C2=$(cpu_ns "$R2_PID")
PASS2=$(python3 loadtest/actor_calls.py "$SC_PORT" "$ACTIVATIONS" 64 T a)
C3=$(cpu_ns "$R2_PID")
sleep 1
RSS2=$(rss_kib "$R2_PID")
N2=$(active_actors "$SC_PORT")
stop_pid "$R2_PID"
ROW2=$(python3 - "$ACTIVATIONS" "$RSS0 $RSS1 $RSS2" "$N0 $N1 $N2" "$PASS1" "$PASS2" "$((C1 - C0)) $((C3 - C2))" <<'PY'
import sys
n = int(sys.argv[1])
rss0, rss1, rss2 = map(int, sys.argv[2].split())
n0, n1, n2 = map(int, sys.argv[3].split())
t1, ok1, err1 = sys.argv[4].split()
t2, ok2, err2 = sys.argv[5].split()
cpu1, cpu2 = map(int, sys.argv[6].split())
per = (rss1 - rss0) * 1024 / max(n1 - n0, 1)
print(f"| `actorRuntime.activeActors` (metadata API) before → after the first pass → after the second | {n0:,} → {n1:,} → {n2:,} |")
print(f"| first pass: {n:,} new ids, once each (64 connections) | {float(t1):.2f} s ({n / float(t1):,.0f} calls/s), {ok1} × 200, {err1} errors |")
print(f"| second pass: the same ids, all active | {float(t2):.2f} s ({n / float(t2):,.0f} calls/s), {ok2} × 200, {err2} errors |")
print(f"| daprd on-CPU per call: first pass (activation) / second pass | {cpu1 / n / 1000:.1f} µs / {cpu2 / n / 1000:.1f} µs ({cpu1 / max(cpu2, 1):.2f}x) |")
print(f"| VmRSS before → after the first pass → after the second | {rss0:,} → {rss1:,} → {rss2:,} KiB |")
print(f"| **RSS per active actor** (after the first pass − before) / new actors | **{per:,.0f} B** |")
PY
)

# === 3. placement membership change ===
ROW3_PORTS=()
ROW3_PIDS=()
for i in $(seq 1 "$SIDECARS"); do
  start_sidecar "m$i" "${APP_PORTS[$((i + 1))]}" 1
  ROW3_PORTS+=("$SC_PORT")
  ROW3_PIDS+=("$SC_PID")
done
for p in "${ROW3_PORTS[@]}"; do wait_http "http://127.0.0.1:$p/v1.0/healthz" 204; done
NEW_APP=${APP_PORTS[$((SIDECARS + 2))]}
NEW_HTTP=$(free_port)
# shellcheck disable=SC2046
python3 loadtest/actors_membership.py "$JOINS" "$NEW_HTTP" "$NEW_APP" "$WORK" "$(IFS=,; echo "${ROW3_PORTS[*]}")" \
  -- "$BIN" $(sidecar_args "m$((SIDECARS + 1))" "$NEW_APP" "$NEW_HTTP" "$(free_port)" 1 info) > "$WORK/row3" 2> "$WORK/row3.err" \
  || { cat "$WORK/row3.err" >&2; exit 1; }
for p in "${ROW3_PIDS[@]}"; do stop_pid "$p"; done
# Warnings and errors the sidecars logged during the joins and leaves (the
# new one logs at info, the others at warn), shown on stderr by message.
ROW3_WARN=$(cat "$WORK"/m*.log "$WORK"/new-*.log | grep -c 'level=\(warning\|error\|fatal\)' || true)
cat "$WORK"/m*.log "$WORK"/new-*.log | grep 'level=\(warning\|error\|fatal\)' | sed -E 's/.*(msg="[^"]*").*( error=("[^"]*"|[^ ]*)).*/\1\2/' | sort | uniq -c | sort -rn | head -20 >&2 || true
PROBE=$(grep -o 'probe id [a-z0-9]*' "$WORK/row3.err" | cut -d' ' -f3)
ROW3=$(python3 - "$WORK/row3" "$SIDECARS" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
n = int(sys.argv[2])
med = statistics.median
def cell(i, scale=1000):
    xs = [r[i] * scale for r in rows]
    return f"{med(xs):.0f} ms ({min(xs):.0f}-{max(xs):.0f})"
print(f"| new sidecar's process start → its REPORT on the wire (its log: \"Placement client connected\") | {cell(2)} |")
print(f"| start → the new sidecar's own `/v1.0/healthz` 204 | {cell(3)} |")
print(f"| start → the first sidecar routes the moved id to the new host | {cell(1)} |")
print(f"| **start → all {n + 1} sidecars route it there** (the new table in force everywhere) | **{cell(0)}** |")
print(f"| **REPORT → all {n + 1} sidecars** (per repeat: the above minus the first row) | **{med((r[0] - r[2]) * 1000 for r in rows):.0f} ms ({min((r[0] - r[2]) * 1000 for r in rows):.0f}-{max((r[0] - r[2]) * 1000 for r in rows):.0f})** |")
print(f"| leave: SIGTERM to the new sidecar → all {n} others route the id away from it | {cell(4)} |")
PY
)

SHA=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
OUT=${OUT:-"loadtest/results/$(date -u +%Y-%m-%d)-$SHA-actors.md"}
{
  echo "# daprd actors loadtest $(date -u +%Y-%m-%dT%H:%MZ) ($SHA)"
  echo
  echo "Machine: $(nproc) cores, kernel $(uname -r), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); $(wrk --version 2>&1 | head -1 | cut -c1-40); $(nginx -v 2>&1). The app is nginx (\`conf/nginx-actors.conf\`); the actor state store is \`state.in-memory\` with \`actorStateStore: \"true\"\`; one \`placement\`."
  echo
  echo "## 1. Actor method call vs plain service invocation (same sidecar, same app)"
  echo
  echo "wrk -t$THREADS -c$CONNS -d${DURATION}s, POST of 7 B JSON, one Lua script for every scenario, $REPEATS interleaved rounds (the plain call between the two actor variants, the order alternating); ratio = median of the rounds' ratios actor / plain, spread = min-max; daprd --workers 0 (one per core)."
  echo
  echo "| scenario | req/s (median) | ratio to the plain call | spread | p50 / p99 (µs) |"
  echo "|---|---|---|---|---|"
  echo "$ROW1"
  echo
  echo "## 2. Activation of $ACTIVATIONS actors"
  echo
  echo "A fresh sidecar (--workers 0); 1 s of plain invocation calls to warm it up (no actor activated), 1 s idle, then \`loadtest/actor_calls.py\` (Python asyncio, 64 keep-alive connections, one call in flight on each) calls ids a0..a$((ACTIVATIONS - 1)) once each, then all of them again. The wall time is the Python client's (it is the bottleneck); daprd's own cost is its on-CPU time (/proc/<pid>/task/*/schedstat). RSS read 1 s after each pass."
  echo
  echo "| measure | value |"
  echo "|---|---|"
  echo "$ROW2"
  echo
  echo "## 3. Placement membership change: $SIDECARS sidecars, then one more"
  echo
  echo "$SIDECARS sidecars (--workers 1, each its own app port and internal gRPC port), all ready; then sidecar $((SIDECARS + 1)) starts ($JOINS times; stopped with SIGTERM after each). Measured from outside by \`loadtest/actors_membership.py\`: every 10 ms, without waiting for earlier calls, a call through each of the $((SIDECARS + 1)) sidecars for id \`$PROBE\` (found by an untimed warm-up join to move to the new host; same host name each repeat, so the same ring); a sidecar counts as having the new table when such a call is answered by the new host's app (its lookups of the type wait while placement's round runs, so the first such answer comes once its table is unlocked). Resolution: 10 ms plus a call. Median (min-max) of $JOINS joins."
  echo
  echo "| interval | median (min-max) |"
  echo "|---|---|"
  echo "$ROW3"
  echo "| warnings and errors logged by the sidecars over the warm-up and the $JOINS joins and leaves | $ROW3_WARN lines |"
} > "$OUT"
cat "$OUT"
