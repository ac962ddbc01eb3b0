"""Byte-exact IMAP client for the integration tests.

Deliberately dumb: it sends exactly the bytes a test gives it and hands back
response lines as bytes, so tests can check the wire format and feed the
server malformed input. Every read is bounded by a deadline.
"""

from __future__ import annotations

import base64
import re
import select
import socket
import ssl
import time
import zlib
from dataclasses import dataclass, field

TIMEOUT = 10.0
HOST = "127.0.0.1"


def client_tls_context() -> ssl.SSLContext:
    """TLS context that accepts the server's self-signed certificate."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def b64(data: bytes | str) -> bytes:
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data)


def plain_blob(authcid: str, password: str, authzid: str = "") -> bytes:
    """RFC 4616 PLAIN message: authzid NUL authcid NUL passwd."""
    return f"{authzid}\0{authcid}\0{password}".encode()


_STATUS_RE = re.compile(
    rb"^(?P<tag>[^ \r\n]+) (?P<kind>OK|NO|BAD|BYE|PREAUTH)"
    rb"(?: \[(?P<code>[^\]]*)\])?(?: ?(?P<text>[^\r\n]*))?\r\n$",
    re.IGNORECASE,
)


@dataclass
class Status:
    """A status response line: `tag kind [code args] text`."""

    tag: str
    kind: str  # upper case: OK NO BAD BYE PREAUTH
    code: str | None  # upper-case first atom of the response code, if any
    code_args: str  # the rest of the bracketed code
    text: str
    raw: bytes = field(repr=False, default=b"")

    @property
    def capabilities(self) -> set[str]:
        """The atoms of a [CAPABILITY ...] code, upper-cased."""
        assert self.code == "CAPABILITY", f"no CAPABILITY code in {self.raw!r}"
        return {a.upper() for a in self.code_args.split()}


def parse_status(line: bytes) -> Status | None:
    m = _STATUS_RE.match(line)
    if not m:
        return None
    code = m.group("code")
    name, args = None, ""
    if code is not None:
        parts = code.decode("latin-1").split(None, 1)
        name = parts[0].upper() if parts else ""
        args = parts[1] if len(parts) > 1 else ""
    return Status(
        tag=m.group("tag").decode("latin-1"),
        kind=m.group("kind").decode().upper(),
        code=name,
        code_args=args,
        text=(m.group("text") or b"").decode("latin-1"),
        raw=line,
    )


def status(line: bytes) -> Status:
    st = parse_status(line)
    assert st is not None, f"not a status response: {line!r}"
    return st


def capability_data(line: bytes) -> set[str]:
    """Atoms of an untagged `* CAPABILITY ...` line, upper-cased."""
    assert line.upper().startswith(b"* CAPABILITY "), line
    return {a.upper() for a in line[len(b"* CAPABILITY "):].decode().split()}


class Closed(Exception):
    """The server closed the connection."""


@dataclass
class Reply:
    """Everything the server sent up to and including a tagged response."""

    untagged: list[bytes]
    tagged: Status
    others: list[bytes]  # continuation requests and lines tagged otherwise

    @property
    def kind(self) -> str:
        return self.tagged.kind

    @property
    def code(self) -> str | None:
        return self.tagged.code

    def __repr__(self) -> str:
        return f"Reply(untagged={self.untagged!r}, tagged={self.tagged.raw!r}, others={self.others!r})"


class ImapConn:
    """One client connection, plain or TLS."""

    def __init__(self, sock: socket.socket, port: int):
        self.sock = sock
        self.port = port
        self.buf = bytearray()
        self.sock.settimeout(TIMEOUT)
        self._tagn = 0
        # COMPRESS=DEFLATE (RFC 4978) once `start_deflate` is called.
        self.zout = None
        self.zin = None
        self.wire_in = 0  # bytes received from the socket, as sent

    @classmethod
    def open(cls, port: int, tls: bool = False, timeout: float = TIMEOUT, source: str | None = None) -> "ImapConn":
        """`source`: the local address to connect from (any of 127.0.0.0/8
        on loopback), to be another client address to the server."""
        s = socket.create_connection((HOST, port), timeout=timeout, source_address=(source, 0) if source else None)
        if tls:
            s = client_tls_context().wrap_socket(s, server_hostname="localhost")
        return cls(s, port)

    # -- low level -----------------------------------------------------

    @property
    def is_tls(self) -> bool:
        return isinstance(self.sock, ssl.SSLSocket)

    def next_tag(self) -> str:
        self._tagn += 1
        return f"t{self._tagn}"

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        if self.zout is not None:
            data = self.deflate(data)
        self.sock.sendall(data)

    def deflate(self, data: bytes) -> bytes:
        """Compresses with a sync flush, so the server can act on it now."""
        return self.zout.compress(data) + self.zout.flush(zlib.Z_SYNC_FLUSH)

    def send_raw(self, data: bytes) -> None:
        """Sends bytes as they are, compressed or not."""
        self.sock.sendall(data)

    def start_deflate(self, level: int = 6) -> None:
        """Turns on raw DEFLATE both ways (after a tagged OK to COMPRESS).
        Whatever is buffered after that OK was already compressed."""
        self.zout = zlib.compressobj(level, zlib.DEFLATED, -15)
        self.zin = zlib.decompressobj(-15)
        rest = bytes(self.buf)
        self.buf.clear()
        self.buf += self.zin.decompress(rest)

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no data from server in time; buffered={bytes(self.buf[:200])!r}")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout as e:
            raise TimeoutError(f"no data from server in time; buffered={bytes(self.buf[:200])!r}") from e
        except (ConnectionResetError, ssl.SSLEOFError, BrokenPipeError) as e:
            raise Closed(str(e)) from e
        finally:
            self.sock.settimeout(TIMEOUT)
        if not chunk:
            raise Closed("connection closed by server")
        self.wire_in += len(chunk)
        if self.zin is not None:
            chunk = self.zin.decompress(chunk)
        self.buf += chunk

    def readline(self, timeout: float = TIMEOUT) -> bytes:
        """One response line, CRLF included. Literals are not interpreted."""
        deadline = time.monotonic() + timeout
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[: i + 2])
                del self.buf[: i + 2]
                return line
            if len(self.buf) > 1 << 20:
                raise AssertionError("response line longer than 1 MiB")
            self._fill(deadline)

    def pending(self, wait: float = 0.0) -> bool:
        """Whether the server has sent anything not yet read."""
        if self.buf:
            return True
        if self.is_tls and self.sock.pending():
            return True
        r, _, _ = select.select([self.sock], [], [], wait)
        return bool(r)

    def read_until_tagged(self, tag: str, timeout: float = TIMEOUT) -> Reply:
        deadline = time.monotonic() + timeout
        untagged: list[bytes] = []
        others: list[bytes] = []
        while True:
            line = self.readline(max(0.0, deadline - time.monotonic()))
            if line.startswith(b"* "):
                untagged.append(line)
                continue
            st = parse_status(line)
            if st is not None and st.tag == tag:
                return Reply(untagged, st, others)
            others.append(line)

    def cmd(self, text: bytes | str, tag: str | None = None, timeout: float = TIMEOUT) -> Reply:
        """Sends `tag text CRLF` and reads up to the tagged response."""
        tag = tag or self.next_tag()
        if isinstance(text, str):
            text = text.encode()
        self.send(tag.encode() + b" " + text + b"\r\n")
        return self.read_until_tagged(tag, timeout)

    def expect_closed(self, timeout: float = TIMEOUT) -> list[bytes]:
        """Reads until the server closes; returns the lines it sent first."""
        deadline = time.monotonic() + timeout
        lines: list[bytes] = []
        while True:
            try:
                lines.append(self.readline(max(0.0, deadline - time.monotonic())))
            except Closed:
                if self.buf:
                    lines.append(bytes(self.buf))
                    self.buf.clear()
                return lines

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "ImapConn":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- conveniences --------------------------------------------------

    def greeting(self) -> Status:
        line = self.readline()
        st = status(line)
        assert st.tag == "*" and st.kind == "OK", f"greeting: {line!r}"
        return st

    def login(self, user: str, password: str) -> Reply:
        return self.cmd(f'LOGIN "{user}" "{password}"')

    def login_ok(self, user: str, password: str) -> Reply:
        r = self.login(user, password)
        assert r.kind == "OK", r
        return r

    def noop_ok(self) -> None:
        r = self.cmd("NOOP")
        assert r.kind == "OK", r

    def capability(self) -> set[str]:
        r = self.cmd("CAPABILITY")
        assert r.kind == "OK", r
        caps = [capability_data(l) for l in r.untagged if l.upper().startswith(b"* CAPABILITY ")]
        assert len(caps) == 1, r
        return caps[0]

    def starttls(self) -> Reply:
        """STARTTLS and the handshake; the buffer must be empty at the switch."""
        r = self.cmd("STARTTLS")
        assert r.kind == "OK", r
        assert not r.untagged and not r.others, r
        assert not self.buf, f"plaintext after STARTTLS OK: {bytes(self.buf)!r}"
        self.sock = client_tls_context().wrap_socket(self.sock, server_hostname="localhost")
        self.sock.settimeout(TIMEOUT)
        return r
