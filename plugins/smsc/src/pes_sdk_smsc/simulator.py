"""SMSC.ru's HTTP API, simulated on loopback.

:class:`SmscSimulator` is a real HTTP server on ``127.0.0.1`` (built on
:mod:`pes_sdk.notifications.simulation`) answering ``/sys/send.php`` and ``/sys/status.php`` as
SMSC.ru's "HTTP/HTTPS протокол" pages describe them:

* parameters in the query string or a form body (``GET`` or ``POST``), percent-encoded in
  the ``charset`` the request names (``utf-8``, ``koi8-r``; windows-1251 when none, as
  SMSC's default): a UTF-8 text sent without ``charset=utf-8`` arrives garbled, as it would;
* authentication by ``login`` + ``psw`` or ``apikey``: another one answers error 2;
* ``phones`` (a list separated by ``,`` or ``;``; a number is digits with or without a
  ``+``, 10 to 15 of them, else error 7) and ``mes`` (1 to 1000 characters) required, else
  error 1; ``id`` a number 1 to 2147483647 or up to 40 of ``[A-Za-z0-9._-]``, else error 1;
  ``sender`` one of :attr:`~SmscSimulator.senders` when that is set, else error 6;
  ``maxsms`` cuts a longer text to that many SMS, as SMSC does;
* an identical request within :attr:`~SmscSimulator.duplicate_window` seconds (60) answers
  error 9, as SMSC does, and so does a fifteenth request at once (the throttle:
  :attr:`~SmscSimulator.concurrency`); the ``id`` is *not* deduplicated (SMSC: "не
  обязательно уникален");
* answers ``fmt=3`` as JSON (``{"id": …, "cnt": …}`` or ``{"error": …, "error_code": …}``),
  otherwise as SMSC's text lines (``OK - 1 SMS, ID - 42``, ``ERROR = 2 (authorise error)``);
* ``/sys/status.php`` by ``phone`` and ``id``: ``{"status": 1, "last_date": …,
  "last_timestamp": …}`` for a message it recorded, status ``-3`` (not found) otherwise.

Accepted messages are recorded, the text decoded (:attr:`SmscSimulator.messages`). On
demand (:meth:`~SmscSimulator.fail_next`, :meth:`~SmscSimulator.fail_always`): every
documented error code (:data:`FAULTS`), HTTP 500 and 503, and a stall that never answers
until :meth:`~SmscSimulator.heal` (with nothing done, or with the message accepted: a lost
answer). Numbers can be made invalid (error 7) or undeliverable
(error 8). :class:`SmscHarness` puts a channel in front of it for the conformance suite.

The error texts are the ones SMSC's JSON answers were seen to carry (``authorise error``,
``duplicate request, wait a minute``, …); the channel reads only the codes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

import attrs

from pes_sdk.gateways.simulation import SimulatorHandler
from pes_sdk.notifications.simulation import STALL, ProviderHarness, ProviderSimulator
from pes_sdk_smsc import segments
from pes_sdk_smsc.channel import SmscChannel

__all__ = [
    "API_KEY",
    "FAULTS",
    "HTTP_FAULTS",
    "LOGIN",
    "LOST_ANSWER",
    "PASSWORD",
    "STALL",
    "SmsMessage",
    "SmscHarness",
    "SmscSimulator",
]

LOGIN = "pes-demo"
#: test credentials the simulator expects (not real SMSC ones)
PASSWORD = "smsc-sim-Qw7e9RtY2u"
API_KEY = "smsc-sim-key-4fK9dL2mN7pQ1sV6xZ3b"

#: fault → (error code, text) of SMSC's send page
FAULTS: dict[str, tuple[int, str]] = {
    "parameters": (1, "parameters error"),
    "authorise": (2, "authorise error"),
    "no-money": (3, "no money"),
    "ip-blocked": (4, "IP is blocked"),
    "date": (5, "invalid time format"),
    "denied": (6, "message is denied"),
    "invalid-number": (7, "invalid number"),
    "cannot-deliver": (8, "can't deliver"),
    "duplicate": (9, "duplicate request, wait a minute"),
}
#: faults answered at the HTTP level: status and body
HTTP_FAULTS: dict[str, tuple[int, bytes]] = {
    "http-500": (500, b"<html><body>500 Internal Server Error</body></html>"),
    "http-503": (503, b"<html><body>503 Service Temporarily Unavailable</body></html>"),
}
#: the message is accepted and recorded, but the answer never comes (until heal)
LOST_ANSWER = "lost-answer"

_CHARSETS = {"utf-8": "utf-8", "koi8-r": "koi8-r", "windows-1251": "cp1251"}
_ID = re.compile(r"[A-Za-z0-9._\-]{1,40}")
_PHONE = re.compile(r"\+?[0-9]{10,15}")


@attrs.frozen
class SmsMessage:
    """One SMS the simulator accepted: ``phone`` as sent (``+79161234567``), ``text``
    decoded (cut to ``maxsms`` parts), ``parts`` it takes, the client's ``id``, the
    ``sender`` and the ``charset`` it came in."""

    phone: str
    text: str
    parts: int
    id: str
    sender: str
    charset: str
    at: dt.datetime


class _Refused(Exception):
    def __init__(self, fault: str) -> None:
        self.fault = fault


class _Handler(SimulatorHandler):
    sim: SmscSimulator

    def _answer(self, fmt: str, payload: dict[str, Any], text: str) -> None:
        if fmt == "3":
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self._send(200, body, "application/json; charset=utf-8")
        else:
            self._send(200, text.encode("utf-8"), "text/plain; charset=utf-8")

    def _error(self, fmt: str, fault: str, ident: str = "") -> None:
        code, text = FAULTS[fault]
        payload: dict[str, Any] = {"error": text, "error_code": code}
        line = f"ERROR = {code} ({text})"
        if ident:
            payload["id"] = ident
            line += f", ID - {ident}"
        self._answer(fmt, payload, line)

    def _params(self, body: bytes) -> dict[str, str]:
        query = urllib.parse.urlsplit(self.path).query
        raw = "&".join(part for part in (query, body.decode("latin-1")) if part)
        # the charset parameter is ASCII: read it first, then decode everything with it
        first = urllib.parse.parse_qs(raw, keep_blank_values=True, encoding="latin-1")
        charset = (first.get("charset") or ["windows-1251"])[-1].lower()
        codec = _CHARSETS.get(charset, "cp1251")
        decoded = urllib.parse.parse_qs(
            raw, keep_blank_values=True, encoding=codec, errors="replace"
        )
        params = {name: values[-1] for name, values in decoded.items()}
        params["charset"] = charset
        return params

    def _dispatch(self, method: str) -> None:
        sim = self.sim
        path = urllib.parse.urlsplit(self.path).path
        if method not in ("GET", "POST") or path not in ("/sys/send.php", "/sys/status.php"):
            self._send(404, b"404 Not Found", "text/plain; charset=utf-8")
            return
        params = self._params(self._body())
        with sim._lock:
            sim.calls.append((method, path, urllib.parse.urlsplit(self.path).query))
        fmt = params.get("fmt", "0")
        authorised = (params.get("apikey") and params["apikey"] == sim.api_key) or (
            params.get("login") == sim.login and params.get("psw") == sim.password
        )
        if path == "/sys/status.php":
            with sim._lock:
                sim.status_requests += 1
            if not authorised:
                self._error(fmt, "authorise")
                return
            self._status(params, fmt)
            return
        sim.count_request()
        if not authorised:
            self._error(fmt, "authorise")
            return
        with sim._lock:
            sim._in_flight += 1
            crowded = sim.concurrency is not None and sim._in_flight > sim.concurrency
        try:
            if crowded:
                self._error(fmt, "duplicate", params.get("id", ""))  # SMSC: error 9 as well
            else:
                self._send_sms(params, fmt)
        finally:
            with sim._lock:
                sim._in_flight -= 1

    def _send_sms(self, params: dict[str, str], fmt: str) -> None:
        sim = self.sim
        fault, _ = sim.next_fault()  # SMSC's answers carry no Retry-After
        if fault == STALL:
            self.close_connection = True  # never answered, as a stalled server
            return
        if fault in HTTP_FAULTS:
            status, page = HTTP_FAULTS[fault]
            self._send(status, page, "text/html")
            return
        if fault is not None and fault != LOST_ANSWER:
            self._error(fmt, fault, params.get("id", ""))
            return
        try:
            answer = sim._accept(params)
        except _Refused as refused:
            self._error(fmt, refused.fault, params.get("id", ""))
            return
        if fault == LOST_ANSWER:
            sim.wait_for_heal()
            self.close_connection = True
            return
        ident, parts = answer
        shown: int | str = int(ident) if ident.isdigit() else ident  # SMSC: a number's a number
        self._answer(fmt, {"id": shown, "cnt": parts}, f"OK - {parts} SMS, ID - {ident}")

    def _status(self, params: dict[str, str], fmt: str) -> None:
        phone = params.get("phone", "").rstrip(",")
        ident = params.get("id", "").rstrip(",")
        if not phone or not ident:
            self._error(fmt, "parameters")
            return
        found = self.sim._find(phone, ident)
        if found is None:
            self._answer(fmt, {"status": -3}, "Status = -3")
            return
        stamp = int(found.at.timestamp())
        when = found.at.astimezone(dt.timezone(dt.timedelta(hours=3))).strftime("%d.%m.%Y %H:%M:%S")
        self._answer(
            fmt,
            {"status": 1, "last_date": when, "last_timestamp": stamp},
            f"Status = 1, check_time = {when}",
        )


class SmscSimulator(ProviderSimulator[SmsMessage]):
    """SMSC.ru's ``/sys/send.php`` and ``/sys/status.php`` on ``127.0.0.1``.

    :param senders: the sender names registered for the account; None: any is taken.
    :param duplicate_window: seconds within which an identical request answers error 9.
    :param concurrency: requests to ``send.php`` at once past which error 9 answers (SMSC:
        "fifteen or more at once under one login"); None: no limit.
    """

    def __init__(
        self,
        *,
        login: str = LOGIN,
        password: str = PASSWORD,
        api_key: str = API_KEY,
        senders: frozenset[str] | None = None,
        duplicate_window: float = 60.0,
        concurrency: int | None = 14,
        port: int = 0,
    ) -> None:
        faults = (*FAULTS, *HTTP_FAULTS, LOST_ANSWER)
        super().__init__(_Handler, faults=faults, port=port, name="smsc-simulator")
        self.login = login
        self.password = password
        self.api_key = api_key
        self.senders = senders
        self.duplicate_window = duplicate_window
        self.concurrency = concurrency
        self._in_flight = 0
        self._lock = threading.Lock()
        self._recent: dict[tuple[tuple[str, str], ...], float] = {}
        self._next_id = 1
        #: requests to status.php (:attr:`requests` counts send.php's)
        self.status_requests = 0
        #: every request: method, path and query string (what SMSC's access log would keep)
        self.calls: list[tuple[str, str, str]] = []

    def invalidate(self, phone: str) -> None:
        """From now on, ``phone`` answers error 7 (invalid number)."""
        self.fail_for(phone.lstrip("+"), "invalid-number")

    def undeliverable(self, phone: str) -> None:
        """From now on, ``phone`` answers error 8 (cannot be delivered)."""
        self.fail_for(phone.lstrip("+"), "cannot-deliver")

    def _find(self, phone: str, ident: str) -> SmsMessage | None:
        bare = phone.lstrip("+")
        with self._lock:
            for message in reversed(self.messages):  # SMSC: the last one with that id
                if message.phone.lstrip("+") == bare and message.id == ident:
                    return message
        return None

    def _accept(self, params: dict[str, str]) -> tuple[str, int]:
        phones = [p.strip() for p in re.split(r"[,;]", params.get("phones", "")) if p.strip()]
        text = params.get("mes", "")
        ident = params.get("id", "")
        sender = params.get("sender", "")
        if not phones or not text or len(text) > 1000:
            raise _Refused("parameters")
        if ident and not (
            (ident.isdigit() and 1 <= int(ident) <= 2_147_483_647) or _ID.fullmatch(ident)
        ):
            raise _Refused("parameters")
        if sender and self.senders is not None and sender not in self.senders:
            raise _Refused("denied")
        maxsms = params.get("maxsms", "")
        if maxsms:
            if not maxsms.isdigit() or int(maxsms) < 1:
                raise _Refused("parameters")
            text = segments.fit(text, int(maxsms))
        for phone in phones:
            if not _PHONE.fullmatch(phone):
                raise _Refused("invalid-number")
            fault = self.fault_for(phone.lstrip("+"))
            if fault is not None:
                raise _Refused(fault)
        now = time.monotonic()
        same = tuple(sorted(params.items()))
        with self._lock:
            for seen, when in list(self._recent.items()):
                if now - when >= self.duplicate_window:
                    del self._recent[seen]
            if same in self._recent:
                raise _Refused("duplicate")
            self._recent[same] = now
            if not ident:
                ident = str(self._next_id)
                self._next_id += 1
            parts = segments.count(text).parts
            at = dt.datetime.now(dt.UTC)
            for phone in phones:
                self.record(SmsMessage(phone, text, parts, ident, sender, params["charset"], at))
        return ident, parts * len(phones)


_ANSWERS = {
    "refused": "cannot-deliver",
    "dead": "invalid-number",
    "throttled": "duplicate",
    "unavailable": "http-503",
    "stall": STALL,
}


class SmscHarness(ProviderHarness[SmscSimulator, SmscChannel]):
    """An SMSC channel configured against a fresh :class:`SmscSimulator` (see
    :class:`pes_sdk_conformance.notifications.ChannelHarness`). The API key is put in the
    environment variable ``env`` while the harness lives, as an operator would.

    SMSC's answers carry no Retry-After (error 9 says "wait a minute" in words): asked to
    throttle with one, the harness says it cannot.
    """

    answers = _ANSWERS
    kind = "sms"
    retry_after = False
    secrets = (API_KEY, PASSWORD)

    def __init__(
        self,
        *,
        timeout: float = 1.0,
        env: str = "PES_TEST_SMSC_API_KEY",
        settings: Mapping[str, str] | None = None,
        recipient: str = "+79161234567",
    ) -> None:
        from pes_sdk_smsc.plugin import SmscFactory

        super().__init__()
        self.timeout = timeout
        self.recipient = recipient
        self.simulator = SmscSimulator().start()
        self.set_env(env, API_KEY)
        self.settings = {
            "api_key_env": env,
            "sender": "ZhKH-Oplata",
            "endpoint": self.simulator.endpoint,
            "timeout": str(timeout),
            **(settings or {}),
        }
        self.channel = SmscFactory().create(self.settings)
