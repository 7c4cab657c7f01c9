"""Login by phone (быстрая авторизация с подтверждением номера), with no HTTP in it.

A client gives a phone number and gets a login attempt's id; a 6-digit code goes to the
phone through the configured notification channel. The client sends the attempt's id and
the code back and gets a session token (:mod:`.sessions`); the phone's cabinet is created
at its first login. :meth:`Login.request_code` answers the same whether or not the phone
has a cabinet: it does not even look.

Codes and tokens are never stored: only their HMAC-SHA256 keyed by the runner's secret
(``[cabinet] secret_env``), the code's bound to its attempt's id. A code is good for
:data:`CODE_TTL`, once, and for at most :data:`MAX_TRIES` tries. Phone numbers are
personal data (152-ФЗ): logged masked (:func:`~pes_sdk_runner.logs.mask_phone`) only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable

import attrs

from pes_sdk.notifications import (
    ChannelError,
    Notification,
    NotificationChannel,
    RecipientRefused,
)
from pes_sdk_runner.cabinet.errors import (
    CodeRefused,
    InvalidPhone,
    SmsUnavailable,
    TooManyRequests,
)
from pes_sdk_runner.config.models import CabinetConfig
from pes_sdk_runner.logs import event, mask_phone
from pes_sdk_runner.store.base import LoginAttempt, RateLimit, Store

__all__ = [
    "CODE_TTL",
    "MAX_TRIES",
    "Clock",
    "CodeSent",
    "Login",
    "SessionIssued",
    "keyed_hash",
    "normalise_phone",
    "utc_now",
]

#: How long a login code is good for.
CODE_TTL = dt.timedelta(minutes=5)
#: How many times a login attempt's code may be tried, right or wrong.
MAX_TRIES = 5
#: The text of the SMS; ``{code}`` is the code.
SMS_TEXT = "Код для входа: {code}. Никому не сообщайте его."

#: Where the cabinet reads the time: aware, UTC (tests pass a clock they move).
Clock = Callable[[], dt.datetime]

_SEPARATORS = re.compile(r"[\s\-().]")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def normalise_phone(text: str) -> str:
    """A Russian mobile number in E.164 (``+79161234567``) from the ways people write it:
    ``8 (916) 123-45-67``, ``+7 916 123 45 67``, ``79161234567``, ``9161234567``.
    :class:`InvalidPhone` for anything else (another country, a landline, letters)."""
    bare = _SEPARATORS.sub("", text)
    plus = bare.startswith("+")
    digits = bare.removeprefix("+")
    if not digits.isascii() or not digits.isdigit():
        raise InvalidPhone("a phone number has digits only, such as +7 916 123-45-67")
    if len(digits) == 11 and (digits[0] == "7" or (digits[0] == "8" and not plus)):
        national = digits[1:]
    elif len(digits) == 10 and not plus:
        national = digits
    else:
        raise InvalidPhone("a Russian mobile number: +7 and ten digits, such as +7 916 123-45-67")
    if national[0] != "9":
        # Codes go by SMS: a landline (+7 495 …) would never get one.
        raise InvalidPhone("a mobile number (+7 9XX …) receives the code by SMS")
    return "+7" + national


def keyed_hash(secret: str, purpose: str, *parts: str) -> str:
    """HMAC-SHA256 of ``parts`` keyed by ``secret``, for ``purpose`` (``code``,
    ``session``), as hex: what the store keeps instead of a code or a token."""
    message = "\x1f".join((purpose, *parts)).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@attrs.frozen
class CodeSent:
    """A code went out: confirm it with ``attempt`` before ``expires_at``."""

    attempt: str
    expires_at: dt.datetime


@attrs.frozen
class SessionIssued:
    """A login succeeded: ``token`` is the session's Bearer token (shown once, never
    stored), good until ``expires_at`` unless unused for the idle timeout first."""

    token: str = attrs.field(repr=False)
    cabinet_id: int
    expires_at: dt.datetime


class Login:
    """Codes requested and confirmed, over one store, configuration and SMS channel."""

    def __init__(
        self,
        store: Store,
        config: CabinetConfig,
        channel: NotificationChannel,
        *,
        clock: Clock = utc_now,
        log: logging.Logger | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.channel = channel
        self.clock = clock
        self.log = log or logging.getLogger("pes_sdk_runner.cabinet")

    def code_hash(self, attempt_id: str, code: str) -> str:
        return keyed_hash(self.config.secret, "code", attempt_id, code)

    def token_hash(self, token: str) -> str:
        return keyed_hash(self.config.secret, "session", token)

    def limits(self, phone: str, ip: str) -> list[RateLimit]:
        c = self.config
        return [
            RateLimit("phone", phone, dt.timedelta(minutes=10), c.codes_per_phone_10min),
            RateLimit("phone", phone, dt.timedelta(days=1), c.codes_per_phone_day),
            RateLimit("client_ip", ip, dt.timedelta(hours=1), c.codes_per_ip_hour),
        ]

    def request_code(self, phone: str, ip: str) -> CodeSent:
        """Send a login code to ``phone`` (any way :func:`normalise_phone` reads) asked
        from client address ``ip``. :class:`InvalidPhone`; :class:`TooManyRequests` over
        the limits; :class:`SmsUnavailable` when the channel cannot send now. A phone the
        channel refuses for good gets the same answer as any other."""
        phone = normalise_phone(phone)
        now = self.clock()
        attempt_id = secrets.token_urlsafe(16)
        code = f"{secrets.randbelow(1_000_000):06d}"
        attempt = LoginAttempt(
            attempt_id, phone, self.code_hash(attempt_id, code), ip, now, now + CODE_TTL
        )
        retry_at = self.store.add_login_attempt(attempt, self.limits(phone, ip))
        if retry_at is not None:
            event(self.log, "login.limited", phone=mask_phone(phone))
            raise TooManyRequests(
                "too many login codes asked for; try again later", retry_at - now, "phone"
            )
        try:
            self.channel.send(Notification("sms", phone, SMS_TEXT.format(code=code)))
        except RecipientRefused:
            # Told apart from a code sent, it would say which numbers the provider knows.
            event(self.log, "login.recipient-refused", logging.WARNING, phone=mask_phone(phone))
        except ChannelError as exc:
            event(
                self.log,
                "login.sms-failed",
                logging.WARNING,
                phone=mask_phone(phone),
                error=type(exc).__name__,
            )
            raise SmsUnavailable() from None
        else:
            event(self.log, "login.code-sent", phone=mask_phone(phone))
        return CodeSent(attempt_id, attempt.expires_at)

    def confirm(self, attempt_id: str, code: str, ip: str) -> SessionIssued:
        """A session for the attempt's phone (its cabinet created at its first login) if
        ``code`` is the attempt's; :class:`CodeRefused` otherwise, the same whatever the
        reason. Each call is a try, right or wrong. ``ip`` is not bound to the attempt's:
        a phone moves between networks while its owner reads the SMS."""
        now = self.clock()
        attempt = self.store.try_login_attempt(attempt_id, now, MAX_TRIES)
        if attempt is None or not hmac.compare_digest(
            attempt.code_hash, self.code_hash(attempt_id, code)
        ):
            event(self.log, "login.refused", tries=attempt.tries if attempt else None)
            raise CodeRefused()
        token = secrets.token_urlsafe(32)
        cabinet = self.store.use_login_attempt(attempt_id, now, self.token_hash(token))
        if cabinet is None:  # used by a twin request a moment ago
            raise CodeRefused()
        event(self.log, "login.confirmed", cabinet=cabinet.id, phone=mask_phone(cabinet.phone))
        expires = now + dt.timedelta(seconds=self.config.absolute_timeout)
        return SessionIssued(token, cabinet.id, expires)
