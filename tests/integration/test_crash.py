"""Acknowledged means durable: SIGKILL the server under write load, again and
again on the same data directory, and check after every restart that each
change the server acknowledged is there, and nothing is half there.

Eight clients APPEND (LITERAL+), STORE (+FLAGS/-FLAGS on \\Flagged, \\Seen,
keywords) and EXPUNGE (\\Deleted, then EXPUNGE or UID EXPUNGE), each in a
mailbox of its own; two of them also share a mailbox. Each client is
synchronous, so at the kill it has at most one command whose outcome is
unknown. Every client keeps, per message it sent, the state the server last
acknowledged (or, after a restart, showed), plus what an in-flight command
may or may not have changed. After each restart the mailboxes are read back
over IMAP and compared with that model; whatever was uncertain is then
settled from what the server shows, since a restart shows committed state
only.

ROOST_CRASH_SEED fixes the random choices of the run (message sizes, the
operations, the kill delays); thread scheduling still varies.
"""

from __future__ import annotations

import os
import random
import re
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest

from conftest import HOST

USER, PASSWORD = "crash", "crash-pw"
CLIENTS = 8
ROUNDS = 20
KILL_DELAY = (0.2, 1.5)  # seconds of load before SIGKILL
MSG_SIZE = (2_000, 20_000)  # bytes of body
MAX_LIVE = 120  # a client with more messages than this in a mailbox leans to EXPUNGE
OP_TIMEOUT = 10.0  # any one command of a load client
VERIFY_TIMEOUT = 60.0  # any one command of the checker
READY_TIMEOUT = 30.0  # for every client to log in and select before the load
SHARED = "Crash-shared"
SHARED_CLIENTS = (0, 1)
STORE_FLAGS = ("\\Flagged", "\\Seen", "$Label1", "Work", "Later")
MAX_REPORTED = 25  # problems listed in one failure


def own_mailbox(client: int) -> str:
    return f"Crash-{client}"


def mailboxes_of(client: int) -> list[str]:
    return [own_mailbox(client)] + ([SHARED] if client in SHARED_CLIENTS else [])


ALL_MAILBOXES = [own_mailbox(c) for c in range(CLIENTS)] + [SHARED]


# -- wire ---------------------------------------------------------------------

_LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}$")


