"""The admin API (/api/v1) and the panel's security, against the real
binary over loopback: every endpoint, its token checks (none, wrong,
expired, revoked), problem+json errors, CSRF, sessions after sign-out,
throttled sign-in, and the effects on IMAP at once (new user logs in,
changed password and deleted user end sessions, quota on the next APPEND)."""

from __future__ import annotations

import imaplib
import re
import socket
import time

import pytest

from adminhttp import Api, Panel, request
from conftest import Server, free_port, launch
from imapwire import HOST

ADMIN_PW = "admin pw 1"
CONFIG = {
    "auth": {
        "failure_delay_ms": 50,
        "max_failures_per_ip": 1000,
        "max_failures_per_user": 3,
        "window_secs": 3,
    },
}
PROBLEM = "application/problem+json"


def add_admin(srv: Server, name: str = "root", password: str = ADMIN_PW) -> None:
    srv.cli("admin", "add", name, "--password-stdin", input=password, check=True)


def new_token(srv: Server, name: str, *extra: str) -> str:
    out = srv.cli("admin", "token", "create", name, *extra, check=True).stdout
    return out.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = launch(tmp_path_factory.mktemp("admin-api"), CONFIG, users={})
    add_admin(s)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def api(srv) -> Api:
    return Api(srv.admin_port, new_token(srv, "tests"))


def imap_login(srv: Server, user: str, password: str) -> imaplib.IMAP4:
    c = imaplib.IMAP4(HOST, srv.imap_port, timeout=30)
    c.login(user, password)
    return c


def imap_login_fails(srv: Server, user: str, password: str) -> bool:
    c = imaplib.IMAP4(HOST, srv.imap_port, timeout=30)
    try:
        c.login(user, password)
    except imaplib.IMAP4.error:
        return True
    finally:
        try:
            c.logout()
        except Exception:
            pass
    return False


def assert_problem(r, status: int, slug: str) -> dict:
    assert r.status == status, r
    assert r.content_type == PROBLEM, r
    p = r.json()
    assert p["type"] == f"/api/v1/problems/{slug}", p
    assert p["status"] == status and p["title"] and p["detail"], p
    return p


# -- tokens -----------------------------------------------------------------


def test_no_token_bad_token_are_401_problems(srv):
    r = Api(srv.admin_port, None).get("/users")
    p = assert_problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "token" in p["detail"]
    assert_problem(Api(srv.admin_port, "roost_not-a-real-token").get("/users"), 401, "unauthorized")
    r = Api(srv.admin_port, None).call("GET", "/users", headers={"Authorization": "Basic cm9vdDp4"})
    assert_problem(r, 401, "unauthorized")


def test_expired_token_is_refused(srv):
    token = new_token(srv, "short", "--expires", "0.00003")  # about 2.6 s
    a = Api(srv.admin_port, token)
    assert a.get("/status").status == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = a.get("/status")
        if r.status != 200:
            break
        time.sleep(0.5)
    p = assert_problem(r, 401, "unauthorized")
    assert "expired" in p["detail"]


def test_revoked_token_is_refused_at_once(srv):
    token = new_token(srv, "revoke-me")
    a = Api(srv.admin_port, token)
    assert a.get("/users").status == 200
    out = srv.cli("admin", "token", "revoke", "revoke-me", check=True).stdout
    assert "revoked" in out
    p = assert_problem(a.get("/users"), 401, "unauthorized")
    assert "revoked" in p["detail"]
    listed = srv.cli("admin", "token", "list", check=True).stdout
    assert "revoke-me" in listed and token not in listed


def test_a_mail_users_password_never_opens_the_panel_or_api(srv, api):
    assert api.call("POST", "/users", {"name": "mailroot", "password": "mailpw"}).status == 201
    # The same name and password as an administrator would need: refused.
    panel = Panel(srv.admin_port)
    r = panel.sign_in("mailroot", "mailpw")
    assert r.status == 401, r
    assert panel.get("/dashboard").status == 303
    assert_problem(Api(srv.admin_port, "mailpw").get("/status"), 401, "unauthorized")
    api.call("DELETE", "/users/mailroot")


# -- every endpoint ---------------------------------------------------------


def test_openapi_document_is_served(srv):
    r = request(srv.admin_port, "GET", "/api/v1/openapi.json")
    assert r.status == 200 and r.content_type == "application/json"
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    paths = doc["paths"]
    for p in ["/api/v1/users", "/api/v1/users/{name}", "/api/v1/users/{name}/password",
              "/api/v1/users/{name}/quota", "/api/v1/users/{name}/mailboxes",
              "/api/v1/users/{name}/unlock", "/api/v1/locks",
              "/api/v1/status", "/api/v1/audit"]:
        assert p in paths, p
    assert set(paths["/api/v1/users/{name}"]) == {"get", "delete"}
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"].lower() == "bearer"


