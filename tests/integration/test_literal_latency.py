"""A client that waits for the continuation request of a synchronizing
literal, then writes the literal and the closing CRLF in two writes (as
Python's imaplib and Perl's Mail::IMAPClient do) must not wait for a
delayed ACK: with Nagle's algorithm on the client, its second small write
waits until the server has ACKed the first, and a server that delays that
ACK costs about 40 ms per command."""

import imaplib
import socket
import ssl
import statistics
import time

import pytest

from conftest import new_account


def nagled(cls):
    """imaplib as it comes, made explicit: Nagle stays on (the default)."""

    class Nagled(cls):
        def _create_socket(self, timeout):
            s = super()._create_socket(timeout)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
            return s

    return Nagled


def connect(server, tls: bool):
    if not tls:
        return nagled(imaplib.IMAP4)("127.0.0.1", server.imap_port)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return nagled(imaplib.IMAP4_SSL)("127.0.0.1", server.imaps_port, ssl_context=ctx)


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_two_write_synchronizing_literals_do_not_wait_for_delayed_acks(server, tls):
    acct = new_account(server, "lit")
    m = connect(server, tls)
    try:
        m.login(acct.name, acct.password)  # LOGIN itself sends no literal here
        body = b"Subject: latency\r\n\r\nshort body\r\n"
        n = 50
        times = []
        for _ in range(n):
            start = time.monotonic()
            typ, _ = m.append("INBOX", None, None, body)
            times.append(time.monotonic() - start)
            assert typ == "OK"
        # A delayed ACK costs at least 40 ms (Linux's minimum delay) per
        # APPEND; without it one takes about a millisecond. The median keeps
        # a few slow ones on a loaded machine from deciding.
        median = statistics.median(times)
        assert median < 0.02, f"median two-write APPEND took {median * 1000:.1f} ms (total {sum(times):.2f} s)"
        typ, data = m.select("INBOX")
        assert typ == "OK" and int(data[0]) == n
    finally:
        m.logout()
