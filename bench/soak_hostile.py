#!/usr/bin/env python3
"""soak_hostile.py — a running Roost under a mix of ordinary and hostile
clients for a fixed time, while one well-behaved client measures its
command latency and the real user keeps logging in.

Not a test: bench/run-soak.sh starts the server and calls this. Loopback
only; every client group is bounded in count, and the whole run in time.

Client groups (each from its own loopback address, as they would come from
different hosts):
  ordinary   log in, SELECT, FETCH headers, APPEND now and then, IDLE briefly
  slowloris  send a LOGIN line one byte a second, reconnect when cut off
  nonreader  FETCH a 40 MB body and never read the answer
  guesser    wrong passwords for the real user, as fast as answered
  bomber     APPEND a message of thousands of tiny MIME parts, then expunge it

Prints one JSON object: the good client's operations, errors and latency
percentiles (ms), the real user's logins, and the server's resident memory
sampled every 5 s.
"""

import argparse
import imaplib
import json
import os
import random
import socket
import statistics
import threading
import time

HOST = "127.0.0.1"


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Stop:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def __bool__(self) -> bool:
        return time.monotonic() >= self.end


def imap(source: str, port: int, timeout: float = 30) -> imaplib.IMAP4:
    # imaplib has no source address: connect the socket ourselves.
    class Sourced(imaplib.IMAP4):
        def _create_socket(self, timeout):
            return socket.create_connection((HOST, port), timeout, source_address=(source, 0))

    return Sourced(HOST, port, timeout=timeout)


def small_message(i: int) -> bytes:
    return (
        f"From: soak@example.org\r\nTo: user@example.org\r\nSubject: soak {i}\r\n"
        f"Message-ID: <soak-{i}-{random.random()}@example.org>\r\n\r\n" + "line of text\r\n" * 40
    ).encode()


def mime_bomb(parts: int) -> bytes:
    head = b"From: bomb@example.org\r\nSubject: bomb\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    return head + b"--b\r\n\r\nx\r\n" * parts + b"--b--\r\n"


def ordinary(n: int, port: int, user: str, pw: str, stop: Stop, errors: list) -> None:
    source = f"127.0.1.{1 + n % 250}"
    i = 0
    while not stop:
        try:
            c = imap(source, port)
            c.login(user, pw)
            c.select("INBOX")
            for _ in range(random.randint(3, 10)):
                if stop:
                    break
                typ, data = c.search(None, "ALL")
                ids = data[0].split()
                if ids:
                    c.fetch(b",".join(ids[-20:]).decode(), "(FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])")
                if random.random() < 0.2:
                    i += 1
                    c.append("INBOX", None, None, small_message(n * 100000 + i))
                c.noop()
                time.sleep(random.uniform(0.5, 2.0))
            c.logout()
        except Exception as e:  # an ordinary client must never see one
            if not stop:
                errors.append(f"ordinary {n}: {e!r}")
            time.sleep(1)


def slowloris(n: int, port: int, stop: Stop) -> None:
    source = f"127.0.2.{1 + n % 250}"
    line = b"a LOGIN someone password-that-never-ends"
    while not stop:
        try:
            s = socket.create_connection((HOST, port), 10, source_address=(source, 0))
            s.recv(4096)
            for b in line * 1000:
                if stop:
                    break
                s.sendall(bytes([b]))
                time.sleep(1)
        except OSError:
            time.sleep(0.5)  # cut off, as it should be: come back


def nonreader(n: int, port: int, user: str, pw: str, stop: Stop) -> None:
    source = f"127.0.3.{1 + n % 250}"
    while not stop:
        try:
            s = socket.create_connection((HOST, port), 10, source_address=(source, 0))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.recv(4096)
            s.sendall(f'a LOGIN {user} "{pw}"\r\nb SELECT INBOX\r\nc FETCH 1 BODY.PEEK[]\r\n'.encode())
            while not stop:  # never read again
                time.sleep(1)
            s.close()
        except OSError:
            time.sleep(1)


def guesser(n: int, port: int, victim: str, stop: Stop) -> None:
    source = f"127.0.4.{1 + n % 250}"
    k = 0
    while not stop:
        try:
            s = socket.create_connection((HOST, port), 30, source_address=(source, 0))
            f = s.makefile("rb")
            f.readline()
            while not stop:
                k += 1
                s.sendall(f"g{k} LOGIN {victim} wrong-{n}-{k}\r\n".encode())
                while True:
                    line = f.readline()
                    if not line or line.startswith(f"g{k} ".encode()):
                        break
                if not line:
                    break
        except OSError:
            time.sleep(0.2)


