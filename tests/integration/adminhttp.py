"""A small HTTP client for the admin panel and API (http.client, no extra
packages): JSON calls with a Bearer token, and a browser-like panel session
that keeps cookies and reads CSRF tokens out of the forms."""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse

from imapwire import HOST


class Resp:
    def __init__(self, r: http.client.HTTPResponse):
        self.status = r.status
        self.headers = {k.lower(): v for k, v in r.getheaders()}
        self.cookies = [v for k, v in r.getheaders() if k.lower() == "set-cookie"]
        self.body = r.read()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0]

    def __repr__(self) -> str:
        return f"<{self.status} {self.content_type} {self.text[:300]!r}>"


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Resp:
    c = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        c.request(method, path, body=body, headers=headers or {})
        return Resp(c.getresponse())
    finally:
        c.close()


class Api:
    """The JSON API with one token (or none)."""

    def __init__(self, port: int, token: str | None):
        self.port = port
        self.token = token

    def call(self, method: str, path: str, body=None, raw: bytes | None = None, headers: dict | None = None) -> Resp:
        h = {"Accept": "application/json"}
        if self.token is not None:
            h["Authorization"] = f"Bearer {self.token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        return request(self.port, method, "/api/v1" + path, data, h)

    def get(self, path: str) -> Resp:
        return self.call("GET", path)


class Panel:
    """A browser-ish panel client: cookies, forms, CSRF tokens."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def _headers(self, extra: dict | None) -> dict:
        h = {"Host": f"{HOST}:{self.port}"}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        h.update(extra or {})
        return h

    def _keep(self, r: Resp) -> Resp:
        for c in r.cookies:
            name, _, rest = c.partition("=")
            value = rest.split(";")[0]
            if "Max-Age=0" in c or value == "":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return r

    def get(self, path: str, headers: dict | None = None) -> Resp:
        return self._keep(request(self.port, "GET", path, None, self._headers(headers)))

    def post(self, path: str, fields: dict, headers: dict | None = None) -> Resp:
        body = urllib.parse.urlencode(fields).encode()
        h = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self._keep(request(self.port, "POST", path, body, self._headers(h)))

    @staticmethod
    def csrf(page: Resp) -> str:
        m = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert m, f"no CSRF token in {page!r}"
        return m.group(1)

    def sign_in(self, name: str, password: str) -> Resp:
        page = self.get("/login")
        return self.post("/login", {"csrf": self.csrf(page), "name": name, "password": password})
