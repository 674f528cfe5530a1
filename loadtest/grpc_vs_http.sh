#!/usr/bin/env bash
# gRPC against HTTP/1.1 for the same operation, one load generator (h2load)
# for both, in interleaved rounds: each round runs every scenario over gRPC
# and over HTTP/1.1 back to back (which goes first alternates), so the VM's
# drift between rounds cancels out of each round's ratio. A scenario's ratio
# gRPC / HTTP/1.1 is the median of its rounds' ratios; the spread is beside it.
#
#   loadtest/grpc_vs_http.sh [BINARY]     # DURATION=8 REPEATS=5 CONNS=16 STREAMS=10
#   SCENARIOS="GetState PublishEvent" loadtest/grpc_vs_http.sh
#
# gRPC: h2c, CONNS connections x STREAMS concurrent streams; HTTP/1.1: CONNS
# connections, STREAMS requests pipelined on each. Scenarios: GetState,
# SaveState, PublishEvent (in-memory components; topic `bench`, which the
# nginx app does not subscribe to) and
# InvokeService (GET to an nginx app). Needs h2load, nginx, python3, curl.
# Prints a markdown table; writes nothing into the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-8}
REPEATS=${REPEATS:-5}
CONNS=${CONNS:-16}
STREAMS=${STREAMS:-10}
for tool in h2load nginx python3 curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y nghttp2-client nginx-light" >&2; exit 2; }
done
BIN=${1:-}
if [ -z "$BIN" ]; then
  cargo build --release --quiet
  BIN=target/release/daprd
fi

. loadtest/common.sh
start_nginx
mkdir -p "$WORK/components"
cp examples/resources/*.yaml "$WORK/components/"

# The request messages, gRPC-framed (protobuf written out by hand: field tags
# and lengths, every field a string or bytes or a nested message).
python3 - "$WORK" <<'PY'
import sys
def field(n, b):
    if isinstance(b, str):
        b = b.encode()
    out, n = bytearray([n << 3 | 2]), len(b)
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out) + b
def frame(m):
    return b"\0" + len(m).to_bytes(4, "big") + m
value = b'{"id":1,"item":"book"}'
msgs = {
    "GetState": field(1, "statestore") + field(2, "order-1"),
    "SaveState": field(1, "statestore") + field(2, field(1, "order-2") + field(2, value)),
    "PublishEvent": field(1, "pubsub") + field(2, "bench") + field(3, value) + field(4, "application/json"),
    # id, message{method, http_extension{verb: GET}}
    "InvokeService": field(1, "loadtest") + field(3, field(1, "app") + b"\x22\x02\x08\x01"),
}
for name, m in msgs.items():
    open(f"{sys.argv[1]}/{name}.grpc", "wb").write(frame(m))
open(f"{sys.argv[1]}/save.json", "wb").write(b'[{"key":"order-2","value":' + value + b"}]")
open(f"{sys.argv[1]}/event.json", "wb").write(value)
PY

PORT=$(free_port)
GRPC=$(free_port)
"$BIN" --app-id loadtest --app-port "$NGINX_PORT" --dapr-http-port "$PORT" --dapr-grpc-port "$GRPC" \
  --metrics-port "$(free_port)" --metrics-listen-address 127.0.0.1 --dapr-listen-addresses 127.0.0.1 \
  --resources-path "$WORK/components" --log-level warn > "$WORK/daprd.log" 2>&1 &
PIDS+=("$!")
wait_http "http://127.0.0.1:$PORT/v1.0/healthz" 204
curl -s -X POST -H 'content-type: application/json' -d '[{"key":"order-1","value":{"id":1,"item":"book"}}]' \
  "http://127.0.0.1:$PORT/v1.0/state/statestore" >/dev/null

h2run() { # h2load args... -> req/s; fails on any non-2xx answer
  local out
  out=$(h2load -D "$DURATION" -c "$CONNS" -m "$STREAMS" -t 1 "$@" 2>&1)
  if ! echo "$out" | grep -q 'status codes: [0-9]* 2xx, 0 3xx, 0 4xx, 0 5xx'; then
    echo "h2load saw errors for $*:" >&2; echo "$out" | tail -8 >&2; exit 1
  fi
  echo "$out" | awk '/^finished in/ {print $4}'
}
grpc_run() { # method
  h2run -d "$WORK/$1.grpc" -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$GRPC/dapr.proto.runtime.v1.Dapr/$1"
}
http_run() { # scenario
  local base="http://127.0.0.1:$PORT/v1.0"
  case "$1" in
    GetState) h2run --h1 "$base/state/statestore/order-1" ;;
    SaveState) h2run --h1 -d "$WORK/save.json" -H 'content-type: application/json' "$base/state/statestore" ;;
    PublishEvent) h2run --h1 -d "$WORK/event.json" -H 'content-type: application/json' "$base/publish/pubsub/bench" ;;
    InvokeService) h2run --h1 "$base/invoke/loadtest/method/app" ;;
  esac
}

SCENARIOS=${SCENARIOS:-GetState SaveState PublishEvent InvokeService}
: > "$WORK/rounds"
for r in $(seq 1 "$REPEATS"); do
  for s in $SCENARIOS; do
    if [ $((r % 2)) = 1 ]; then
      g=$(grpc_run "$s"); h=$(http_run "$s")
    else
      h=$(http_run "$s"); g=$(grpc_run "$s")
    fi
    echo "$r $s $g $h" | tee -a "$WORK/rounds" >&2
  done
done

python3 - "$WORK/rounds" "$DURATION" "$CONNS" "$STREAMS" <<'PY'
import statistics, sys
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    _, s, g, h = line.split()
    rows[s].append((float(g), float(h)))
d, c, m = sys.argv[2:5]
print(f"| operation (h2load -D {d} -c {c} -m {m}, {len(next(iter(rows.values())))} interleaved rounds) "
      "| gRPC req/s | HTTP/1.1 req/s | gRPC / HTTP/1.1 (median) | spread |")
print("|---|---|---|---|---|")
for s, rs in rows.items():
    ratios = [g / h for g, h in rs]
    print(f"| {s} | {statistics.median(g for g, _ in rs):,.0f} | {statistics.median(h for _, h in rs):,.0f} "
          f"| {statistics.median(ratios):.2f} | {min(ratios):.2f}-{max(ratios):.2f} |")
PY
