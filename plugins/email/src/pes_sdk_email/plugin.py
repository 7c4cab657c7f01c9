"""Entry point of the e-mail channel: the ``email`` factory for ``pes_notification_channels``."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping, Sequence
from email.errors import HeaderParseError
from email.headerregistry import Address
from pathlib import Path
from typing import cast

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.notifications import NotificationChannelFactory
from pes_sdk.plugins import hookimpl
from pes_sdk_email.channel import DEFAULT_PORTS, KINDS, EmailChannel, EmailSettings, Security

__all__ = ["SETTINGS", "EmailFactory", "pes_notification_channels"]

#: Every setting the factory reads; another one is a mistake it names.
SETTINGS = (
    "host",
    "port",
    "security",
    "username",
    "password",
    "from_address",
    "from_name",
    "reply_to",
    "timeout",
    "ca_file",
)


def _loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _address(settings: Mapping[str, str], name: str, display: str = "") -> str:
    raw = settings.get(name, "").strip()
    try:
        address = Address(display_name=display, addr_spec=raw)
    except (ValueError, TypeError, IndexError, HeaderParseError):
        raise ConfigError(f"e-mail setting {name!r}: {raw!r} is not an e-mail address") from None
    if not address.username or not address.domain:
        raise ConfigError(f"e-mail setting {name!r}: {raw!r} is not an e-mail address")
    return raw


@attrs.frozen
class EmailFactory:
    """Builds e-mail channels. Settings (strings, as a configuration file gives them):

    * ``host`` (required): the SMTP server; ``port``: default 587 for ``starttls``, 465 for
      ``tls``, 25 for ``none``;
    * ``security``: ``starttls`` (default: plain connection, then ``STARTTLS``, refused if
      the server does not offer it), ``tls`` (implicit TLS from the first byte) or ``none``
      (no encryption: a loopback ``host`` only, such as a local relay);
    * ``username`` and ``password``: ``AUTH`` when a username is given (never logged, never
      in the channel's ``repr``);
    * ``from_address`` (required), ``from_name`` (Cyrillic is fine: RFC 2047),
      ``reply_to``;
    * ``timeout``: seconds for the connection and for each command, default 10;
    * ``ca_file``: a PEM file of the CAs to trust instead of the system's (a company's own
      CA, or a test's throwaway one); the server's name is checked either way.

    Building a channel touches no network (``ca_file`` is read).
    """

    name: str = "email"
    description: str = "e-mail over SMTP (STARTTLS or TLS, verified; AUTH)"
    kinds: tuple[str, ...] = KINDS

    def create(self, settings: Mapping[str, str]) -> EmailChannel:
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise ConfigError(
                f"e-mail settings: unknown {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(SETTINGS)}"
            )
        host = settings.get("host", "").strip()
        if not host:
            raise ConfigError("the e-mail channel needs the setting 'host': the SMTP server")
        security = settings.get("security", "starttls").strip().lower() or "starttls"
        if security not in DEFAULT_PORTS:
            raise ConfigError(f"e-mail setting 'security': starttls, tls or none, not {security!r}")
        if security == "none" and not _loopback(host):
            raise ConfigError(
                f"e-mail setting 'security' = none sends in the clear: only to a loopback "
                f"host, not {host!r}; use starttls or tls"
            )
        port = self._number(settings, "port", str(DEFAULT_PORTS[security]))
        if not (port.is_integer() and 0 < port < 65536):
            raise ConfigError(f"e-mail setting 'port': 1 to 65535, not {settings['port']!r}")
        timeout = self._number(settings, "timeout", "10")
        if not (0 < timeout <= 300):
            raise ConfigError(
                f"e-mail setting 'timeout': more than 0 and at most 300 s, not {timeout:g}"
            )
        username = settings.get("username", "")
        password = settings.get("password", "")
        if password and not username:
            raise ConfigError("e-mail setting 'password' without 'username'")
        if not settings.get("from_address", "").strip():
            raise ConfigError(
                "the e-mail channel needs the setting 'from_address': the sender's address"
            )
        from_name = settings.get("from_name", "").strip()
        if any(c in from_name for c in "\r\n"):
            raise ConfigError("e-mail setting 'from_name' must be one line")
        from_address = _address(settings, "from_address", from_name)
        reply_to = _address(settings, "reply_to") if settings.get("reply_to", "").strip() else ""
        ca_file = None
        if settings.get("ca_file", "").strip():
            ca_file = Path(settings["ca_file"].strip())
            if not ca_file.is_file():
                raise ConfigError(f"e-mail setting 'ca_file': {str(ca_file)!r} is not a file")
        try:
            return EmailChannel(
                EmailSettings(
                    host=host,
                    port=int(port),
                    security=cast(Security, security),
                    from_address=from_address,
                    from_name=from_name,
                    reply_to=reply_to,
                    username=username,
                    password=password,
                    timeout=timeout,
                    ca_file=ca_file,
                )
            )
        except OSError as exc:  # ssl: a ca_file that is not PEM certificates
            raise ConfigError(f"e-mail setting 'ca_file': cannot load it ({exc})") from None

    @staticmethod
    def _number(settings: Mapping[str, str], name: str, default: str) -> float:
        raw = settings.get(name, "").strip() or default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"e-mail setting {name!r}: not a number: {raw!r}") from None
        if not math.isfinite(value):
            raise ConfigError(f"e-mail setting {name!r}: not a number: {raw!r}")
        return value


@hookimpl
def pes_notification_channels() -> Sequence[NotificationChannelFactory]:
    """The e-mail channel over SMTP."""
    return [EmailFactory()]
