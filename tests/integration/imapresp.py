"""Reading and parsing IMAP responses that carry literals and nested lists.

`imapwire.ImapConn` hands back raw lines; FETCH answers need more: literals
(`{n}\\r\\n` followed by n bytes) are part of one response, and the data is
a tree of parenthesised lists. `run` sends a command and collects whole
responses; `parse` turns one response into Python values:

- atom            → str (flags, NIL-free keywords, numbers as their text)
- NIL             → None
- quoted / literal → bytes
- ( ... )         → list
- a FETCH item name with a section (`BODY[HEADER.FIELDS (FROM)]<0>`) → one str
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from imapwire import TIMEOUT, ImapConn, Status, parse_status

_LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}\r\n$")


def read_response(c: ImapConn, timeout: float = TIMEOUT) -> bytes:
    """One whole response: a line plus any literals it announces."""
    deadline = time.monotonic() + timeout
    out = bytearray()
    while True:
        line = c.readline(max(0.0, deadline - time.monotonic()))
        out += line
        m = _LITERAL_AT_END.search(line)
        if not m:
            return bytes(out)
        n = int(m.group(1))
        while len(c.buf) < n:
            c._fill(deadline)
        out += c.buf[:n]
        del c.buf[:n]


@dataclass
class Result:
    untagged: list[bytes]  # whole responses, literals included
    tagged: Status
    others: list[bytes]

    @property
    def kind(self) -> str:
        return self.tagged.kind

    @property
    def code(self) -> str | None:
        return self.tagged.code

    def data(self, name: str) -> list[list]:
        """Parsed untagged responses whose first (or, after a number,
        second) token is `name`."""
        out = []
        for u in self.untagged:
            if re.match(rb"\* (OK|NO|BAD|BYE|PREAUTH)\b", u, re.I):
                continue
            toks = parse(u)
            if toks[1:2] == [name] or (len(toks) > 2 and toks[1].isdigit() and toks[2] == name):
                out.append(toks)
        return out

    def fetches(self) -> dict[int, dict]:
        """`* n FETCH (...)` responses by sequence number (merged)."""
        out: dict[int, dict] = {}
        for toks in self.data("FETCH"):
            out.setdefault(int(toks[1]), {}).update(items(toks[3]))
        return out

    def numbers(self, name: str) -> list[int]:
        """The n of every `* n NAME` (EXISTS, RECENT, EXPUNGE), in order."""
        return [int(t[1]) for t in self.data(name) if len(t) == 3]

    def __repr__(self) -> str:
        return f"Result(untagged={self.untagged!r}, tagged={self.tagged.raw!r}, others={self.others!r})"


def read_until_tagged(c: ImapConn, tag: str, timeout: float = TIMEOUT) -> Result:
    deadline = time.monotonic() + timeout
    untagged: list[bytes] = []
    others: list[bytes] = []
    while True:
        resp = read_response(c, max(0.0, deadline - time.monotonic()))
        if resp.startswith(b"* "):
            untagged.append(resp)
            continue
        st = parse_status(resp)
        if st is not None and st.tag == tag:
            return Result(untagged, st, others)
        others.append(resp)


def run(c: ImapConn, text: bytes | str, timeout: float = TIMEOUT) -> Result:
    """Sends `tag text CRLF` (LITERAL+ literals inline) and reads the reply."""
    tag = c.next_tag()
    if isinstance(text, str):
        text = text.encode()
    c.send(tag.encode() + b" " + text + b"\r\n")
    return read_until_tagged(c, tag, timeout)


def ok(c: ImapConn, text: bytes | str, timeout: float = TIMEOUT) -> Result:
    r = run(c, text, timeout)
    assert r.kind == "OK", r
    return r


def literal(data: bytes) -> bytes:
    """A non-synchronising literal (RFC 7888 LITERAL+)."""
    return b"{%d+}\r\n" % len(data) + data


def quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def append_cmd(mailbox: str, msg: bytes, flags: str | None = None, date: str | None = None) -> bytes:
    parts = [b"APPEND", quote(mailbox).encode()]
    if flags is not None:
        parts.append(b"(" + flags.encode() + b")")
    if date is not None:
        parts.append(b'"' + date.encode() + b'"')
    return b" ".join(parts) + b" " + literal(msg)


def append(c: ImapConn, mailbox: str, msg: bytes, flags: str | None = None, date: str | None = None) -> Result:
    return run(c, append_cmd(mailbox, msg, flags, date))


def append_many(c: ImapConn, mailbox: str, msgs: list[bytes], flags: str | None = None, batch: int = 200) -> list[int]:
    """Pipelined APPENDs; returns the APPENDUID UIDs in order."""
    uids: list[int] = []
    for i in range(0, len(msgs), batch):
        tags = []
        wire = bytearray()
        for m in msgs[i : i + batch]:
            tag = c.next_tag()
            tags.append(tag)
            wire += tag.encode() + b" " + append_cmd(mailbox, m, flags) + b"\r\n"
        c.send(bytes(wire))
        for tag in tags:
            r = read_until_tagged(c, tag, timeout=60)
            assert r.kind == "OK" and r.code == "APPENDUID", r
            uids.append(int(r.tagged.code_args.split()[1]))
    return uids


# -- tokenizer ---------------------------------------------------------------

class ParseError(ValueError):
    pass


_ATOM_STOP = b" ()\r\n\"{"


def parse(resp: bytes) -> list:
    """Tokens of one response (without its CRLF), nested lists as lists."""
    pos = 0
    n = len(resp)
    stack: list[list] = [[]]

    def atom_end(i: int) -> int:
        depth = 0
        while i < n:
            ch = resp[i : i + 1]
            if ch == b"[":
                depth += 1
            elif ch == b"]":
                depth -= 1
            elif depth == 0 and ch in (b" ", b"(", b")", b"\r", b"\n"):
                break
            elif depth > 0 and ch in (b"\r", b"\n"):
                raise ParseError(f"unterminated section at {i}: {resp!r}")
            i += 1
        return i

    while pos < n:
        ch = resp[pos : pos + 1]
        if ch in (b" ",):
            pos += 1
        elif ch == b"\r" and resp[pos : pos + 2] == b"\r\n":
            if pos + 2 != n:
                raise ParseError(f"CRLF inside a response at {pos}: {resp!r}")
            pos += 2
        elif ch == b"(":
            stack.append([])
            pos += 1
        elif ch == b")":
            if len(stack) < 2:
                raise ParseError(f"unbalanced ) at {pos}: {resp!r}")
            done = stack.pop()
            stack[-1].append(done)
            pos += 1
        elif ch == b'"':
            pos += 1
            out = bytearray()
            while True:
                if pos >= n:
                    raise ParseError(f"unterminated quoted string: {resp!r}")
                c = resp[pos : pos + 1]
                if c == b"\\":
                    out += resp[pos + 1 : pos + 2]
                    pos += 2
                elif c == b'"':
                    pos += 1
                    break
                elif c in (b"\r", b"\n"):
                    raise ParseError(f"CR/LF in quoted string: {resp!r}")
                else:
                    out += c
                    pos += 1
            stack[-1].append(bytes(out))
        elif ch == b"{":
            end = resp.index(b"}\r\n", pos)
            size = int(resp[pos + 1 : end].rstrip(b"+"))
            start = end + 3
            if start + size > n:
                raise ParseError(f"literal runs past the response: {resp!r}")
            stack[-1].append(bytes(resp[start : start + size]))
            pos = start + size
        else:
            end = atom_end(pos)
            if end == pos:
                raise ParseError(f"unexpected byte at {pos}: {resp!r}")
            word = resp[pos:end].decode("latin-1")
            stack[-1].append(None if word.upper() == "NIL" else word)
            pos = end
    if len(stack) != 1:
        raise ParseError(f"unbalanced ( in {resp!r}")
    return stack[0]


def items(lst: list) -> dict:
    """A FETCH msg-att list as {NAME: value}; names upper-cased."""
    assert len(lst) % 2 == 0, lst
    out = {}
    for i in range(0, len(lst), 2):
        name = lst[i]
        assert isinstance(name, str), lst
        out[name.upper()] = lst[i + 1]
    return out


def flags_of(value: list) -> set[str]:
    return set(value)
