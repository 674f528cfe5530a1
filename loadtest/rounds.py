#!/usr/bin/env python3
"""Interleaved rounds -> table rows. Input lines: "round<TAB>name<TAB>rps p50_us p99_us",
where each round measured "daprd" and then every peer back to back, so that
the machine's drift between rounds cancels out of each round's ratio.
Prints one row per peer: medians of req/s and latency, and the median of the
per-round ratios daprd / peer. Args: file scenario_text [a|b ...]: for each
pair, one more row comparing two peers with each other (the L4 relay's lead
over an HTTP proxy: how much any proxy could gain by parsing nothing)."""
import statistics
import sys
from collections import defaultdict

rounds = defaultdict(dict)
for line in open(sys.argv[1]):
    if line.strip():
        r, name, figures = line.rstrip("\n").split("\t")
        rounds[r][name] = [float(x) for x in figures.split()]
scenario = sys.argv[2]
peers = [n for n in next(iter(rounds.values())) if n != "daprd"]
med = statistics.median
d = [rs["daprd"] for rs in rounds.values()]
for peer in peers:
    p = [rs[peer] for rs in rounds.values()]
    ratio = med(rs["daprd"][0] / rs[peer][0] for rs in rounds.values())
    print(
        f"| {scenario} | {med(x[0] for x in d):,.0f} | {peer}: {med(x[0] for x in p):,.0f} "
        f"| {ratio:.2f}x | {med(x[1] for x in d):.0f} / {med(x[2] for x in d):.0f} "
        f"| {med(x[1] for x in p):.0f} / {med(x[2] for x in p):.0f} |"
    )
for pair in sys.argv[3:]:
    a, b = pair.split("|")
    if all(a in rs and b in rs for rs in rounds.values()):
        ratio = med(rs[a][0] / rs[b][0] for rs in rounds.values())
        print(
            f"| for scale, no daprd: {a} vs {b} | | {med(rs[a][0] for rs in rounds.values()):,.0f} "
            f"vs {med(rs[b][0] for rs in rounds.values()):,.0f} | {ratio:.2f}x | | |"
        )
