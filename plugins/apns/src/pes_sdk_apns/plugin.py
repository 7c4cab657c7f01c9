"""Entry point of the APNs channel: the ``apns`` factory for ``pes_notification_channels``.

Loading this module imports nothing heavy (no httpx, no cryptography): every ``pes``
command loads every plugin, and only :meth:`ApnsFactory.create` needs the channel.
"""

from __future__ import annotations

import math
import os
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.notifications import NotificationChannelFactory
from pes_sdk.plugins import hookimpl

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

    from pes_sdk_apns.channel import ApnsChannel

__all__ = ["SETTINGS", "ApnsFactory", "pes_notification_channels"]

#: Every setting the factory reads; another one is a mistake it names.
SETTINGS = (
    "team_id",
    "key_id",
    "key_file",
    "key_env",
    "bundle_id",
    "environment",
    "endpoint",
    "ca_file",
    "timeout",
    "ttl",
    "category",
)

# Apple's team and key ids are 10 upper-case letters and digits.
_APPLE_ID = re.compile(r"[A-Z0-9]{10}")
# A bundle id: reverse-DNS letters, digits, hyphens and dots (apns-topic).
_BUNDLE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,154}")
_CATEGORY = re.compile(r"[A-Za-z0-9_.-]{1,60}")


def _load_key(pem: bytes, where: str) -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        # the key's text never goes into the message, not even a part of it
        raise ConfigError(
            f"APNs {where}: not a PEM private key (the .p8 file Apple gives, "
            f"'-----BEGIN PRIVATE KEY-----')"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ConfigError(f"APNs {where}: not a P-256 (ES256) key, as APNs keys are")
    return key


@attrs.frozen
class ApnsFactory:
    """Builds APNs channels. Settings (strings, as a configuration file gives them):

    * ``team_id`` (required): the Apple Developer team id, 10 characters (the token's
      ``iss``);
    * ``key_id`` (required): the APNs key's id, 10 characters (the token's ``kid``);
    * ``key_file``: the path of the ``.p8`` key file, or ``key_env``: the name of an
      environment variable holding its text (one of the two; the key itself never goes
      in a configuration file);
    * ``bundle_id`` (required): the app's bundle id (``apns-topic``);
    * ``environment``: ``production`` (default) or ``sandbox`` (development builds of the
      app; their device tokens differ);
    * ``endpoint``: another ``https://`` base URL in place of the environment's (the
      loopback simulator);
    * ``ca_file``: PEM certificates to trust instead of the system's (a test CA);
    * ``timeout``: seconds for each request, default 10; ``ttl``: seconds APNs keeps an
      undelivered notification, default 86400 (0: deliver now or never);
    * ``category``: the prefix of ``aps.category`` for notifications with buttons, default
      ``PES_LINKS`` (``PES_LINKS_1`` … ``PES_LINKS_3``; see the README).

    Building a channel reads the key and touches no network.
    """

    name: str = "apns"
    description: str = "iOS pushes through Apple APNs (HTTP/2, token auth)"
    kinds: tuple[str, ...] = ("push",)

    def create(self, settings: Mapping[str, str]) -> ApnsChannel:
        from pes_sdk_apns.channel import ApnsChannel, ApnsSettings
        from pes_sdk_apns.protocol import ENDPOINTS

        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise ConfigError(
                f"APNs settings: unknown {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(SETTINGS)}"
            )
        team_id = self._apple_id(settings, "team_id", "the Apple Developer team id")
        key_id = self._apple_id(settings, "key_id", "the id of the APNs key")
        key = _load_key(self._key_text(settings), "setting 'key_file' or 'key_env'")
        bundle_id = settings.get("bundle_id", "").strip()
        if not _BUNDLE_ID.fullmatch(bundle_id):
            raise ConfigError(
                "the APNs channel needs the setting 'bundle_id': the app's bundle id "
                f"(apns-topic, such as ru.example.zhkh), not {bundle_id!r}"
            )
        environment = settings.get("environment", "").strip().lower() or "production"
        if environment not in ENDPOINTS:
            raise ConfigError(
                f"APNs setting 'environment': production or sandbox, not {environment!r}"
            )
        endpoint = settings.get("endpoint", "").strip() or ENDPOINTS[environment]
        parts = urllib.parse.urlsplit(endpoint)
        if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
            raise ConfigError(
                f"APNs setting 'endpoint': an https:// URL of a host (APNs is HTTP/2 over "
                f"TLS only), not {endpoint!r}"
            )
        if parts.username is not None or parts.query:
            raise ConfigError("APNs setting 'endpoint': no credentials or query in the URL")
        ca_file = None
        if settings.get("ca_file", "").strip():
            ca_file = Path(settings["ca_file"].strip())
            if not ca_file.is_file():
                raise ConfigError(f"APNs setting 'ca_file': {str(ca_file)!r} is not a file")
        timeout = self._number(settings, "timeout", "10")
        if not 0 < timeout <= 300:
            raise ConfigError(
                f"APNs setting 'timeout': more than 0 and at most 300 s, not {timeout:g}"
            )
        ttl = self._number(settings, "ttl", "86400")
        if not (ttl.is_integer() and 0 <= ttl <= 30 * 86400):
            raise ConfigError(f"APNs setting 'ttl': whole seconds from 0 to 30 days, not {ttl:g}")
        category = settings.get("category", "").strip() or "PES_LINKS"
        if not _CATEGORY.fullmatch(category):
            raise ConfigError(
                f"APNs setting 'category': letters, digits, '_', '-' and '.', not {category!r}"
            )
        try:
            return ApnsChannel(
                ApnsSettings(
                    team_id=team_id,
                    key_id=key_id,
                    key=key,
                    topic=bundle_id,
                    endpoint=endpoint.rstrip("/"),
                    timeout=timeout,
                    ttl=int(ttl),
                    category=category,
                    ca_file=ca_file,
                )
            )
        except OSError as exc:  # ssl: a ca_file that is not PEM certificates
            raise ConfigError(f"APNs setting 'ca_file': cannot load it ({exc})") from None

    @staticmethod
    def _apple_id(settings: Mapping[str, str], name: str, what: str) -> str:
        value = settings.get(name, "").strip()
        if not _APPLE_ID.fullmatch(value):
            raise ConfigError(
                f"the APNs channel needs the setting {name!r}: {what}, 10 capital letters "
                f"and digits, not {value!r}"
            )
        return value

    @staticmethod
    def _key_text(settings: Mapping[str, str]) -> bytes:
        key_file = settings.get("key_file", "").strip()
        key_env = settings.get("key_env", "").strip()
        if bool(key_file) == bool(key_env):
            raise ConfigError(
                "the APNs channel needs one of the settings 'key_file' (the .p8 file's path) "
                "or 'key_env' (an environment variable holding its text)"
            )
        if key_file:
            try:
                return Path(key_file).read_bytes()
            except OSError as exc:
                raise ConfigError(
                    f"APNs setting 'key_file': cannot read {key_file!r} "
                    f"({exc.strerror or type(exc).__name__})"
                ) from None
        text = os.environ.get(key_env, "")
        if not text.strip():
            raise ConfigError(
                f"APNs setting 'key_env': the environment variable {key_env!r} is not set"
            )
        if "\\n" in text and "\n" not in text:
            text = text.replace("\\n", "\n")  # a PEM put on one line, as .env files often do
        return text.encode("utf-8")

    @staticmethod
    def _number(settings: Mapping[str, str], name: str, default: str) -> float:
        raw = settings.get(name, "").strip() or default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"APNs setting {name!r}: not a number: {raw!r}") from None
        if not math.isfinite(value):
            raise ConfigError(f"APNs setting {name!r}: not a number: {raw!r}")
        return value


@hookimpl
def pes_notification_channels() -> Sequence[NotificationChannelFactory]:
    """The APNs push channel."""
    return [ApnsFactory()]
