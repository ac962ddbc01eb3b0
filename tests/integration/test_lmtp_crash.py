"""A 250 to an LMTP recipient means the copy is on disk: clients deliver in a
loop (two recipients a message) while the server is SIGKILLed and started
again on the same data directory; after every restart, each recipient that
got a 250 has its copy exactly once, and no message is stored twice (no
message is ever sent twice, so a second copy could only be the server's
doing).

ROOST_CRASH_SEED fixes the kill delays; thread scheduling still varies.
"""

from __future__ import annotations

import collections
import os
import random
import re
import threading
import time

from lmtpwire import Lmtp, fetch_all, launch_lmtp, restart

USERS = {"alice": "alicepw", "bob": "bobpw"}
CLIENTS = 4
ROUNDS = 6
KILL_DELAY = (0.3, 1.5)


def test_every_250_survives_sigkill(tmp_path):
    seed = int(os.environ.get("ROOST_CRASH_SEED", random.randrange(1 << 30)))
    print(f"ROOST_CRASH_SEED={seed}")
    rnd = random.Random(seed)
    srv = launch_lmtp(tmp_path, "", USERS, unix=False)
    acked: set[tuple[str, str]] = set()  # (message id, user)
    sent: set[str] = set()
    lock = threading.Lock()
    seq = [0]

    def client(n: int, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                c = Lmtp(srv, timeout=10)
                c.reply()
                c.send("LHLO crash\r\n")
                c.reply()
                while not stop.is_set():
                    with lock:
                        seq[0] += 1
                        mid = f"m{seq[0]}c{n}"
                        sent.add(mid)
                    c.send("MAIL FROM:<load@else.org>\r\nRCPT TO:<alice@x.org>\r\nRCPT TO:<bob@x.org>\r\nDATA\r\n")
                    got = c.replies(4)
                    assert [code for code, _ in got] == [250, 250, 250, 354], got
                    pad = "x" * rnd.randrange(100, 8000)
                    c.send(f"X-Id: {mid}\r\nSubject: {mid}\r\n\r\n{pad}\r\n.\r\n")
                    for user, (code, text) in zip(("alice", "bob"), c.replies(2)):
                        if code == 250:
                            with lock:
                                acked.add((mid, user))
            except (OSError, ConnectionError):
                time.sleep(0.05)

    try:
        for rnd_no in range(ROUNDS):
            stop = threading.Event()
            threads = [threading.Thread(target=client, args=(i, stop), daemon=True) for i in range(CLIENTS)]
            for t in threads:
                t.start()
            time.sleep(rnd.uniform(*KILL_DELAY))
            srv.proc.kill()
            srv.proc.wait(10)
            stop.set()
            for t in threads:
                t.join(15)
                assert not t.is_alive()
            srv.stop()
            restart(srv)
            counts: dict[str, collections.Counter] = {}
            for user in USERS:
                counts[user] = collections.Counter(
                    re.search(rb"X-Id: (\S+)", m["raw"]).group(1).decode()
                    for m in fetch_all(srv, user, USERS[user])
                )
            with lock:
                missing = [(mid, u) for mid, u in acked if counts[u][mid] != 1]
                twice = [(mid, u, n) for u in USERS for mid, n in counts[u].items() if n > 1]
                unknown = [mid for u in USERS for mid in counts[u] if mid not in sent]
                print(f"round {rnd_no}: sent {len(sent)}, acked {len(acked)} copies, stored "
                      f"{sum(sum(c.values()) for c in counts.values())}")
            assert not missing, f"acknowledged but not stored once: {missing[:20]}"
            assert not twice, f"stored more than once: {twice[:20]}"
            assert not unknown, unknown[:20]
        assert len(acked) > 20, "the load never got going"
    finally:
        srv.stop()
