"""The e-mail channel: one notification, one message over SMTP (RFC 5321) with smtplib.

Each send opens its own connection (so the channel is safe from several threads at once):
connect with a timeout, ``EHLO``, ``STARTTLS`` (or implicit TLS from the first byte),
verified against the system's CAs or the ``ca_file`` given, ``AUTH`` when a username is
set, then ``MAIL FROM`` / ``RCPT TO`` / ``DATA`` one by one, so that each answer is mapped
by the command it answers:

* 4xx anywhere, a refused or broken connection, a timeout: :class:`ChannelUnavailable`;
* 5xx to ``RCPT TO``: :class:`DeadRecipient` for a mailbox that does not exist (550 with
  the enhanced code 5.1.1, or none and "unknown"/"no such user" in the text), else
  :class:`RecipientRefused` (551, 553, 550 for policy…);
* 5xx to anything else (the sender refused, the message rejected, ``AUTH`` failed, no
  ``STARTTLS`` offered): a plain :class:`ChannelError`, neither temporary nor the
  recipient's fault: the settings or the message need a person's look.

An error message carries the SMTP code and enhanced code only, never the server's text:
servers quote the recipient's address in it (``550 5.1.1 <ivanova@example.ru>: user
unknown``). The message is built with :class:`email.message.EmailMessage` (text/plain
UTF-8, plus text/html with the image and the buttons as links when there are any), headers
RFC 2047-encoded by the ``SMTP`` policy (a Cyrillic subject and sender's name), and a
``Message-ID`` derived from the notification's key, so a resend of one key has the same id.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email.policy
import email.utils
import html
import logging
import re
import smtplib
import ssl
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Literal

import attrs

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

__all__ = [
    "DEFAULT_PORTS",
    "KINDS",
    "EmailChannel",
    "EmailSettings",
    "Security",
    "build_message",
    "message_id",
]

log = logging.getLogger(__name__)

#: What the channel carries.
KINDS: tuple[str, ...] = ("email",)
#: The port of each security when the settings give none (submission, submissions, smtp).
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}

Security = Literal["starttls", "tls", "none"]

_ENHANCED = re.compile(rb"^([245])\.(\d{1,3})\.(\d{1,3})\b")
_UNKNOWN_USER = re.compile(rb"unknown|no such user|does not exist|not found", re.I)
_SUBJECT_CHARS = 78  # RFC 5322's recommended line length, for a subject made from the text


@attrs.frozen
class EmailSettings:
    """How the channel reaches its SMTP server (see :class:`~pes_sdk_email.EmailFactory`)."""

    host: str
    port: int
    security: Security
    from_address: str
    from_name: str = ""
    reply_to: str = ""
    username: str = ""
    password: str = attrs.field(default="", repr=False)
    timeout: float = 10.0
    ca_file: Path | None = None

    def __attrs_post_init__(self) -> None:
        # validated here too, so a channel built without the factory fails as early
        Address(display_name=self.from_name, addr_spec=self.from_address)


def _tls_context(ca_file: Path | None) -> ssl.SSLContext:
    # verified: the server's certificate chain and its name, TLS 1.2 at least
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _html(notification: Notification) -> str:
    paragraphs = "".join(
        f"<p>{html.escape(line)}</p>" for line in notification.text.splitlines() if line.strip()
    )
    parts = ['<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">']
    if notification.title:
        parts.append(f"<title>{html.escape(notification.title)}</title>")
    parts.append("</head><body>")
    if notification.image:
        parts.append(
            f'<p><img src="{html.escape(notification.image, quote=True)}" alt="" '
            'style="max-width:100%"></p>'
        )
    parts.append(paragraphs)
    if notification.buttons:
        links = " ".join(
            f'<a href="{html.escape(b.url, quote=True)}">{html.escape(b.label)}</a>'
            for b in notification.buttons
        )
        parts.append(f"<p>{links}</p>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _subject(notification: Notification) -> str:
    if notification.title:
        return notification.title
    first = notification.text.strip().splitlines()[0].strip()
    return first if len(first) <= _SUBJECT_CHARS else first[: _SUBJECT_CHARS - 1] + "…"


def message_id(key: str, from_address: str) -> str:
    """The ``Message-ID`` (without its angle brackets) of the notification keyed ``key``."""
    domain = from_address.rpartition("@")[2] or "localhost"
    return f"{key_uuid(key).hex}@{domain}"


def build_message(
    notification: Notification, settings: EmailSettings, *, now: dt.datetime | None = None
) -> EmailMessage:
    """The MIME message of ``notification``: text/plain UTF-8, with a text/html part
    when it has an image or buttons (the plain part then lists the buttons' links).

    Raises ValueError for an address that cannot be a header (a line break, no ``@``).
    """
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = _subject(notification)
    msg["From"] = Address(display_name=settings.from_name, addr_spec=settings.from_address)
    msg["To"] = Address(addr_spec=notification.to)
    if settings.reply_to:
        msg["Reply-To"] = Address(addr_spec=settings.reply_to)
    msg["Date"] = email.utils.format_datetime(now or dt.datetime.now(dt.UTC))
    msg["Message-ID"] = f"<{message_id(notification.key, settings.from_address)}>"
    # RFC 3834: an automatic message, so that vacation responders stay quiet
    msg["Auto-Submitted"] = "auto-generated"
    text = notification.text
    if notification.buttons:
        text += "\n\n" + "\n".join(f"{b.label}: {b.url}" for b in notification.buttons)
    # quoted-printable, not 8bit: a server without 8BITMIME must take the message too
    msg.set_content(text + "\n", charset="utf-8", cte="quoted-printable")
    if notification.image or notification.buttons:
        msg.add_alternative(
            _html(notification), subtype="html", charset="utf-8", cte="quoted-printable"
        )
    return msg


def _code(error: smtplib.SMTPResponseException) -> str:
    enhanced = _ENHANCED.match(error.smtp_error if isinstance(error.smtp_error, bytes) else b"")
    code = str(error.smtp_code)
    return f"{code} {enhanced.group(0).decode()}" if enhanced else code


class _Refused(Exception):
    """An SMTP answer other than success, with the command it answered."""

    def __init__(self, command: str, code: int, text: bytes | str) -> None:
        super().__init__(command, code)  # the server's text stays out: it may quote the address
        self.command = command
        raw = text.encode("utf-8", "replace") if isinstance(text, str) else text
        self.error = smtplib.SMTPResponseException(code, raw)


class EmailChannel(NotificationChannel):
    """Sends each ``email`` notification as one message through an SMTP server."""

    name = "email"
    kinds = KINDS

    def __init__(self, settings: EmailSettings, *, sent: SentKeys | None = None) -> None:
        self.settings = settings
        self.timeout = settings.timeout
        self._context = _tls_context(settings.ca_file) if settings.security != "none" else None
        self._sent = sent if sent is not None else SentKeys()

    def __repr__(self) -> str:
        s = self.settings
        return f"EmailChannel({s.host}:{s.port}, {s.security})"

    def send(self, notification: Notification) -> SendResult:
        self.check_kind(notification)
        return self._sent.send_once(notification.key, lambda: self._deliver(notification))

    # -- one delivery --------------------------------------------------------------------

    def _deliver(self, notification: Notification) -> SendResult:
        recipient = self._recipient(notification.to)
        try:
            msg = build_message(notification, self.settings)
        except (ValueError, TypeError, IndexError, HeaderParseError):
            # the address parses, yet cannot be a header: the address's fault, for good
            raise RecipientRefused(
                "the address cannot be written in a header", channel=self.name
            ) from None
        data = msg.as_bytes()
        mid = message_id(notification.key, self.settings.from_address)
        try:
            try:
                smtp = self._connect()
            except smtplib.SMTPConnectError as exc:  # a greeting other than 220
                raise _Refused("CONNECT", exc.smtp_code, exc.smtp_error) from None
            # no `with smtp`: its exit sends QUIT, which after a stalled command would wait a
            # second timeout, and whose own error would hide the one that counts
            try:
                self._start(smtp)
                self._command("MAIL", *smtp.mail(self.settings.from_address))
                self._command("RCPT", *smtp.rcpt(recipient))
                self._command("DATA", *smtp.data(data))
                # the message is accepted; a lost QUIT changes nothing
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    smtp.quit()
            finally:
                smtp.close()
        except _Refused as refused:
            raise self._error(refused.command, refused.error) from None
        except smtplib.SMTPResponseException as exc:  # DATA answered other than 354
            raise self._error("DATA", exc) from None
        except TimeoutError:
            raise ChannelUnavailable(
                f"{self._where()} did not answer within {self.timeout:g} s",
                channel=self.name,
                code="timeout",
            ) from None
        except ssl.SSLCertVerificationError as exc:
            raise ChannelError(
                f"{self._where()}: its TLS certificate is not trusted ({exc.verify_message})",
                channel=self.name,
                code="tls",
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            # refused, reset or broken connections; name the error's kind, not its text
            raise ChannelUnavailable(
                f"{self._where()}: connection failed ({type(exc).__name__})",
                channel=self.name,
                code="connection",
            ) from None
        accepted_at = dt.datetime.now(dt.UTC)
        log.debug("email: message %s accepted by %s", mid, self._where())
        return SendResult(mid, accepted_at)

    def _where(self) -> str:
        return f"SMTP server {self.settings.host}:{self.settings.port}"

    def _recipient(self, to: str) -> str:
        """The envelope address of ``to``: ASCII, the domain IDNA-encoded."""
        local, at, domain = to.strip().rpartition("@")
        if not at or not local or not domain or any(c.isspace() or c in '<>"' for c in to):
            raise RecipientRefused("not an e-mail address", channel=self.name, code="address")
        try:
            domain = domain.encode("idna").decode("ascii")
            local.encode("ascii")
        except UnicodeError:
            # a non-ASCII local part needs SMTPUTF8, which the channel does not use
            raise RecipientRefused(
                "the address cannot be sent without SMTPUTF8", channel=self.name, code="address"
            ) from None
        return f"{local}@{domain}"

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.security == "tls":
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._context)
        return smtplib.SMTP(s.host, s.port, timeout=s.timeout)

    def _start(self, smtp: smtplib.SMTP) -> None:
        s = self.settings
        self._command("EHLO", *smtp.ehlo())
        if s.security == "starttls":
            if not smtp.has_extn("starttls"):
                # never fall back to plain text: that is what a downgrade attack looks for
                raise ChannelError(
                    f"{self._where()} does not offer STARTTLS", channel=self.name, code="tls"
                )
            self._command("STARTTLS", *smtp.starttls(context=self._context))
            self._command("EHLO", *smtp.ehlo())
        if s.username:
            self._login(smtp)

    def _login(self, smtp: smtplib.SMTP) -> None:
        s = self.settings
        if not smtp.has_extn("auth"):
            raise ChannelError(f"{self._where()} offers no AUTH", channel=self.name, code="auth")
        if "PLAIN" in smtp.esmtp_features.get("auth", "").upper().split():
            # AUTH PLAIN by hand: RFC 4616 carries UTF-8, while smtplib's login() encodes
            # the password as ASCII (and fails on a Cyrillic one)
            token = b"\0" + s.username.encode() + b"\0" + s.password.encode()
            code, text = smtp.docmd("AUTH", "PLAIN " + base64.b64encode(token).decode("ascii"))
            if code != 235:
                raise _Refused("AUTH", code, text)
            return
        try:
            smtp.login(s.username, s.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise _Refused("AUTH", exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPNotSupportedError, smtplib.SMTPException, UnicodeError):
            # no mechanism smtplib knows, or a non-ASCII password over AUTH LOGIN
            raise ChannelError(
                f"{self._where()}: no AUTH mechanism fits the credentials",
                channel=self.name,
                code="auth",
            ) from None

    @staticmethod
    def _command(command: str, code: int, text: bytes) -> None:
        ok = {"EHLO": (250,), "STARTTLS": (220,), "MAIL": (250,), "RCPT": (250, 251)}
        if code not in ok.get(command, (250,)):
            raise _Refused(command, code, text)

    def _error(self, command: str, error: smtplib.SMTPResponseException) -> ChannelError:
        code = _code(error)
        what = f"{self._where()} answered {code} to {command}"
        if 400 <= error.smtp_code < 500 or error.smtp_code == -1:
            return ChannelUnavailable(what, channel=self.name, code=code)
        if command == "RCPT":
            text = error.smtp_error if isinstance(error.smtp_error, bytes) else b""
            enhanced = _ENHANCED.match(text)
            unknown = (enhanced is not None and enhanced.group(0) == b"5.1.1") or (
                enhanced is None and _UNKNOWN_USER.search(text) is not None
            )
            if error.smtp_code == 550 and unknown:
                return DeadRecipient(f"{what}: no such mailbox", channel=self.name, code=code)
            return RecipientRefused(what, channel=self.name, code=code)
        return ChannelError(what, channel=self.name, code=code)
