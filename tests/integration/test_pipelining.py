"""A client that pipelines APPENDs (LITERAL+, no waiting) gets its messages
stored in the order it sent them, each acknowledged once with its own UID,
and a command sent after them sees all of them."""

from imapwire import ImapConn


def test_pipelined_appends_keep_their_order(server):
    with ImapConn.open(server.imap_port) as c:
        c.greeting()
        c.login_ok("bob", "bobpw")
        assert c.cmd("CREATE pipeline").kind == "OK"
        n = 120
        batch = bytearray()
        for i in range(n):
            # Sizes differ a lot so that analysing them takes different time.
            body = f"Subject: order {i:03}\r\n\r\n".encode() + b"x" * (37 * (i % 7) * 997 + 3) + b"\r\n"
            batch += f"p{i} APPEND pipeline {{{len(body)}+}}\r\n".encode() + body + b"\r\n"
        batch += b"s STATUS pipeline (MESSAGES UIDNEXT)\r\n"
        c.send(bytes(batch))
        uids = []
        for i in range(n):
            r = c.read_until_tagged(f"p{i}", timeout=60)
            assert r.kind == "OK", r
            assert r.code.startswith("APPENDUID"), r
            uids.append(int(r.tagged.raw.split(b"]")[0].split()[-1]))
        assert uids == list(range(1, n + 1)), "UIDs follow the order the APPENDs were sent"
        status = c.read_until_tagged("s")
        assert [l.rstrip(b"\r\n") for l in status.untagged] == [
            f"* STATUS pipeline (MESSAGES {n} UIDNEXT {n + 1})".encode()
        ]
        assert c.cmd("SELECT pipeline").kind == "OK"
        r = c.cmd("UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])", timeout=30)
        subjects = [line.rstrip(b"\r\n") for line in r.untagged + r.others if b"Subject: order" in line]
        assert subjects == [f"Subject: order {i:03}".encode() for i in range(n)]
