#!/usr/bin/env python3
"""Compare the MIME corpus with a reference IMAP server (Dovecot).

For every X.eml in this directory:

1. APPEND it to a fresh mailbox on the reference server and FETCH
   ENVELOPE, BODY, BODYSTRUCTURE, then BODY.PEEK[section] for every section
   the BODYSTRUCTURE implies (see `sections`).
2. With --write, store the answers in X.dovecot (format below), with the
   server's version in the first line. These files are committed reference
   data: src/mime/tests.rs compares our output against them.
3. Compare the reference answers (fresh, or read back from X.dovecot with
   --offline) with ours: ENVELOPE, BODY and BODYSTRUCTURE from X.golden and,
   with --roost HOST:PORT, everything (sections included) from a running
   Roost. Prints one verdict per message and a diff of what differs.

X.dovecot format, all bytes as the server sent them:

    # <server> <version>; <message file>          (one line)
    == <ITEM> <length>\\n<length bytes>\\n          (repeated)
    == <ITEM> NIL\\n                               (when the answer was NIL)

ITEM is ENVELOPE, BODY, BODYSTRUCTURE (the production as sent, literals
included) or BODY[section] (the decoded literal or quoted string).

Standard library only; loopback use; every socket operation has a timeout.
"""

import argparse
import os
import re
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MAILBOX_PREFIX = "mimecmp-"


class ImapError(Exception):
    pass


class Imap:
    """A minimal synchronous IMAP client: enough for LOGIN/APPEND/FETCH."""

    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.tag = 0
        self.greeting = self.read_response()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ImapError("connection closed")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def _bytes(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self):
        """One response line with its literals inline, CRLFs kept."""
        out = b""
        while True:
            line = self._line()
            out += line
            m = re.search(rb"\{(\d+)\+?\}\r\n$", line)
            if not m:
                return out
            out += self._bytes(int(m.group(1)))

    def command(self, text, literal=None):
        """Sends a command (with at most one trailing synchronizing literal);
        returns (untagged responses, tagged status line)."""
        self.tag += 1
        tag = b"c%d" % self.tag
        head = tag + b" " + text
        if literal is None:
            self.sock.sendall(head + b"\r\n")
        else:
            self.sock.sendall(head + b" {%d}\r\n" % len(literal))
            resp = self.read_response()
            if not resp.startswith(b"+"):
                raise ImapError("no continuation: %r" % resp)
            self.sock.sendall(literal + b"\r\n")
        untagged = []
        while True:
            resp = self.read_response()
            if resp.startswith(tag + b" "):
                status = resp[len(tag) + 1 :]
                return untagged, status
            untagged.append(resp)

    def ok(self, text, literal=None):
        untagged, status = self.command(text, literal)
        if not status.startswith(b"OK"):
            raise ImapError("%s -> %s" % (text.decode(errors="replace"), status.decode(errors="replace").strip()))
        return untagged


# --- parsing IMAP values --------------------------------------------------


def skip_ws(b, i):
    while i < len(b) and b[i] in b" \r\n":
        i += 1
    return i


def parse_string(b, i):
    """A quoted string or literal at b[i]; returns (bytes, end)."""
    if b[i : i + 1] == b'"':
        out = bytearray()
        i += 1
        while b[i : i + 1] != b'"':
            if b[i : i + 1] == b"\\":
                i += 1
            out += b[i : i + 1]
            i += 1
        return bytes(out), i + 1
    m = re.match(rb"\{(\d+)\+?\}\r\n", b[i:])
    if m:
        start = i + m.end()
        n = int(m.group(1))
        return b[start : start + n], start + n
    raise ImapError("no string at %r" % b[i : i + 20])


def parse_value(b, i):
    """Parses one value; returns (python value, end). Strings are bytes,
    NIL is None, numbers are int, lists are lists."""
    i = skip_ws(b, i)
    c = b[i : i + 1]
    if c == b"(":
        out = []
        i += 1
        while True:
            i = skip_ws(b, i)
            if b[i : i + 1] == b")":
                return out, i + 1
            v, i = parse_value(b, i)
            out.append(v)
    if c == b'"' or c == b"{":
        return parse_string(b, i)
    m = re.match(rb"[^ ()\r\n]+", b[i:])
    if not m:
        raise ImapError("bad value at %r" % b[i : i + 20])
    tok = m.group(0)
    end = i + m.end()
    if tok.upper() == b"NIL":
        return None, end
    if tok.isdigit():
        return int(tok), end
    return tok, end


