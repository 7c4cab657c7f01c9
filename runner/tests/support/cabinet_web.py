"""The cabinet's pages served for a test, and a cookie-keeping HTTP client for them.

:func:`serve_cabinet` is :func:`api_harness.serve` with a ``[cabinet]`` whose SMS outbox is
under the test's folder: every partner of the example configuration has ACCOUNT at HOUSE,
premises "кв. 12А", with two services of 1500.50 each (amount due 3001,00).
:class:`WebClient` speaks to the pages as a browser without JavaScript does: forms sent
urlencoded, cookies kept, redirects shown rather than followed.
"""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
from api_harness import Running, serve
from pes_sdk_outbox import read_outbox
from pes_sdk_runner.config import AdapterSettings, CabinetConfig, RunnerConfig
from pes_sdk_runner.config.models import NotificationsConfig, ReceiptsConfig

from pes_sdk.models.receipts import ReceiptVat

__all__ = ["PHONE", "Page", "WebClient", "last_code", "serve_cabinet"]

PHONE = "+79161234567"


@contextmanager
def serve_cabinet(
    store_url: str,
    tmp_path: Path,
    services: Mapping[int, Sequence[str]] | None = None,
    *,
    receipts: bool = False,
    notifications: NotificationsConfig | None = None,
    **cabinet: Any,
) -> Iterator[Running]:
    """``receipts``: 54-ФЗ receipts on, the first partner with a receipt phone and VAT (the
    client's e-mail reaches the acquirer only in a receipt); ``notifications``: the
    ``[notifications]`` section (the Web Push channel of the Уведомления page)."""

    def change(config: RunnerConfig) -> RunnerConfig:
        sms = AdapterSettings({"path": str(tmp_path / "outbox" / "sms.jsonl")})
        config = attrs.evolve(config, cabinet=CabinetConfig("s" * 32, sms=sms, **cabinet))
        if notifications is not None:
            config = attrs.evolve(config, notifications=notifications)
        if receipts:
            first = attrs.evolve(
                config.partners[0], receipt_phone="+73422000000", receipt_vat=ReceiptVat.VAT22
            )
            config = attrs.evolve(
                config,
                receipts=ReceiptsConfig(enabled=True, fee_vat=ReceiptVat.VAT22),
                partners=(first, *config.partners[1:]),
            )
        return config

    with serve(store_url, tmp_path, services, change=change) as r:
        yield r


def outbox(r: Running) -> Path:
    assert r.config.cabinet is not None
    return Path(r.config.cabinet.sms.settings["path"])


def last_code(r: Running, phone: str = PHONE) -> str:
    """The code of the newest SMS to ``phone`` in the sandbox outbox."""
    texts = [m["text"] for m in read_outbox(outbox(r)) if m["to"] == phone]
    found = re.search(r"\d{6}", texts[-1])
    assert found is not None
    return found.group(0)


@attrs.frozen
class Page:
    status: int
    headers: Mapping[str, str]
    text: str

    @property
    def location(self) -> str:
        return self.headers.get("location", "")

    def field(self, name: str) -> str:
        """The value of the first input named ``name``."""
        pattern = rf'name="{re.escape(name)}"[^>]*?value="([^"]*)"'
        found = re.search(pattern, self.text)
        assert found is not None, f"no field {name}"
        return found.group(1)

    @property
    def csrf(self) -> str:
        return self.field("csrf")

    def keys(self) -> list[str]:
        """The row keys of the payment page's services, in page order."""
        return re.findall(r'name="tick" value="([0-9a-f]{16})"', self.text)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class WebClient:
    """A browser without JavaScript: cookies kept, redirects not followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect
        )

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    def _open(self, req: urllib.request.Request) -> Page:
        try:
            with self.opener.open(req, timeout=10) as answer:
                body = answer.read()
                return Page(answer.status, _headers(answer.headers), body.decode("utf-8"))
        except urllib.error.HTTPError as exc:
            body = exc.read()
            return Page(exc.code, _headers(exc.headers), body.decode("utf-8", "replace"))

    def get(self, path: str) -> Page:
        return self._open(urllib.request.Request(self.url(path)))

    def post(self, path: str, fields: Sequence[tuple[str, str]] | Mapping[str, str]) -> Page:
        data = urllib.parse.urlencode(fields).encode()
        req = urllib.request.Request(
            self.url(path),
            data=data,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return self._open(req)

    def post_multipart(
        self,
        path: str,
        fields: Sequence[tuple[str, str]] | Mapping[str, str],
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> Page:
        """A ``multipart/form-data`` form, as a browser sends one with a file input;
        ``files`` by field name: (file name, bytes, media type)."""
        boundary = "----pes-test-" + uuid.uuid4().hex
        items = fields.items() if isinstance(fields, Mapping) else fields
        body = b""
        for name, value in items:
            body += (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            ).encode()
        for name, (filename, data, kind) in (files or {}).items():
            body += (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n'
            ).encode()
            body += data + b"\r\n"
        body += f"--{boundary}--\r\n".encode()
        req = urllib.request.Request(
            self.url(path),
            data=body,
            method="POST",
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        return self._open(req)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def cookie_attrs(self, name: str) -> http.cookiejar.Cookie:
        return next(c for c in self.jar if c.name == name)

    def login(self, r: Running, phone: str = PHONE) -> Page:
        page = self.get("/cabinet/login")
        sent = self.post("/cabinet/login", {"csrf": page.csrf, "phone": phone})
        assert sent.status == 303, sent.text
        code_page = self.get("/cabinet/login/code")
        done = self.post(
            "/cabinet/login/code", {"csrf": code_page.csrf, "code": last_code(r, phone)}
        )
        assert done.status == 303, done.text
        return done

    def link(self, inn: str, account: str, premises: str = "12а", due: str = "3001,00") -> Page:
        page = self.get("/cabinet/accounts")
        fields = {
            "csrf": page.csrf,
            "partner": inn,
            "account": account,
            "premises": premises,
            "due": due,
        }
        return self.post("/cabinet/accounts/link", fields)


def _headers(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}
