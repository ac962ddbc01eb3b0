"""Memory stays bounded whatever clients do at once.

Each password check needs ~19 MiB of argon2 working memory. A burst of
concurrent logins must not multiply that: hashes run on a few threads that
reuse their memory, so the server's peak resident size stays far below
what one-hash-per-login would take (64 × 19 MiB ≈ 1.2 GiB)."""

import socket
import threading
import time

from imapwire import ImapConn


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_a_burst_of_logins_does_not_multiply_hashing_memory(make_server):
    srv = make_server()
    errors: list[str] = []

    def login(ok: bool) -> None:
        try:
            with ImapConn.open(srv.imap_port) as c:
                c.greeting()
                r = c.login("alice", "alicepw" if ok else "wrong")
                if r.kind != ("OK" if ok else "NO"):
                    errors.append(repr(r))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=login, args=(True,)) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]
    peak = peak_rss_mib(srv.proc.pid)
    assert peak < 300, f"peak RSS {peak:.0f} MiB after 64 concurrent logins"


# -- FETCH of large messages ---------------------------------------------------

BIG = 40 * 1024 * 1024


def rss_anon_mib(pid: int) -> float:
    """Anonymous resident memory: what the server allocated, not the store's
    memory-mapped pages a FETCH reads (those are the page cache's)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon")


def big_message() -> bytes:
    line = b"0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n"
    head = b"From: big@example.org\r\nSubject: forty megabytes\r\n\r\n"
    return head + line * ((BIG - len(head)) // len(line))


def big_server(make_server):
    # No search index: indexing 40 MB would be the memory measured.
    srv = make_server({"search": {"index": False}})
    c = srv.login("alice")
    msg = big_message()
    c.send(f"a APPEND INBOX {{{len(msg)}+}}\r\n".encode() + msg + b"\r\n")
    r = c.read_until_tagged("a", timeout=300)
    assert r.kind == "OK", r
    c.close()
    return srv, len(msg)


def settle_rss(pid: int, seconds: float = 1.0) -> float:
    time.sleep(seconds)
    return rss_anon_mib(pid)


def test_repeated_body_items_of_a_large_message_cost_one_chunk(make_server):
    srv, size = big_server(make_server)
    c = srv.login("alice")
    assert c.cmd("SELECT INBOX").kind == "OK"
    base = settle_rss(srv.proc.pid)
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_anon_mib(srv.proc.pid))
            time.sleep(0.02)

    t = threading.Thread(target=sample)
    t.start()
    try:
        items = " ".join(["BODY.PEEK[]"] * 60)
        c.send(f"f FETCH 1 ({items})\r\n".encode())
        got = 0
        tail = b""
        c.sock.settimeout(120)
        while not tail.endswith(b"f OK FETCH completed\r\n"):
            data = c.sock.recv(1 << 20)
            assert data, "connection closed"
            got += len(data)
            tail = (tail + data)[-64:]
    finally:
        done.set()
        t.join()
    assert got > 60 * size, got
    growth = peak[0] - base
    assert growth < 50, f"FETCH of 60 x BODY[] of a 40 MB message grew the server by {growth:.0f} MiB"


def test_clients_that_never_read_a_large_fetch_hold_little(make_server):
    srv, size = big_server(make_server)
    conns = []
    for _ in range(30):
        c = srv.login("alice")
        assert c.cmd("SELECT INBOX").kind == "OK"
        conns.append(c)
    base = settle_rss(srv.proc.pid)
    for c in conns:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        c.send(b"f FETCH 1 BODY.PEEK[]\r\n")
    grown = settle_rss(srv.proc.pid, 3.0) - base
    # Another client is served meanwhile.
    other = srv.login("alice")
    assert other.cmd("SELECT INBOX").kind == "OK"
    assert other.cmd("FETCH 1 RFC822.SIZE").kind == "OK"
    other.close()
    for c in conns:
        c.close()
    assert grown < 100, f"30 unread 40 MB FETCHes hold {grown:.0f} MiB"
