"""Connection limits: a client cannot hold every socket. Over the total or
per-address limit a new connection gets `* BYE [UNAVAILABLE]` at once (never
a hang), the places come back when connections close, and the time to log
in is a hard deadline that trickled bytes do not extend."""

import socket
import time

from conftest import module_server
from imapwire import HOST, ImapConn

limited = module_server(
    "limited",
    {
        "limits": {"max_connections": 5, "max_connections_per_ip": 3},
        "imap": {"timeout_unauthenticated_secs": 3},
    },
)


def read_greeting(port: int, source: str) -> bytes:
    s = socket.create_connection((HOST, port), timeout=5, source_address=(source, 0))
    try:
        return s.recv(4096)
    finally:
        s.close()


def test_connections_over_the_limits_get_bye_unavailable(limited):
    held = [ImapConn.open(limited.imap_port, source="127.0.0.41") for _ in range(3)]
    for c in held:
        c.greeting()
    greeting = read_greeting(limited.imap_port, "127.0.0.41")
    assert greeting.startswith(b"* BYE [UNAVAILABLE]"), greeting
    # Another address still gets in, up to the total.
    others = [ImapConn.open(limited.imap_port, source="127.0.0.42") for _ in range(2)]
    for c in others:
        c.greeting()
    greeting = read_greeting(limited.imap_port, "127.0.0.43")
    assert greeting.startswith(b"* BYE [UNAVAILABLE]"), greeting
    # Places come back when connections close.
    held.pop().close()
    deadline = time.monotonic() + 5
    while True:
        greeting = read_greeting(limited.imap_port, "127.0.0.43")
        if greeting.startswith(b"* OK") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert greeting.startswith(b"* OK"), greeting
    for c in held + others:
        c.close()
    # One log line for the refusals, not one per connection.
    time.sleep(0.2)
    assert limited.stderr_text().count("connections refused over the limits") == 1


def test_prelogin_deadline_is_not_extended_by_trickled_bytes(limited):
    deadline = time.monotonic() + 10
    while True:  # the previous test's connections may still be closing
        c = ImapConn.open(limited.imap_port, source="127.0.0.44")
        first = c.sock.recv(4096)
        if first.startswith(b"* OK") or time.monotonic() > deadline:
            break
        c.close()
        time.sleep(0.1)
    assert first.startswith(b"* OK"), first
    start = time.monotonic()
    closed_after = None
    for b in b"a LOGIN someone slowly-typed-password-that-never-ends" * 4:
        try:
            c.sock.sendall(bytes([b]))
            c.sock.settimeout(0.25)
            data = c.sock.recv(4096)
            if data.startswith(b"* BYE") or data == b"":
                closed_after = time.monotonic() - start
                break
        except socket.timeout:
            continue
        except OSError:
            closed_after = time.monotonic() - start
            break
        if time.monotonic() - start > 10:
            break
    c.close()
    assert closed_after is not None, "the trickling client was never logged out"
    assert 2 <= closed_after < 5, closed_after


per_user = module_server("per_user", {"limits": {"max_connections_per_user": 3}})


def test_a_user_past_the_session_limit_gets_no_limit_and_others_go_on(per_user):
    # Guards limits.max_connections_per_user: one user (or whoever has the
    # password) cannot take every connection, and a refusal does not end
    # the sessions the user already has.
    held = [per_user.login("alice") for _ in range(3)]
    extra = per_user.connect()
    r = extra.login("alice", "alicepw")
    assert (r.kind, r.code) == ("NO", "LIMIT"), r
    # The refused connection is still a working, unauthenticated one.
    r = extra.cmd("NOOP")
    assert r.kind == "OK", r
    # From another address the user is refused too: the limit is per user.
    other = ImapConn.open(per_user.imap_port, source="127.0.0.51")
    other.greeting()
    assert other.login("alice", "alicepw").code == "LIMIT"
    # Other users are not affected, and the open sessions still work.
    bob = per_user.login("bob")
    bob.noop_ok()
    for c in held:
        c.noop_ok()
    # A session that ends gives its place back.
    held.pop().cmd("LOGOUT")
    deadline = time.monotonic() + 5
    while True:
        r = extra.login("alice", "alicepw")
        if r.kind == "OK" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert r.kind == "OK", r
    for c in held + [extra, other, bob]:
        c.close()
    time.sleep(0.2)
    assert per_user.stderr_text().count("the user has too many sessions") == 1
