"""The SMSC.ru channel: one ``sms`` notification, one ``POST /sys/send.php`` of SMSC.ru.

SMSC.ru's HTTP API ("HTTP/HTTPS протокол", https://smsc.ru/api/http/) takes the message as
form fields; the channel sends them in a ``POST`` body (never in the query string, which
proxies and SMSC's own access logs keep), UTF-8::

    login=<login>&psw=<password>          (or apikey=<API key>)
    &phones=+79161234567                  (with the plus: SMSC does not "correct" it)
    &mes=<text>&charset=utf-8&fmt=3       (JSON answers)
    &id=<32 hex digits from the key>      (the client's message id)
    &maxsms=<max_parts>                   (never more parts than counted)
    &sender=<alpha name>                  (when configured)

and answers ``200`` with ``{"id": …, "cnt": <parts>}`` or ``{"error": "…", "error_code": N}``.

**Once per key.** SMSC.ru takes the client's ``id`` (up to 40 characters of ``[A-Za-z0-9._-]``)
but does not deduplicate by it ("не обязательно уникален"); it refuses only an *identical*
request within a minute (error 9). So the channel sends ``id`` = :func:`key_uuid` of the key
(the same key, the same id, in every process) and guards keys itself: :class:`SentKeys`
answers a key handed over before without a request, and a key whose last attempt ended
without a clear answer (a timeout after the request was written, a lost connection, a 5xx)
is looked up first with ``/sys/status.php`` by phone and id: a message SMSC knows is not
sent again.

How SMSC's error codes map (the codes of the send page; the texts are never read):

===== ============================================== ===========================================
code  SMSC.ru says                                   the channel raises
===== ============================================== ===========================================
1     error in the parameters                        :class:`ChannelError` (a settings mistake)
2     wrong login or password, or an IP not allowed  :class:`ChannelError`: no recipient is blamed
3     not enough money on the account                :class:`ChannelUnavailable`: top up, retry
4     the IP is blocked for a while (many errors)    :class:`ChannelUnavailable`
5     wrong date format                              :class:`ChannelError` (the channel sends none)
6     message denied (by text or sender name)        :class:`ChannelError`: the text, not the person
7     wrong phone number format                      :class:`DeadRecipient`: no such mobile number
8     the message cannot be delivered to the number  :class:`RecipientRefused`
9     the same request within a minute, or too many  :class:`ChannelUnavailable`, retry_after 60
      concurrent requests
===== ============================================== ===========================================

An HTTP 429 or 5xx (SMSC's front, a proxy) and a timeout or a lost connection give
:class:`ChannelUnavailable` (with the ``Retry-After`` when one came). Errors carry the code,
never the phone, the text or the credentials.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import urllib.parse
from collections import OrderedDict
from typing import Any

import attrs
import httpx

from pes_sdk.http import HttpClient, HttpError, HttpResponse, HttpTimeout
from pes_sdk.notifications import (
    ChannelError,
    ChannelUnavailable,
    DeadRecipient,
    Notification,
    NotificationChannel,
    RecipientRefused,
    SendResult,
    SentKeys,
    key_uuid,
)
from pes_sdk_smsc import segments

__all__ = [
    "DEFAULT_ENDPOINT",
    "DUPLICATE_WAIT",
    "KINDS",
    "MAX_PARTS",
    "SEND_PATH",
    "STATUS_PATH",
    "SmscChannel",
    "SmscSettings",
    "check_phone",
    "message_id",
]

log = logging.getLogger(__name__)

#: What the channel carries.
KINDS: tuple[str, ...] = ("sms",)
#: SMSC.ru's API host (the reserve one is ``https://www2.smsc.ru``).
DEFAULT_ENDPOINT = "https://smsc.ru"
SEND_PATH = "/sys/send.php"
STATUS_PATH = "/sys/status.php"
#: The most parts a message may take: SMSC.ru takes at most 1000 characters, 15 UCS-2 parts.
MAX_PARTS = 15
#: Seconds SMSC.ru asks before an identical request (error 9: "wait a minute").
DUPLICATE_WAIT = 60.0
#: Status "message not found" of ``/sys/status.php``.
_NOT_FOUND = -3
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
#: How many keys with an unclear last attempt a channel remembers.
_UNCLEAR_CAPACITY = 10_000


def check_phone(phone: str) -> str | None:
    """Why ``phone`` is not a number the channel sends to, or None when it is.

    E.164 as the kit writes it: ``+``, a country code and at most 15 digits in all, no
    spaces; a number of zone 7 (Russia, Kazakhstan) is ``+7`` and exactly ten digits.
    """
    if not _E164.fullmatch(phone):
        return "not a phone number in E.164 (+ and 8 to 15 digits)"
    if phone.startswith("+7") and len(phone) != 12:
        return "a number of zone 7 is +7 and ten digits"
    return None


def message_id(key: str) -> str:
    """SMSC's ``id`` of the message with idempotency key ``key``: 32 hex digits."""
    return key_uuid(key).hex


