# Shared by run.sh and ab.sh (sourced): a scratch dir and the processes to
# kill on exit, free loopback ports, waiting for an HTTP answer, and an
# nginx app serving loadtest/conf/nginx.conf (sets NGINX_PORT, NGINX_PID).
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url expected_status
  for _ in $(seq 1 200); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)
    [ "$code" = "$2" ] && return 0
    sleep 0.05
  done
  echo "timeout waiting for $1" >&2; return 1
}
start_nginx() {
  NGINX_PORT=$(free_port)
  sed -e "s|@PORT@|$NGINX_PORT|g" -e "s|@DIR@|$WORK|g" loadtest/conf/nginx.conf > "$WORK/nginx.conf"
  nginx -c "$WORK/nginx.conf" -p "$WORK" &
  sleep 0.3
  NGINX_PID=$(cat "$WORK/nginx.pid")
  PIDS+=("$NGINX_PID")
  wait_http "http://127.0.0.1:$NGINX_PORT/" 200
}
