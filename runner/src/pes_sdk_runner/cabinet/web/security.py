"""The cabinet pages' guards: cookies, CSRF tokens, and the headers of every answer.

The session cookie holds the session's token (the store keeps only its HMAC); it is
HttpOnly, SameSite=Lax, and Secure unless the page is served over plain http on loopback
(a developer's machine, the tests). A form's CSRF token is an HMAC of the session's token
(or, before login, of a random pre-session cookie) keyed by the cabinet's secret: a page of
another site can neither read it nor make it.

Every answer carries a Content-Security-Policy without inline script or style, so injected
markup cannot run; ``form-action`` names the acquirer's origins besides ours, because the
payment form's answer redirects there (browsers check a form's redirects too).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
import threading
import urllib.parse
import uuid
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pes_sdk_runner.cabinet.login import keyed_hash
from pes_sdk_runner.logs import event

__all__ = [
    "ATTEMPT_COOKIE",
    "PRE_COOKIE",
    "SESSION_COOKIE",
    "AcquirerOrigins",
    "Headers",
    "csrf_matches",
    "csrf_token",
    "is_loopback_http",
    "origin_of",
    "qr_token",
    "return_token",
    "set_cookie",
]

#: The session's token.
SESSION_COOKIE = "pes_cabinet"
#: A random value the login forms' CSRF token is bound to (no session exists yet).
PRE_COOKIE = "pes_cabinet_pre"
#: The login attempt whose code the code page confirms.
ATTEMPT_COOKIE = "pes_cabinet_login"

log = logging.getLogger("pes_sdk_runner.cabinet")


def is_loopback_http(request: Request) -> bool:
    """Plain http to a loopback address: the one place a cookie goes without Secure."""
    if request.url.scheme != "http":
        return False
    host = (request.url.hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None
) -> None:
    """Set a cabinet cookie: HttpOnly, SameSite=Lax, Secure except on loopback http, for
    the cabinet's path only."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=_cookie_path(request),
        secure=not is_loopback_http(request),
        httponly=True,
        samesite="lax",
    )


def delete_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name,
        path=_cookie_path(request),
        secure=not is_loopback_http(request),
        httponly=True,
        samesite="lax",
    )


def _cookie_path(request: Request) -> str:
    return str(request.scope.get("root_path") or "") or "/"


def new_pre_session() -> str:
    return secrets.token_urlsafe(24)


def csrf_token(secret: str, *, session: str | None = None, pre: str | None = None) -> str:
    """The CSRF token of a session's forms, or of the login forms before one exists."""
    if session:
        return keyed_hash(secret, "csrf", session)
    return keyed_hash(secret, "csrf-pre", pre or "")


def csrf_matches(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def return_token(secret: str, order_id: uuid.UUID) -> str:
    """The token of a payment's return address (``/payments/<id>?r=<token>``): it shows the
    payment's state to whoever comes back from the acquirer with it, session or not (a
    session may time out while the client is on the acquirer's page)."""
    return keyed_hash(secret, "payment-return", str(order_id))


def qr_token(secret: str, session: str, partner_inn: str, account: str) -> str:
    """The token that lets a session's payment page show an account it has not linked: the
    one a bill's QR code named (``/pay/<inn>/<account>?qr=<token>``). Only the session that
    read the code holds it, so the page of an unlinked account is not one URL away."""
    return keyed_hash(secret, "qr-pay", f"{session}\x1f{partner_inn}\x1f{account}")


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, else None."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


class AcquirerOrigins:
    """The origins the payment form may send the client to, in the order they were learnt.

    Known at start when the gateway says (a ``confirmation_origins`` attribute, or the
    embedded sandbox's URL); otherwise learnt from the first confirmation URL seen. A page
    notes how many it allowed (:attr:`count`): a confirmation at an origin its policy did
    not allow is reached through a page of ours instead of a redirect the browser would
    block.
    """

    def __init__(self, origins: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._origins: list[str] = []
        for o in origins:
            self.learn(o)

    @classmethod
    def of_gateway(cls, gateway: Any) -> AcquirerOrigins:
        found: list[str] = []
        declared = getattr(gateway, "confirmation_origins", None)
        if isinstance(declared, list | tuple | frozenset | set):
            found.extend(str(o) for o in declared)
        simulator = getattr(gateway, "simulator", None)
        base = getattr(simulator, "base_url", None)
        if isinstance(base, str):
            found.append(base)
        return cls(o for o in (origin_of(u) for u in found) if o)

    @property
    def count(self) -> int:
        return len(self._origins)

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self._origins)

    def allowed_by(self, origin: str, count: int) -> bool:
        """Whether a page that allowed the first ``count`` origins allowed ``origin``."""
        with self._lock:
            return origin in self._origins[: max(count, 0)]

    def learn(self, origin: str) -> None:
        with self._lock:
            if origin not in self._origins:
                self._origins.append(origin)


class Headers:
    """ASGI middleware: the security headers on every answer of the cabinet, and an HTML
    page (not a trace) for an error nobody caught."""

    def __init__(self, app: ASGIApp, origins: AcquirerOrigins) -> None:
        self.app = app
        self.origins = origins

    def policy(self) -> str:
        form_action = " ".join(["'self'", *self.origins.snapshot()])
        return (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"frame-ancestors 'none'; form-action {form_action}; base-uri 'none'; "
            "object-src 'none'"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _OURS]
                headers += [
                    (b"content-security-policy", self.policy().encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception as exc:
            if started:
                raise
            event(log, "cabinet.internal-error", logging.ERROR, error=type(exc).__name__)
            body = _INTERNAL.encode()
            await with_headers(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"text/html; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})


_OURS = {b"content-security-policy", b"x-content-type-options", b"referrer-policy"}
_INTERNAL = (
    '<!doctype html><html lang="ru"><meta charset="utf-8"><title>Ошибка</title>'
    "<h1>Что-то пошло не так</h1><p>Мы уже знаем об ошибке. Попробуйте ещё раз позже.</p>"
    "</html>"
)
