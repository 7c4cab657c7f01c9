"""Entry point of the SMSC.ru channel: the ``smsc`` factory for ``pes_notification_channels``.

Nothing heavy is imported here (the plugin host loads this module for every ``pes``
command): the channel and httpx come in when a channel is built.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.notifications import NotificationChannelFactory
from pes_sdk.notifications.settings import ChannelSettings
from pes_sdk.plugins import hookimpl

if TYPE_CHECKING:
    from pes_sdk_smsc.channel import SmscChannel

__all__ = ["DEFAULT_API_KEY_ENV", "SETTINGS", "SmscFactory", "pes_notification_channels"]

#: Every setting the factory reads; another one is a mistake it names.
SETTINGS = (
    "api_key",
    "api_key_env",
    "login",
    "password",
    "password_env",
    "sender",
    "endpoint",
    "timeout",
    "max_parts",
)
#: Where the API key is read from when no credential setting is given.
DEFAULT_API_KEY_ENV = "PES_SMSC_API_KEY"
# SMSC.ru: "английские буквы, цифры, пробел и некоторые символы; 11 символов или 15 цифр"
_ALPHA_SENDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._\-]{0,10}")
_DIGIT_SENDER = re.compile(r"[0-9]{1,15}")


def _secret(values: ChannelSettings, name: str, default_env: str = "") -> str:
    """The secret ``name`` given as a value (the runner's ``secrets_env``) or through
    ``<name>_env`` (a variable's name, else ``default_env``); "" when neither is given."""
    value = values.values.get(name, "")
    if value and values.given(f"{name}_env"):
        raise ConfigError(f"SMSC settings: give {name!r} or {name + '_env'!r}, not both")
    if values.given(f"{name}_env") or default_env:
        value = values.secret_env(f"{name}_env", name, default=default_env)
    value = value.strip()
    if any(c.isspace() or ord(c) < 0x20 for c in value):
        raise ConfigError(f"the SMSC {name} has characters it cannot have")
    return value


@attrs.frozen
class SmscFactory:
    """Builds SMSC.ru channels. Settings (strings, as a configuration file gives them):

    * credentials, either an API key (SMSC: Настройки → «Пароли и авторизация»):
      ``api_key`` (the value: what the runner's ``secrets_env`` hands over) or
      ``api_key_env`` (the name of the variable holding it, default ``PES_SMSC_API_KEY``
      when no credential is given); or ``login`` with ``password`` / ``password_env``.
      Secrets never go in a configuration file, a log, an error or a ``repr``;
    * ``sender``: the sender name (alpha name) registered at SMSC, at most 11 Latin
      letters, digits, spaces and ``._-``, or 15 digits; none: SMSC's default;
    * ``endpoint``: default ``https://smsc.ru`` (``https://www2.smsc.ru`` is SMSC's reserve
      server; a simulator's ``http://127.0.0.1:…`` in tests: plain http only to loopback);
    * ``timeout``: seconds for each call, default 10;
    * ``max_parts``: the most SMS one message may take, 1 to 15, default 6 (a longer text is
      refused before anything is sent; SMSC is told ``maxsms`` too).

    Building a channel reads the environment; it touches no network.
    """

    name: str = "smsc"
    description: str = "SMS through SMSC.ru's HTTP API (send.php, UTF-8, alpha sender)"
    kinds: tuple[str, ...] = ("sms",)

    def create(self, settings: Mapping[str, str]) -> SmscChannel:
        from pes_sdk_smsc.channel import (
            DEFAULT_ENDPOINT,
            MAX_PARTS,
            SmscChannel,
            SmscSettings,
        )

        values = ChannelSettings(settings, channel="SMSC", known=SETTINGS)
        login = values.text("login")
        password = _secret(values, "password")
        if login or password:
            if not (login and password):
                raise ConfigError("SMSC settings: 'login' and a password go together")
            if "api_key" in settings or "api_key_env" in settings:
                raise ConfigError("SMSC settings: an API key or a login and password, not both")
            api_key = ""
        else:
            if "api_key" in settings or "api_key_env" in settings:
                api_key = _secret(values, "api_key")
            elif os.environ.get(DEFAULT_API_KEY_ENV, "").strip():
                api_key = _secret(values, "api_key", DEFAULT_API_KEY_ENV)
            else:
                api_key = ""
            if not api_key:
                raise ConfigError(
                    f"the SMSC channel needs credentials: 'api_key' (or 'api_key_env', by "
                    f"default {DEFAULT_API_KEY_ENV}), or 'login' and 'password' (or "
                    f"'password_env')"
                )
        sender = values.text("sender")
        if sender and not (_ALPHA_SENDER.fullmatch(sender) or _DIGIT_SENDER.fullmatch(sender)):
            raise values.error(
                "sender",
                f"at most 11 Latin letters, digits, spaces and ._- (or 15 digits), not {sender!r}",
            )
        return SmscChannel(
            SmscSettings(
                login=login,
                password=password,
                api_key=api_key,
                sender=sender,
                endpoint=values.endpoint(DEFAULT_ENDPOINT),
                timeout=values.timeout(),
                max_parts=values.integer("max_parts", 6, low=1, high=MAX_PARTS),
            )
        )


@hookimpl
def pes_notification_channels() -> Sequence[NotificationChannelFactory]:
    """SMS through SMSC.ru."""
    return [SmscFactory()]
