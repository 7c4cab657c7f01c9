"""pes-sdk-webpush: the Web Push channel of pes-sdk, for the client cabinet in a browser.

* :class:`~pes_sdk_webpush.plugin.WebPushFactory`: the ``webpush`` factory the
  ``pes_notification_channels`` hook returns (settings: the VAPID key, the contact, TTL,
  urgency, timeout);
* :class:`~pes_sdk_webpush.channel.WebPushChannel`: encrypts each notification for the
  browser's subscription (RFC 8291, ``aes128gcm``) and posts it to the push service with a
  VAPID token (RFC 8292); :attr:`~pes_sdk_webpush.channel.WebPushChannel.vapid_public_key`
  is what the cabinet's page subscribes with; :mod:`~pes_sdk_webpush.protocol` holds the
  subscription, the payload, the encryption and the error mapping;
* :class:`~pes_sdk_webpush.simulator.WebPushSimulator`: a push service on loopback that
  issues subscriptions as a browser would and decrypts what it receives, for tests.
"""

from typing import TYPE_CHECKING

from pes_sdk.plugins.lazy import lazy_exports

if TYPE_CHECKING:
    from pes_sdk_webpush.channel import WebPushChannel, WebPushSettings
    from pes_sdk_webpush.plugin import WebPushFactory
    from pes_sdk_webpush.protocol import (
        InvalidSubscription,
        Subscription,
        WebPushConfigurationError,
        WebPushPayloadTooLarge,
    )
    from pes_sdk_webpush.simulator import WebPushHarness, WebPushSimulator

__all__ = [
    "InvalidSubscription",
    "Subscription",
    "WebPushChannel",
    "WebPushConfigurationError",
    "WebPushFactory",
    "WebPushHarness",
    "WebPushPayloadTooLarge",
    "WebPushSettings",
    "WebPushSimulator",
]

__version__ = "0.1.0"

# Imported on first use: the plugin host loads this package for every `pes` command, and
# the channel brings httpx and cryptography.
__getattr__ = lazy_exports(
    __name__,
    {
        "WebPushChannel": "pes_sdk_webpush.channel",
        "WebPushSettings": "pes_sdk_webpush.channel",
        "WebPushFactory": "pes_sdk_webpush.plugin",
        "InvalidSubscription": "pes_sdk_webpush.protocol",
        "Subscription": "pes_sdk_webpush.protocol",
        "WebPushConfigurationError": "pes_sdk_webpush.protocol",
        "WebPushPayloadTooLarge": "pes_sdk_webpush.protocol",
        "WebPushHarness": "pes_sdk_webpush.simulator",
        "WebPushSimulator": "pes_sdk_webpush.simulator",
    },
)