def test_user_lifecycle_over_the_api_takes_effect_on_imap_at_once(srv, api):
    r = api.call("POST", "/users", {"name": "Dora", "password": "dora pw"})
    assert r.status == 201, r
    assert r.headers["location"] == "/api/v1/users/dora"
    u = r.json()
    assert u["name"] == "dora" and u["messages"] == 0 and u["storage_bytes"] == 0
    assert u["quota"] == {"storage_bytes": None, "messages": None}
    # The next second: she logs in over IMAP.
    c = imap_login(srv, "dora", "dora pw")
    c.select("INBOX")

    assert api.get("/users/DORA").json()["name"] == "dora"
    page = api.get("/users?search=dor").json()
    assert page["total"] == 1 and [x["name"] for x in page["users"]] == ["dora"]
    boxes = {m["name"]: m for m in api.get("/users/dora/mailboxes").json()}
    assert set(boxes) >= {"INBOX", "Sent", "Trash", "Drafts", "Junk", "Archive"}
    assert boxes["Sent"]["special_use"] == ["\\Sent"]
    assert boxes["INBOX"]["messages"] == 0

    # A message shows in the counts.
    msg = b"From: a@example.org\r\nSubject: hi\r\n\r\n" + b"x" * 500 + b"\r\n"
    typ, _ = c.append("INBOX", None, None, msg)
    assert typ == "OK"
    assert api.get("/users/dora").json()["messages"] == 1
    assert api.get("/users/dora/mailboxes").json()[0]["name"] == "Archive"
    inbox = [m for m in api.get("/users/dora/mailboxes").json() if m["name"] == "INBOX"][0]
    assert (inbox["messages"], inbox["size_bytes"]) == (1, len(msg))

    # Quota: the next APPEND over it is refused.
    r = api.call("PUT", "/users/dora/quota", {"storage_bytes": 1024, "messages": None})
    assert r.status == 200, r
    assert r.json()["quota"] == {"storage_bytes": 1024, "messages": None}
    typ, data = c.append("INBOX", None, None, msg)
    assert typ == "NO" and b"OVERQUOTA" in data[0], (typ, data)
    r = api.call("PUT", "/users/dora/quota", {"storage_bytes": None, "messages": None})
    assert r.json()["quota"] == {"storage_bytes": None, "messages": None}
    assert c.append("INBOX", None, None, msg)[0] == "OK"

    # A new password: new logins need it, the open session ends at its next command.
    other = imap_login(srv, "dora", "dora pw")
    r = api.call("PUT", "/users/dora/password", {"password": "dora new"})
    assert r.status == 204, r
    assert imap_login_fails(srv, "dora", "dora pw")
    imap_login(srv, "dora", "dora new").logout()
    with pytest.raises((imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError)):
        other.noop()
        other.noop()

    # Delete: gone from the API, IMAP login refused, open sessions closed.
    live = imap_login(srv, "dora", "dora new")
    r = api.call("DELETE", "/users/dora")
    assert r.status == 200, r
    assert r.json() == {"name": "dora", "mailboxes": 6, "messages": 2}
    assert_problem(api.get("/users/dora"), 404, "not-found")
    assert imap_login_fails(srv, "dora", "dora new")
    with pytest.raises((imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError)):
        live.noop()
        live.noop()

    # Every change is in the audit log, newest first, naming the token.
    entries = api.get("/audit?limit=50").json()
    actions = [e["action"] for e in entries if "dora" in e["detail"]]
    assert actions[:4] == ["user.delete", "user.password", "user.quota", "user.quota"], actions
    assert actions[-1] == "user.create"
    assert entries[0]["who"] == "token tests (admin root)" and entries[0]["from"] == HOST
    assert entries[1]["id"] < entries[0]["id"]
    only = api.get("/audit?action=user.create").json()
    assert only and all(e["action"] == "user.create" for e in only)
    older = api.get(f"/audit?before={entries[0]['id']}&limit=1").json()
    assert [e["id"] for e in older] == [entries[1]["id"]]