def parse_fetch(resp):
    """`* n FETCH (...)` -> {ITEM: (raw bytes of the value, parsed value)}."""
    m = re.match(rb"\* \d+ FETCH \(", resp)
    if not m:
        return {}
    i = m.end()
    items = {}
    while True:
        i = skip_ws(resp, i)
        if resp[i : i + 1] == b")":
            return items
        # The item name: an atom, with a bracketed section that may hold spaces.
        j = i
        depth = 0
        while j < len(resp):
            ch = resp[j : j + 1]
            if ch == b"[":
                depth += 1
            elif ch == b"]":
                depth -= 1
            elif ch == b" " and depth == 0:
                break
            j += 1
        name = resp[i:j].decode()
        start = skip_ws(resp, j)
        val, end = parse_value(resp, start)
        items[name] = (resp[start:end], val)
        i = end


# --- sections from a BODYSTRUCTURE ----------------------------------------


def children(body):
    """The body parts of a multipart: the leading lists, before the subtype."""
    out = []
    for c in body:
        if not isinstance(c, list):
            break
        out.append(c)
    return out


def is_multipart(body):
    return isinstance(body, list) and body and isinstance(body[0], list)


def is_message_rfc822(body):
    return (
        isinstance(body, list)
        and not is_multipart(body)
        and len(body) > 9
        and isinstance(body[0], bytes)
        and body[0].lower() == b"message"
        and isinstance(body[1], bytes)
        and body[1].lower() == b"rfc822"
    )


def message_sections(body, prefix):
    """Sections under a message whose body is `body` ([] for the top level,
    or the number of a message/rfc822 part)."""
    out = []
    if is_multipart(body):
        for n, child in enumerate(children(body)):
            out += part_sections(child, prefix + [n + 1])
    else:
        out += part_sections(body, prefix + [1])
    return out


def part_sections(body, path):
    """A body part: its content, its MIME header, and what it contains."""
    p = ".".join(map(str, path))
    out = [p, p + ".MIME"]
    if is_multipart(body):
        for n, child in enumerate(children(body)):
            out += part_sections(child, path + [n + 1])
    elif is_message_rfc822(body):
        out += [p + ".HEADER", p + ".TEXT"]
        out += message_sections(body[8], path)
    return out


def sections(bodystructure):
    top = ["", "HEADER", "TEXT", "HEADER.FIELDS (FROM SUBJECT CONTENT-TYPE)"]
    return top + message_sections(bodystructure, [])


# --- one server -----------------------------------------------------------


def fetch_all(imap, name, raw):
    """APPENDs `raw` to a fresh mailbox and returns [(ITEM, bytes or None)]."""
    mbox = (MAILBOX_PREFIX + name).encode()
    imap.command(b"DELETE " + mbox)
    imap.ok(b"CREATE " + mbox)
    imap.ok(b"APPEND " + mbox + b" ()", raw)
    imap.ok(b"SELECT " + mbox)
    items = {}
    for r in imap.ok(b"FETCH 1 (ENVELOPE BODY BODYSTRUCTURE)"):
        items.update(parse_fetch(r))
    out = [(k, items[k][0]) for k in ("ENVELOPE", "BODY", "BODYSTRUCTURE")]
    secs = sections(items["BODYSTRUCTURE"][1])
    for s in secs:
        got = {}
        for r in imap.ok(b"FETCH 1 (BODY.PEEK[" + s.encode() + b"])"):
            got.update(parse_fetch(r))
        # The answer is named BODY[section] (case may differ for names).
        want = ("BODY[%s]" % s).upper()
        val = None
        for k, (_, v) in got.items():
            if k.upper() == want:
                val = v
        out.append(("BODY[%s]" % s, val))
    imap.ok(b"CLOSE")
    imap.command(b"DELETE " + mbox)
    return out


def login(host, port, user, password, timeout):
    imap = Imap(host, port, timeout)
    imap.ok(b"LOGIN " + user.encode() + b" " + password.encode())
    return imap


# --- files ----------------------------------------------------------------


def write_ref(path, header, items):
    with open(path, "wb") as f:
        f.write(header.encode() + b"\n")
        for k, v in items:
            if v is None:
                f.write(b"== %s NIL\n" % k.encode())
            else:
                f.write(b"== %s %d\n" % (k.encode(), len(v)) + v + b"\n")


