#!/usr/bin/env python3
"""Calls `POST /v1.0/actors/<type>/<prefix><i>/method/<m>` once for every i in
0..count-1, over `conns` keep-alive HTTP/1.1 connections (asyncio, one
request in flight per connection), and prints "seconds ok errors" (errors:
any answer but 200, or a broken connection). Used by actors.sh for the
activation row: a first pass activates `count` actors, a second pass over the
same ids calls them while active.

  actor_calls.py PORT COUNT [CONNS] [TYPE] [PREFIX] [METHOD]
"""
import asyncio
import sys
import time


async def worker(port, ids, path_of, stats):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = b'{"n":1}'
    try:
        for i in ids:
            writer.write(
                b"POST " + path_of(i) + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 7\r\n\r\n" + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            chunked = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            if chunked:
                while True:
                    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            elif length:
                await reader.readexactly(length)
            stats[0 if status == 200 else 1] += 1
    finally:
        writer.close()


async def main():
    port = int(sys.argv[1])
    count = int(sys.argv[2])
    conns = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    actor_type = sys.argv[4] if len(sys.argv) > 4 else "T"
    prefix = sys.argv[5] if len(sys.argv) > 5 else "a"
    method = sys.argv[6] if len(sys.argv) > 6 else "m"
    stem = f"/v1.0/actors/{actor_type}/{prefix}".encode()
    tail = f"/method/{method}".encode()

    def path_of(i):
        return stem + str(i).encode() + tail

    stats = [0, 0]
    start = time.monotonic()
    results = await asyncio.gather(
        *(worker(port, range(c, count, conns), path_of, stats) for c in range(conns)),
        return_exceptions=True,
    )
    elapsed = time.monotonic() - start
    broken = sum(1 for r in results if isinstance(r, Exception))
    print(f"{elapsed:.3f} {stats[0]} {stats[1] + broken}")


asyncio.run(main())
