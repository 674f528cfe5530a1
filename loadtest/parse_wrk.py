"""Reads `wrk --latency` output on stdin; prints "requests_per_sec p50_us p99_us"."""
import re
import sys

text = sys.stdin.read()
unit = {"us": 1.0, "ms": 1000.0, "s": 1_000_000.0}


def latency(pct):
    m = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    return float(m.group(1)) * unit[m.group(2)] if m else float("nan")


rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
if errors:
    sys.exit(f"wrk saw {errors.group(1)} error responses:\n{text}")
print(f"{float(rps.group(1)) if rps else 0.0} {latency(50)} {latency(99)}")
