"""The admin panel in a real browser: Debian's headless chromium driven by
selenium through chromium-driver, against the real binary. First-start
setup with the link from the server's log, sign in, add a user who then
logs in over IMAP, change the password, set a quota and see an APPEND over
it refused, delete the user, sign out. A screenshot of each page goes to
the test's tmp directory (screenshots/)."""

from __future__ import annotations

import imaplib
import re
import shutil
import time
from pathlib import Path

import pytest

from conftest import Server
from imapwire import HOST

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="chromium and chromium-driver are not installed (scripts/test.sh installs them)",
)


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1280,900", f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ]:
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


class Shots:
    def __init__(self, driver, root: Path):
        self.driver = driver
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.n = 0

    def take(self, name: str) -> Path:
        self.n += 1
        path = self.root / f"{self.n:02d}-{name}.png"
        assert self.driver.save_screenshot(str(path)), path
        return path


def setup_link(srv: Server) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = re.search(r"(http://\S+/setup\?token=[A-Za-z0-9_-]+)", srv.stderr_text())
        if m:
            return m.group(1)
        time.sleep(0.1)
    raise AssertionError("no setup link in the log:\n" + srv.stderr_text())


def imap_ok(srv: Server, user: str, password: str) -> bool:
    c = imaplib.IMAP4(HOST, srv.imap_port, timeout=30)
    try:
        c.login(user, password)
        c.logout()
        return True
    except imaplib.IMAP4.error:
        return False


