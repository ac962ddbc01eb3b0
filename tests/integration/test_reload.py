"""SIGHUP (`systemctl reload roost`): the configuration and the TLS certificate
are read again and applied to new connections; open sessions go on; a bad
configuration or certificate is refused and the running one stays."""

import hashlib
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import USERS, Server, write_config

RELOAD_TIMEOUT = 10.0


def make_cert(dir: Path, name: str) -> tuple[Path, Path]:
    cert, key = dir / f"{name}.crt", dir / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "30", "-subj", f"/CN={name}.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def config_text(cert: Path, key: Path, plaintext_auth: str = "loopback") -> str:
    return (
        f'[tls]\ncert = "{cert}"\nkey = "{key}"\n'
        f'[imap]\nplaintext_auth = "{plaintext_auth}"\n'
        '[auth]\nfailure_delay_ms = 0\n'
    )


def fingerprint(conn) -> str:
    return hashlib.sha256(conn.sock.getpeercert(binary_form=True)).hexdigest()


def file_fingerprint(cert: Path) -> str:
    der = subprocess.run(["openssl", "x509", "-in", str(cert), "-outform", "DER"], check=True, capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


def hup_and_wait(srv: Server, marker: str) -> str:
    """SIGHUP, then the log text the reload added once it contains marker."""
    before = len(srv.stderr_text())
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + RELOAD_TIMEOUT
    while time.monotonic() < deadline:
        added = srv.stderr_text()[before:]
        if marker in added:
            return added
        time.sleep(0.05)
    raise AssertionError(f"no {marker!r} in the log after SIGHUP:\n{srv.stderr_text()[before:]}")


@pytest.fixture
def reloadable(tmp_path):
    a = make_cert(tmp_path, "first")
    b = make_cert(tmp_path, "second")
    srv = Server(tmp_path / "srv", config_text(*a))
    srv.add_user("alice", USERS["alice"])
    srv.start()
    yield srv, a, b
    srv.stop()


def test_new_certificate_for_new_connections_open_session_goes_on(reloadable):
    srv, a, b = reloadable
    old = srv.login(tls=True)
    old.cmd("SELECT INBOX")
    assert fingerprint(old) == file_fingerprint(a[0])

    write_config(srv.config_path, config_text(*b))
    log = hup_and_wait(srv, "configuration reloaded")
    assert "reload refused" not in log

    new = srv.login(tls=True)
    assert fingerprint(new) == file_fingerprint(b[0])
    # STARTTLS hands out the new one too.
    plain = srv.connect()
    assert plain.starttls().kind == "OK"
    assert fingerprint(plain) == file_fingerprint(b[0])
    # The session opened before the reload is still there and works.
    old.noop_ok()
    r = old.cmd("STATUS INBOX (MESSAGES)")
    assert r.kind == "OK", r
    assert fingerprint(old) == file_fingerprint(a[0])
    for c in (old, new, plain):
        c.close()
    assert srv.running()


def test_broken_config_is_refused_and_the_old_one_stays(reloadable):
    srv, a, b = reloadable
    write_config(srv.config_path, "[limits]\nmax_line_bytes = 12\n")
    log = hup_and_wait(srv, "reload refused")
    assert "max_line_bytes" in log and str(srv.config_path) in log, log
    assert srv.running()
    c = srv.login(tls=True)
    assert fingerprint(c) == file_fingerprint(a[0])
    c.close()

    # A TOML syntax error names the place, too.
    write_config(srv.config_path, "[imap\nlisten = 1\n")
    log = hup_and_wait(srv, "reload refused")
    assert f"{srv.config_path}:1" in log, log
    assert srv.running()


def test_broken_certificate_is_refused_and_the_old_one_stays(reloadable, tmp_path):
    srv, a, b = reloadable
    # b's certificate with a's key: they do not belong together.
    write_config(srv.config_path, config_text(b[0], a[1]))
    log = hup_and_wait(srv, "reload refused")
    assert "TLS certificate" in log, log
    missing = tmp_path / "missing.key"
    write_config(srv.config_path, config_text(b[0], missing))
    log = hup_and_wait(srv, "reload refused")
    assert "missing.key" in log, log
    c = srv.login(tls=True)
    assert fingerprint(c) == file_fingerprint(a[0])
    c.close()


def test_auth_policy_applies_to_new_connections_only(reloadable):
    srv, a, b = reloadable
    before = srv.connect()
    assert "LOGINDISABLED" not in before.capability()

    write_config(srv.config_path, config_text(*a, plaintext_auth="never"))
    hup_and_wait(srv, "configuration reloaded")

    after = srv.connect()
    assert "LOGINDISABLED" in after.capability()
    assert after.login("alice", USERS["alice"]).kind != "OK"
    # The connection accepted before keeps the policy it started with.
    before.login_ok("alice", USERS["alice"])
    # Over TLS logins still work.
    srv.login(tls=True).close()
    for c in (before, after):
        c.close()


def test_restart_only_setting_is_reported(reloadable):
    srv, a, b = reloadable
    write_config(srv.config_path, config_text(*a) + "[search]\nindex = false\n")
    log = hup_and_wait(srv, "configuration reloaded")
    assert "takes a restart" in log and "search.index" in log, log
    srv.login().close()


def test_log_level_changes_live(reloadable):
    srv, a, b = reloadable
    srv.login().close()
    assert "login" in srv.stderr_text()
    write_config(srv.config_path, config_text(*a) + '[log]\nlevel = "warn"\n')
    hup_and_wait(srv, "configuration reloaded")
    before = len(srv.stderr_text())
    srv.login().close()
    time.sleep(0.3)
    quiet = srv.stderr_text()[before:]
    assert " INFO " not in quiet, quiet
    # Back to info: the lines come back.
    write_config(srv.config_path, config_text(*a))
    hup_and_wait(srv, "configuration reloaded")
    before = len(srv.stderr_text())
    srv.login().close()
    deadline = time.monotonic() + 5
    while "login" not in srv.stderr_text()[before:] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "login" in srv.stderr_text()[before:]
