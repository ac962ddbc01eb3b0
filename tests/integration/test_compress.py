"""COMPRESS=DEFLATE (RFC 4978): raw DEFLATE both ways after the tagged OK,
on plain and TLS connections, with IDLE, and with hostile input."""

import random
import time
import zlib

import pytest

import imapresp as R
from imapwire import Closed, capability_data, status

CAP = "COMPRESS=DEFLATE"


def compress(c, tag="z1"):
    """COMPRESS DEFLATE, then compression both ways."""
    r = c.cmd("COMPRESS DEFLATE", tag=tag)
    assert r.kind == "OK", r
    assert not r.untagged and not r.others, r
    c.start_deflate()


def msg(n: int, body: str = "") -> bytes:
    return f"From: a@example.org\r\nSubject: compressed {n}\r\n\r\nbody {n}\r\n{body}".encode()


def test_advertised_after_login_only(server):
    with server.connect(greet=False) as c:
        greeting = status(c.readline())
        assert CAP not in greeting.capabilities
        assert CAP not in c.capability()
        r = c.login_ok("alice", "alicepw")
        assert CAP in r.tagged.capabilities
        assert CAP in c.capability()
    with server.connect(tls=True) as c:
        assert CAP not in c.capability()
        c.login_ok("alice", "alicepw")
        assert CAP in c.capability()


def test_refusals_leave_the_connection_uncompressed(server):
    with server.connect() as c:
        r = c.cmd("COMPRESS DEFLATE")
        assert r.kind == "BAD", r  # command-auth: log in first
        c.login_ok("alice", "alicepw")
        r = c.cmd("COMPRESS LZ4")
        assert r.kind == "BAD", r
        r = c.cmd("COMPRESS")
        assert r.kind == "BAD", r
        c.noop_ok()  # still plain both ways


def test_commands_round_trip_and_compress_twice(account):
    c = account.login()
    compress(c)
    assert CAP in c.capability()
    r = c.cmd("COMPRESS DEFLATE")
    assert (r.kind, r.code) == ("NO", "COMPRESSIONACTIVE"), r
    R.ok(c, "CREATE zbox")
    R.append(c, "zbox", msg(1))
    res = R.ok(c, "SELECT zbox")
    assert res.numbers("EXISTS") == [1]
    res = R.ok(c, "FETCH 1 (BODY[] FLAGS)")
    assert res.fetches()[1]["BODY[]"] == msg(1)
    r = c.cmd("LOGOUT")
    assert r.kind == "OK" and r.untagged[0].startswith(b"* BYE"), r


def test_large_fetch_under_compression(account):
    c = account.login()
    rnd = random.Random(4978)
    words = ["quokka", "mail", "server", "deflate", "window", "idle", "fetch", "literal"]
    text = "".join(f"{rnd.choice(words)} {rnd.randrange(10**6)}\r\n" for _ in range(150_000))
    big = msg(2, text)
    assert len(big) > 2_000_000
    R.ok(c, "CREATE big")
    R.append(c, "big", big)
    compress(c)
    R.ok(c, "SELECT big")
    before = c.wire_in
    res = R.ok(c, "FETCH 1 BODY[]", timeout=60)
    assert res.fetches()[1]["BODY[]"] == big
    # The answer really travelled compressed.
    assert c.wire_in - before < len(big) * 0.7, (c.wire_in - before, len(big))
    # Uploads are inflated too: the same message back through APPEND.
    R.append(c, "big", big)
    res = R.ok(c, "FETCH 2 BODY[]", timeout=60)
    assert res.fetches()[2]["BODY[]"] == big


@pytest.mark.parametrize("how", ["implicit", "starttls"])
def test_compression_inside_tls(server, account, how):
    if how == "implicit":
        c = server.connect(tls=True)
    else:
        c = server.connect()
        c.starttls()
    with c:
        c.login_ok(account.name, account.password)
        compress(c)
        R.ok(c, "CREATE tlsbox")
        R.append(c, "tlsbox", msg(3))
        R.ok(c, "SELECT tlsbox")
        res = R.ok(c, "FETCH 1 BODY[]")
        assert res.fetches()[1]["BODY[]"] == msg(3)
        c.noop_ok()


def test_idle_sees_another_sessions_append_at_once(account):
    a = account.login()
    b = account.login()
    R.ok(a, "CREATE idlez")
    compress(a)
    R.ok(a, "SELECT idlez")
    a.send("i1 IDLE\r\n")
    assert a.readline().startswith(b"+ ")
    t0 = time.monotonic()
    R.append(b, "idlez", msg(4))
    # Flushed on its own: the client inflates it without anything after it.
    line = a.readline(timeout=2.0)
    while b"EXISTS" not in line:
        line = a.readline(timeout=2.0)
    assert line == b"* 1 EXISTS\r\n", line
    print(f"EXISTS inflated {1000 * (time.monotonic() - t0):.1f} ms after the APPEND was sent")
    a.send("DONE\r\n")
    r = a.read_until_tagged("i1")
    assert r.kind == "OK", r


