#!/usr/bin/env python3
"""Memory cost of idle IMAP sessions.

Starts nothing itself: point it at a running Roost (or any IMAP server) and the
server's PID. It opens --count connections, logs each in with LOGIN, leaves
them idle, and compares the server's memory before and after:

  VmRSS from /proc/PID/status and Pss from /proc/PID/smaps_rollup.

With --idle each session then SELECTs INBOX and IDLEs; with --compress it
first turns on COMPRESS=DEFLATE (RFC 4978) and does that compressed, so the
cost of a compressed idle connection (the deflate state) shows. --chatter N
sends N CAPABILITY commands in one packet before SELECT, so the answer is
large enough that the server sets up its compressor, as after a real
client's first sync.

Prints one JSON object (memory in bytes; per_conn and per_conn_pss are the
growth divided by the number of idle sessions), then closes the connections. Every step is bounded by
--timeout seconds overall.

  python3 bench/idle_memory.py --port 1143 --user alice --pass alicepw \\
      --pid "$(pidof roost)" --count 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import ssl
import sys
import time
import zlib


def read_kib(path: str, field: str) -> int | None:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, PermissionError, ProcessLookupError):
        return None
    return None


def memory(pid: int) -> dict:
    rss = read_kib(f"/proc/{pid}/status", "VmRSS")
    pss = read_kib(f"/proc/{pid}/smaps_rollup", "Pss")
    if rss is None:
        raise SystemExit(f"cannot read /proc/{pid}/status: is the server running?")
    return {"rss": rss * 1024, "pss": pss * 1024 if pss is not None else None}


def raise_nofile(count: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = count + 64
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        if new < want:
            print(f"warning: RLIMIT_NOFILE hard limit {hard} is below {want}", file=sys.stderr)


def quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def read_tagged(reader: asyncio.StreamReader, tag: bytes) -> bytes:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        if line.startswith(tag + b" "):
            return line


async def open_session(args, ctx, sem: asyncio.Semaphore, i: int):
    async with sem:
        reader, writer = await asyncio.open_connection(
            args.host, args.port, ssl=ctx, server_hostname="localhost" if ctx else None, limit=1 << 16
        )
        greeting = await reader.readline()
        if not greeting.startswith(b"* OK"):
            writer.close()
            raise ConnectionError(f"bad greeting: {greeting!r}")
        writer.write(f"l{i} LOGIN {quote(args.user)} {quote(args.password)}\r\n".encode())
        await writer.drain()
        reply = await read_tagged(reader, f"l{i}".encode())
        if not reply.split()[1:2] == [b"OK"]:
            writer.close()
            raise ConnectionError(f"login refused: {reply!r}")
        if args.compress:
            writer.write(f"c{i} COMPRESS DEFLATE\r\n".encode())
            await writer.drain()
            reply = await read_tagged(reader, f"c{i}".encode())
            if not reply.split()[1:2] == [b"OK"]:
                writer.close()
                raise ConnectionError(f"COMPRESS refused: {reply!r}")
        if args.idle or args.compress:
            await select_and_idle(reader, writer, i, args.compress, args.chatter)
        return reader, writer


async def select_and_idle(reader, writer, i: int, compress: bool, chatter: int) -> None:
    """SELECT INBOX, then IDLE; raw DEFLATE both ways if `compress`."""
    out = f"x{i} CAPABILITY\r\n".encode() * chatter + f"s{i} SELECT INBOX\r\ni{i} IDLE\r\n".encode()
    zo = zlib.compressobj(6, zlib.DEFLATED, -15) if compress else None
    zi = zlib.decompressobj(-15) if compress else None
    writer.write(zo.compress(out) + zo.flush(zlib.Z_SYNC_FLUSH) if zo else out)
    await writer.drain()
    buf = b""
    while not (buf.startswith(b"+ ") or b"\r\n+ " in buf):
        chunk = await reader.read(4096)
        if not chunk:
            raise ConnectionError(f"closed before IDLE: {buf!r}")
        buf += zi.decompress(chunk) if zi else chunk
    if f"s{i} OK".encode() not in buf:
        raise ConnectionError(f"SELECT failed: {buf!r}")


async def close_session(reader, writer, compressed: bool) -> None:
    if compressed:
        writer.close()
        return
    try:
        writer.write(b"z LOGOUT\r\n")
        await writer.drain()
        await asyncio.wait_for(read_tagged(reader, b"z"), 5)
    except (ConnectionError, asyncio.TimeoutError, OSError):
        pass
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 5)
        except (asyncio.TimeoutError, OSError, ssl.SSLError):
            pass


async def run(args) -> dict:
    ctx = None
    if args.tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

    before = memory(args.pid)
    sem = asyncio.Semaphore(args.concurrency)
    t0 = time.monotonic()
    results = await asyncio.gather(
        *(open_session(args, ctx, sem, i) for i in range(args.count)), return_exceptions=True
    )
    sessions = [r for r in results if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]
    connect_secs = time.monotonic() - t0
    try:
        await asyncio.sleep(args.settle)
        after = memory(args.pid)
    finally:
        await asyncio.gather(
            *(close_session(r, w, args.compress) for r, w in sessions), return_exceptions=True
        )
    n = len(sessions)
    out = {
        "count_requested": args.count,
        "count_idle": n,
        "errors": len(errors),
        "first_error": repr(errors[0]) if errors else None,
        "tls": args.tls,
        "idle": args.idle or args.compress,
        "compress": args.compress,
        "chatter": args.chatter,
        "connect_secs": round(connect_secs, 3),
        "rss_before": before["rss"],
        "rss_after": after["rss"],
        "pss_before": before["pss"],
        "pss_after": after["pss"],
        "per_conn": round((after["rss"] - before["rss"]) / n) if n else None,
        "per_conn_pss": round((after["pss"] - before["pss"]) / n) if n and after["pss"] is not None else None,
    }
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1143)
    p.add_argument("--user", required=True)
    p.add_argument("--pass", dest="password", required=True)
    p.add_argument("--pid", type=int, required=True, help="PID of the server process")
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--tls", action="store_true", help="implicit TLS (point --port at the IMAPS port)")
    p.add_argument("--idle", action="store_true", help="SELECT INBOX and IDLE after LOGIN")
    p.add_argument("--compress", action="store_true", help="COMPRESS DEFLATE, then --idle compressed")
    p.add_argument("--chatter", type=int, default=0, help="CAPABILITY commands before SELECT")
    p.add_argument("--concurrency", type=int, default=32, help="logins in flight at once")
    p.add_argument("--settle", type=float, default=1.0, help="seconds to wait before measuring")
    p.add_argument("--timeout", type=float, default=600, help="overall limit in seconds")
    args = p.parse_args()
    if args.count < 1:
        p.error("--count must be at least 1")
    raise_nofile(args.count)
    try:
        out = asyncio.run(asyncio.wait_for(run(args), args.timeout))
    except asyncio.TimeoutError:
        print(json.dumps({"error": f"timed out after {args.timeout}s"}))
        return 1
    print(json.dumps(out, indent=2))
    return 0 if out["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
