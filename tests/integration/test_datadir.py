"""The administration commands and the data directory: a command pointed at a
directory without a store says so and fails, the configuration is found
without --config, and root's commands leave the store to its owner."""

import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import HOST, Server, roost_bin, write_config

NOBODY = 65534


def run(*args, input="", env=None, user=None, timeout=60):
    def demote():
        os.setgroups([])
        os.setgid(user)
        os.setuid(user)

    return subprocess.run(
        [roost_bin(), *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        preexec_fn=demote if user is not None else None,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["user", "list"],
        ["user", "del", "alice"],
        ["user", "passwd", "alice", "--password-stdin"],
        ["user", "quota", "alice"],
        ["index", "rebuild"],
    ],
)
def test_command_on_a_directory_without_store_fails_and_says_so(tmp_path, args):
    p = run(*args, "--data-dir", str(tmp_path), input="pw\n")
    assert p.returncode != 0, p.stdout
    assert f"no store in {tmp_path}" in p.stderr, p.stderr
    assert list(tmp_path.iterdir()) == [], "nothing may be created"


def test_user_add_into_a_missing_directory_fails(tmp_path):
    missing = tmp_path / "nowhere"
    p = run("user", "add", "alice", "--password-stdin", "--data-dir", str(missing), input="pw\n")
    assert p.returncode != 0
    assert "does not exist" in p.stderr, p.stderr
    assert not missing.exists()


def test_error_names_the_configuration_from_roost_config(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    cfg = write_config(tmp_path / "roost.toml", f'data_dir = "{data}"\n')
    p = run("user", "list", env={"ROOST_CONFIG": str(cfg)})
    assert p.returncode != 0
    assert str(data) in p.stderr and str(cfg) in p.stderr, p.stderr
    # With a store there, the same command works from the same variable.
    p = run("user", "add", "alice", "--password-stdin", input="pw\n", env={"ROOST_CONFIG": str(cfg)})
    assert p.returncode == 0, p.stderr
    p = run("user", "list", env={"ROOST_CONFIG": str(cfg)})
    assert (p.returncode, p.stdout) == (0, "alice\n"), p.stderr


def owners(root: Path) -> set[tuple[str, int, int]]:
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            found.add((os.path.relpath(os.path.join(dirpath, name), root), st.st_uid, st.st_gid))
    return found


@pytest.fixture
def nobody_dir():
    """A data directory owned by `nobody`, in a directory it can reach."""
    if os.geteuid() != 0:
        pytest.skip("needs root: checks what root's commands leave behind")
    top = Path(tempfile.mkdtemp(prefix="roost-owner-", dir="/tmp"))
    top.chmod(0o755)
    data = top / "data"
    data.mkdir(mode=0o700)
    os.chown(data, NOBODY, NOBODY)
    yield data
    shutil.rmtree(top)


def test_root_commands_leave_every_file_to_the_data_directory_owner(nobody_dir):
    p = run("user", "add", "alice", "--password-stdin", "--data-dir", str(nobody_dir), input="alicepw\n")
    assert p.returncode == 0, p.stderr
    p = run("index", "rebuild", "--data-dir", str(nobody_dir))
    assert p.returncode == 0, p.stderr
    made = owners(nobody_dir)
    assert any(name == "store/data.mdb" for name, _, _ in made), made
    assert any(name.startswith("index") for name, _, _ in made), made
    wrong = {f for f in made if f[1:] != (NOBODY, NOBODY)}
    assert not wrong, f"not owned by the data directory's owner: {wrong}"

    # The owner (as the service would be) can serve the store root made.
    p = run("user", "list", "--data-dir", str(nobody_dir), user=NOBODY)
    assert (p.returncode, p.stdout) == (0, "alice\n"), p.stderr
    srv = Server(nobody_dir.parent)
    srv.data_dir = nobody_dir
    srv.preexec = lambda: (os.setgroups([]), os.setgid(NOBODY), os.setuid(NOBODY))
    srv.start()
    try:
        c = srv.login("alice", "alicepw")
        c.close()
        # And root's later commands on the running server's store still
        # leave nothing root-owned.
        p = run("user", "add", "bob", "--password-stdin", "--data-dir", str(nobody_dir), input="bobpw\n")
        assert p.returncode == 0, p.stderr
        srv.login("bob", "bobpw").close()
    finally:
        srv.stop()
    wrong = {f for f in owners(nobody_dir) if f[1:] != (NOBODY, NOBODY)}
    assert not wrong, f"not owned by the data directory's owner: {wrong}"


def test_certificate_fingerprint_is_logged(server):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((HOST, server.imaps_port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as tls:
            der = tls.getpeercert(binary_form=True)
    want = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    logged = re.findall(r"sha256=([0-9A-F:]{95})", server.stderr_text())
    assert logged and logged[0] == want, (logged, want)
