"""The АТОЛ Онлайн v5 register: token, ``sell`` / ``sell_refund``, the report by uuid.

Three calls of ATOL's API v5 (``https://online.atol.ru``, the test one
``https://testonline.atol.ru``):

* ``POST /possystem/v5/getToken`` with ``{"login", "pass"}`` → ``{"token", "error",
  "timestamp"}``. A token lives 24 hours; the register keeps one and asks a new one after
  :attr:`AtolSettings.token_lifetime`, or at once when ATOL says it expired (error 11) or
  is unknown (10);
* ``POST /possystem/v5/{group_code}/sell`` (приход) or ``…/sell_refund`` (возврат прихода)
  with the header ``Token`` and the body of :func:`~pes_sdk_atol.wire.receipt_document` →
  ``{"uuid", "status": "wait", "error": null, "timestamp"}``;
* ``GET /possystem/v5/{group_code}/report/{uuid}`` with ``Token`` → ``status`` ``wait``,
  ``done`` with the ``payload`` of fiscal attributes, or ``fail`` with the ``error``.

**Idempotency by external_id.** ATOL keeps one document per ``external_id`` and group: the
same ``external_id`` again is answered with error 33 ("В системе существует чек с
external_id … и group_code …", HTTP 400, status ``wait``) and the uuid of the document it
has. :meth:`AtolRegister.register` answers that uuid: the caller reads its report, no
second receipt is made. So a sell whose answer was lost (a timeout) is safe to send again
with the same key, and is the caller's to send: the register itself never repeats a sell
(except once after an expired token, which ATOL refused before registering anything).

**Retries.** Only the idempotent calls are repeated, a bounded number of times
(:attr:`AtolSettings.attempts`, with growing pauses): getting a token and reading a report,
after a timeout, a lost connection or an HTTP 5xx.

How ATOL's error codes map (ATOL's texts are never copied into errors: they may quote
the receipt):

====== ========================================= ==========================================
code   ATOL says                                 the register raises
====== ========================================= ==========================================
10, 11 token unknown / expired                   a new token, the call once more
12, 14 wrong login or password / user blocked    :class:`~pes_sdk.fiscal.FiscalError`
13, 32 validation failed: "Ошибочные поля : …"   :class:`~pes_sdk.fiscal.ReceiptRefused`
                                                 with ``field``
20, 21 group code and token do not match / the   :class:`~pes_sdk.fiscal.FiscalError`
       group does not support v5
30     no such uuid                              :class:`~pes_sdk.fiscal.FiscalError`
33     the external_id exists                    the existing uuid (no second receipt);
                                                 :class:`ExternalIdConflict` when that
                                                 document is registered with another total
34     no state yet                              None from :meth:`~AtolRegister.report`
40, 41 bad request / content type                :class:`~pes_sdk.fiscal.ReceiptRefused`
50, 5xx server error                             :class:`~pes_sdk.fiscal.FiscalUnavailable`
====== ========================================= ==========================================

A report with status ``fail`` raises :class:`~pes_sdk.fiscal.ReceiptFailed` with ATOL's
code (a queue timeout is type ``timeout``).

Logs and errors name the external_id, the uuid and ATOL's codes; never the token, the
password or the buyer's e-mail or phone.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

import attrs
import tenacity

from pes_sdk.fiscal import (
    FiscalAttributes,
    FiscalError,
    FiscalUnavailable,
    ReceiptFailed,
    ReceiptRefused,
)
from pes_sdk.http import HttpClient, HttpError, HttpResponse, HttpTimeout
from pes_sdk.models.receipts import Receipt
from pes_sdk_atol import wire

__all__ = [
    "DEFAULT_ENDPOINT",
    "TEST_ENDPOINT",
    "TOKEN_LIFETIME",
    "AtolRegister",
    "AtolSettings",
    "ExternalIdConflict",
    "check_external_id",
]

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://online.atol.ru"
TEST_ENDPOINT = "https://testonline.atol.ru"
API = "/possystem/v5"
#: Seconds a token is used: ATOL's tokens live 24 hours; an hour is kept in hand.
TOKEN_LIFETIME = 23 * 3600.0
#: ATOL: external_id is a string of at most 128 characters.
MAX_EXTERNAL_ID = 128
_EXTERNAL_ID = re.compile(r"[A-Za-z0-9._:/-]{1,128}")
_FIELDS = re.compile(r"(?:поля|fields?)\s*:\s*(.+?)\.?\s*$", re.IGNORECASE | re.DOTALL)
_TOKEN_CODES = (10, 11)
_CONFIG_CODES = {
    12: "ATOL refuses the login and password (error 12): check the settings",
    14: "ATOL has blocked this user (error 14): ask ATOL's support",
    20: "the group code does not belong to this login (error 20): check 'group_code'",
    21: "the group's registers do not speak API v5 / ФФД 1.2 (error 21)",
}

T = TypeVar("T")


def check_external_id(external_id: str) -> str:
    """``external_id`` when ATOL takes it as the key of a receipt: 1 to 128 of
    ``[A-Za-z0-9._:/-]`` (ids, never a person's contact); ValueError otherwise."""
    if not _EXTERNAL_ID.fullmatch(external_id):
        raise ValueError(
            f"an external_id is 1 to {MAX_EXTERNAL_ID} of A-Z a-z 0-9 . _ : / -, "
            f"not {external_id!r}"
        )
    return external_id


class ExternalIdConflict(ReceiptRefused):
    """The external_id was sent before with other content: ATOL answered it with the
    document it has (error 33), registered with another total. Nothing was registered
    for this receipt, and resending the same key answers the same document: an
    operator's (``code`` ``"33"``, ``field`` ``"external_id"``)."""


@attrs.frozen
class AtolSettings:
    """How the register reaches ATOL (see :class:`~pes_sdk_atol.plugin.AtolFactory`).
    The password stays out of ``repr``."""

    login: str
    password: str = attrs.field(repr=False)
    group_code: str
    company: wire.Company
    agent: wire.PayingAgent = attrs.field(factory=wire.PayingAgent)
    endpoint: str = DEFAULT_ENDPOINT
    timeout: float = 10.0
    #: seconds a token is used before a new one is asked
    token_lifetime: float = TOKEN_LIFETIME
    #: tries of an idempotent call (a token, a report), the first included
    attempts: int = 3
    #: the zone of ATOL's times (``timestamp``, ``receipt_datetime``): Moscow's
    time_zone: str = "Europe/Moscow"


@attrs.define
class _Answer:
    status: int
    payload: dict[str, Any]

    @property
    def error(self) -> dict[str, Any] | None:
        error = self.payload.get("error")
        return error if isinstance(error, dict) else None

    @property
    def code(self) -> int | None:
        error = self.error
        code = error.get("code") if error is not None else None
        return code if isinstance(code, int) and not isinstance(code, bool) else None


def _sleep(seconds: float) -> None:
    threading.Event().wait(seconds)


class AtolRegister:
    """A cloud register of АТОЛ Онлайн, API v5. Thread-safe; one token for all threads.

    ``clock`` (monotonic seconds) and ``sleep`` are for tests that age a token or must not
    wait; ``client`` for one shared or instrumented HTTP client.
    """

    name = "atol"

    def __init__(
        self,
        settings: AtolSettings,
        *,
        client: HttpClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = _sleep,
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.time_zone)
        self._client = client or HttpClient(
            settings.endpoint,
            timeout=settings.timeout,
            name=self.name,
            headers={"Accept": "application/json"},
        )
        self._clock = clock
        self._sleep = sleep
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._lock = threading.Lock()
        self._token: str | None = None
        self._token_at = 0.0
        #: how many tokens were asked (for tests and statistics)
        self.tokens_issued = 0

    def __repr__(self) -> str:
        return (
            f"AtolRegister(login {self.settings.login!r}, group {self.settings.group_code!r}, "
            f"{self.settings.endpoint})"
        )

    def close(self) -> None:
        self._client.close()

    # -- the FiscalRegister protocol -----------------------------------------------------

    def register(self, receipt: Receipt, external_id: str) -> str:
        """Send ``receipt`` as a sale (``sell``); the uuid of ATOL's document."""
        return self._send("sell", receipt, external_id)

    def refund(self, receipt: Receipt, external_id: str) -> str:
        """Send ``receipt`` as a refund of a sale (``sell_refund``); the document's uuid.

        ``external_id`` must differ from the sale's: ATOL keys documents by external_id
        alone, so the sale's key would answer the sale's uuid (error 33), not a refund."""
        return self._send("sell_refund", receipt, external_id)

    def report(self, uuid: str) -> FiscalAttributes | None:
        """The fiscal attributes of document ``uuid``; None while ATOL has not registered
        it. Retried (bounded) after a timeout or a 5xx: reading changes nothing."""
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", uuid):
            raise ValueError(f"not an ATOL uuid: {uuid!r}")
        path = f"{API}/{self.settings.group_code}/report/{uuid}"
        # the whole read is retried, so the token inside it is got without retries of its own
        answer = self._retrying(
            lambda: self._with_token(lambda token: self._get(path, token), retry_token=False)
        )
        status = answer.payload.get("status")
        code = answer.code
        if code == 30:
            raise self._error(answer, f"report {uuid}")
        if answer.status == 200 and status == "done":
            payload = answer.payload.get("payload")
            if not isinstance(payload, dict):
                raise FiscalUnavailable(
                    f"report {uuid}: status done without a payload", register=self.name
                )
            try:
                attributes = wire.fiscal_attributes(payload, self.zone)
            except ValueError as exc:
                raise FiscalUnavailable(
                    f"report {uuid}: ATOL's payload cannot be read ({exc})", register=self.name
                ) from None
            log.info("atol: document %s registered: ФД %d", uuid, attributes.fd)
            return attributes
        if status == "fail":
            error = answer.error or {}
            kind = error.get("type") or "unknown"
            raise ReceiptFailed(
                f"document {uuid} was not registered ({kind} error {code}): send the receipt "
                f"again under a new external_id once the cause is gone",
                register=self.name,
                code=str(code or ""),
            )
        if code == 34 or (answer.status == 200 and status == "wait"):
            return None
        raise self._error(answer, f"report {uuid}")

    # -- sending -------------------------------------------------------------------------

    def _send(
        self, operation: Literal["sell", "sell_refund"], receipt: Receipt, external_id: str
    ) -> str:
        check_external_id(external_id)
        try:
            document = wire.receipt_document(
                receipt,
                external_id=external_id,
                company=self.settings.company,
                timestamp=wire.format_timestamp(self._now(), self.zone),
                agent=self.settings.agent,
            )
        except ValueError as exc:
            field = str(exc).partition(":")[0]
            raise ReceiptRefused(str(exc), register=self.name, field=field) from None
        body = wire.encode(document)
        path = f"{API}/{self.settings.group_code}/{operation}"
        # Not retried on a timeout: the caller sends again with the same external_id,
        # which ATOL answers with the document it has (error 33).
        answer = self._with_token(lambda token: self._post(path, body, token))
        uuid = answer.payload.get("uuid")
        code = answer.code
        if answer.status == 200 and code is None and isinstance(uuid, str) and uuid:
            log.info("atol: %s %s accepted as document %s", operation, external_id, uuid)
            return uuid
        if code == 33:
            if isinstance(uuid, str) and uuid:
                self._check_repeat(operation, receipt, external_id, uuid)
                log.info(
                    "atol: %s %s was sent before: document %s (no second receipt)",
                    operation,
                    external_id,
                    uuid,
                )
                return uuid
            raise FiscalError(
                f"ATOL has a document for external_id {external_id} but did not say its uuid "
                f"(error 33): read the uuid stored with the first send",
                register=self.name,
                code="33",
            )
        raise self._error(answer, f"{operation} {external_id}")

    def _check_repeat(self, operation: str, receipt: Receipt, external_id: str, uuid: str) -> None:
        """ATOL answered ``external_id`` with the document it has (error 33), whatever was
        sent this time: it keys documents by external_id alone and does not compare them.
        A document already registered with another total is not this receipt: raise
        :class:`ExternalIdConflict` rather than answer its uuid as this receipt's. One not
        registered yet (or unreadable now) cannot be compared here: its uuid is answered,
        and the caller compares the report's total with its own."""
        try:
            attributes = self.report(uuid)
        except FiscalError:
            return  # failed, or ATOL unreachable: the caller's own report says
        if attributes is not None and attributes.total != receipt.total:
            raise ExternalIdConflict(
                f"{operation} {external_id}: ATOL has another document under this external_id"
                f" ({uuid}, total {attributes.total}, not {receipt.total}); nothing was"
                " registered: an operator's",
                register=self.name,
                code="33",
                field="external_id",
            )

    # -- tokens --------------------------------------------------------------------------

    def _with_token(self, call: Callable[[str], _Answer], *, retry_token: bool = True) -> _Answer:
        """``call`` with a valid token; once more with a new one if ATOL rejects it.
        ``retry_token``: a new token is asked again after a timeout or a 5xx."""
        token = self._current_token(retry_token)
        answer = call(token)
        if answer.code in _TOKEN_CODES:
            log.info("atol: the token was rejected (error %s): asking a new one", answer.code)
            self._drop_token(token)
            answer = call(self._current_token(retry_token))
            if answer.code in _TOKEN_CODES:
                raise FiscalError(
                    f"ATOL rejects a new token at once (error {answer.code})",
                    register=self.name,
                    code=str(answer.code),
                )
        return answer

    def _current_token(self, retry: bool = True) -> str:
        with self._lock:
            fresh = (
                self._token is not None
                and self._clock() - self._token_at < self.settings.token_lifetime
            )
            if fresh and self._token is not None:
                return self._token
            token = self._retrying(self._new_token) if retry else self._new_token()
            self._token, self._token_at = token, self._clock()
            return token

    def _drop_token(self, token: str) -> None:
        with self._lock:
            if self._token == token:
                self._token = None

    def _new_token(self) -> str:
        body = wire.encode({"login": self.settings.login, "pass": self.settings.password})
        answer = self._call("POST", f"{API}/getToken", body, token=None)
        token = answer.payload.get("token")
        if answer.status == 200 and answer.code is None and isinstance(token, str) and token:
            self.tokens_issued += 1
            log.debug("atol: a new token for login %r", self.settings.login)
            return token
        raise self._error(answer, "getToken")

    # -- HTTP ----------------------------------------------------------------------------

    def _post(self, path: str, body: bytes, token: str) -> _Answer:
        return self._call("POST", path, body, token=token)

    def _get(self, path: str, token: str) -> _Answer:
        return self._call("GET", path, None, token=token)

    def _call(self, method: str, path: str, body: bytes | None, *, token: str | None) -> _Answer:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if token is not None:
            headers["Token"] = token
        try:
            response = self._client.send(method, path, content=body, headers=headers)
        except HttpTimeout:
            raise FiscalUnavailable(
                f"{method} {path}: no answer within {self.settings.timeout:g} s",
                register=self.name,
                code="timeout",
            ) from None
        except HttpError as exc:
            raise FiscalUnavailable(
                f"{method} {path}: ATOL cannot be reached ({type(exc).__name__})",
                register=self.name,
                code="unreachable",
            ) from None
        return self._answer(method, path, response)

    def _answer(self, method: str, path: str, response: HttpResponse) -> _Answer:
        if response.status >= 500 or response.status == 429:
            raise FiscalUnavailable(
                f"{method} {path}: ATOL answered HTTP {response.status}",
                register=self.name,
                code=str(response.status),
            )
        try:
            payload = wire.parse_json(response.body)
        except (ValueError, UnicodeDecodeError):
            payload = None
        if not isinstance(payload, dict):
            raise FiscalUnavailable(
                f"{method} {path}: ATOL answered HTTP {response.status} without its JSON",
                register=self.name,
                code=str(response.status),
            )
        return _Answer(response.status, payload)

    def _retrying(self, call: Callable[[], T]) -> T:
        """``call`` again after :class:`FiscalUnavailable`, at most ``attempts`` times in
        all, pausing 0.5, 1, 2 … seconds (at most 8). Only for idempotent calls."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.settings.attempts),
            wait=tenacity.wait_exponential(multiplier=0.5, max=8),
            retry=tenacity.retry_if_exception_type(FiscalUnavailable),
            sleep=self._sleep,
            reraise=True,
            before_sleep=lambda state: log.info(
                "atol: attempt %d of %d failed (%s), trying again",
                state.attempt_number,
                self.settings.attempts,
                getattr(state.outcome.exception() if state.outcome else None, "code", ""),
            ),
        )
        return retrying(call)

    # -- errors --------------------------------------------------------------------------

    def _error(self, answer: _Answer, what: str) -> FiscalError:
        code = answer.code
        word = str(code) if code is not None else str(answer.status)
        if code in _CONFIG_CODES:
            return FiscalError(f"{what}: {_CONFIG_CODES[code]}", register=self.name, code=word)
        if code in (13, 32, 40, 41):
            error = answer.error or {}
            match = _FIELDS.search(str(error.get("text") or ""))
            field = match.group(1).strip() if match else ""
            said = f" in {field}" if field else ""
            return ReceiptRefused(
                f"{what}: ATOL refuses the request (error {code}){said}",
                register=self.name,
                code=word,
                field=field,
            )
        if code == 30:
            return FiscalError(
                f"{what}: ATOL knows no such document (error 30)", register=self.name, code=word
            )
        if code == 50:
            return FiscalUnavailable(
                f"{what}: ATOL's server failed (error 50)", register=self.name, code=word
            )
        shown = code if code is not None else "-"
        return FiscalError(
            f"{what}: ATOL answered HTTP {answer.status}, error {shown}",
            register=self.name,
            code=word,
        )
