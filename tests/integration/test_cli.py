"""The command line: --version, user management (also while serving) and
config file validation."""

import re
import subprocess

import pytest

from conftest import HOST, Server, free_port, roost_bin, write_config


def run(*args, input="", timeout=60):
    return subprocess.run([roost_bin(), *args], input=input, capture_output=True, text=True, timeout=timeout)


def listed_users(srv: Server) -> set[str]:
    p = srv.cli("user", "list", check=True)
    # One user per line; the name is the first word (anything after is detail).
    return {line.split()[0] for line in p.stdout.splitlines() if line.strip()}


def test_version():
    p = run("--version")
    assert p.returncode == 0, p.stderr
    assert re.search(r"\b\d+\.\d+\.\d+\b", p.stdout), p.stdout


def test_help():
    p = run("--help")
    assert p.returncode == 0, p.stderr
    assert "serve" in p.stdout and "user" in p.stdout


def test_unknown_subcommand_fails():
    p = run("no-such-command")
    assert p.returncode != 0


def test_user_add_list_del(tmp_path):
    srv = Server(tmp_path)
    srv.add_user("alice", "alicepw")
    srv.add_user("bob", "bobpw")
    assert listed_users(srv) == {"alice", "bob"}
    srv.cli("user", "del", "bob", check=True)
    assert listed_users(srv) == {"alice"}


def test_user_list_empty(tmp_path):
    srv = Server(tmp_path)
    srv.add_user("alice", "alicepw")
    srv.cli("user", "del", "alice", check=True)
    assert listed_users(srv) == set()


def test_user_add_existing_fails(tmp_path):
    srv = Server(tmp_path)
    srv.add_user("alice", "alicepw")
    p = srv.cli("user", "add", "alice", "--password-stdin", input="other")
    assert p.returncode != 0
    assert listed_users(srv) == {"alice"}


def test_user_add_password_line_from_stdin(tmp_path):
    """`echo pw | roost user add` works: a trailing newline is not part of it."""
    srv = Server(tmp_path)
    srv.cli("user", "add", "erin", "--password-stdin", input="erinpw\n", check=True)
    srv.start()
    try:
        with srv.connect() as c:
            c.login_ok("erin", "erinpw")
    finally:
        assert srv.terminate() == 0


def test_user_passwd_while_serving(make_server):
    srv = make_server(None)
    with srv.login("alice", "alicepw") as before:
        srv.cli("user", "passwd", "alice", "--password-stdin", input="newalicepw", check=True)
        with srv.connect() as c:
            r = c.login("alice", "alicepw")
            assert (r.kind, r.code) == ("NO", "AUTHENTICATIONFAILED"), r
            c.login_ok("alice", "newalicepw")
        # The session that logged in with the old password ends at its next
        # command.
        before.send(f"{before.next_tag()} NOOP\r\n")
        lines = before.expect_closed()
        assert any(l.startswith(b"* BYE") and b"password was changed" in l for l in lines), lines
    # Other users are untouched.
    with srv.login("bob", "bobpw") as c:
        c.noop_ok()


def test_user_del_while_serving(make_server):
    srv = make_server(None)
    open_session = srv.login("bob", "bobpw")
    srv.cli("user", "del", "bob", check=True)
    # The deleted user's open session gets BYE at its next command.
    open_session.send(f"{open_session.next_tag()} NOOP\r\n")
    lines = open_session.expect_closed()
    assert any(l.startswith(b"* BYE") and b"deleted" in l for l in lines), lines
    with srv.connect() as c:
        r = c.login("bob", "bobpw")
        assert (r.kind, r.code) == ("NO", "AUTHENTICATIONFAILED"), r


def test_user_add_while_serving(make_server):
    srv = make_server(None)
    srv.add_user("frank", "frankpw")
    assert "frank" in listed_users(srv)
    with srv.login("frank", "frankpw") as c:
        c.noop_ok()


def test_user_passwd_unknown_user_fails(tmp_path):
    srv = Server(tmp_path)
    srv.add_user("alice", "alicepw")
    p = srv.cli("user", "passwd", "nobody", "--password-stdin", input="x")
    assert p.returncode != 0


def test_user_add_empty_password_fails(tmp_path):
    srv = Server(tmp_path)
    p = srv.cli("user", "add", "alice", "--password-stdin", input="")
    assert p.returncode != 0
    srv.add_user("bob", "bobpw")
    assert listed_users(srv) == {"bob"}


def serve_with_config(tmp_path, text: str) -> subprocess.CompletedProcess:
    cfg = write_config(tmp_path / "bad.toml", text)
    args = [
        "serve", "--config", str(cfg), "--data-dir", str(tmp_path / "data"),
        "--imap", f"{HOST}:{free_port()}", "--imaps", f"{HOST}:{free_port()}",
    ]
    try:
        return run(*args, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("roost serve kept running with an invalid config file")


@pytest.mark.parametrize(
    "text,key",
    [
        ('[imap]\nplaintext_auth = "never"\nno_such_key = 1\n', "no_such_key"),
        ("[no_such_section]\nx = 1\n", "no_such_section"),
        ("[limits]\nmax_line_bytes = 1024\nmax_lines = 5\n", "max_lines"),
    ],
    ids=["unknown-key", "unknown-section", "misspelt-limit"],
)
def test_config_unknown_key_is_an_error(tmp_path, text, key):
    p = serve_with_config(tmp_path, text)
    assert p.returncode != 0
    assert "bad.toml" in p.stderr, p.stderr
    assert key in p.stderr, p.stderr


@pytest.mark.parametrize(
    "text,key",
    [
        ('[imap]\nplaintext_auth = "sometimes"\n', "plaintext_auth"),
        ('[imap]\ntimeout_unauthenticated_secs = "soon"\n', "timeout_unauthenticated_secs"),
        ("[limits]\nmax_line_bytes = -5\n", "max_line_bytes"),
        ("[auth]\nfailure_delay_ms = 1.5x\n", "failure_delay_ms"),
    ],
    ids=["bad-enum", "wrong-type", "negative", "not-toml"],
)
def test_config_bad_value_is_an_error(tmp_path, text, key):
    p = serve_with_config(tmp_path, text)
    assert p.returncode != 0
    assert "bad.toml" in p.stderr, p.stderr
    assert key in p.stderr, p.stderr


def test_config_missing_file_is_an_error(tmp_path):
    p = run("serve", "--config", str(tmp_path / "missing.toml"), "--data-dir", str(tmp_path / "d"),
            "--imap", f"{HOST}:{free_port()}", "--imaps", f"{HOST}:{free_port()}", timeout=20)
    assert p.returncode != 0
    assert "missing.toml" in p.stderr


def test_valid_config_with_every_documented_key(make_server):
    srv = make_server(
        {
            "imap": {"plaintext_auth": "loopback", "timeout_unauthenticated_secs": 60},
            "limits": {
                "max_line_bytes": 65536, "max_literal_bytes": 65536, "max_append_bytes": 52428800,
                "max_command_bytes": 1048576, "max_nesting_depth": 32, "max_params": 1000,
            },
            "auth": {"failure_delay_ms": 1000, "max_failures_per_ip": 20, "max_failures_per_user": 10, "window_secs": 300},
        }
    )
    with srv.login() as c:
        c.noop_ok()
