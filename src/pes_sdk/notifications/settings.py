"""Reading a channel factory's settings: :class:`ChannelSettings`.

A :class:`~pes_sdk.notifications.NotificationChannelFactory` gets its settings as strings,
as a configuration file gives them, and must refuse a wrong one with a
:class:`~pes_sdk.errors.ConfigError` that names the channel and the setting. The checks
every channel needs live here, so that each factory keeps only its own (an Apple team id,
a sender name)::

    values = ChannelSettings(settings, channel="RuStore", known=SETTINGS)
    project_id = values.required("project_id", "the push project's id")
    token = values.secret_env("service_token_env", "service token", default=DEFAULT_TOKEN_ENV)
    endpoint = values.endpoint(DEFAULT_ENDPOINT)
    timeout = values.timeout()

Secrets never go in the settings themselves: a setting names the environment variable
(:meth:`~ChannelSettings.secret_env`) or the file (:meth:`~ChannelSettings.file_or_env`)
that holds one, and no error ever quotes a secret's value. Nothing here touches the
network.
"""

from __future__ import annotations

import math
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from pes_sdk.errors import ConfigError

__all__ = ["ChannelSettings", "is_loopback_url"]

#: What an environment variable's name may be (POSIX's portable names).
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is ``localhost`` or a loopback address (``127.…``, ``::1``)."""
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def _one_of(options: Sequence[str]) -> str:
    return " or ".join([", ".join(options[:-1]), options[-1]] if len(options) > 1 else options)


class ChannelSettings:
    """The settings of one channel, read with errors naming the channel and the setting.

    :param values: the settings as the configuration gives them (strings).
    :param channel: the channel's name as messages say it (``"APNs"``, ``"e-mail"``).
    :param known: every setting the factory reads; another one is refused at once, as a
        mistake (a misspelt name would otherwise be silently ignored).
    :param hints: words added to that refusal when a given unknown setting is met, e.g.
        ``{"service_token": "put the token in an environment variable"}``.
    :raises ConfigError: a setting not in ``known``.
    """

    def __init__(
        self,
        values: Mapping[str, str],
        *,
        channel: str,
        known: Iterable[str],
        hints: Mapping[str, str] | None = None,
    ) -> None:
        self.values = values
        self.channel = channel
        self.known = tuple(known)
        unknown = sorted(set(values) - set(self.known))
        if unknown:
            said = [hint for name, hint in (hints or {}).items() if name in unknown]
            hint = f" ({'; '.join(said)})" if said else ""
            raise ConfigError(
                f"{channel} settings: unknown {', '.join(map(repr, unknown))}{hint}; "
                f"known: {', '.join(self.known)}"
            )

    def error(self, name: str, problem: str) -> ConfigError:
        """A :class:`ConfigError` saying ``problem`` of setting ``name``."""
        return ConfigError(f"{self.channel} setting {name!r}: {problem}")

    def given(self, name: str) -> bool:
        """Whether setting ``name`` is given, and not blank."""
        return bool(self.values.get(name, "").strip())

    def text(self, name: str, default: str = "") -> str:
        """Setting ``name`` without surrounding spaces; ``default`` when absent or blank."""
        return self.values.get(name, "").strip() or default

    def required(self, name: str, what: str) -> str:
        """Setting ``name``, which must be given; ``what`` says what it is in the error."""
        value = self.text(name)
        if not value:
            raise ConfigError(f"the {self.channel} channel needs the setting {name!r}: {what}")
        return value

    def choice(self, name: str, options: Sequence[str], default: str) -> str:
        """Setting ``name`` (any case) as one of ``options``; ``default`` when absent."""
        value = self.text(name).lower() or default
        if value not in options:
            raise self.error(name, f"{_one_of(options)}, not {value!r}")
        return value

    def number(self, name: str, default: float) -> float:
        """Setting ``name`` as a finite number; ``default`` when absent."""
        raw = self.text(name)
        if not raw:
            return float(default)
        try:
            value = float(raw)
        except ValueError:
            raise self.error(name, f"not a number: {raw!r}") from None
        if not math.isfinite(value):
            raise self.error(name, f"not a number: {raw!r}")
        return value

    def timeout(self, default: float = 10.0, *, most: float = 300.0) -> float:
        """Setting ``timeout``: seconds for each call to the provider, more than 0 and at
        most ``most``; ``default`` when absent."""
        value = self.number("timeout", default)
        if not 0 < value <= most:
            raise self.error("timeout", f"more than 0 and at most {most:g} s, not {value:g}")
        return value

    def integer(self, name: str, default: int, *, low: int, high: int, span: str = "") -> int:
        """Setting ``name`` as a whole number from ``low`` to ``high``; ``default`` when
        absent. ``span`` says the range in the error (``"whole seconds from 0 to 4
        weeks"``); by default ``"<low> to <high>"``."""
        value = self.number(name, default)
        if not (value.is_integer() and low <= value <= high):
            raise self.error(name, f"{span or f'{low} to {high}'}, not {self.text(name)!r}")
        return int(value)

    def flag(self, name: str, default: bool = False) -> bool:
        """Setting ``name`` as ``true``/``false`` (also ``yes``/``no``, ``on``/``off``,
        ``1``/``0``, any case); ``default`` when absent."""
        value = self.text(name).lower()
        if not value:
            return default
        if value not in _TRUE + _FALSE:
            raise self.error(name, f"true or false, not {value!r}")
        return value in _TRUE

    def endpoint(self, default: str, name: str = "endpoint") -> str:
        """Setting ``name``: the provider's base URL without a trailing ``/``, ``https``
        (plain ``http`` only to a loopback host: a simulator in tests); ``default`` when
        absent."""
        value = self.text(name).rstrip("/") or default
        if not (
            value.startswith("https://") or (value.startswith("http://") and is_loopback_url(value))
        ):
            raise self.error(name, f"an https URL (http only to a loopback host), not {value!r}")
        return value

    def file(self, name: str) -> Path | None:
        """Setting ``name`` as the path of an existing file; None when absent."""
        if not self.given(name):
            return None
        path = Path(self.text(name))
        if not path.is_file():
            raise self.error(name, f"{str(path)!r} is not a file")
        return path

    def secret_env(self, name: str, what: str, *, default: str = "") -> str:
        """The secret held by the environment variable that setting ``name`` names
        (``default`` when absent), as it is there; ``what`` names the secret in errors.

        The setting holds a variable's name, never the secret: a configuration file can be
        shown to anyone. The variable must be set and not blank; no error quotes its value.
        """
        env = self.text(name, default)
        if not env:
            raise ConfigError(
                f"the {self.channel} channel needs the setting {name!r}: the name of an "
                f"environment variable holding its {what}"
            )
        if not _ENV_NAME.fullmatch(env):
            raise self.error(name, f"the name of an environment variable, not {env!r}")
        value = os.environ.get(env, "")
        if not value.strip():
            raise ConfigError(
                f"the {self.channel} channel reads its {what} from the environment variable "
                f"{env}, which is not set"
            )
        return value

    def file_or_env(self, file: str, env: str, what: str) -> bytes:
        """A secret (a private key) from the file setting ``file`` names, or from the
        environment variable setting ``env`` names: exactly one of the two.

        Text put on one line with ``\\n`` escapes, as ``.env`` files often hold a PEM, gets
        its line breaks back. ``what`` names the secret in errors, which never quote it.
        """
        path = self.text(file)
        if bool(path) == self.given(env):
            raise ConfigError(
                f"the {self.channel} channel needs one of the settings {file!r} (the path of "
                f"{what}) or {env!r} (an environment variable holding it)"
            )
        if path:
            try:
                return Path(path).read_bytes()
            except OSError as exc:
                raise self.error(
                    file, f"cannot read {path!r} ({exc.strerror or type(exc).__name__})"
                ) from None
        text = self.secret_env(env, what)
        if "\\n" in text and "\n" not in text:
            text = text.replace("\\n", "\n")
        return text.encode("utf-8")