def test_status(srv, api):
    api.call("POST", "/users", {"name": "stat", "password": "pw"})
    s = api.get("/status").json()
    assert s["version"] and s["uptime_seconds"] >= 0
    assert s["users"] >= 1 and s["store_bytes"] > 0 and s["index_enabled"] is True
    c = imap_login(srv, "stat", "pw")
    assert api.get("/status").json()["connections"] >= 1
    c.logout()
    api.call("DELETE", "/users/stat")


def test_user_paging(srv, api):
    for i in range(5):
        assert api.call("POST", "/users", {"name": f"page{i}", "password": "pw"}).status == 201
    first = api.get("/users?search=page&limit=2").json()
    assert first["total"] == 5 and [u["name"] for u in first["users"]] == ["page0", "page1"]
    last = api.get("/users?search=page&limit=2&offset=4").json()
    assert [u["name"] for u in last["users"]] == ["page4"] and last["offset"] == 4
    for i in range(5):
        assert api.call("DELETE", f"/users/page{i}").status == 200


# -- errors -----------------------------------------------------------------


def test_errors_are_problem_details(srv, api):
    assert_problem(api.call("POST", "/users", {"name": ".bad", "password": "x"}), 400, "invalid-request")
    p = assert_problem(api.call("POST", "/users", {"name": "ok", "password": ""}), 400, "invalid-request")
    assert p["field"] == "password"
    assert_problem(api.call("POST", "/users", {"name": "ok"}), 400, "invalid-request")
    assert_problem(api.call("POST", "/users", raw=b"{not json", headers={"Content-Type": "application/json"}), 400, "invalid-request")
    assert_problem(api.call("POST", "/users", raw=b"name=x"), 400, "invalid-request")
    assert api.call("POST", "/users", {"name": "twice", "password": "pw"}).status == 201
    p = assert_problem(api.call("POST", "/users", {"name": "TWICE", "password": "pw"}), 409, "already-exists")
    assert p["field"] == "name"
    assert_problem(api.call("PUT", "/users/twice/quota", {"storage_bytes": -1}), 400, "invalid-request")
    assert_problem(api.call("PUT", "/users/twice/quota", {"storage_bytes": "1M"}), 400, "invalid-request")
    assert_problem(api.get("/users/nobody"), 404, "not-found")
    assert_problem(api.call("DELETE", "/users/nobody"), 404, "not-found")
    assert_problem(api.call("PUT", "/users/nobody/password", {"password": "x"}), 404, "not-found")
    assert_problem(api.get("/users/nobody/mailboxes"), 404, "not-found")
    assert_problem(api.get("/nothing-here"), 404, "not-found")
    assert_problem(api.call("PATCH", "/users"), 405, "method-not-allowed")
    assert_problem(api.get("/users?limit=0"), 400, "invalid-request")
    assert_problem(api.get("/users?offset=-3"), 400, "invalid-request")
    # Nothing half-done: the refused requests left twice as it was.
    assert api.get("/users/twice").json()["quota"] == {"storage_bytes": None, "messages": None}
    api.call("DELETE", "/users/twice")


# -- the panel's security ---------------------------------------------------


def test_security_headers(srv):
    r = request(srv.admin_port, "GET", "/login")
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


def test_csrf_missing_or_wrong_is_403_and_changes_nothing(srv, api):
    panel = Panel(srv.admin_port)
    assert panel.sign_in("root", ADMIN_PW).status == 303
    form = panel.get("/users/new")
    token = Panel.csrf(form)
    fields = {"name": "csrfuser", "mode": "set", "password": "pw", "password2": "pw"}
    assert panel.post("/users/new", fields).status == 403
    assert panel.post("/users/new", {**fields, "csrf": "wrong"}).status == 403
    # The right token from another site: refused by Sec-Fetch-Site / Origin.
    assert panel.post("/users/new", {**fields, "csrf": token}, {"Sec-Fetch-Site": "cross-site"}).status == 403
    assert panel.post("/users/new", {**fields, "csrf": token}, {"Origin": "http://evil.example"}).status == 403
    assert_problem(api.get("/users/csrfuser"), 404, "not-found")
    # Sign-in needs its token too.
    fresh = Panel(srv.admin_port)
    assert fresh.post("/login", {"name": "root", "password": ADMIN_PW}).status == 403
    # The right one works.
    r = panel.post("/users/new", {**fields, "csrf": token}, {"Origin": f"http://{HOST}:{srv.admin_port}", "Sec-Fetch-Site": "same-origin"})
    assert r.status == 303, r
    assert api.get("/users/csrfuser").status == 200
    assert panel.post("/users/csrfuser/delete", {"csrf": token, "confirm": "wrong"}).status == 400
    assert api.get("/users/csrfuser").status == 200, "a wrong confirmation deletes nothing"
    assert panel.post("/users/csrfuser/delete", {"csrf": token, "confirm": "csrfuser"}).status == 303
    assert api.get("/users/csrfuser").status == 404


