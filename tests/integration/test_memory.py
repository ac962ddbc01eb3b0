"""Memory stays bounded whatever clients do at once.

Each password check needs ~19 MiB of argon2 working memory. A burst of
concurrent logins must not multiply that: hashes run on a few threads that
reuse their memory, so the server's peak resident size stays far below
what one-hash-per-login would take (64 × 19 MiB ≈ 1.2 GiB)."""

import threading

from imapwire import ImapConn


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_a_burst_of_logins_does_not_multiply_hashing_memory(make_server):
    srv = make_server()
    errors: list[str] = []

    def login(ok: bool) -> None:
        try:
            with ImapConn.open(srv.imap_port) as c:
                c.greeting()
                r = c.login("alice", "alicepw" if ok else "wrong")
                if r.kind != ("OK" if ok else "NO"):
                    errors.append(repr(r))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=login, args=(True,)) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]
    peak = peak_rss_mib(srv.proc.pid)
    assert peak < 300, f"peak RSS {peak:.0f} MiB after 64 concurrent logins"
