"""pes-sdk-apns: the APNs push channel (Apple Push Notification service) of pes-sdk.

* :class:`~pes_sdk_apns.plugin.ApnsFactory`: the ``apns`` factory the
  ``pes_notification_channels`` hook returns (settings: team id, key id, the ``.p8`` key,
  bundle id, environment);
* :class:`~pes_sdk_apns.channel.ApnsChannel`: sends over HTTP/2 with an ES256 provider
  token; :mod:`~pes_sdk_apns.protocol` holds the payload, the headers and the error mapping;
* :class:`~pes_sdk_apns.simulator.ApnsSimulator`: APNs on loopback (HTTP/2 over TLS) for
  tests, with the ``simulator`` extra.
"""

from typing import TYPE_CHECKING

from pes_sdk.plugins.lazy import lazy_exports

if TYPE_CHECKING:
    from pes_sdk_apns.channel import ApnsChannel, ApnsSettings
    from pes_sdk_apns.plugin import ApnsFactory
    from pes_sdk_apns.protocol import (
        ApnsConfigurationError,
        ApnsDeadToken,
        ApnsPayloadTooLarge,
        ProviderToken,
    )
    from pes_sdk_apns.simulator import ApnsSimulator

__all__ = [
    "ApnsChannel",
    "ApnsConfigurationError",
    "ApnsDeadToken",
    "ApnsFactory",
    "ApnsPayloadTooLarge",
    "ApnsSettings",
    "ApnsSimulator",
    "ProviderToken",
]

__version__ = "0.1.0"

# Imported on first use: the plugin host loads this package for every `pes` command, and
# the channel brings httpx and cryptography.
__getattr__ = lazy_exports(
    __name__,
    {
        "ApnsChannel": "pes_sdk_apns.channel",
        "ApnsSettings": "pes_sdk_apns.channel",
        "ApnsFactory": "pes_sdk_apns.plugin",
        "ApnsConfigurationError": "pes_sdk_apns.protocol",
        "ApnsDeadToken": "pes_sdk_apns.protocol",
        "ApnsPayloadTooLarge": "pes_sdk_apns.protocol",
        "ProviderToken": "pes_sdk_apns.protocol",
        "ApnsSimulator": "pes_sdk_apns.simulator",
    },
)
