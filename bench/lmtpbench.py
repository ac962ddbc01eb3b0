#!/usr/bin/env python3
"""LMTP delivery load generator: deliveries per second against any LMTP
server on loopback (TCP or a unix socket).

    lmtpbench.py --target 127.0.0.1:11024 --corpus DIR --conns 8 --rcpts 5 \
                 --seconds 20 --users bench1,...,bench8 --domain bench.test

Each connection runs transactions back to back, pipelined as a real MTA
does (MAIL, the RCPTs and DATA in one write; the message after the 354),
and checks every reply: a recipient counts only when its post-DATA reply is
250. Messages come from a make_corpus.py directory (its .eml files, in
order, cycling), with CRLF line ends and dot-stuffing. Prints one JSON line:
messages/s and recipient deliveries/s, with latency percentiles.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path


def load_corpus(path: Path, limit: int) -> list[bytes]:
    files = sorted(p for p in path.iterdir() if p.suffix == ".eml")[:limit]
    if not files:
        sys.exit(f"no .eml files in {path}")
    out = []
    for f in files:
        raw = f.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if not raw.endswith(b"\r\n"):
            raw += b"\r\n"
        lines = raw.split(b"\r\n")[:-1]
        stuffed = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)
        out.append(stuffed + b".\r\n")
    return out


class Conn:
    def __init__(self, target: str):
        if target.startswith("unix:"):
            self.s = socket.socket(socket.AF_UNIX)
            self.s.connect(target[5:])
        else:
            host, port = target.rsplit(":", 1)
            self.s = socket.create_connection((host, int(port)))
            self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def reply(self) -> int:
        while True:
            i = self.buf.find(b"\r\n")
            while i >= 0:
                line = bytes(self.buf[: i + 2])
                del self.buf[: i + 2]
                if line[3:4] == b" ":
                    return int(line[:3])
                i = self.buf.find(b"\r\n")
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk


def worker(args, n: int, corpus: list[bytes], stop: threading.Event, results: list, errors: list) -> None:
    users = args.users.split(",")
    try:
        c = Conn(args.target)
        assert c.reply() == 220
        c.s.sendall(b"LHLO bench.client\r\n")
        assert c.reply() == 250
        i = n
        while not stop.is_set():
            msg = corpus[i % len(corpus)]
            rcpts = [users[(i + k) % len(users)] for k in range(args.rcpts)]
            head = b"MAIL FROM:<bench@sender.test>\r\n" + b"".join(
                f"RCPT TO:<{u}@{args.domain}>\r\n".encode() for u in rcpts
            ) + b"DATA\r\n"
            t0 = time.perf_counter()
            c.s.sendall(head)
            codes = [c.reply() for _ in range(args.rcpts + 2)]
            if codes[0] != 250 or any(x != 250 for x in codes[1:-1]) or codes[-1] != 354:
                errors.append(f"conn {n}: {codes}")
                return
            c.s.sendall(msg)
            ok = sum(1 for _ in range(args.rcpts) if c.reply() == 250)
            results.append((time.perf_counter() - t0, ok, len(msg)))
            i += args.conns
        c.s.sendall(b"QUIT\r\n")
    except Exception as e:  # reported, never hidden
        errors.append(f"conn {n}: {e!r}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", required=True, help="HOST:PORT or unix:PATH")
    ap.add_argument("--corpus", required=True, type=Path)
    ap.add_argument("--corpus-limit", type=int, default=2000)
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--rcpts", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--users", default=",".join(f"bench{i}" for i in range(1, 9)))
    ap.add_argument("--domain", default="bench.test")
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    corpus = load_corpus(args.corpus, args.corpus_limit)
    stop = threading.Event()
    results: list = []
    errors: list = []
    threads = [
        threading.Thread(target=worker, args=(args, n, corpus, stop, results, errors), daemon=True)
        for n in range(args.conns)
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(args.seconds)
    stop.set()
    for t in threads:
        t.join(60)
    elapsed = time.perf_counter() - t0
    lat = sorted(r[0] for r in results)
    delivered = sum(r[1] for r in results)
    out = {
        "label": args.label,
        "conns": args.conns,
        "rcpts": args.rcpts,
        "seconds": round(elapsed, 2),
        "messages": len(results),
        "messages_per_s": round(len(results) / elapsed, 1),
        "deliveries_per_s": round(delivered / elapsed, 1),
        "not_250": len(results) * args.rcpts - delivered,
        "mean_kib": round(statistics.mean(r[2] for r in results) / 1024, 1) if results else 0,
        "p50_ms": round(1000 * lat[len(lat) // 2], 2) if lat else None,
        "p99_ms": round(1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2) if lat else None,
        "errors": errors[:5],
    }
    print(json.dumps(out), flush=True)
    return 1 if errors or out["not_250"] else 0


if __name__ == "__main__":
    sys.exit(main())
