"""curl as a real IMAP client (imaps:// and imap:// with STARTTLS), with each
of its ways to log in. LIST is not there yet, so curl runs a custom NOOP."""

import shutil
import subprocess

import pytest

CURL_TIMEOUT = 30


def curl(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("curl")
    if exe is None:
        pytest.fail("curl is not installed (scripts/test.sh installs it)", pytrace=False)
    return subprocess.run(
        [exe, "-s", "-S", "-k", "--max-time", "20", *args],
        capture_output=True, text=True, timeout=CURL_TIMEOUT,
    )


def imaps(server) -> str:
    return f"imaps://127.0.0.1:{server.imaps_port}/"


def imap(server) -> str:
    return f"imap://127.0.0.1:{server.imap_port}/"


# curl picks AUTHENTICATE PLAIN (the one mechanism offered) and waits for the
# continuation; with --sasl-ir it sends the initial response in the command.
LOGIN_WAYS = {
    "authenticate": [],
    "sasl-ir": ["--sasl-ir"],
}


@pytest.mark.parametrize("way", LOGIN_WAYS)
def test_curl_imaps_noop(server, way):
    p = curl("--url", imaps(server), "-u", "alice:alicepw", "-X", "NOOP", *LOGIN_WAYS[way])
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("way", LOGIN_WAYS)
def test_curl_starttls_noop(server, way):
    p = curl("--url", imap(server), "--ssl-reqd", "-u", "alice:alicepw", "-X", "NOOP", *LOGIN_WAYS[way])
    assert p.returncode == 0, p.stderr


def test_curl_custom_command_output(server):
    p = curl("--url", imaps(server), "-u", "alice:alicepw", "-X", 'ID ("name" "curl")')
    assert p.returncode == 0, p.stderr
    assert "Roost" in p.stdout, p.stdout


@pytest.mark.parametrize("scheme", ["imaps", "starttls"])
@pytest.mark.parametrize("way", LOGIN_WAYS)
def test_curl_wrong_password_fails(server, scheme, way):
    url = imaps(server) if scheme == "imaps" else imap(server)
    extra = ["--ssl-reqd"] if scheme == "starttls" else []
    p = curl("--url", url, *extra, "-u", "alice:wrongpw", "-X", "NOOP", *LOGIN_WAYS[way])
    assert p.returncode == 67, (p.returncode, p.stderr)


def test_curl_unknown_user_fails(server):
    p = curl("--url", imaps(server), "-u", "nobody:alicepw", "-X", "NOOP")
    assert p.returncode == 67, (p.returncode, p.stderr)


def test_curl_verbose_trace_shows_tls_then_login(server):
    """With STARTTLS, curl sends no credentials before TLS is up."""
    p = curl("-v", "--url", imap(server), "--ssl-reqd", "-u", "alice:alicepw", "-X", "NOOP")
    assert p.returncode == 0, p.stderr
    sent = [l for l in p.stderr.splitlines() if l.startswith("> ")]
    starttls = next(i for i, l in enumerate(sent) if "STARTTLS" in l.upper())
    auth = next(i for i, l in enumerate(sent) if "AUTHENTICATE" in l.upper())
    assert starttls < auth, sent