def test_the_panel_end_to_end_in_chromium(tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    srv = Server(tmp_path / "srv", {"auth": {"failure_delay_ms": 50}})
    srv.start()
    try:
        shots = Shots(browser, tmp_path / "screenshots")
        base = f"http://{HOST}:{srv.admin_port}"

        def click(button) -> None:
            # Wait for the next page: the clicked element goes stale.
            # Chromedriver sometimes says so as "Node ... does not belong
            # to the document" instead of a stale-element error.
            button.click()

            def gone(_) -> bool:
                try:
                    button.is_enabled()
                    return False
                except StaleElementReferenceException:
                    return True
                except WebDriverException as e:
                    if "does not belong to the document" in str(e):
                        return True
                    raise

            WebDriverWait(browser, 20).until(gone)

        def fill(fields: dict, submit_in: str = "main form") -> None:
            form = None
            for name, value in fields.items():
                el = browser.find_element(By.CSS_SELECTOR, f"{submit_in} [name={name}]")
                el.clear()
                el.send_keys(value)
                form = el.find_element(By.XPATH, "./ancestor::form")
            click(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))

        # Without an administrator the panel sends people to the setup page.
        browser.get(base + "/")
        assert browser.current_url.startswith(base + "/setup")

        # First start: the one-time link from the log.
        browser.get(setup_link(srv))
        assert "Create the first administrator" in browser.page_source
        shots.take("setup")
        fill({"name": "root", "password": "root pw", "password2": "root pw"})
        assert browser.current_url == base + "/dashboard", browser.page_source
        assert browser.find_element(By.ID, "users").text == "0"
        dashboard = shots.take("dashboard")
        # The link is used up.
        browser.get(setup_link(srv))
        assert "Setup is done" in browser.page_source

        # Sign out and in again.
        browser.get(base + "/dashboard")
        click(browser.find_element(By.CSS_SELECTOR, "form.logout button"))
        assert browser.current_url == base + "/login"
        fill({"name": "root", "password": "wrong"})
        assert "Wrong name or password" in browser.find_element(By.ID, "login-error").text
        shots.take("sign-in-failed")
        fill({"name": "root", "password": "root pw"})
        assert browser.current_url == base + "/dashboard"

        # Add a user; mistakes are shown next to the field.
        browser.get(base + "/users/new")
        fill({"name": "erin", "password": "erin pw", "password2": "other"})
        assert "do not match" in browser.find_element(By.ID, "password-error").text
        shots.take("add-user-error")
        fill({"name": "erin", "password": "erin pw", "password2": "erin pw"})
        assert browser.current_url == base + "/users/erin?notice=added"
        assert "User erin" in browser.page_source
        shots.take("user")
        # She logs in over IMAP at once.
        assert imap_ok(srv, "erin", "erin pw")

        # A generated password, shown once.
        browser.get(base + "/users/new")
        browser.find_element(By.CSS_SELECTOR, "input[name=mode][value=generate]").click()
        fill({"name": "frank"})
        generated = browser.find_element(By.ID, "generated-password").text
        shots.take("add-user-generated")
        assert len(generated) == 20 and imap_ok(srv, "frank", generated)
        browser.get(base + "/dashboard")
        assert browser.find_element(By.ID, "users").text == "2"
        shots.take("dashboard-with-users")

        # The users list, with search.
        browser.get(base + "/users?q=er")
        rows = browser.find_elements(By.CSS_SELECTOR, "#users tbody tr")
        assert [r.find_element(By.TAG_NAME, "a").text for r in rows] == ["erin"]
        shots.take("users")

        # Her open IMAP session shows on her page.
        held = imaplib.IMAP4(HOST, srv.imap_port, timeout=30)
        held.login("erin", "erin pw")
        browser.get(base + "/users/erin")
        (row,) = browser.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")
        assert row.text.startswith(f"IMAP {HOST}:"), row.text
        shots.take("user-sessions")

        # Change her password: the old one stops working, and the open
        # session ends at its next command.
        fill({"password": "erin new", "password2": "erin new"}, "#password-form")
        assert "Password changed" in browser.page_source
        assert not imap_ok(srv, "erin", "erin pw")
        assert imap_ok(srv, "erin", "erin new")
        with pytest.raises((imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError)):
            held.noop()
            held.noop()
        browser.get(base + "/users/erin")
        assert browser.find_elements(By.ID, "no-sessions")

        # A quota of 1 KiB: an APPEND over it is refused.
        fill({"storage": "1K", "messages": ""}, "#quota-form")
        assert "Quota set" in browser.page_source
        assert "of 1.0 KiB" in browser.page_source
        shots.take("user-quota")
        c = imaplib.IMAP4(HOST, srv.imap_port, timeout=30)
        c.login("erin", "erin new")
        big = b"From: a@example.org\r\nSubject: big\r\n\r\n" + b"x" * 2048 + b"\r\n"
        typ, data = c.append("INBOX", None, None, big)
        assert typ == "NO" and b"OVERQUOTA" in data[0], (typ, data)
        small = b"From: a@example.org\r\nSubject: small\r\n\r\nhi\r\n"
        assert c.append("INBOX", None, None, small)[0] == "OK"
        c.logout()
        browser.get(base + "/users/erin")
        inbox = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#mailboxes tbody tr") if r.text.startswith("INBOX")]
        assert inbox and inbox[0].split()[1] == "1", inbox

        # Delete with a typed confirmation: a wrong one deletes nothing.
        fill({"confirm": "erim"}, "#delete-form")
        assert "nothing was deleted" in browser.find_element(By.ID, "confirm-error").text
        shots.take("delete-refused")
        assert imap_ok(srv, "erin", "erin new")
        fill({"confirm": "erin"}, "#delete-form")
        assert "Deleted user erin with 6 mailboxes and 1 messages" in browser.page_source
        assert not imap_ok(srv, "erin", "erin new")
        assert "erin" not in srv.cli("user", "list", check=True).stdout.split()

        # The audit log names who did what from where.
        browser.get(base + "/audit")
        text = browser.find_element(By.ID, "audit").text
        for action in ["user.delete", "user.quota", "user.password", "user.create", "admin.login.failed", "admin.create"]:
            assert action in text, action
        assert "admin root" in text and HOST in text
        shots.take("audit")

        # An API token, shown once, then revoked.
        browser.get(base + "/tokens")
        fill({"name": "backup", "days": "30"})
        token = browser.find_element(By.ID, "new-token").text
        assert token.startswith("roost_")
        shots.take("tokens")
        click(browser.find_element(By.CSS_SELECTOR, "#tokens button"))
        assert "Revoked token backup" in browser.page_source

        # Sign out: the panel is closed again.
        click(browser.find_element(By.CSS_SELECTOR, "form.logout button"))
        browser.get(base + "/dashboard")
        assert browser.current_url == base + "/login"
        shots.take("signed-out")
        assert dashboard.stat().st_size > 10_000
        assert len(list(shots.root.glob("*.png"))) == shots.n
    finally:
        srv.stop()
