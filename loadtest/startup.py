"""Median time from spawning daprd to its first 204 on /v1.0/healthz/outbound."""
import socket
import statistics
import subprocess
import sys
import time

binary, runs = sys.argv[1], int(sys.argv[2])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def probe(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.sendall(b"GET /v1.0/healthz/outbound HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            return s.recv(12)[9:12] == b"204"
    except OSError:
        return False


samples = []
for _ in range(runs):
    port = free_port()
    args = [binary, "--app-id", "startup", "--dapr-http-port", str(port), "--dapr-listen-addresses", "127.0.0.1",
            "--metrics-port", str(free_port()), "--metrics-listen-address", "127.0.0.1", "--log-level", "warn"]
    t0 = time.perf_counter()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = t0 + 5
    while not probe(port):
        if time.perf_counter() > deadline:
            p.kill()
            sys.exit("daprd did not become ready in 5 s")
    samples.append((time.perf_counter() - t0) * 1000)
    p.terminate()
    p.wait()
print(f"{statistics.median(samples):.1f}")