def test_session_cookie_unusable_after_logout(srv):
    panel = Panel(srv.admin_port)
    assert panel.sign_in("root", ADMIN_PW).status == 303
    cookie = dict(panel.cookies)
    dash = panel.get("/dashboard")
    assert dash.status == 200 and "Dashboard" in dash.text
    sets = [c for c in dash.cookies]  # no new cookie on a normal page
    assert not sets
    r = panel.post("/logout", {"csrf": Panel.csrf(dash)})
    assert r.status == 303 and r.headers["location"] == "/login"
    replay = Panel(srv.admin_port)
    replay.cookies = cookie
    r = replay.get("/dashboard")
    assert r.status == 303 and r.headers["location"] == "/login"


def test_session_cookie_flags(srv):
    panel = Panel(srv.admin_port)
    page = panel.get("/login")
    r = panel.post("/login", {"csrf": Panel.csrf(page), "name": "root", "password": ADMIN_PW})
    (session,) = [c for c in r.cookies if c.startswith("roost_session=")]
    assert "HttpOnly" in session and "SameSite=Strict" in session and "Path=/" in session


def test_admin_sign_in_is_throttled_but_never_locked_for_good(srv):
    add_admin(srv, "throttled", "right pw")
    panel = Panel(srv.admin_port)
    for _ in range(3):
        assert panel.sign_in("throttled", "wrong").status == 401
    r = panel.sign_in("throttled", "right pw")
    assert r.status == 429, r
    assert "Too many failed attempts" in r.text
    # The window (3 s here) ends; the right password works again.
    time.sleep(3.5)
    assert panel.sign_in("throttled", "right pw").status == 303
    failed = [e for e in Api(srv.admin_port, new_token(srv, "throttle-audit", "--admin", "root")).get("/audit?action=admin.login").json()
              if e["who"] == "admin throttled"]
    assert {e["action"] for e in failed} >= {"admin.login.failed", "admin.login.throttled", "admin.login"}


# -- listening --------------------------------------------------------------


def test_admin_address_in_use_stops_the_start_naming_it(tmp_path):
    busy = socket.socket()
    busy.bind((HOST, 0))
    busy.listen()
    port = busy.getsockname()[1]
    s = Server(tmp_path)
    s.admin = f"{HOST}:{port}"
    p = s.cli("serve", "--imap", f"{HOST}:{free_port()}", "--imaps", f"{HOST}:{free_port()}", "--admin", f"{HOST}:{port}")
    busy.close()
    assert p.returncode != 0
    assert f"{HOST}:{port}" in p.stderr and "--admin" in p.stderr and "[admin] listen" in p.stderr, p.stderr


def test_admin_off_serves_nothing(tmp_path):
    s = Server(tmp_path)
    s.admin = "off"
    s.start()
    try:
        assert "admin panel off" in s.stderr_text()
    finally:
        s.stop()


def test_zero_config_panel_is_on_loopback_8080(tmp_path):
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", 8080))
    except OSError:
        pytest.skip("port 8080 is taken on this machine")
    finally:
        probe.close()
    s = Server(tmp_path)
    s.admin = None
    s.start()
    try:
        assert "admin panel listening addr=127.0.0.1:8080" in s.stderr_text()
        r = request(8080, "GET", "/")
        assert r.status == 303
        # Not on any other address of the machine.
        other = socket.gethostbyname(socket.gethostname())
        if not other.startswith("127."):
            with pytest.raises(OSError):
                socket.create_connection((other, 8080), timeout=2).close()
    finally:
        s.stop()


# -- the OpenAPI document against the live server -----------------------------


def test_schemathesis_finds_no_server_error_or_schema_violation(tmp_path):
    """Property-based: schemathesis generates requests from the OpenAPI
    document (valid and invalid ones, and sequences of calls) and checks
    every answer: no 5xx, status codes, content types and bodies as the
    document says, invalid requests refused, valid ones accepted."""
    import subprocess
    import sys

    s = launch(tmp_path / "srv", CONFIG, users={})
    try:
        add_admin(s)
        token = new_token(s, "schemathesis")
        p = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run",
             f"http://{HOST}:{s.admin_port}/api/v1/openapi.json",
             "-H", f"Authorization: Bearer {token}",
             "--checks", "all", "--max-examples", "30", "--no-color"],
            capture_output=True, text=True, timeout=240, cwd=tmp_path,
        )
        out = p.stdout + p.stderr
        assert p.returncode == 0, out[-6000:]
        # Some phase must have passed cases, and none may have run zero
        # ("40 passed" is not "0 passed").
        passed = [int(n.replace(",", "")) for n in re.findall(r"(?<![\d,])(\d[\d,]*) passed", out)]
        assert passed and 0 not in passed, out[-2000:]
        assert "panicked" not in s.stderr_text()
    finally:
        s.stop()


