"""Fixtures that run the real `roost` binary on loopback.

The binary comes from $ROOST_BIN (scripts/test.sh passes target/debug/roost).
Each server gets its own temporary data directory, its own free ports and, when
a test needs non-default settings, its own config file. Its stderr goes to a
file that is attached to the report of any test that fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from imapwire import HOST, ImapConn

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
CLI_TIMEOUT = 60.0

USERS = {"alice": "alicepw", "bob": "bobpw", "carol": 'p w"\\{}()%*'}

# The shared server: failed logins are cheap and never throttle, so tests that
# fail logins on purpose do not disturb the others. Tests of the throttle and
# the default delay use their own servers.
SHARED_CONFIG = {
    "auth": {
        "failure_delay_ms": 300,
        "max_failures_per_ip": 100000,
        "max_failures_per_user": 100000,
        "window_secs": 300,
    },
}

# What systemd tells a service; tests set these themselves when they play systemd.
SYSTEMD_ENV = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"}

_live: list["Server"] = []  # running servers
_touched: list["Server"] = []  # servers started or stopped during the current test


def roost_bin() -> str:
    path = os.environ.get("ROOST_BIN") or str(REPO / "target" / "debug" / "roost")
    if not os.access(path, os.X_OK):
        pytest.fail(f"roost binary not found at {path}: build it and set ROOST_BIN", pytrace=False)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(v)


def write_config(path: Path, config: dict | str) -> Path:
    """Writes {section: {key: value}} (or raw TOML text) to path."""
    if isinstance(config, str):
        text = config
    else:
        out = []
        for section, items in config.items():
            out.append(f"[{section}]")
            out += [f"{k} = {toml_value(v)}" for k, v in items.items()]
            out.append("")
        text = "\n".join(out)
    path.write_text(text)
    return path


class Server:
    """One `roost serve` process and the CLI bound to its data dir."""

    def __init__(self, workdir: Path, config: dict | str | None = None, env: dict | None = None):
        self.bin = roost_bin()
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path = write_config(workdir / "roost.toml", config) if config is not None else None
        # A test run under systemd must not have its servers talk to it.
        inherited = {k: v for k, v in os.environ.items() if k not in SYSTEMD_ENV}
        self.env = {**inherited, "RUST_BACKTRACE": "1", **(env or {})}
        self.stderr_path = workdir / "serve.stderr"
        self.stdout_path = workdir / "serve.stdout"
        self.proc: subprocess.Popen | None = None
        self.imap_port = 0
        self.imaps_port = 0
        # The admin panel gets a free port too (its default, 8080, would
        # clash between servers); admin=None keeps the built-in default.
        self.admin = "port"
        self.admin_port = 0
        self.returncode: int | None = None
        # Run in the child before exec (e.g. to start the server as another user).
        self.preexec = None

    # -- CLI -----------------------------------------------------------

    def cli_args(self, *args: str) -> list[str]:
        extra = ["--data-dir", str(self.data_dir)]
        if self.config_path:
            extra += ["--config", str(self.config_path)]
        return [self.bin, *args, *extra]

    def cli(self, *args: str, input: str | None = None, check: bool = False) -> subprocess.CompletedProcess:
        p = subprocess.run(
            self.cli_args(*args),
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            env=self.env,
        )
        if check:
            assert p.returncode == 0, f"roost {' '.join(args)} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
        return p

    def add_user(self, name: str, password: str) -> None:
        # No trailing newline: the password is exactly what is on stdin.
        self.cli("user", "add", name, "--password-stdin", input=password, check=True)

    # -- process -------------------------------------------------------

    def start(self) -> "Server":
        return self.spawn().wait_listening()

    def spawn(self) -> "Server":
        """Starts the process without waiting for it to listen."""
        self.imap_port = free_port()
        self.imaps_port = free_port()
        while self.imaps_port == self.imap_port:
            self.imaps_port = free_port()
        args = [
            self.bin, "serve",
            "--data-dir", str(self.data_dir),
            "--imap", f"{HOST}:{self.imap_port}",
            "--imaps", f"{HOST}:{self.imaps_port}",
        ]
        if self.admin == "port":
            self.admin_port = free_port()
            while self.admin_port in (self.imap_port, self.imaps_port):
                self.admin_port = free_port()
            args += ["--admin", f"{HOST}:{self.admin_port}"]
        elif self.admin is not None:
            args += ["--admin", self.admin]
        if self.config_path:
            args += ["--config", str(self.config_path)]
        self._err = open(self.stderr_path, "ab")
        self._out = open(self.stdout_path, "ab")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err, env=self.env, preexec_fn=self.preexec)
        _live.append(self)
        _touched.append(self)
        return self

    def wait_listening(self) -> "Server":
        deadline = time.monotonic() + START_TIMEOUT
        pending = {self.imap_port, self.imaps_port}
        while pending:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                pytest.fail(
                    f"roost serve exited with {self.proc.returncode} before listening\n"
                    f"--- stderr ---\n{self.stderr_text()}",
                    pytrace=False,
                )
            for port in list(pending):
                try:
                    socket.create_connection((HOST, port), timeout=1).close()
                    pending.discard(port)
                except OSError:
                    pass
            if pending and time.monotonic() > deadline:
                self.stop()
                pytest.fail(
                    f"roost serve did not listen on {sorted(pending)} within {START_TIMEOUT}s\n"
                    f"--- stderr ---\n{self.stderr_text()}",
                    pytrace=False,
                )
            if pending:
                time.sleep(0.05)
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then wait; returns the exit status (None if it had to be killed)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                self.returncode = None
                self._close_files()
                return None
        self.returncode = self.proc.returncode
        self._close_files()
        return self.returncode

    stop = terminate

    def _close_files(self) -> None:
        for f in (getattr(self, "_err", None), getattr(self, "_out", None)):
            if f and not f.closed:
                f.close()
        if self in _live:
            _live.remove(self)
        _touched.append(self)

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- clients -------------------------------------------------------

    def connect(self, tls: bool = False, greet: bool = True) -> ImapConn:
        c = ImapConn.open(self.imaps_port if tls else self.imap_port, tls=tls)
        if greet:
            c.greeting()
        return c

    def login(self, user: str = "alice", password: str | None = None, tls: bool = False) -> ImapConn:
        c = self.connect(tls=tls)
        c.login_ok(user, password if password is not None else USERS[user])
        return c


def launch(workdir: Path, config: dict | str | None = None, users: dict | None = None, env: dict | None = None) -> Server:
    srv = Server(workdir, config, env)
    for name, pw in (USERS if users is None else users).items():
        srv.add_user(name, pw)
    return srv.start()


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    """The shared server: defaults, except cheap, unthrottled failed logins."""
    srv = launch(tmp_path_factory.mktemp("shared"), SHARED_CONFIG)
    yield srv
    srv.stop()


@pytest.fixture
def make_server(tmp_path_factory):
    """Starts a server of the test's own (stopped when the test ends)."""
    started: list[Server] = []

    def make(config: dict | str | None = None, users: dict | None = None, env: dict | None = None) -> Server:
        srv = launch(tmp_path_factory.mktemp("srv"), config, users, env)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


