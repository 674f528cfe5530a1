#!/usr/bin/env python3
"""Rows of "direct(p50 p99 rps ok) via(p50 p99 rps ok) cpu_ticks" -> one markdown row:
latency added by the sidecar hop (medians of per-run differences), its CPU per
1000 req/s, and its peak RSS. Args: file duration_s clk_tck peak_rss_kib."""
import statistics
import sys

rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
dur, tck, peak = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
med = lambda f: statistics.median(f(r) for r in rows)
ok = min(r[7] for r in rows)
cpu = med(lambda r: (r[8] / tck) / dur / (r[6] / 1000))
print(
    f"| {med(lambda r: r[0]):.0f} / {med(lambda r: r[1]):.0f} "
    f"| {med(lambda r: r[4]):.0f} / {med(lambda r: r[5]):.0f} "
    f"| **{med(lambda r: r[4] - r[0]):+.0f} / {med(lambda r: r[5] - r[1]):+.0f}** "
    f"| {med(lambda r: r[6]):.0f} ({ok:.2%} 2xx) | {cpu:.4f} | {peak} KiB |"
)
