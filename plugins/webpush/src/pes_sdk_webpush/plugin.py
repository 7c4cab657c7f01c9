"""Entry point of the Web Push channel: the ``webpush`` factory for
``pes_notification_channels``.

Loading this module imports nothing heavy (no httpx, no cryptography): every ``pes``
command loads every plugin, and only :meth:`WebPushFactory.create` needs the channel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.notifications import NotificationChannelFactory
from pes_sdk.notifications.settings import ChannelSettings
from pes_sdk.plugins import hookimpl

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

    from pes_sdk_webpush.channel import WebPushChannel

__all__ = ["SETTINGS", "WebPushFactory", "load_vapid_key", "pes_notification_channels"]

#: Every setting the factory reads; another one is a mistake it names.
SETTINGS = (
    "vapid_key_file",
    "vapid_key_env",
    "subject",
    "ttl",
    "urgency",
    "timeout",
    "allow_loopback_http",
    "allow_private_endpoints",
)


def load_vapid_key(text: bytes, where: str = "the VAPID key") -> ec.EllipticCurvePrivateKey:
    """The VAPID private key from a PEM (``-----BEGIN PRIVATE KEY-----`` or ``… EC PRIVATE
    KEY-----``, as ``openssl ecparam -genkey -name prime256v1`` or py-vapid's ``vapid
    --gen`` write it) or from the raw 32 bytes in URL-safe base64 (what ``web-push
    generate-vapid-keys`` prints as the private key). :class:`ConfigError` naming
    ``where`` otherwise, never quoting the key.
    """
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from pes_sdk_webpush.protocol import b64url_decode

    stripped = text.strip()
    key: object = None
    if stripped.startswith(b"-----BEGIN"):
        try:
            key = load_pem_private_key(stripped, password=None)
        except (ValueError, TypeError):
            key = None
    else:
        try:
            raw = b64url_decode(stripped.decode("ascii"))
            if len(raw) == 32:
                key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
        except (ValueError, UnicodeDecodeError):
            key = None
    if key is None:
        raise ConfigError(
            f"Web Push {where}: not a private key (a PEM, or the 32-byte private key in "
            f"URL-safe base64 as web-push generate-vapid-keys prints it)"
        )
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ConfigError(f"Web Push {where}: not a P-256 key, as VAPID keys are (ES256)")
    return key


@attrs.frozen
class WebPushFactory:
    """Builds Web Push channels. Settings (strings, as a configuration file gives them):

    * ``vapid_key_file``: the path of the VAPID private key (PEM, or the raw key in
      base64url), or ``vapid_key_env``: the name of an environment variable holding it (one
      of the two; the key itself never goes in a configuration file);
    * ``subject`` (required): the VAPID contact, ``mailto:`` an address or an ``https:``
      URL: whom a push service writes to about the traffic;
    * ``ttl``: seconds a push service keeps a message the browser cannot take yet,
      default 86400 (0: deliver now or never; at most 4 weeks);
    * ``urgency``: ``very-low``, ``low``, ``normal`` (default) or ``high``;
    * ``timeout``: seconds for each request, default 10;
    * ``allow_loopback_http``: ``true`` to take ``http://`` endpoints on loopback (the
      simulator in tests); default false, and never in production.
    * ``allow_private_endpoints``: ``true`` to take endpoints whose host is, or resolves
      to, a loopback, private or link-local address (a sandbox's simulator, tests);
      default false. UNSAFE: a subscription could then make the service POST into its own
      network; never in production.

    Building a channel reads the key and touches no network.
    """

    name: str = "webpush"
    description: str = "browser pushes through Web Push (VAPID, aes128gcm)"
    kinds: tuple[str, ...] = ("push",)

    def create(self, settings: Mapping[str, str]) -> WebPushChannel:
        from pes_sdk_webpush.channel import WebPushChannel, WebPushSettings
        from pes_sdk_webpush.protocol import URGENCIES, check_subject

        values = ChannelSettings(settings, channel="Web Push", known=SETTINGS)
        key = load_vapid_key(
            values.file_or_env("vapid_key_file", "vapid_key_env", "the VAPID private key"),
            "setting 'vapid_key_file' or 'vapid_key_env'",
        )
        subject = values.text("subject")
        try:
            check_subject(subject)
        except ValueError:
            raise ConfigError(
                "the Web Push channel needs the setting 'subject': the VAPID contact, "
                f"mailto: an address or an https: URL, not {subject!r}"
            ) from None
        ttl = values.integer(
            "ttl", 86400, low=0, high=2_419_200, span="whole seconds from 0 to 4 weeks"
        )
        return WebPushChannel(
            WebPushSettings(
                key=key,
                subject=subject,
                ttl=ttl,
                urgency=values.choice("urgency", URGENCIES, "normal"),
                timeout=values.timeout(),
                allow_loopback_http=values.flag("allow_loopback_http"),
                allow_private_endpoints=values.flag("allow_private_endpoints"),
            )
        )


@hookimpl
def pes_notification_channels() -> Sequence[NotificationChannelFactory]:
    """The Web Push channel."""
    return [WebPushFactory()]
