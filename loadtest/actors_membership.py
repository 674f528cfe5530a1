#!/usr/bin/env python3
"""A placement membership change, timed from outside: N sidecars are up and
ready (hosting actor type T, each app answering with its own port); this
starts one more sidecar and measures how long until an actor call made
through *every* sidecar (the N and the new one) for an id that moves to the
new host is answered by the new host's app. A sidecar routes the id there
only once it has applied the new table and placement has unlocked it (while
the type is being rebalanced, its lookups wait), so that is the time until
every sidecar has the new table in force. Then the new sidecar is stopped
(SIGTERM) and the time until every remaining sidecar routes the id away
from it again is measured too (the leave).

Polling: every sidecar gets a call for the probe id every INTERVAL seconds,
without waiting for earlier ones (a call routed to the old owner during the
round can wait out Go's 1 s retry; later calls are not held behind it), so
the resolution is INTERVAL plus one call's latency.

The probe id: a warm-up join (not timed) finds ids of the form m<i> that
the new host owns; the new sidecar has the same name (internal port) in
every repeat, so the ring after the join, and the id that moves, are the
same each time.

  actors_membership.py REPEATS NEW_HTTP_PORT NEW_APP_PORT LOG_DIR PORT,PORT,... -- daprd args...

Prints one line per repeat: "join_s first_s report_s self_ready_s leave_s" (seconds):
join_s = start of the new process -> last sidecar routes the id to it;
first_s = ... -> first sidecar does; report_s = ... -> the new sidecar's
"Placement client connected" log line (its REPORT is on the wire);
self_ready_s = ... -> its own /v1.0/healthz 204; leave_s = SIGTERM -> last
remaining sidecar routes the id elsewhere.
"""
import asyncio
import datetime
import os
import re
import signal
import subprocess
import sys
import time

INTERVAL = 0.01
MAX_INFLIGHT = 50


async def call(port, path, timeout=15.0):
    """One POST; (status, body) or None when the connection fails."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1.0)
    except (OSError, asyncio.TimeoutError):
        return None
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        data = await asyncio.wait_for(reader.read(-1), timeout)
    except (OSError, asyncio.TimeoutError):
        return None
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if len(head) < 12:
        return None
    return int(head[9:12]), body.decode(errors="replace")


async def get_status(port, path):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = await reader.read(-1)
    except OSError:
        return None
    finally:
        writer.close()
    return int(data[9:12]) if len(data) >= 12 else None


async def until(port, path, pred, start):
    """Polls `port` every INTERVAL with calls to `path`, without waiting for
    earlier calls; returns the monotonic time (minus start) at which the
    first answer satisfying `pred` arrived."""
    done = asyncio.get_running_loop().create_future()
    inflight = set()

    async def one():
        r = await call(port, path)
        if r is not None and pred(r) and not done.done():
            done.set_result(time.monotonic() - start)

    while not done.done():
        if len(inflight) < MAX_INFLIGHT:
            t = asyncio.ensure_future(one())
            inflight.add(t)
            t.add_done_callback(inflight.discard)
        try:
            await asyncio.wait_for(asyncio.shield(done), INTERVAL)
        except asyncio.TimeoutError:
            pass
    for t in inflight:
        t.cancel()
    return done.result()


def log_time(path, pattern):
    """The timestamp (epoch seconds) of the first log line matching pattern."""
    try:
        for line in open(path, errors="replace"):
            if re.search(pattern, line):
                m = re.search(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)(Z|[+-]\d\d:\d\d)?", line)
                if m:
                    ts = m.group(1)
                    if "." in ts:
                        base, frac = ts.split(".")
                        ts = base + "." + frac[:6].ljust(6, "0")
                    tz = m.group(2) or "Z"
                    tz = "+00:00" if tz == "Z" else tz
                    return datetime.datetime.fromisoformat(ts + tz).timestamp()
    except OSError:
        pass
    return None


async def wait_ready(port, deadline=30.0):
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        if await get_status(port, "/v1.0/healthz") == 204:
            return time.monotonic()
        await asyncio.sleep(0.002)
    raise SystemExit(f"sidecar on {port} not ready in {deadline}s")


async def main():
    sep = sys.argv.index("--")
    repeats, new_http, new_app, log_dir, ports = sys.argv[1:sep]
    repeats, new_http, new_app = int(repeats), int(new_http), new_app
    ports = [int(p) for p in ports.split(",")]
    cmd = sys.argv[sep + 1:]
    everyone = ports + [new_http]
    proc = None

    def spawn(tag):
        log = open(os.path.join(log_dir, f"new-{tag}.log"), "w")
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def stop(p):
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    try:
        # Warm-up join: which ids does the new host own?
        proc = spawn("warmup")
        await wait_ready(new_http)
        await asyncio.sleep(1.0)
        probe = None
        for i in range(400):
            r = await call(new_http, f"/v1.0/actors/T/m{i}/method/m")
            if r and r[0] == 200 and r[1] == new_app:
                probe = f"m{i}"
                break
        if probe is None:
            raise SystemExit("no id of m0..m399 moved to the new host")
        path = f"/v1.0/actors/T/{probe}/method/m"
        for p in ports:  # everyone routes it there once settled
            await asyncio.wait_for(until(p, path, lambda r: r == (200, new_app), time.monotonic()), 30)
        stop(proc)
        proc = None
        for p in ports:
            await asyncio.wait_for(until(p, path, lambda r: r[0] == 200 and r[1] != new_app, time.monotonic()), 30)
        print(f"# probe id {probe}", file=sys.stderr)

        for rep in range(1, repeats + 1):
            await asyncio.sleep(1.0)
            wall0 = time.time()
            t0 = time.monotonic()
            proc = spawn(rep)
            ready = asyncio.ensure_future(wait_ready(new_http))
            times = await asyncio.wait_for(
                asyncio.gather(*(until(p, path, lambda r: r == (200, new_app), t0) for p in everyone)), 60
            )
            self_ready = (await ready) - t0
            report = log_time(os.path.join(log_dir, f"new-{rep}.log"), "Placement client connected")
            report_s = report - wall0 if report is not None else float("nan")
            await asyncio.sleep(0.5)
            t1 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            leave = await asyncio.wait_for(
                asyncio.gather(*(until(p, path, lambda r: r[0] == 200 and r[1] != new_app, t1) for p in ports)), 60
            )
            proc.wait(15)
            proc = None
            print(f"{max(times):.4f} {min(times):.4f} {report_s:.4f} {self_ready:.4f} {max(leave):.4f}", flush=True)
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


asyncio.run(main())
