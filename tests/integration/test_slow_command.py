"""A slow command never delays another connection: a SEARCH that has to
scan a big mailbox (no index) runs off the connection actor's thread, so
sessions on the same worker keep answering NOOP at once."""

from __future__ import annotations

import os
import random
import time

import pytest

from conftest import new_account

# Enough mail that a scan for a word no message has takes seconds in a
# debug build: every body is decoded and folded.
MESSAGES = 2500
BODY_BYTES = 24 * 1024
# The slowest NOOP answer allowed while the SEARCH runs.
NOOP_BOUND = 0.1
# Below this the SEARCH is too quick to show anything.
SEARCH_AT_LEAST = 0.8


def body(rng: random.Random, i: int) -> bytes:
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
        for _ in range(64)
    ]
    text = []
    size = 0
    while size < BODY_BYTES:
        line = " ".join(rng.choice(words) for _ in range(12)) + "\r\n"
        text.append(line)
        size += len(line)
    head = f"From: a{i}@example.org\r\nTo: b@example.org\r\nSubject: bulk {i}\r\n\r\n"
    return (head + "".join(text)).encode()


@pytest.fixture
def no_index(make_server):
    return make_server({"search": {"index": False}})


def test_slow_search_does_not_delay_other_connections(no_index):
    acct = new_account(no_index)
    try:
        loader = acct.login()
        assert loader.cmd("CREATE big").kind == "OK"
        rng = random.Random(9)
        bodies = [body(rng, i) for i in range(40)]
        sent = 0
        while sent < MESSAGES:
            n = min(200, MESSAGES - sent)
            batch = bytearray()
            tags = []
            for i in range(sent, sent + n):
                tag = f"a{i}"
                tags.append(tag)
                b = bodies[i % len(bodies)]
                batch += f"{tag} APPEND big {{{len(b)}+}}\r\n".encode() + b + b"\r\n"
            loader.send(bytes(batch))
            for tag in tags:
                assert loader.read_until_tagged(tag, timeout=120).kind == "OK"
            sent += n

        searcher = acct.login()
        assert searcher.cmd("SELECT big").kind == "OK"
        # Consecutive connections go round the worker arbiters, so one more
        # than there are workers puts at least one beside the searcher.
        others = [acct.login() for _ in range((os.cpu_count() or 2) + 1)]
        for c in others:
            assert c.cmd("SELECT big").kind == "OK"

        searcher.send(b"s1 SEARCH BODY nosuchwordanywhere\r\n")
        started = time.monotonic()
        worst = 0.0
        rounds = 0
        while not searcher.pending(0.0):
            for c in others:
                t0 = time.monotonic()
                r = c.cmd("NOOP", timeout=60)
                worst = max(worst, time.monotonic() - t0)
                assert r.kind == "OK", r
            rounds += 1
            time.sleep(0.01)
        reply = searcher.read_until_tagged("s1", timeout=120)
        took = time.monotonic() - started
        assert reply.kind == "OK", reply
        assert [l for l in reply.untagged if l.startswith(b"* SEARCH")] == [b"* SEARCH\r\n"]
        assert took >= SEARCH_AT_LEAST, f"SEARCH took only {took:.2f}s: the mailbox is too small to show a stall"
        assert worst < NOOP_BOUND, f"a NOOP waited {worst * 1000:.0f} ms while another session searched for {took:.2f}s"
        assert rounds >= 3, f"only {rounds} NOOP rounds ran during the SEARCH"
    finally:
        acct.close()