@attrs.frozen
class SmscSettings:
    """How the channel reaches SMSC.ru (see :class:`~pes_sdk_smsc.SmscFactory`).

    Either ``api_key``, or ``login`` and ``password``; both secrets stay out of ``repr``.
    """

    login: str = ""
    password: str = attrs.field(default="", repr=False)
    api_key: str = attrs.field(default="", repr=False)
    sender: str = ""
    endpoint: str = DEFAULT_ENDPOINT
    timeout: float = 10.0
    max_parts: int = 6

    def credentials(self) -> dict[str, str]:
        """The form fields that authenticate a request."""
        if self.api_key:
            return {"apikey": self.api_key}
        return {"login": self.login, "psw": self.password}


class SmscChannel(NotificationChannel):
    """Sends each ``sms`` notification as one SMSC.ru message. Thread-safe."""

    name = "smsc"
    kinds = KINDS

    def __init__(
        self,
        settings: SmscSettings,
        *,
        sent: SentKeys | None = None,
        client: HttpClient | None = None,
    ) -> None:
        self.settings = settings
        self.timeout = settings.timeout
        self._client = client or HttpClient(
            settings.endpoint, timeout=settings.timeout, name=self.name
        )
        self._sent = sent if sent is not None else SentKeys()
        self._lock = threading.Lock()
        # keys whose last attempt may have reached SMSC without an answer
        self._unclear: OrderedDict[str, None] = OrderedDict()

    def __repr__(self) -> str:
        who = "API key" if self.settings.api_key else f"login {self.settings.login!r}"
        return f"SmscChannel({who}, {self.settings.endpoint})"

    def close(self) -> None:
        self._client.close()

    def send(self, notification: Notification) -> SendResult:
        self.check_kind(notification)
        problem = check_phone(notification.to)
        if problem is not None:
            raise RecipientRefused(problem, channel=self.name, code="phone")
        size = segments.count(notification.text)
        if size.parts > self.settings.max_parts:
            raise ChannelError(
                f"the text takes {size.parts} SMS ({size.encoding}, {size.units} units); "
                f"at most {self.settings.max_parts} are sent",
                channel=self.name,
                code="too-long",
            )
        return self._sent.send_once(notification.key, lambda: self._deliver(notification))

    # -- sending ------------------------------------------------------------------------

    def _deliver(self, notification: Notification) -> SendResult:
        ident = message_id(notification.key)
        if self._is_unclear(notification.key) and self._known(notification.to, ident):
            # the earlier attempt reached SMSC: sending again would be a second SMS
            self._settle(notification.key)
            log.debug("smsc: message %s was sent by an earlier attempt", ident)
            return SendResult(ident, dt.datetime.now(dt.UTC))
        fields = {
            **self.settings.credentials(),
            "phones": notification.to,
            "mes": notification.text,
            "charset": "utf-8",
            "fmt": "3",
            "id": ident,
            "maxsms": str(self.settings.max_parts),
        }
        if self.settings.sender:
            fields["sender"] = self.settings.sender
        answer = self._post(SEND_PATH, fields, notification.key)
        if answer.status != 200:
            raise self._http_error(answer, notification.key)
        payload = _json_object(answer)
        if payload is None:
            self._unsure(notification.key)
            raise ChannelUnavailable(
                "SMSC answered something that is not its JSON", channel=self.name, code="answer"
            )
        self._settle(notification.key)
        if "error_code" in payload or "error" in payload:
            raise self._smsc_error(payload)
        parts = payload.get("cnt")
        log.debug("smsc: message %s accepted (%s SMS)", ident, parts)
        return SendResult(ident, dt.datetime.now(dt.UTC))

    def _post(self, path: str, fields: dict[str, str], key: str) -> HttpResponse:
        body = urllib.parse.urlencode(fields, encoding="utf-8").encode("ascii")
        try:
            return self._client.send(
                "POST",
                path,
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            )
        except HttpError as exc:
            if not _surely_unsent(exc):
                self._unsure(key)
            raise ChannelUnavailable.from_http_error(
                exc, "SMSC", channel=self.name, timeout=self.timeout
            ) from None

    def _known(self, phone: str, ident: str) -> bool:
        """Whether SMSC has a message ``ident`` to ``phone`` (``/sys/status.php``).

        :class:`ChannelUnavailable` when it cannot tell: better no SMS now than two.
        """
        fields = {**self.settings.credentials(), "phone": phone, "id": ident, "fmt": "3"}
        fields["charset"] = "utf-8"
        try:
            answer = self._client.send(
                "POST",
                STATUS_PATH,
                content=urllib.parse.urlencode(fields).encode("ascii"),
                headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            )
        except HttpError:
            raise ChannelUnavailable(
                "SMSC cannot say whether an earlier attempt went out",
                channel=self.name,
                code="status",
            ) from None
        payload = _json_object(answer) if answer.status == 200 else None
        status = payload.get("status") if payload is not None else None
        if isinstance(status, int) and not isinstance(status, bool):
            return status != _NOT_FOUND
        if payload is not None and payload.get("error_code") == 2:
            raise self._smsc_error(payload)
        raise ChannelUnavailable(
            "SMSC cannot say whether an earlier attempt went out",
            channel=self.name,
            code="status",
            retry_after=answer.retry_after() if answer.status != 200 else None,
        )

    # -- keys with an unclear outcome --------------------------------------------------

    def _is_unclear(self, key: str) -> bool:
        with self._lock:
            return key in self._unclear

    def _unsure(self, key: str) -> None:
        with self._lock:
            self._unclear[key] = None
            self._unclear.move_to_end(key)
            while len(self._unclear) > _UNCLEAR_CAPACITY:
                self._unclear.popitem(last=False)

    def _settle(self, key: str) -> None:
        with self._lock:
            self._unclear.pop(key, None)

    # -- errors ---------------------------------------------------------------------------

    def _http_error(self, answer: HttpResponse, key: str) -> ChannelError:
        where = {"channel": self.name, "code": str(answer.status)}
        what = f"SMSC answered HTTP {answer.status}"
        if answer.status == 429 or answer.status >= 500:
            # a front that failed may have passed the request on first
            self._unsure(key)
            return ChannelUnavailable(what, retry_after=answer.retry_after(), **where)
        self._settle(key)
        return ChannelError(f"{what}: check the endpoint", **where)

    def _smsc_error(self, payload: dict[str, Any]) -> ChannelError:
        raw = payload.get("error_code")
        code = raw if isinstance(raw, int) and not isinstance(raw, bool) else 0
        channel, word = self.name, str(code) if code else "error"
        if code == 2:
            return ChannelError(
                "SMSC refuses the credentials (error 2): check the login and password or the "
                "API key, and the allowed IP addresses in SMSC's settings",
                channel=channel,
                code=word,
            )
        if code == 3:
            return ChannelUnavailable(
                "SMSC: not enough money on the account (error 3)", channel=channel, code=word
            )
        if code == 4:
            return ChannelUnavailable(
                "SMSC blocked this IP address for a while after many errors (error 4)",
                channel=channel,
                code=word,
            )
        if code == 7:
            return DeadRecipient(
                "SMSC: not a mobile phone number (error 7)", channel=channel, code=word
            )
        if code == 8:
            return RecipientRefused(
                "SMSC: the message cannot be delivered to this number (error 8)",
                channel=channel,
                code=word,
            )
        if code == 9:
            return ChannelUnavailable(
                "SMSC: the same request within a minute, or too many at once (error 9)",
                retry_after=DUPLICATE_WAIT,
                channel=channel,
                code=word,
            )
        if code == 6:
            return ChannelError(
                "SMSC denies the message (error 6): its text or the sender name",
                channel=channel,
                code=word,
            )
        return ChannelError(
            f"SMSC refuses the request (error {code or 'without a code'}): check the settings",
            channel=channel,
            code=word,
        )


def _surely_unsent(error: HttpError) -> bool:
    """Whether a request that failed with ``error`` surely never reached SMSC: no
    connection was made (or only a free one was waited for), so no SMS can have gone out."""
    if isinstance(error, HttpTimeout):
        return error.phase in ("connect", "pool")
    return isinstance(error.__cause__, httpx.ConnectError | httpx.ProxyError)


def _json_object(answer: HttpResponse) -> dict[str, Any] | None:
    try:
        payload = answer.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None
