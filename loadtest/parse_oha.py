#!/usr/bin/env python3
"""oha --output-format json on stdin -> "p50_us p99_us rps ok_ratio"."""
import json
import sys

d = json.load(sys.stdin)
p = d["latencyPercentiles"]
s = d["summary"]
codes = d.get("statusCodeDistribution") or {}
total = sum(codes.values()) or 1
ok = sum(v for k, v in codes.items() if k.startswith("2"))
print(f"{(p['p50'] or 0) * 1e6:.0f} {(p['p99'] or 0) * 1e6:.0f} {s['requestsPerSec']:.0f} {ok / total:.4f}")