class Wire:
    """A raw IMAP connection that reads whole responses, literals included.

    Each literal in a response is replaced in its text by a marker
    b"\\0N\\0" and returned separately, so responses can be matched with
    regular expressions whatever the literals hold. Every read is bounded
    by the deadline of the command it belongs to.
    """

    def __init__(self, port: int, timeout: float):
        self.timeout = timeout
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buf = bytearray()
        self.deadline = time.monotonic() + timeout
        self.tags = 0
        greeting, _ = self.response()
        if not greeting.startswith(b"* OK"):
            raise ProtocolError(f"greeting: {greeting!r}")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def _more(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete response in {self.timeout}s; buffered {bytes(self.buf[:200])!r}")
        self.sock.settimeout(left)
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[: i + 2]
                return line
            self._more()

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._more()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def response(self) -> tuple[bytes, list[bytes]]:
        text = bytearray()
        literals: list[bytes] = []
        while True:
            line = self._line()
            m = _LITERAL_AT_END.search(line)
            if not m:
                text += line
                return bytes(text), literals
            text += line[: m.start()] + b"\0%d\0" % len(literals)
            literals.append(self._exact(int(m.group(1))))

    def send(self, data: bytes) -> None:
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def start(self, command: bytes, literal: bytes | None = None) -> bytes:
        """Sends a command (with a LITERAL+ literal after it); returns its tag."""
        self.tags += 1
        tag = b"c%d" % self.tags
        data = tag + b" " + command
        if literal is not None:
            data += b" {%d+}\r\n" % len(literal) + literal
        self.send(data + b"\r\n")
        return tag

    def finish(self, tag: bytes, timeout: float | None = None) -> tuple[bytes, list[tuple[bytes, list[bytes]]]]:
        """Reads up to the tagged response: (tagged line, untagged responses)."""
        self.deadline = time.monotonic() + (timeout or self.timeout)
        untagged = []
        while True:
            text, literals = self.response()
            if text.startswith(tag + b" "):
                return text, untagged
            if text.startswith(b"* "):
                untagged.append((text, literals))
            elif text.startswith(b"+"):
                raise ProtocolError(f"continuation request although LITERAL+ was used: {text!r}")
            else:
                raise ProtocolError(f"unexpected response line {text!r} while waiting for {tag!r}")

    def command(self, command: bytes, literal: bytes | None = None, timeout: float | None = None):
        return self.finish(self.start(command, literal), timeout)

    def ok(self, command: bytes, literal: bytes | None = None, timeout: float | None = None):
        tagged, untagged = self.command(command, literal, timeout)
        if tagged.split(b" ", 2)[1:2] != [b"OK"]:
            raise ProtocolError(f"{command[:120]!r} answered {tagged!r}")
        return tagged, untagged


class ProtocolError(Exception):
    """The server answered something a correct server would not."""


def quote(s: str) -> bytes:
    return b'"' + s.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def flag_list(flags) -> bytes:
    return b"(" + " ".join(sorted(flags)).encode() + b")"


def uid_set(uids) -> bytes:
    return ",".join(str(u) for u in sorted(uids)).encode()


def login(port: int, timeout: float) -> Wire:
    w = Wire(port, timeout)
    w.ok(b"LOGIN " + quote(USER) + b" " + quote(PASSWORD))
    return w


# -- the model ----------------------------------------------------------------


@dataclass
class Msg:
    """What one client knows about one message it sent."""

    tid: str
    client: int
    mailbox: str
    raw: bytes
    # "yes": acknowledged or seen after a restart; "no": acknowledged
    # expunge, or an unacknowledged APPEND that a restart did not show;
    # "maybe": the command that decides it was in flight at the kill.
    exists: str = "maybe"
    uid: int | None = None  # from APPENDUID, or seen after a restart
    uidvalidity: int | None = None  # from APPENDUID
    flags: set = field(default_factory=set)  # last known state
    unsure: set = field(default_factory=set)  # flags an in-flight STORE touched
    bytes_checked: bool = False
    history: list = field(default_factory=list)

    def note(self, rnd: int, what: str) -> None:
        self.history.append(f"r{rnd} {what}")

    def story(self) -> str:
        return "; ".join(self.history[-8:])


_LINES = [
    "".join(random.Random(i).choices("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789.,-", k=72)).encode()
    for i in range(512)
]


def make_message(rng: random.Random, tid: str, client: int) -> bytes:
    head = (
        f"Message-ID: <{tid}@crash.roost.test>\r\n"
        f"X-Test-Id: {tid}\r\n"
        f"From: Crash client {client} <client{client}@crash.roost.test>\r\n"
        f"To: {USER}@crash.roost.test\r\n"
        f"Subject: durability {tid}\r\n"
        "Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        f"Body of {tid}.\r\n"
    ).encode()
    lines = rng.randint(*MSG_SIZE) // 74
    return head + b"".join(rng.choice(_LINES) + b"\r\n" for _ in range(lines))


class Model:
    """What one client knows, kept across rounds."""

    def __init__(self, n: int, seed: int):
        self.n = n
        self.rng = random.Random(seed)
        self.msgs: dict[str, Msg] = {}
        self.counter = 0
        self.log: list[str] = []  # what the client did, for failure reports


class Client(threading.Thread):
    """One synchronous load client for one round."""

    def __init__(self, model: Model, rnd: int, port: int, ready: threading.Barrier, go: threading.Event):
        super().__init__(name=f"crash-client-{model.n}-r{rnd}", daemon=True)
        self.model, self.n, self.rng, self.msgs = model, model.n, model.rng, model.msgs
        self.rnd, self.port, self.ready, self.go = rnd, port, ready, go
        self.ops = 0  # acknowledged this round
        self.ended = "still running"
        self.problems: list[str] = []  # misbehaviour seen while loading

    def say(self, what: str) -> None:
        self.model.log.append(f"r{self.rnd} {what}")

    def live(self, mailbox: str) -> list[Msg]:
        return [m for m in self.msgs.values() if m.mailbox == mailbox and m.exists == "yes"]

    def run(self) -> None:
        w = None
        try:
            w = login(self.port, OP_TIMEOUT)
            selected = self.rng.choice(mailboxes_of(self.n))
            w.ok(b"SELECT " + quote(selected))
        except Exception as e:  # noqa: BLE001 - reported, not raised in a thread
            self.problems.append(f"client {self.n}: could not log in and select before the load: {e!r}")
            self.ended = "setup failed"
            if w:
                w.close()
            try:
                self.ready.abort()
            except threading.BrokenBarrierError:
                pass
            return
        try:
            self.ready.wait(READY_TIMEOUT)
            self.go.wait(READY_TIMEOUT)
            while True:
                if len(mailboxes_of(self.n)) > 1 and self.rng.random() < 0.15:
                    selected = [m for m in mailboxes_of(self.n) if m != selected][0]
                    w.ok(b"SELECT " + quote(selected))
                self.one_op(w, selected)
                self.ops += 1
        except (ConnectionError, BrokenPipeError) as e:
            self.ended = f"connection lost ({e.__class__.__name__})"
        except ProtocolError as e:
            self.problems.append(f"client {self.n}: {e}")
            self.ended = "protocol error"
        except TimeoutError as e:
            self.problems.append(f"client {self.n}: server did not answer: {e}")
            self.ended = "timeout"
        except threading.BrokenBarrierError:
            self.ended = "another client failed its setup"
        except Exception as e:  # noqa: BLE001
            self.problems.append(f"client {self.n}: unexpected {e!r}")
            self.ended = "error"
        finally:
            w.close()

    def one_op(self, w: Wire, mailbox: str) -> None:
        live = self.live(mailbox)
        r = self.rng.random()
        expunge_bias = 0.35 if len(live) > MAX_LIVE else 0.12
        if not live or r < 0.45:
            self.append(w, mailbox)
        elif r < 1 - expunge_bias:
            self.store(w, live)
        else:
            self.expunge(w, mailbox, live)

    def append(self, w: Wire, mailbox: str) -> None:
        self.model.counter += 1
        tid = f"c{self.n}-r{self.rnd:02d}-{self.model.counter:05d}"
        raw = make_message(self.rng, tid, self.n)
        flags = set(self.rng.sample(STORE_FLAGS, self.rng.choice([0, 0, 1, 2])))
        m = Msg(tid, self.n, mailbox, raw, exists="maybe", flags=set(flags))
        self.msgs[tid] = m
        m.note(self.rnd, f"APPEND {sorted(flags)} {len(raw)} bytes sent")
        tagged, _ = w.command(b"APPEND " + quote(mailbox) + b" " + flag_list(flags), raw)
        mm = re.match(rb"\S+ OK \[APPENDUID (\d+) (\d+)\]", tagged)
        if not mm:
            raise ProtocolError(f"APPEND of {tid} to {mailbox} answered {tagged!r} (want OK [APPENDUID ...])")
        m.exists, m.uid = "yes", int(mm.group(2))
        m.uidvalidity = int(mm.group(1))
        m.note(self.rnd, f"APPEND OK uid {m.uid}")
        self.say(f"APPEND {tid} -> {mailbox} uid {m.uid}")

    def store(self, w: Wire, live: list[Msg]) -> None:
        targets = self.rng.sample(live, min(len(live), self.rng.choice([1, 1, 1, 2, 3])))
        flags = set(self.rng.sample(STORE_FLAGS, self.rng.choice([1, 1, 2])))
        add = self.rng.random() < 0.6
        self._store(w, targets, flags, add, silent=self.rng.random() < 0.5)

    def _store(self, w: Wire, targets: list[Msg], flags: set, add: bool, silent: bool) -> None:
        sign = "+" if add else "-"
        item = f"{sign}FLAGS{'.SILENT' if silent else ''}".encode()
        for m in targets:
            m.unsure |= flags
            m.note(self.rnd, f"UID STORE {m.uid} {sign}FLAGS {sorted(flags)} sent")
        _, untagged = w.ok(b"UID STORE " + uid_set(m.uid for m in targets) + b" " + item + b" " + flag_list(flags))
        reported = {}
        for text, _ in untagged:
            uid, fl = _UID.search(text), _FLAGS.search(text)
            if text.startswith(b"* ") and b" FETCH " in text and uid and fl:
                reported[int(uid.group(1))] = set(fl.group(1).decode().split())
        for m in targets:
            if add:
                m.flags |= flags
            else:
                m.flags -= flags
            m.unsure -= flags
            m.note(self.rnd, f"{sign}FLAGS OK -> {sorted(m.flags)}")
            # Without .SILENT the server reports each message's new flags
            # (RFC 3501 §6.4.6): the acknowledgement must match what was asked.
            if not silent and (m.uid not in reported or (reported[m.uid] & flags) != (flags if add else set())):
                raise ProtocolError(
                    f"UID STORE {m.uid} {sign}FLAGS {sorted(flags)} ({m.tid}) answered OK, "
                    f"but its FETCH shows {sorted(reported[m.uid]) if m.uid in reported else 'nothing'}"
                )
        self.say(f"UID STORE {[m.tid for m in targets]} {sign}FLAGS {sorted(flags)}")

    def expunge(self, w: Wire, mailbox: str, live: list[Msg]) -> None:
        targets = self.rng.sample(live, min(len(live), self.rng.choice([1, 2, 3, 5])))
        self._store(w, targets, {"\\Deleted"}, add=True, silent=True)
        if mailbox != SHARED and self.rng.random() < 0.4:
            # Plain EXPUNGE: only this client writes this mailbox, so it
            # knows every \Deleted message in it.
            gone = [m for m in self.live(mailbox) if "\\Deleted" in m.flags]
            assert not any(m.unsure for m in self.live(mailbox)), "model: uncertain flags while loading"
            command = b"EXPUNGE"
        else:
            gone = targets
            command = b"UID EXPUNGE " + uid_set(m.uid for m in targets)
        for m in gone:
            m.exists = "maybe"
            m.note(self.rnd, f"{command.decode()} sent")
        _, untagged = w.ok(command)
        reported = sum(1 for text, _ in untagged if re.fullmatch(rb"\* \d+ EXPUNGE", text))
        if mailbox != SHARED and reported != len(gone):
            raise ProtocolError(
                f"{command.decode()} in {mailbox} answered {reported} EXPUNGE responses, "
                f"expected {len(gone)} for {[m.tid for m in gone]}"
            )
        for m in gone:
            m.exists = "no"
            m.note(self.rnd, "EXPUNGE OK")
        self.say(f"{command.decode()} -> {[m.tid for m in gone]}")


# -- checking -----------------------------------------------------------------


def changed(m: Msg, f: "Found | None") -> bool:
    """Whether the command in flight at the kill took effect on m."""
    if m.exists == "maybe":
        # An APPEND in flight took effect if the message is there; an
        # EXPUNGE if it is not.
        return (f is not None) == (m.uid is None)
    return f is not None and bool((f.flags ^ m.flags) & m.unsure)

_UID = re.compile(rb"\bUID (\d+)")
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_HEADER = re.compile(rb"BODY\[HEADER\.FIELDS \([^)]*\)\] (?:\0(\d+)\0|NIL|\"\")", re.I)
_BODY = re.compile(rb"BODY\[\] (?:\0(\d+)\0|NIL)", re.I)
_TID = re.compile(rb"^X-Test-Id:[ \t]*(\S+)", re.I | re.M)


@dataclass
class Found:
    uid: int
    flags: set
    size: int
    tid: str | None


class Checker:
    """Reads every mailbox after a restart and compares it with the model."""

    def __init__(self, clients: list[Client]):
        self.clients = clients
        self.uidvalidity: dict[str, int] = {}
        self.uidnext: dict[str, int] = {}
        self.problems: list[str] = []

    def bad(self, text: str) -> None:
        self.problems.append(text)

    def check(self, port: int, rnd: int, sample: random.Random) -> dict:
        self.problems = []
        self.settled = {"took effect": 0, "did not": 0}
        models: dict[str, dict[str, Msg]] = {mb: {} for mb in ALL_MAILBOXES}
        for c in self.clients:
            for m in c.msgs.values():
                models[m.mailbox][m.tid] = m
        stats = {"messages": 0, "bodies": 0}
        w = login(port, VERIFY_TIMEOUT)
        try:
            found_all: dict[str, tuple[str, Found]] = {}
            for mb in ALL_MAILBOXES:
                found, validity, uidnext_before = self.read_mailbox(w, mb, rnd)
                stats["messages"] += len(found)
                for f in found:
                    other = found_all.get(f.tid)
                    if f.tid and other and other[0] != mb:
                        self.bad(f"{f.tid}: in two mailboxes: {mb} uid {f.uid} and {other[0]} uid {other[1].uid}")
                    found_all.setdefault(f.tid, (mb, f))
                stats["bodies"] += self.compare(w, mb, rnd, models[mb], found, validity, uidnext_before, sample)
        finally:
            w.close()
        stats.update(self.settled)
        return stats

    def read_mailbox(self, w: Wire, mb: str, rnd: int) -> tuple[list[Found], int, int]:
        """SELECT, UID FETCH 1:* and STATUS, with the checks that need no
        model. Returns the messages, UIDVALIDITY and the UIDNEXT seen after
        the previous restart."""
        _, untagged = w.ok(b"SELECT " + quote(mb))
        sel = b"\n".join(t for t, _ in untagged)
        exists = int(re.search(rb"^\* (\d+) EXISTS$", sel, re.M).group(1))
        validity = int(re.search(rb"\[UIDVALIDITY (\d+)\]", sel).group(1))
        uidnext = int(re.search(rb"\[UIDNEXT (\d+)\]", sel).group(1))
        if self.uidvalidity.setdefault(mb, validity) != validity:
            self.bad(f"{mb}: UIDVALIDITY changed from {self.uidvalidity[mb]} to {validity}")

        _, untagged = w.ok(
            b"UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (X-Test-Id)])"
            if exists else b"NOOP"
        )
        found: list[Found] = []
        for text, lits in untagged:
            if not re.match(rb"\* \d+ FETCH ", text):
                continue
            uid, flags, size, head = _UID.search(text), _FLAGS.search(text), _SIZE.search(text), _HEADER.search(text)
            if not (uid and flags and size and head):
                self.bad(f"{mb}: FETCH response lacks an item: {text[:300]!r}")
                continue
            tid = None
            if head.group(1) is not None:
                t = _TID.search(lits[int(head.group(1))])
                tid = t.group(1).decode() if t else None
            fl = {f for f in flags.group(1).decode().split() if f != "\\Recent"}
            found.append(Found(int(uid.group(1)), fl, int(size.group(1)), tid))

        _, untagged = w.ok(b"STATUS " + quote(mb) + b" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")
        st = b" ".join(t for t, _ in untagged if t.startswith(b"* STATUS "))
        items = {k.decode(): int(v) for k, v in re.findall(rb"(MESSAGES|UIDNEXT|UIDVALIDITY|UNSEEN) (\d+)", st)}

        uids = [f.uid for f in found]
        if uids != sorted(set(uids)):
            self.bad(f"{mb}: UIDs not strictly ascending: {uids}")
        if len(found) != exists:
            self.bad(f"{mb}: SELECT said {exists} EXISTS, UID FETCH 1:* returned {len(found)} messages")
        if items.get("MESSAGES") != len(found):
            self.bad(f"{mb}: STATUS MESSAGES {items.get('MESSAGES')}, FETCH returned {len(found)} messages")
        unseen = sum(1 for f in found if "\\Seen" not in f.flags)
        if items.get("UNSEEN") != unseen:
            self.bad(f"{mb}: STATUS UNSEEN {items.get('UNSEEN')}, but {unseen} messages lack \\Seen")
        if items.get("UIDVALIDITY") != validity:
            self.bad(f"{mb}: STATUS UIDVALIDITY {items.get('UIDVALIDITY')} but SELECT said {validity}")
        if items.get("UIDNEXT") != uidnext:
            self.bad(f"{mb}: STATUS UIDNEXT {items.get('UIDNEXT')} but SELECT said {uidnext}")
        if uids and uidnext <= uids[-1]:
            self.bad(f"{mb}: UIDNEXT {uidnext} is not above the highest UID {uids[-1]}")
        before = self.uidnext.get(mb, 0)
        if uidnext < before:
            self.bad(f"{mb}: UIDNEXT went back from {before} to {uidnext}")
        self.uidnext[mb] = uidnext
        return found, validity, before

    def compare(
        self, w: Wire, mb: str, rnd: int, model: dict[str, Msg], found: list[Found],
        validity: int, uidnext_before: int, sample: random.Random,
    ) -> int:
        """Checks one mailbox against the model, then settles what was
        uncertain from what the server shows. Returns bodies fetched."""
        by_tid = {}
        for f in found:
            if f.tid is None:
                self.bad(f"{mb} uid {f.uid}: no X-Test-Id header: not a message any client sent (size {f.size})")
            elif f.tid not in model:
                owner = next((m for c in self.clients for m in c.msgs.values() if m.tid == f.tid), None)
                where = f"it was sent to {owner.mailbox}" if owner else "no client sent it"
                self.bad(f"{mb} uid {f.uid}: X-Test-Id {f.tid}: {where}")
            elif f.tid in by_tid:
                self.bad(f"{mb}: {f.tid} appears twice, uids {by_tid[f.tid].uid} and {f.uid}")
            else:
                by_tid[f.tid] = f

        for tid, m in model.items():
            f = by_tid.get(tid)
            who = f"client {m.client}, {mb}, {tid}"
            if m.exists == "yes" and f is None:
                self.bad(f"{who}: acknowledged (uid {m.uid}) but missing after restart [{m.story()}]")
                continue
            if m.exists == "no" and f is not None:
                self.bad(f"{who}: expunged or never stored, yet present as uid {f.uid} [{m.story()}]")
                continue
            if f is None:
                continue
            if m.uidvalidity is not None and m.uidvalidity != validity:
                self.bad(f"{who}: APPENDUID gave UIDVALIDITY {m.uidvalidity}, the mailbox has {validity}")
            if m.uid is not None and f.uid != m.uid:
                self.bad(f"{who}: uid {f.uid}, but the server acknowledged uid {m.uid} [{m.story()}]")
            if m.uid is None and f.uid < uidnext_before:
                self.bad(
                    f"{who}: unacknowledged APPEND surfaced with uid {f.uid}, "
                    f"below the UIDNEXT {uidnext_before} seen after the previous restart [{m.story()}]"
                )
            if f.size != len(m.raw):
                self.bad(f"{who}: RFC822.SIZE {f.size}, sent {len(m.raw)} bytes [{m.story()}]")
            wrong = (f.flags ^ m.flags) - m.unsure
            if wrong:
                self.bad(
                    f"{who}: flags {sorted(f.flags)}, expected {sorted(m.flags)}"
                    + (f" (either way for {sorted(m.unsure)})" if m.unsure else "")
                    + f"; wrong: {sorted(wrong)} [{m.story()}]"
                )

        # Exact bytes: every message the first time it is seen, and a
        # sample of those seen before.
        present = [(model[t], f) for t, f in by_tid.items()]
        todo = [(m, f) for m, f in present if not m.bytes_checked]
        old = [(m, f) for m, f in present if m.bytes_checked]
        todo += sample.sample(old, min(len(old), 5))
        for i in range(0, len(todo), 100):
            chunk = {f.uid: m for m, f in todo[i : i + 100]}
            _, untagged = w.ok(b"UID FETCH " + uid_set(chunk) + b" (UID BODY.PEEK[])")
            got = {}
            for text, lits in untagged:
                uid, body = _UID.search(text), _BODY.search(text)
                if uid and body and body.group(1) is not None:
                    got[int(uid.group(1))] = lits[int(body.group(1))]
            for uid, m in chunk.items():
                data = got.get(uid)
                if data is None:
                    self.bad(f"client {m.client}, {mb}, {m.tid}: UID FETCH {uid} BODY.PEEK[] returned no body")
                elif data != m.raw:
                    at = next((i for i, (a, b) in enumerate(zip(data, m.raw)) if a != b), min(len(data), len(m.raw)))
                    self.bad(
                        f"client {m.client}, {mb}, {m.tid} uid {uid}: stored bytes differ from those sent "
                        f"({len(data)} vs {len(m.raw)} bytes, first difference at offset {at}: "
                        f"{data[at:at + 40]!r} vs {m.raw[at:at + 40]!r}) [{m.story()}]"
                    )
                m.bytes_checked = True

        # Settle: what a restart shows is what was committed.
        for tid, m in model.items():
            f = by_tid.get(tid)
            if m.exists == "maybe" or m.unsure:
                self.settled["took effect" if changed(m, f) else "did not"] += 1
            if f is None:
                if m.exists != "no":
                    m.note(rnd, "absent after restart")
                m.exists = "no"
            else:
                if m.exists != "yes" or m.unsure:
                    m.note(rnd, f"after restart: uid {f.uid} {sorted(f.flags)}")
                m.exists, m.uid, m.flags, m.unsure = "yes", f.uid, set(f.flags), set()
        return len(todo)


# -- the test -----------------------------------------------------------------


def kill(srv) -> None:
    srv.proc.kill()  # SIGKILL
    srv.proc.wait(10)
    srv.terminate()  # already dead: only records the status and closes the log files


def test_acknowledged_changes_survive_sigkill(make_server):
    seed = int(os.environ.get("ROOST_CRASH_SEED") or random.randrange(1 << 32))
    rng = random.Random(seed)
    srv = make_server(None, users={USER: PASSWORD})
    started = time.monotonic()

    w = login(srv.imap_port, VERIFY_TIMEOUT)
    for mb in ALL_MAILBOXES:
        w.ok(b"CREATE " + quote(mb))
    w.close()

    clients = [Model(n, rng.randrange(1 << 32)) for n in range(CLIENTS)]
    checker = Checker(clients)
    checker.check(srv.imap_port, 0, rng)  # UIDVALIDITY and UIDNEXT before any load

    summary = []
    for rnd in range(1, ROUNDS + 1):
        ready = threading.Barrier(CLIENTS + 1)
        go = threading.Event()
        threads = [Client(c, rnd, srv.imap_port, ready, go) for c in clients]
        for t in threads:
            t.start()
        problems = []
        try:
            ready.wait(READY_TIMEOUT)
        except threading.BrokenBarrierError:
            problems.append(f"not every client had logged in and selected within {READY_TIMEOUT}s")
        go.set()
        delay = rng.uniform(*KILL_DELAY)
        time.sleep(delay)
        kill(srv)
        for t in threads:
            t.join(OP_TIMEOUT + 5)
        stuck = [t.n for t in threads if t.is_alive()]
        assert not stuck, f"seed {seed} round {rnd}: clients {stuck} still running {OP_TIMEOUT + 5}s after the kill"
        problems += [p for t in threads for p in t.problems]
        ops = sum(t.ops for t in threads)

        srv.start()  # waits until both ports accept connections again
        stats = checker.check(srv.imap_port, rnd, rng)
        problems += checker.problems
        summary.append(
            f"r{rnd}: kill after {delay:.2f}s, {ops} ops acknowledged; messages an in-flight command touched: {stats['took effect']} took effect, "
            f"{stats['did not']} did not; {stats['messages']} messages, {stats['bodies']} bodies compared"
        )
        if problems:
            shown = "\n  ".join(problems[:MAX_REPORTED])
            more = f"\n  ... and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
            recent = "\n  ".join(f"client {t.n}: {t.ops} ops, then {t.ended}; last: {t.model.log[-3:]}" for t in threads)
            pytest.fail(
                f"seed {seed}, round {rnd} of {ROUNDS} (SIGKILL {delay:.2f}s into the load, {ops} ops acknowledged):\n  "
                f"{shown}{more}\nclients:\n  {recent}\nrounds so far:\n  " + "\n  ".join(summary),
                pytrace=False,
            )

    elapsed = time.monotonic() - started
    total_ops = sum(int(re.search(r"(\d+) ops", s).group(1)) for s in summary)
    assert total_ops >= ROUNDS, f"only {total_ops} operations acknowledged in {ROUNDS} rounds:\n" + "\n".join(summary)
    print(f"seed {seed}: {ROUNDS} SIGKILLs in {elapsed:.1f}s\n" + "\n".join(summary))
