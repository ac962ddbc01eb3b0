#!/usr/bin/env python3
"""logins.py — how fast a server takes logins: N times connect, LOGIN,
LOGOUT, with W connections at a time, against any IMAP server on loopback.

    bench/logins.py --port 11143 --user bench1 --password bench --count 5000 --workers 8

Prints one JSON line: total seconds, logins/s, and p50/p95/p99 of one
login's latency (connect to tagged OK of LOGIN). Plain IMAP, no TLS (both
servers of bench/run-logins.sh are measured the same way)."""

import argparse
import json
import socket
import statistics
import threading
import time


def login_once(port: int, user: str, password: str) -> float:
    start = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        f = s.makefile("rb")
        if not f.readline().startswith(b"* OK"):
            raise RuntimeError("no greeting")
        s.sendall(f'a LOGIN "{user}" "{password}"\r\n'.encode())
        while True:
            line = f.readline()
            if not line:
                raise RuntimeError("closed during LOGIN")
            if line.startswith(b"a "):
                if not line.startswith(b"a OK"):
                    raise RuntimeError(f"LOGIN refused: {line!r}")
                break
        took = time.perf_counter() - start
        s.sendall(b"b LOGOUT\r\n")
        while line := f.readline():
            if line.startswith(b"b "):
                break
        return took
    finally:
        s.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", default="bench1")
    p.add_argument("--password", default="bench")
    p.add_argument("--count", type=int, default=5000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--label", default="")
    a = p.parse_args()

    lock = threading.Lock()
    left = [a.count]
    times: list[float] = []
    errors: list[str] = []

    def worker() -> None:
        while True:
            with lock:
                if left[0] == 0 or errors:
                    return
                left[0] -= 1
            try:
                t = login_once(a.port, a.user, a.password)
            except Exception as e:  # noqa: BLE001 - reported
                with lock:
                    errors.append(repr(e))
                return
            with lock:
                times.append(t)

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(a.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = time.perf_counter() - start
    if errors:
        raise SystemExit(f"login failed: {errors[0]}")
    times.sort()
    q = lambda f: times[min(len(times) - 1, int(f * len(times)))] * 1000  # noqa: E731
    print(json.dumps({
        "label": a.label, "count": a.count, "workers": a.workers,
        "total_s": round(total, 3), "logins_per_s": round(a.count / total, 1),
        "first_ms": round(times and statistics.median(times[:1]) * 1000, 2),
        "p50_ms": round(q(0.5), 2), "p95_ms": round(q(0.95), 2), "p99_ms": round(q(0.99), 2),
    }))


if __name__ == "__main__":
    main()
