"""Dovecot's imaptest scripts against Roost: each script states the
capabilities it needs; every script whose capabilities Roost advertises
must run and pass all of its commands, and every other one must be skipped
by imaptest itself (no command run), so that advertising a new extension
turns its scripts on here. imaptest is built from
tests/third_party/imaptest by scripts/build-imaptest.sh (the test command
does it); IMAPTEST_DIR says where."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

import imapresp as R
from conftest import HOST, launch

REPO = Path(__file__).resolve().parents[2]
IMAPTEST_DIR = Path(os.environ.get("IMAPTEST_DIR", REPO / "target" / "imaptest"))
SCRIPTS = IMAPTEST_DIR / "tests"
USER, PASSWORD = "imaptest", "imaptest-pw"


def scripts() -> list[str]:
    if not SCRIPTS.is_dir():
        return ["(imaptest missing)"]
    # broken/ holds the scripts imaptest's authors mark as not meaningful.
    return sorted(p.name for p in SCRIPTS.iterdir() if p.is_file() and not p.name.endswith(".mbox"))


def needs(script: Path) -> set[str]:
    """The script's `capabilities:` line, from its header (the lines up
    to the first blank one)."""
    caps: set[str] = set()
    for line in script.read_text(errors="replace").splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        if key.strip().lower() == "capabilities":
            caps |= {c.upper() for c in value.split()}
    return caps


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    # Each script logs in many times (some with several clients at once).
    config = {"limits": {"max_connections_per_user": 200}}
    srv = launch(tmp_path_factory.mktemp("imaptest"), config, users={USER: PASSWORD})
    c = srv.login(USER, PASSWORD)
    r = R.ok(c, "CAPABILITY")
    line = next(u for u in r.untagged if u.upper().startswith(b"* CAPABILITY "))
    caps = {w.upper() for w in line.decode()[len("* CAPABILITY "):].split()}
    c.close()
    yield srv, caps
    srv.stop()


@pytest.mark.parametrize("name", scripts())
def test_imaptest_script(target, name):
    binary = IMAPTEST_DIR / "imaptest"
    assert binary.exists(), f"imaptest is not built: run scripts/build-imaptest.sh {IMAPTEST_DIR}"
    srv, caps = target
    script = SCRIPTS / name
    p = subprocess.run(
        [
            str(binary),
            f"host={HOST}",
            f"port={srv.imap_port}",
            f"user={USER}",
            f"pass={PASSWORD}",
            f"test={script}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=SCRIPTS,
    )
    out = p.stdout + p.stderr
    counts = re.findall(r"(base protocol|extensions): (\d+)/(\d+) individual commands failed", out)
    assert len(counts) == 2, out
    failed = sum(int(f) for _, f, _ in counts)
    ran = sum(int(n) for _, _, n in counts)
    missing = needs(script) - caps
    if missing:
        assert ran == 0, f"{name} needs {sorted(missing)}, not advertised, yet ran:\n{out}"
    else:
        assert p.returncode == 0 and failed == 0 and ran > 0, f"{name} (rc {p.returncode}):\n{out}"
