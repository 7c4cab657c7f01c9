"""Entry point of the e-mail channel: the ``email`` factory for ``pes_notification_channels``."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import cast

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.notifications import NotificationChannelFactory
from pes_sdk.notifications.settings import ChannelSettings
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
        values = ChannelSettings(settings, channel="e-mail", known=SETTINGS)
        host = values.required("host", "the SMTP server")
        security = values.choice("security", tuple(DEFAULT_PORTS), "starttls")
        if security == "none" and not _loopback(host):
            raise ConfigError(
                f"e-mail setting 'security' = none sends in the clear: only to a loopback "
                f"host, not {host!r}; use starttls or tls"
            )
        port = values.integer("port", DEFAULT_PORTS[security], low=1, high=65535)
        timeout = values.timeout()
        username = settings.get("username", "")
        password = settings.get("password", "")
        if password and not username:
            raise ConfigError("e-mail setting 'password' without 'username'")
        values.required("from_address", "the sender's address")
        from_name = values.text("from_name")
        if any(c in from_name for c in "\r\n"):
            raise values.error("from_name", "must be one line")
        from_address = _address(settings, "from_address", from_name)
        reply_to = _address(settings, "reply_to") if values.given("reply_to") else ""
        ca_file = values.file("ca_file")
        try:
            return EmailChannel(
                EmailSettings(
                    host=host,
                    port=port,
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
            raise values.error("ca_file", f"cannot load it ({exc})") from None


@hookimpl
def pes_notification_channels() -> Sequence[NotificationChannelFactory]:
    """The e-mail channel over SMTP."""
    return [EmailFactory()]
