"""Entry point of the APNs channel: the ``apns`` factory for ``pes_notification_channels``.

Loading this module imports nothing heavy (no httpx, no cryptography): every ``pes``
command loads every plugin, and only :meth:`ApnsFactory.create` needs the channel.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.notifications import NotificationChannelFactory
from pes_sdk.notifications.settings import ChannelSettings
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

        values = ChannelSettings(settings, channel="APNs", known=SETTINGS)
        team_id = _apple_id(values, "team_id", "the Apple Developer team id")
        key_id = _apple_id(values, "key_id", "the id of the APNs key")
        key = _load_key(
            values.file_or_env("key_file", "key_env", "the .p8 key file"),
            "setting 'key_file' or 'key_env'",
        )
        bundle_id = values.text("bundle_id")
        if not _BUNDLE_ID.fullmatch(bundle_id):
            raise ConfigError(
                "the APNs channel needs the setting 'bundle_id': the app's bundle id "
                f"(apns-topic, such as ru.example.zhkh), not {bundle_id!r}"
            )
        environment = values.choice("environment", tuple(ENDPOINTS), "production")
        endpoint = values.text("endpoint", ENDPOINTS[environment])
        parts = urllib.parse.urlsplit(endpoint)
        if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
            raise values.error(
                "endpoint",
                f"an https:// URL of a host (APNs is HTTP/2 over TLS only), not {endpoint!r}",
            )
        if parts.username is not None or parts.query:
            raise values.error("endpoint", "no credentials or query in the URL")
        ca_file = values.file("ca_file")
        timeout = values.timeout()
        ttl = values.integer(
            "ttl", 86400, low=0, high=30 * 86400, span="whole seconds from 0 to 30 days"
        )
        category = values.text("category", "PES_LINKS")
        if not _CATEGORY.fullmatch(category):
            raise values.error("category", f"letters, digits, '_', '-' and '.', not {category!r}")
        try:
            return ApnsChannel(
                ApnsSettings(
                    team_id=team_id,
                    key_id=key_id,
                    key=key,
                    topic=bundle_id,
                    endpoint=endpoint.rstrip("/"),
                    timeout=timeout,
                    ttl=ttl,
                    category=category,
                    ca_file=ca_file,
                )
            )
        except OSError as exc:  # ssl: a ca_file that is not PEM certificates
            raise values.error("ca_file", f"cannot load it ({exc})") from None


def _apple_id(values: ChannelSettings, name: str, what: str) -> str:
    value = values.text(name)
    if not _APPLE_ID.fullmatch(value):
        raise ConfigError(
            f"the APNs channel needs the setting {name!r}: {what}, 10 capital letters "
            f"and digits, not {value!r}"
        )
    return value


@hookimpl
def pes_notification_channels() -> Sequence[NotificationChannelFactory]:
    """The APNs push channel."""
    return [ApnsFactory()]