def module_server(name: str, config: dict | str | None, users: dict | None = None, env: dict | None = None):
    """A module-scoped server fixture called `name`, with its own config."""

    @pytest.fixture(scope="module", name=name)
    def fixture(tmp_path_factory):
        srv = launch(tmp_path_factory.mktemp("mod"), config, users, env)
        yield srv
        srv.stop()

    return fixture


def pytest_runtest_setup(item):
    _touched.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        seen = []
        for srv in list(_live) + list(_touched):
            if srv in seen:
                continue
            seen.append(srv)
            text = srv.stderr_text()
            tail = "\n".join(text.splitlines()[-200:])
            rep.sections.append((f"roost stderr ({srv.workdir.name}, ports {srv.imap_port}/{srv.imaps_port})", tail))


def pytest_sessionfinish(session, exitstatus):
    # Never leave a server behind, whatever happened.
    for srv in list(_live):
        srv.stop()


# -- fresh accounts ----------------------------------------------------------

_account_seq = [0]


class Account:
    """A user of its own on a running server, so tests that create
    mailboxes and messages never see each other's."""

    def __init__(self, srv: Server, name: str, password: str):
        self.server = srv
        self.name = name
        self.password = password
        self.conns: list[ImapConn] = []

    def login(self) -> ImapConn:
        c = self.server.login(self.name, self.password)
        self.conns.append(c)
        return c

    def close(self) -> None:
        for c in self.conns:
            c.close()


def new_account(srv: Server, prefix: str = "user") -> Account:
    _account_seq[0] += 1
    name = f"{prefix}{os.getpid()}x{_account_seq[0]}"
    password = f"pw-{name}"
    srv.add_user(name, password)
    return Account(srv, name, password)


@pytest.fixture
def account(server) -> Account:
    """A new user on the shared server; its connections close at the end."""
    acct = new_account(server)
    yield acct
    acct.close()