def read_ref(path):
    with open(path, "rb") as f:
        b = f.read()
    header, _, rest = b.partition(b"\n")
    items = []
    i = 0
    while i < len(rest):
        m = re.compile(rb"== (.+) (NIL|\d+)\n").match(rest, i)
        if not m:
            raise ValueError("%s: bad item at byte %d" % (path, i))
        name = m.group(1).decode()
        if m.group(2) == b"NIL":
            items.append((name, None))
            i = m.end()
        else:
            n = int(m.group(2))
            items.append((name, rest[m.end() : m.end() + n]))
            i = m.end() + n + 1
    return header.decode(), items


def read_golden(path):
    """ENVELOPE/BODY/BODYSTRUCTURE lines of a .golden file (values may
    hold literals, hence CRLF inside a line)."""
    with open(path, "rb") as f:
        b = f.read()
    lines = dict(
        line.split(b" ", 1) for line in re.split(rb"(?<!\r)\n", b) if b" " in line
    )
    return [(k, lines.get(k.encode())) for k in ("ENVELOPE", "BODY", "BODYSTRUCTURE")]


def server_version():
    try:
        v = subprocess.run(["dovecot", "--version"], capture_output=True, timeout=10, text=True).stdout.strip()
        return "Dovecot " + v if v else "Dovecot (version unknown)"
    except (OSError, subprocess.SubprocessError):
        return "Dovecot (version unknown)"


def show(v):
    if v is None:
        return "NIL"
    s = v.decode("utf-8", errors="backslashreplace")
    return s.replace("\r\n", "\\r\\n\n      ").replace("\n", "\\n\n      ") if "\n" in s else s


def same_value(a, b):
    """True when two productions differ only in how strings are written
    (quoted or literal, RFC 3501 section 4.3): the same value for a client."""
    try:
        return parse_value(a, 0)[0] == parse_value(b, 0)[0]
    except (ImapError, IndexError):
        return False


def compare(ref, ours):
    """(differences, string-form-only differences) between two
    [(ITEM, value)] lists; items missing on our side are not compared."""
    ours = dict(ours)
    diffs, forms = [], []
    for k, v in ref:
        if k not in ours or ours[k] == v:
            continue
        line = "  %s\n    dovecot: %s\n    roost:   %s" % (k, show(v), show(ours[k]))
        if not k.startswith("BODY[") and v is not None and ours[k] is not None and same_value(v, ours[k]):
            forms.append(line)
        else:
            diffs.append(line)
    return diffs, forms


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=10145)
    ap.add_argument("--user", default="bench1")
    ap.add_argument("--password", default="bench")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per socket operation")
    ap.add_argument("--write", action="store_true", help="write X.dovecot files")
    ap.add_argument("--offline", action="store_true", help="use the X.dovecot files, no server")
    ap.add_argument("--roost", metavar="HOST:PORT", help="also fetch everything from a running Roost")
    ap.add_argument("--roost-user", default="bench1")
    ap.add_argument("--roost-password", default="bench")
    ap.add_argument("names", nargs="*", help="corpus messages (default: all)")
    args = ap.parse_args()

    names = args.names or sorted(f[:-4] for f in os.listdir(HERE) if f.endswith(".eml"))
    ref_imap = None if args.offline else login(args.host, args.port, args.user, args.password, args.timeout)
    roost = None
    if args.roost:
        h, _, p = args.roost.rpartition(":")
        roost = login(h, int(p), args.roost_user, args.roost_password, args.timeout)
    version = server_version()

    identical = 0
    for name in names:
        with open(os.path.join(HERE, name + ".eml"), "rb") as f:
            raw = f.read()
        ref_path = os.path.join(HERE, name + ".dovecot")
        if args.offline:
            _, ref = read_ref(ref_path)
        else:
            ref = fetch_all(ref_imap, name, raw)
            if args.write:
                write_ref(ref_path, "# %s; %s.eml" % (version, name), ref)
        diffs, forms = compare(ref, read_golden(os.path.join(HERE, name + ".golden")))
        if roost is not None:
            d, f = compare(ref, fetch_all(roost, name, raw))
            diffs += [x for x in d if x not in diffs]
            forms += [x for x in f if x not in forms]
        if diffs:
            print("%s: differs" % name)
            print("\n".join(diffs + forms))
        elif forms:
            print("%s: equivalent (string forms differ, values identical)" % name)
            print("\n".join(forms))
        else:
            print("%s: identical" % name)
        if not diffs:
            identical += 1
    print("%d of %d agree" % (identical, len(names)))
    for imap in (ref_imap, roost):
        if imap is not None:
            imap.command(b"LOGOUT")
    return 0


if __name__ == "__main__":
    sys.exit(main())
