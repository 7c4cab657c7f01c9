"""A real SMTP server on loopback (aiosmtpd) that the e-mail tests drive.

It speaks SMTP as a mail provider does: STARTTLS or implicit TLS with a certificate of a
throwaway CA (trustme), AUTH PLAIN/LOGIN, and answers the tests choose: a refused or
unknown recipient, a throttle (451), a server going away (421), or silence (a stall that
lasts until :meth:`SmtpSimulator.heal`). Its refusals quote the recipient's address, as
real servers do, so a channel that echoes the server's text leaks it and is caught.
Satisfies :class:`pes_sdk_conformance.notifications.ChannelHarness`.
"""

from __future__ import annotations

import asyncio
import email.policy
import logging
import socket
import ssl
import threading
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pes_sdk_email import EmailChannel, EmailFactory

USERNAME = "robot@zhkh-oplata.ru"
PASSWORD = "s3cret-Пароль-42"
RECIPIENT = "ivanova.m@example.ru"
SERVER_LOG = logging.getLogger("mail.log")  # aiosmtpd's

# the answer to RCPT of each fault; {0} is the recipient's address, quoted as servers do
RCPT_ANSWERS = {
    "refused": "553 5.1.3 <{0}>: Recipient address rejected: not allowed",
    "dead": "550 5.1.1 <{0}>: Recipient address rejected: User unknown in virtual table",
    "throttled": "451 4.7.1 <{0}>: Recipient address rejected: try again later",
    "unavailable": "421 4.3.2 Service shutting down, closing transmission channel",
    # beyond the conformance family's answers: SMTP's own cases
    "dead-without-enhanced-code": "550 <{0}>: no such user here",
    "policy": "550 5.7.1 <{0}>: Relay access denied",
    "not-local": "551 5.1.6 <{0}>: User not local; please try another path",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Handler:
    def __init__(self, sim: SmtpSimulator) -> None:
        self.sim = sim

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        fault = self.sim._take()
        with self.sim._lock:
            self.sim._requests += 1
        if fault == "stall":
            self.sim._stall_data = True
        elif fault is not None:
            return RCPT_ANSWERS[fault].format(address)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.sim._stall_data:
            self.sim._stall_data = False
            while not self.sim._healed.is_set():
                await asyncio.sleep(0.02)
        with self.sim._lock:
            self.sim.messages.append(
                (envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
            )
        return "250 2.0.0 Ok: queued as 4B2C31F0A"


class SmtpSimulator:
    """An SMTP server on 127.0.0.1 and the channel configured for it."""

    kind = "email"
    recipient = RECIPIENT
    secrets = (PASSWORD,)

    def __init__(
        self,
        folder: Path,
        *,
        security: str = "starttls",
        auth: bool = True,
        timeout: float = 1.0,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.timeout = timeout
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.logins: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._faults: list[str] = []
        self._always: str | None = None
        self._requests = 0
        self._stall_data = False
        self._healed = threading.Event()

        self.ca = trustme.CA()
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
        self.ca_file = folder / "smtp-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))

        self.port = _free_port()
        kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": self.port}
        if security == "tls":
            kwargs["ssl_context"] = server_context
        elif security == "starttls":
            kwargs.update(tls_context=server_context, require_starttls=True)
        if auth:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
            if security != "starttls":
                # aiosmtpd counts only STARTTLS as TLS; implicit TLS is TLS from the start
                kwargs["auth_require_tls"] = False
        self.controller = Controller(_Handler(self), server_hostname="mx.example.ru", **kwargs)
        self.settings = {
            "host": "127.0.0.1",
            "port": str(self.port),
            "security": security,
            "from_address": "noreply@zhkh-oplata.ru",
            "from_name": "ЖКХ-Оплата «Поставщик»",
            "reply_to": "support@zhkh-oplata.ru",
            "timeout": str(timeout),
            "ca_file": str(self.ca_file),
            **({"username": USERNAME, "password": PASSWORD} if auth else {}),
            **(settings or {}),
        }
        self.channel: EmailChannel = EmailFactory().create(self.settings)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            self.logins.append((login, password))
            if (login, password) == (USERNAME, PASSWORD):
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def __enter__(self) -> SmtpSimulator:
        # The server's own log names every recipient; the checks read every logger for
        # the channel's leaks, so the simulator keeps quiet below errors.
        self._server_log_level = SERVER_LOG.level
        SERVER_LOG.setLevel(logging.ERROR)
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.heal()
        self.channel.close()
        self.controller.stop()
        SERVER_LOG.setLevel(self._server_log_level)

    def _take(self) -> str | None:
        with self._lock:
            if self._faults:
                return self._faults.pop(0)
            return self._always

    # -- ChannelHarness ------------------------------------------------------------------

    def requests(self) -> int:
        with self._lock:
            return self._requests

    def received(self) -> int:
        with self._lock:
            return len(self.messages)

    def fail_next(self, answer: str, *, times: int = 1, retry_after: int | None = None) -> bool:
        if retry_after is not None or (answer not in RCPT_ANSWERS and answer != "stall"):
            return False  # SMTP has no Retry-After
        with self._lock:
            self._faults.extend([answer] * times)
        self._healed.clear()
        return True

    def fail_always(self, answer: str, *, retry_after: int | None = None) -> bool:
        if retry_after is not None or answer not in RCPT_ANSWERS:
            return False
        with self._lock:
            self._always = answer
        return True

    def heal(self) -> None:
        with self._lock:
            self._faults.clear()
            self._always = None
        self._healed.set()

    # -- for the tests -------------------------------------------------------------------

    def parsed(self, index: int = -1) -> EmailMessage:
        """A received message, parsed back with the modern API."""
        raw = self.messages[index][2]
        message = BytesParser(policy=email.policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        return message