def test_command_pipelined_in_the_compress_packet(account):
    """RFC 4978 §3: the client compresses starting with the first command
    after COMPRESS, so bytes in the same packet are compressed ones."""
    c = account.login()
    zout = zlib.compressobj(6, zlib.DEFLATED, -15)
    tail = zout.compress(b"p2 NOOP\r\n") + zout.flush(zlib.Z_SYNC_FLUSH)
    c.send(b"p1 COMPRESS DEFLATE\r\n" + tail)
    st = status(c.readline())
    assert (st.tag, st.kind) == ("p1", "OK"), st
    c.start_deflate()
    c.zout = zout  # the stream already started in the packet above
    r = c.read_until_tagged("p2")
    assert r.kind == "OK", r
    c.noop_ok()


def test_plaintext_after_compress_is_never_run(account):
    c = account.login()
    c.send(b"p1 COMPRESS DEFLATE\r\np2 CREATE smuggled\r\n")
    st = status(c.readline())
    assert (st.tag, st.kind) == ("p1", "OK"), st
    c.start_deflate()
    # "p2 CREATE ..." is not valid DEFLATE: the connection ends, unanswered.
    lines = c.expect_closed()
    assert not any(b"p2" in l for l in lines), lines
    d = account.login()
    res = R.ok(d, 'LIST "" smuggled')
    assert not res.data("LIST"), res


def test_malformed_compressed_input_closes_only_that_connection(account):
    bystander = account.login()
    compress(bystander, tag="b1")
    victim = account.login()
    compress(victim)
    victim.noop_ok()
    # BTYPE 11 is reserved (RFC 1951 §3.2.3): an invalid block.
    victim.send_raw(b"\xff\xff\xff\xff" * 4)
    victim.expect_closed()
    bystander.noop_ok()
    R.ok(bystander, "LIST \"\" *")
    fresh = account.login()
    fresh.noop_ok()


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_decompression_bomb_stays_bounded(server, account):
    """64 MiB of one line, compressed to a few KiB: the framer refuses the
    line as it is inflated, without ever holding it."""
    c = account.login()
    compress(c)
    pid = server.proc.pid
    before = rss_kib(pid)
    z = c.zout
    wire = z.compress(b"b1 NOOP ")
    chunk = b"x" * (1 << 20)
    for _ in range(64):
        wire += z.compress(chunk)
    wire += z.compress(b"\r\n") + z.flush(zlib.Z_SYNC_FLUSH)
    assert len(wire) < 200_000
    c.send_raw(wire)
    r = c.read_until_tagged("b1", timeout=60)
    assert (r.kind, r.code) == ("BAD", "LIMIT"), r
    c.noop_ok()
    grown = rss_kib(pid) - before
    assert grown < 32 * 1024, f"RSS grew by {grown} KiB"


def test_many_pipelined_commands_in_one_compressed_packet(account):
    """20,000 NOOPs in one small packet: each is answered, in order, while
    the server inflates only as fast as its answers are written."""
    c = account.login()
    compress(c)
    n = 20_000
    c.send(b"".join(b"n%d NOOP\r\n" % i for i in range(n)))
    for i in range(n):
        st = status(c.readline(timeout=60))
        assert (st.tag, st.kind) == (f"n{i}", "OK"), st
    c.noop_ok()


def test_stream_goes_on_after_a_quiet_connection_frees_its_compressor(account):
    """After 15 s without output the server frees its compressor; what it
    sends later (stored blocks, then a new compressor) still inflates in
    the same stream."""
    a = account.login()
    b = account.login()
    body = "".join(f"line {i} of a message that compresses well\r\n" for i in range(2000))
    R.ok(a, "CREATE rest")
    R.append(a, "rest", msg(5, body))
    compress(a)
    R.ok(a, "SELECT rest")
    assert R.ok(a, "FETCH 1 BODY[]").fetches()[1]["BODY[]"] == msg(5, body)
    a.send("i1 IDLE\r\n")
    assert a.readline().startswith(b"+ ")
    time.sleep(16)
    R.append(b, "rest", msg(6, body))
    line = a.readline(timeout=2.0)
    while b"EXISTS" not in line:
        line = a.readline(timeout=2.0)
    assert line == b"* 2 EXISTS\r\n", line
    a.send("DONE\r\n")
    assert a.read_until_tagged("i1").kind == "OK"
    before = a.wire_in
    assert R.ok(a, "FETCH 2 BODY[]").fetches()[2]["BODY[]"] == msg(6, body)
    assert a.wire_in - before < len(body) // 4, "compressed again"