def test_https_with_the_servers_certificate(tmp_path):
    import http.client
    import ssl

    s = launch(tmp_path / "srv", {"admin": {"tls": True}}, users={})
    try:
        add_admin(s)
        ctx = ssl.create_default_context(cafile=str(s.data_dir / "tls" / "cert.pem"))
        ctx.check_hostname = False  # the generated certificate names localhost
        c = http.client.HTTPSConnection(HOST, s.admin_port, context=ctx, timeout=30)
        c.request("GET", "/login")
        r = c.getresponse()
        body = r.read().decode()
        assert r.status == 200 and "Sign in" in body
        cookies = [v for k, v in r.getheaders() if k.lower() == "set-cookie"]
        assert cookies and all(x.startswith("__Host-") and "Secure" in x for x in cookies), cookies
        c.close()
        # Plain HTTP is not served there.
        plain = request_or_error(s.admin_port)
        assert plain is None or plain.status >= 400
    finally:
        s.stop()


def request_or_error(port: int):
    try:
        return request(port, "GET", "/login")
    except (OSError, Exception):
        return None


def test_login_locks_are_shown_and_an_admin_unlocks_them(tmp_path):
    # Guards the throttle's view for admins: an address that failed too
    # often for a name is listed with it, on the API, the dashboard and the
    # user's page, and unlocking lets that address in again at once.
    from imapwire import ImapConn

    # A window long enough that nothing expires while the test runs.
    config = {"auth": {**CONFIG["auth"], "window_secs": 600}}
    srv = launch(tmp_path, config, users={})
    add_admin(srv)
    api = Api(srv.admin_port, new_token(srv, "locks"))
    assert api.call("POST", "/users", {"name": "lockme", "password": "right pw"}).status == 201
    guesser = "127.0.0.61"

    def login_from(source: str, password: str) -> str:
        c = ImapConn.open(srv.imap_port, source=source)
        try:
            c.greeting()
            r = c.login("lockme", password)
            return r.kind if r.kind == "OK" else r.code
        finally:
            c.close()

    assert api.get("/locks").json() == {"names": [], "addresses": []}
    for _ in range(3):
        assert login_from(guesser, "wrong") == "AUTHENTICATIONFAILED"
    assert login_from(guesser, "right pw") == "UNAVAILABLE", "that address is refused for the name"
    locks = {n["name"]: n for n in api.get("/locks").json()["names"]}
    assert locks["lockme"]["refused_from"] == [guesser], locks
    assert locks["lockme"]["failures"] >= 3 and locks["lockme"]["slowed"] is True
    panel = Panel(srv.admin_port)
    assert panel.sign_in("root", ADMIN_PW).status == 303
    assert guesser in panel.get("/dashboard").text
    page = panel.get("/users/lockme")
    assert 'id="unlock-form"' in page.text and guesser in page.text
    # The panel's unlock needs its CSRF token like every form.
    assert panel.post("/users/lockme/unlock", {}).status == 403
    assert login_from(guesser, "right pw") == "UNAVAILABLE"
    r = panel.post("/users/lockme/unlock", {"csrf": Panel.csrf(page)})
    assert r.status == 303, r
    assert 'id="no-lock"' in panel.get("/users/lockme").text
    assert login_from(guesser, "right pw") == "OK"
    # The API's unlock, and the audit log names both.
    for _ in range(3):
        login_from(guesser, "wrong")
    assert any(n["name"] == "lockme" for n in api.get("/locks").json()["names"])
    assert api.call("POST", "/users/lockme/unlock").status == 204
    assert all(n["name"] != "lockme" for n in api.get("/locks").json()["names"])
    assert login_from(guesser, "right pw") == "OK"
    unlocks = [e for e in api.get("/audit?action=user.unlock").json() if e["detail"] == "lockme"]
    assert len(unlocks) == 2, unlocks
    assert_problem(api.call("POST", "/users/bad%20name/unlock"), 400, "invalid-request")
    srv.stop()
