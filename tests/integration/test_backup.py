"""`roost backup` while the server takes APPENDs, and `roost restore`: the
restored store holds every message acknowledged before the backup began."""

import re
import subprocess
import threading
import time

import pytest

from conftest import USERS, Server, roost_bin


def run(*args, input=""):
    return subprocess.run([roost_bin(), *args], input=input, capture_output=True, text=True, timeout=120)


def message(n: int) -> bytes:
    body = f"message {n}\r\n".encode() + b"x" * 2000 + b"\r\n"
    return f"From: load@example.test\r\nSubject: n{n}\r\nMessage-ID: <n{n}@load.test>\r\n\r\n".encode() + body


class AppendLoad:
    """APPENDs in a loop, remembering when each was acknowledged."""

    def __init__(self, srv: Server):
        self.conn = srv.login("alice")
        self.acked: list[tuple[float, int]] = []  # (time of the OK, n)
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        n = 0
        try:
            while not self.stop.is_set():
                n += 1
                data = message(n)
                tag = self.conn.next_tag()
                self.conn.send(f"{tag} APPEND INBOX {{{len(data)}+}}\r\n".encode() + data + b"\r\n")
                r = self.conn.read_until_tagged(tag)
                assert r.kind == "OK", r
                self.acked.append((time.monotonic(), n))
        except BaseException as e:  # reported by the test
            self.error = e

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)
        self.conn.close()


def subjects(srv: Server) -> set[int]:
    c = srv.login("alice")
    c.cmd("SELECT INBOX")
    r = c.cmd("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    c.close()
    assert r.kind == "OK", r
    # The header literals arrive as lines of their own, among `others`.
    return {int(m) for m in re.findall(rb"Subject: n(\d+)", b"".join(r.untagged + r.others))}


def test_backup_under_append_load_restores_every_acknowledged_message(tmp_path):
    srv = Server(tmp_path / "live")
    srv.add_user("alice", USERS["alice"])
    srv.start()
    dest = tmp_path / "backup"
    with AppendLoad(srv) as load:
        while len(load.acked) < 200 and load.error is None:
            time.sleep(0.01)
        began = time.monotonic()
        p = run("backup", str(dest), "--data-dir", str(srv.data_dir))
        while len(load.acked) < 400 and load.error is None:
            time.sleep(0.01)
    assert load.error is None, load.error
    assert p.returncode == 0, p.stderr
    m = re.search(r"(\d+) bytes, sha256 ([0-9a-f]{64})", p.stdout)
    assert m, p.stdout
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=dest, capture_output=True, text=True)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    assert m.group(2) in (dest / "SHA256SUMS").read_text()
    before = {n for t, n in load.acked if t < began}
    srv.stop()

    target = Server(tmp_path / "restored")
    # Not into a directory that holds a store, unless told to.
    target.add_user("bob", USERS["bob"])
    p = run("restore", str(dest), "--data-dir", str(target.data_dir))
    assert p.returncode != 0 and "already holds a store" in p.stderr, p.stderr
    p = run("restore", str(dest), "--force", "--data-dir", str(target.data_dir))
    assert p.returncode == 0, p.stderr
    assert "1 users" in p.stdout, p.stdout
    target.start()
    try:
        restored = subjects(target)
        missing = before - restored
        assert not missing, f"{len(missing)} acknowledged messages missing, e.g. {sorted(missing)[:5]}"
        # Nothing that was never acknowledged can be there either.
        assert restored <= {n for _, n in load.acked} | {max(n for _, n in load.acked) + 1}
        # bob was replaced along with his store.
        assert target.cli("user", "list", check=True).stdout == "alice\n"
    finally:
        target.stop()


def test_restore_refuses_while_the_server_runs(tmp_path, make_server):
    srv = make_server()
    dest = tmp_path / "b"
    p = run("backup", str(dest), "--data-dir", str(srv.data_dir))
    assert p.returncode == 0, p.stderr
    p = run("restore", str(dest), "--force", "--data-dir", str(srv.data_dir))
    assert p.returncode != 0 and "server is running" in p.stderr, p.stderr
    assert srv.running()


def test_backup_refuses_a_non_empty_directory_and_restore_a_damaged_copy(tmp_path, make_server):
    srv = make_server()
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    p = run("backup", str(full), "--data-dir", str(srv.data_dir))
    assert p.returncode != 0 and "not empty" in p.stderr, p.stderr

    dest = tmp_path / "b"
    assert run("backup", str(dest), "--data-dir", str(srv.data_dir)).returncode == 0
    with open(dest / "store" / "data.mdb", "r+b") as f:
        f.seek(5000)
        f.write(b"\xff" * 16)
    empty = tmp_path / "empty"
    empty.mkdir()
    p = run("restore", str(dest), "--data-dir", str(empty))
    assert p.returncode != 0 and "damaged" in p.stderr, p.stderr
    assert not (empty / "store").exists()
