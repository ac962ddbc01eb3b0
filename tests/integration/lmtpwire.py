"""Helpers for LMTP tests: a server with LMTP listeners, a raw LMTP
connection for pipelining and bad input, and IMAP read-back."""

from __future__ import annotations

import imaplib
import os
import socket
import time
from pathlib import Path

from conftest import HOST, SHARED_CONFIG, Server, free_port, launch

LMTP_TIMEOUT = 20.0


def lmtp_toml(sock: Path | None, port: int | None, extra: str = "") -> str:
    listen = []
    if sock is not None:
        listen.append(f'"unix:{sock}"')
    if port is not None:
        listen.append(f'"{HOST}:{port}"')
    auth = "\n".join(f"{k} = {v}" for k, v in SHARED_CONFIG["auth"].items())
    return f"[auth]\n{auth}\n\n[lmtp]\nlisten = [{', '.join(listen)}]\n{extra}\n"


def wait_listening(srv: Server, timeout: float = 20.0) -> None:
    """LMTP binds just after IMAP: wait for every LMTP listener too."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if getattr(srv, "lmtp_port", None):
                socket.create_connection((HOST, srv.lmtp_port), timeout=1).close()
            if getattr(srv, "lmtp_sock", None):
                s = socket.socket(socket.AF_UNIX)
                s.connect(str(srv.lmtp_sock))
                s.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def launch_lmtp(workdir: Path, extra: str = "", users: dict | None = None, unix: bool = True, tcp: bool = True) -> Server:
    sock = workdir / "lmtp.sock" if unix else None
    port = free_port() if tcp else None
    srv = launch(workdir, lmtp_toml(sock, port, extra), users)
    srv.lmtp_sock = sock
    srv.lmtp_port = port
    wait_listening(srv)
    return srv


def restart(srv: Server) -> None:
    """Starts a stopped server again on the same listeners."""
    srv.start()
    wait_listening(srv)


class Lmtp:
    """A raw LMTP connection: bytes out, reply lines in."""

    def __init__(self, srv: Server, unix: bool = False, timeout: float = LMTP_TIMEOUT):
        if unix:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(timeout)
            self.sock.connect(str(srv.lmtp_sock))
        else:
            self.sock = socket.create_connection((HOST, srv.lmtp_port), timeout=timeout)
        self.buf = bytearray()

    def send(self, data: bytes | str) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self) -> bytes:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed; pending {bytes(self.buf)!r}")
            self.buf += chunk
        i = self.buf.index(b"\n") + 1
        out = bytes(self.buf[:i])
        del self.buf[:i]
        return out

    def reply(self) -> tuple[int, list[bytes]]:
        """One reply (all lines of a multi-line one): code and texts."""
        lines = []
        while True:
            line = self.line()
            assert line.endswith(b"\r\n"), line
            lines.append(line[4:-2])
            if line[3:4] == b" ":
                return int(line[:3]), lines
            assert line[3:4] == b"-", line

    def replies(self, n: int) -> list[tuple[int, bytes]]:
        out = []
        for _ in range(n):
            code, lines = self.reply()
            out.append((code, lines[-1]))
        return out

    def cmd(self, line: str) -> tuple[int, bytes]:
        self.send(line + "\r\n")
        code, lines = self.reply()
        return code, lines[-1]

    def closed(self, timeout: float = 5.0) -> bool:
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except OSError:
            return True

    def close(self) -> None:
        self.sock.close()


def stuff(message: bytes) -> bytes:
    """Dot-stuffs a CRLF message and adds the end of data."""
    lines = message.split(b"\r\n")
    if lines and lines[-1] == b"":
        lines = lines[:-1]
    out = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)
    return out + b".\r\n"


def imap(srv: Server, user: str, password: str) -> imaplib.IMAP4:
    c = imaplib.IMAP4(HOST, srv.imap_port, timeout=LMTP_TIMEOUT)
    c.login(user, password)
    return c


def fetch_all(srv: Server, user: str, password: str, mailbox: str = "INBOX") -> list[dict]:
    """Every message of a mailbox: raw bytes, flags, internal date."""
    c = imap(srv, user, password)
    try:
        typ, _ = c.select(f'"{mailbox}"', readonly=True)
        assert typ == "OK", mailbox
        typ, data = c.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
        assert typ == "OK"
        out = []
        for item in data:
            if isinstance(item, tuple):
                head = item[0].decode()
                out.append({"head": head, "raw": item[1]})
        return out
    finally:
        c.logout()


def unique(tag: str) -> str:
    return f"{tag}-{os.getpid()}-{time.monotonic_ns()}"
