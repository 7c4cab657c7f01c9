"""pes-sdk-fcm: the push notification channel through Firebase Cloud Messaging (HTTP v1).

* :class:`~pes_sdk_fcm.plugin.FcmFactory`: the ``fcm`` factory of the
  ``pes_notification_channels`` hook, and its settings;
* :class:`~pes_sdk_fcm.channel.FcmChannel`: one notification, one ``messages:send``;
  :func:`~pes_sdk_fcm.channel.build_message` is the JSON it sends (buttons as data keys);
* :mod:`pes_sdk_fcm.auth`: OAuth2 access tokens from a service account's key (RS256 JWT);
* :class:`~pes_sdk_fcm.simulator.FcmSimulator`: FCM and Google's token endpoint on loopback,
  and :class:`~pes_sdk_fcm.simulator.FcmHarness` for the conformance suite.
"""

from typing import TYPE_CHECKING

from pes_sdk.plugins.lazy import lazy_exports
from pes_sdk_fcm.plugin import SETTINGS, FcmFactory

if TYPE_CHECKING:
    from pes_sdk_fcm.auth import AccessTokens, ServiceAccount
    from pes_sdk_fcm.channel import FcmChannel, FcmSettings, build_message, button_keys
    from pes_sdk_fcm.simulator import FcmHarness, FcmSimulator

__all__ = [
    "SETTINGS",
    "AccessTokens",
    "FcmChannel",
    "FcmFactory",
    "FcmHarness",
    "FcmSettings",
    "FcmSimulator",
    "ServiceAccount",
    "build_message",
    "button_keys",
]

# Imported on first use: the plugin host loads this package for every `pes` command.
__getattr__ = lazy_exports(
    __name__,
    {
        "AccessTokens": "pes_sdk_fcm.auth",
        "ServiceAccount": "pes_sdk_fcm.auth",
        "FcmChannel": "pes_sdk_fcm.channel",
        "FcmSettings": "pes_sdk_fcm.channel",
        "build_message": "pes_sdk_fcm.channel",
        "button_keys": "pes_sdk_fcm.channel",
        "FcmHarness": "pes_sdk_fcm.simulator",
        "FcmSimulator": "pes_sdk_fcm.simulator",
    },
)
