#!/usr/bin/env python3
"""Rows of "direct(p50 p99 rps ok) via(p50 p99 rps ok) cpu_ns" -> the rest of one
markdown row: latency the hop adds over the direct call (medians of per-run
differences), the hop's CPU per 1000 req/s (on-CPU time from schedstat), and
a peak RSS figure. Args: file duration_s rss_text."""
import statistics
import sys

rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
dur, rss = float(sys.argv[2]), sys.argv[3]
med = lambda f: statistics.median(f(r) for r in rows)
ok = min(r[7] for r in rows)
cpu = med(lambda r: (r[8] / 1e9) / dur / (r[6] / 1000))
print(
    f"| {med(lambda r: r[0]):.0f} / {med(lambda r: r[1]):.0f} "
    f"| {med(lambda r: r[4]):.0f} / {med(lambda r: r[5]):.0f} "
    f"| **{med(lambda r: r[4] - r[0]):+.0f} / {med(lambda r: r[5] - r[1]):+.0f}** "
    f"| {med(lambda r: r[6]):.0f} ({ok:.2%} 2xx) | {cpu:.4f} | {rss} |"
)
