#!/usr/bin/env python3
"""Publish -> delivery latency through a running daprd, at a fixed rate.

Usage: pubsub_latency.py <daprd_http_port> <app_port> <pubsub> <topic> <rate/s> <seconds>

Serves the subscriber app on <app_port> (daprd must be started with
--app-port <app_port>; it learns the subscription from GET /dapr/subscribe),
publishes events carrying their send time at <rate>/s over one keep-alive
connection, and prints "p50_us p99_us delivered sent" for the deliveries.
The clock is the same on both ends (one machine), so the difference is the
sidecar's publish -> broker -> delivery path plus this script's own overhead
(a Python HTTP server: a few tens of microseconds; the same in every row).
"""
import http.client
import http.server
import json
import socket
import sys
import threading
import time

daprd_port, app_port, pubsub, topic = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
rate, seconds = float(sys.argv[5]), float(sys.argv[6])
lat_ns = []
lock = threading.Lock()
subscribed = threading.Event()


class App(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per response (flushed after each request): head and body in
    # separate small writes would meet Nagle and delayed ACKs (40 ms each).
    wbufsize = -1

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def reply(self, body=b""):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/dapr/subscribe":
            subscribed.set()
            self.reply(json.dumps([{"pubsubname": pubsub, "topic": topic, "route": "/events"}]).encode())
        else:
            self.reply()

    def do_POST(self):
        now = time.perf_counter_ns()
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            sent = json.loads(body)["data"]["t"]
            with lock:
                lat_ns.append(now - sent)
        except Exception:
            pass
        self.reply(b'{"status":"SUCCESS"}')


server = http.server.ThreadingHTTPServer(("127.0.0.1", app_port), App)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("ready", flush=True)
if not subscribed.wait(30):
    sys.exit("daprd never asked for subscriptions")
time.sleep(0.5)

conn = http.client.HTTPConnection("127.0.0.1", daprd_port)
interval = 1.0 / rate
sent = 0
start = time.perf_counter()
deadline = start + seconds
nxt = start
while time.perf_counter() < deadline:
    body = json.dumps({"t": time.perf_counter_ns()})
    conn.request("POST", f"/v1.0/publish/{pubsub}/{topic}", body, {"content-type": "application/json"})
    conn.getresponse().read()
    sent += 1
    nxt += interval
    pause = nxt - time.perf_counter()
    if pause > 0:
        time.sleep(pause)
time.sleep(1.0)
with lock:
    v = sorted(lat_ns)
if not v:
    sys.exit("nothing delivered")
q = lambda p: v[min(len(v) - 1, int(p * len(v)))] / 1000
print(f"{q(0.5):.0f} {q(0.99):.0f} {len(v)} {sent}")