def bomber(n: int, port: int, user: str, pw: str, stop: Stop, parts: int, errors: list) -> None:
    source = f"127.0.5.{1 + n % 250}"
    bomb = mime_bomb(parts)
    while not stop:
        try:
            c = imap(source, port, timeout=120)
            c.login(user, pw)
            c.create(f"bombs{n}")
            c.select(f"bombs{n}")
            while not stop:
                c.append(f"bombs{n}", None, None, bomb)
                c.search(None, "BODY", "nothing-matches-this")
                c.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
                c.expunge()
                time.sleep(2)
            c.logout()
        except Exception as e:
            if not stop:
                errors.append(f"bomber {n}: {e!r}")
            time.sleep(1)


def measure(port: int, user: str, pw: str, stop: Stop, lat: list, errors: list) -> None:
    c = imap(HOST, port)
    c.login(user, pw)
    while not stop:
        for cmd in (lambda: c.noop(), lambda: c.select("INBOX"), lambda: c.fetch("1:10", "(FLAGS UID)")):
            t = time.perf_counter()
            try:
                typ, _ = cmd()
                if typ != "OK":
                    errors.append(f"good client: {typ}")
            except Exception as e:
                errors.append(f"good client: {e!r}")
                c = imap(HOST, port)
                c.login(user, pw)
            lat.append((time.perf_counter() - t) * 1000)
        time.sleep(0.1)
    c.logout()


def real_user(port: int, victim: str, pw: str, stop: Stop, logins: list) -> None:
    while not stop:
        t = time.perf_counter()
        try:
            c = imap(HOST, port)
            c.login(victim, pw)
            c.logout()
            logins.append((True, time.perf_counter() - t))
        except Exception:
            logins.append((False, time.perf_counter() - t))
        time.sleep(10)


def pct(xs: list, p: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p / 100 * len(xs)))], 2) if xs else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True, help="the server's pid, for its memory")
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--user", default="soak")
    ap.add_argument("--victim", default="victim")
    ap.add_argument("--big", default="big", help="a user whose INBOX message 1 is large")
    ap.add_argument("--password", default="soak-pw")
    ap.add_argument("--ordinary", type=int, default=100)
    ap.add_argument("--slowloris", type=int, default=30)
    ap.add_argument("--nonreaders", type=int, default=30)
    ap.add_argument("--guessers", type=int, default=30)
    ap.add_argument("--bombers", type=int, default=10)
    ap.add_argument("--bomb-parts", type=int, default=20000)
    args = ap.parse_args()

    stop = Stop(args.seconds)
    errors: list = []
    lat: list = []
    logins: list = []
    threads = []

    def spawn(f, *a):
        t = threading.Thread(target=f, args=a, daemon=True)
        t.start()
        threads.append(t)

    spawn(measure, args.port, args.user, args.password, stop, lat, errors)
    spawn(real_user, args.port, args.victim, args.password, stop, logins)
    # Ten users share the ordinary clients, well under the per-user limit.
    for n in range(args.ordinary):
        spawn(ordinary, n, args.port, f"{args.user}{n % 10}", args.password, stop, errors)
    for n in range(args.slowloris):
        spawn(slowloris, n, args.port, stop)
    for n in range(args.nonreaders):
        spawn(nonreader, n, args.port, args.big, args.password, stop)
    for n in range(args.guessers):
        spawn(guesser, n, args.port, args.victim, stop)
    for n in range(args.bombers):
        spawn(bomber, n, args.port, f"bomber{n}", args.password, stop, args.bomb_parts, errors)

    start = time.monotonic()
    rss = []
    while not stop:
        rss.append((round(time.monotonic() - start), rss_kib(args.pid)))
        time.sleep(5)
    for t in threads:
        t.join(timeout=5)
    after_first_minute = [kib for at, kib in rss if at >= 60]
    ok_logins = [d for ok, d in logins if ok]
    print(
        json.dumps(
            {
                "seconds": args.seconds,
                "clients": 2 + args.ordinary + args.slowloris + args.nonreaders + args.guessers + args.bombers,
                "good_client": {
                    "commands": len(lat),
                    "errors": len([e for e in errors if e.startswith("good client")]),
                    "p50_ms": pct(lat, 50),
                    "p99_ms": pct(lat, 99),
                    "max_ms": round(max(lat), 2) if lat else 0,
                },
                "ordinary_client_errors": len([e for e in errors if e.startswith("ordinary")]),
                "bomber_errors": len([e for e in errors if e.startswith("bomber")]),
                "first_errors": errors[:5],
                "real_user_logins": {
                    "ok": len(ok_logins),
                    "failed": len(logins) - len(ok_logins),
                    "max_s": round(max(ok_logins), 2) if ok_logins else None,
                },
                "rss_mib": {
                    "at_60s": round(after_first_minute[0] / 1024, 1) if after_first_minute else None,
                    "max_after_60s": round(max(after_first_minute) / 1024, 1) if after_first_minute else None,
                    "end": round(rss[-1][1] / 1024, 1) if rss else None,
                    "median_after_60s": round(statistics.median(after_first_minute) / 1024, 1)
                    if after_first_minute
                    else None,
                },
                "rss_samples_kib": rss,
            }
        )
    )


if __name__ == "__main__":
    main()
