"""Prometheus /metrics against the real binary: scraped over HTTP, checked
with Debian's `promtool check metrics`, counters that move as a client logs
in, appends, fails a login, goes over quota and delivers over LMTP; the
token a scraper on another address must send; the listener of its own."""

from __future__ import annotations

import http.client
import imaplib
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import HOST, Server, free_port
from lmtpwire import launch_lmtp

OPENMETRICS = "application/openmetrics-text"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def local_address() -> str | None:
    """An address of this host that is not loopback, so a connection to it
    arrives with a non-loopback peer address (the kernel routes it locally)."""
    for probe in ("203.0.113.1", "198.51.100.1"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.connect((probe, 9))  # UDP: nothing is sent
            except OSError:
                continue
            addr = s.getsockname()[0]
            if not addr.startswith("127.") and addr != "0.0.0.0":
                return addr
    return None


def parse(text: str) -> dict:
    """Samples as {(name, frozenset(labels)): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.groups()
        key = (name, frozenset(LABEL.findall(labels or "")))
        out[key] = float(value)
    return out


def val(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(port: int, host: str = HOST, headers: dict | None = None):
    c = http.client.HTTPConnection(host, port, timeout=30)
    try:
        c.request("GET", "/metrics", headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
    finally:
        c.close()


def samples(srv: Server) -> dict:
    status, headers, body = scrape(srv.admin_port)
    assert status == 200, body
    return parse(body)


def promtool(text: str) -> subprocess.CompletedProcess:
    tool = shutil.which("promtool")
    assert tool, "promtool is not installed (Debian package prometheus; scripts/test.sh installs it)"
    return subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)


def wait_for(srv: Server, cond, what: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        s = samples(srv)
        if cond(s):
            return s
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout}s; last scrape:\n{s}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def msrv(tmp_path_factory):
    remote = local_address()
    mport = free_port()
    listen = f"{remote or HOST}:{mport}"
    srv = launch_lmtp(
        tmp_path_factory.mktemp("metrics"),
        extra=f'\n[metrics]\nlisten = "{listen}"\n',
        users={"alice": "alicepw", "full": "fullpw"},
    )
    srv.cli("user", "quota", "full", "--messages", "0", check=True)
    srv.cli("admin", "add", "root", "--password-stdin", input="root pw 1", check=True)
    srv.remote = remote
    srv.metrics_port = mport
    yield srv
    srv.stop()


def test_scrape_is_prometheus_text_that_promtool_accepts(msrv):
    # Something in every family first: a login, a command, a commit.
    c = imaplib.IMAP4(HOST, msrv.imap_port, timeout=30)
    c.login("alice", "alicepw")
    c.select("INBOX")
    c.logout()
    status, headers, body = scrape(msrv.admin_port)
    assert status == 200, body
    assert headers["content-type"].startswith("text/plain; version=0.0.4"), headers
    assert "# TYPE roost_logins_total counter" in body
    assert "# TYPE roost_imap_command_duration_seconds histogram" in body
    assert "# EOF" not in body and "# UNIT" not in body
    p = promtool(body)
    assert p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(), (p.stdout, p.stderr, body)

    # A scraper that asks for OpenMetrics (Prometheus does) gets it.
    status, headers, om = scrape(msrv.admin_port, headers={"Accept": f"{OPENMETRICS};version=1.0.0,text/plain;q=0.5"})
    assert status == 200
    assert headers["content-type"].startswith(OPENMETRICS), headers
    assert om.endswith("# EOF\n")
    assert "# TYPE roost_logins counter" in om


def no_open_imap(msrv) -> dict:
    """Waits until the connections of earlier tests are gone."""
    return wait_for(
        msrv,
        lambda s: all(val(s, "roost_connections_open", protocol="imap", tls=t) == 0 for t in ("yes", "no")),
        "earlier IMAP connections did not close",
    )


def test_counters_move_with_logins_appends_quota_and_lmtp(msrv):
    before = no_open_imap(msrv)

    ok = imaplib.IMAP4(HOST, msrv.imap_port, timeout=30)
    ok.login("alice", "alicepw")
    message = b"From: a@example.org\r\nSubject: metrics\r\n\r\n" + b"x" * 1000 + b"\r\n"
    typ, _ = ok.append("INBOX", None, None, message)
    assert typ == "OK"
    assert ok.select("INBOX")[0] == "OK"
    during = samples(msrv)

    bad = imaplib.IMAP4(HOST, msrv.imap_port, timeout=30)
    with pytest.raises(imaplib.IMAP4.error):
        bad.login("alice", "wrong")
    bad.logout()

    full = imaplib.IMAP4(HOST, msrv.imap_port, timeout=30)
    full.login("full", "fullpw")
    typ, data = full.append("INBOX", None, None, message)
    assert typ == "NO" and b"OVERQUOTA" in data[0], data
    full.logout()

    delivered = b"From: b@example.org\r\nSubject: lmtp\r\n\r\n" + b"y" * 2000 + b"\r\n"
    with smtplib.LMTP(HOST, msrv.lmtp_port, timeout=20) as l:
        l.ehlo("test")
        assert l.mail("b@example.org")[0] == 250
        assert l.rcpt("alice@example.org")[0] == 250
        assert l.rcpt("full@example.org")[0] == 552  # no room: refused at RCPT
        assert l.rcpt("nobody@example.org")[0] == 550
        assert l.data(delivered)[0] == 250
    ok.logout()

    after = samples(msrv)

    def moved(name, **labels):
        return val(after, name, **labels) - val(before, name, **labels)

    assert moved("roost_logins_total", outcome="ok") == 2
    assert moved("roost_logins_total", outcome="failed") == 1
    assert moved("roost_imap_commands_total", command="LOGIN", outcome="ok") == 2
    assert moved("roost_imap_commands_total", command="LOGIN", outcome="no") == 1
    assert moved("roost_imap_commands_total", command="APPEND", outcome="ok") == 1
    assert moved("roost_imap_commands_total", command="APPEND", outcome="no") == 1
    assert moved("roost_imap_command_duration_seconds_count", command="APPEND") == 2
    assert moved("roost_imap_command_duration_seconds_sum", command="APPEND") > 0
    # Timed from the first byte to the reply, so never zero, even for a
    # command answered at once.
    assert moved("roost_imap_command_duration_seconds_count", command="SELECT") == 1
    assert moved("roost_imap_command_duration_seconds_sum", command="SELECT") > 0
    assert moved("roost_imap_appends_total") == 1
    assert moved("roost_imap_appended_bytes_total") == len(message)
    assert moved("roost_quota_refusals_total", protocol="imap") == 1
    # full@ is refused at RCPT (its quota has no room), nobody@ is unknown.
    assert moved("roost_quota_refusals_total", protocol="lmtp") == 1
    assert moved("roost_lmtp_deliveries_total", outcome="stored") == 1
    assert moved("roost_lmtp_deliveries_total", outcome="over_quota") == 1
    assert moved("roost_lmtp_deliveries_total", outcome="unknown_user") == 1
    assert moved("roost_lmtp_delivered_bytes_total") == len(delivered)
    assert moved("roost_connections_total", protocol="imap", tls="no") == 3
    assert moved("roost_connections_total", protocol="lmtp", tls="no") == 1
    # The APPEND and the delivery were committed (each at least one batch).
    assert moved("roost_store_commit_duration_seconds_count") >= 2
    assert moved("roost_store_writer_batch_ops_sum") >= 2
    assert val(during, "roost_connections_open", protocol="imap", tls="no") == val(before, "roost_connections_open", protocol="imap", tls="no") + 1

    assert val(after, "roost_store_file_size_bytes") > 0
    assert val(after, "roost_store_free_pages") >= 0
    assert val(after, "process_resident_memory_bytes") > 1 << 20
    assert val(after, "roost_build_info", version=val_version(after)) == 1

    # Both messages become searchable: the lag drains and the index has files.
    s = wait_for(msrv, lambda s: val(s, "roost_search_index_lag_messages") == 0, "the index lag did not drain")
    assert val(s, "roost_search_index_size_bytes") > 0
    # Every connection here has closed.
    wait_for(
        msrv,
        lambda s: val(s, "roost_connections_open", protocol="imap", tls="no") == val(before, "roost_connections_open", protocol="imap", tls="no"),
        "the open IMAP connections did not go back down",
    )


def val_version(s: dict) -> str:
    versions = [dict(labels)["version"] for (name, labels) in s if name == "roost_build_info"]
    assert len(versions) == 1, versions
    return versions[0]


def test_starttls_moves_a_connection_to_tls(msrv):
    before = no_open_imap(msrv)
    c = imaplib.IMAP4(HOST, msrv.imap_port, timeout=30)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c.starttls(ctx)
    c.noop()
    s = samples(msrv)
    c.logout()
    assert val(s, "roost_connections_open", protocol="imap", tls="yes") == val(before, "roost_connections_open", protocol="imap", tls="yes") + 1
    assert val(s, "roost_connections_open", protocol="imap", tls="no") == val(before, "roost_connections_open", protocol="imap", tls="no")
    assert val(s, "roost_imap_commands_total", command="STARTTLS", outcome="ok") == val(before, "roost_imap_commands_total", command="STARTTLS", outcome="ok") + 1


def test_a_proxied_loopback_request_needs_a_token(msrv):
    status, headers, body = scrape(msrv.admin_port, headers={"X-Forwarded-For": "203.0.113.9"})
    assert status == 401, body
    assert headers.get("www-authenticate", "").startswith("Bearer"), headers


def test_a_scraper_on_another_address_needs_an_api_token(msrv):
    if msrv.remote is None:
        pytest.skip("this host has no address but loopback to connect from")
    host, port = msrv.remote, msrv.metrics_port
    status, headers, body = scrape(port, host)
    assert status == 401, body
    assert headers.get("www-authenticate", "").startswith("Bearer"), headers
    status, _, body = scrape(port, host, {"Authorization": "Bearer not-a-token"})
    assert status == 401 and "not valid" in body, body

    token = msrv.cli("admin", "token", "create", "prometheus", check=True).stdout.strip().splitlines()[-1]
    status, headers, body = scrape(port, host, {"Authorization": f"Bearer {token}"})
    assert status == 200, body
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    assert promtool(body).returncode == 0

    msrv.cli("admin", "token", "revoke", "prometheus", check=True)
    status, _, body = scrape(port, host, {"Authorization": f"Bearer {token}"})
    assert status == 401 and "revoked" in body, body


def test_own_listener_serves_with_the_panel_off(tmp_path):
    port = free_port()
    srv = Server(tmp_path, {"metrics": {"listen": f"{HOST}:{port}"}})
    srv.admin = "off"
    srv.start()
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                status, headers, body = scrape(port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert status == 200, body
        assert "roost_connections_open" in body
        assert promtool(body).returncode == 0
    finally:
        srv.stop()


def test_a_bad_metrics_address_stops_the_start(tmp_path):
    srv = Server(tmp_path, {"metrics": {"listen": "localhost"}})
    p = subprocess.run(
        [srv.bin, "serve", "--data-dir", str(srv.data_dir), "--config", str(srv.config_path), "--admin", "off"],
        capture_output=True, text=True, timeout=30, env=srv.env,
    )
    assert p.returncode != 0
    assert "metrics.listen" in p.stderr, p.stderr
