#!/usr/bin/env bash
# A/B of two daprd builds on loopback, in interleaved rounds: for a change
# that must not cost speed (a refactor), the same scenarios against build A
# and build B back to back, REPEATS times; each scenario's ratio B/A is the
# median of the rounds' ratios, with the spread (min-max) beside it.
#
#   loadtest/ab.sh OLD_BINARY NEW_BINARY     # DURATION=8 REPEATS=5
#
# Scenarios: invoke GET to an nginx app (wrk -c64), in-memory state GET
# (wrk -c64), gRPC GetState (h2load -c16 -m10). Needs wrk, nginx, h2load
# (apt-get install -y wrk nginx-light nghttp2-client), python3, curl.
# Prints a markdown table; writes nothing into the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

A=${1:?usage: loadtest/ab.sh OLD_BINARY NEW_BINARY}
B=${2:?usage: loadtest/ab.sh OLD_BINARY NEW_BINARY}
DURATION=${DURATION:-8}
REPEATS=${REPEATS:-5}
for tool in wrk nginx h2load python3 curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y wrk nginx-light nghttp2-client" >&2; exit 2; }
done

. loadtest/common.sh
start_nginx
mkdir -p "$WORK/components"
cp examples/resources/*.yaml "$WORK/components/"
python3 -c 'import sys; m=b"\x0a\x0astatestore\x12\x07order-1"; sys.stdout.buffer.write(b"\0"+len(m).to_bytes(4,"big")+m)' > "$WORK/getstate.grpc"

run_one() { # binary -> "invoke state grpc" req/s
  local port grpc pid
  port=$(free_port)
  grpc=$(free_port)
  "$1" --app-id loadtest --app-port "$NGINX_PORT" --dapr-http-port "$port" --dapr-grpc-port "$grpc" \
    --metrics-port "$(free_port)" --metrics-listen-address 127.0.0.1 --dapr-listen-addresses 127.0.0.1 \
    --resources-path "$WORK/components" --log-level warn > "$WORK/daprd.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_http "http://127.0.0.1:$port/v1.0/healthz" 204
  curl -s -X POST -H 'content-type: application/json' -d '[{"key":"order-1","value":{"id":1,"item":"book"}}]' \
    "http://127.0.0.1:$port/v1.0/state/statestore" >/dev/null
  wrk -t1 -c4 -d1s "http://127.0.0.1:$port/v1.0/invoke/loadtest/method/app" >/dev/null
  local inv st gr
  inv=$(wrk -t2 -c64 -d"${DURATION}s" --latency "http://127.0.0.1:$port/v1.0/invoke/loadtest/method/app" | python3 loadtest/parse_wrk.py | cut -d' ' -f1)
  st=$(wrk -t2 -c64 -d"${DURATION}s" --latency "http://127.0.0.1:$port/v1.0/state/statestore/order-1" | python3 loadtest/parse_wrk.py | cut -d' ' -f1)
  gr=$(h2load -D "$DURATION" -c 16 -m 10 -t 1 -d "$WORK/getstate.grpc" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$grpc/dapr.proto.runtime.v1.Dapr/GetState" 2>/dev/null | awk '/^finished in/ {print $4}')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$inv $st $gr"
}

: > "$WORK/rounds"
for r in $(seq 1 "$REPEATS"); do
  # Alternate which build goes first, so neither always runs on a warmer machine.
  if [ $((r % 2)) = 1 ]; then order="A B"; else order="B A"; fi
  for which in $order; do
    bin=$A; [ "$which" = B ] && bin=$B
    echo "$r $which $(run_one "$bin")" | tee -a "$WORK/rounds" >&2
  done
done

python3 - "$WORK/rounds" <<'PY'
import statistics, sys
from collections import defaultdict
rounds = defaultdict(dict)
for line in open(sys.argv[1]):
    r, which, *figs = line.split()
    rounds[r][which] = [float(x) for x in figs]
names = ["invoke GET (wrk -c64)", "state GET in-memory (wrk -c64)", "gRPC GetState (h2load -c16 -m10)"]
print("| scenario | A req/s (median) | B req/s (median) | B/A (median of rounds) | spread |")
print("|---|---|---|---|---|")
for i, name in enumerate(names):
    a = [rs["A"][i] for rs in rounds.values()]
    b = [rs["B"][i] for rs in rounds.values()]
    ratios = [rs["B"][i] / rs["A"][i] for rs in rounds.values()]
    print(f"| {name} | {statistics.median(a):,.0f} | {statistics.median(b):,.0f} "
          f"| {statistics.median(ratios):.3f} | {min(ratios):.3f}-{max(ratios):.3f} |")
PY
