"""pes-sdk-rustore: the push notification channel through RuStore Push (VK Push, "vkpns").

* :class:`~pes_sdk_rustore.plugin.RuStoreFactory`: the ``rustore`` factory of the
  ``pes_notification_channels`` hook, and its settings;
* :class:`~pes_sdk_rustore.channel.RuStoreChannel`: one notification, one ``messages:send``;
  :func:`~pes_sdk_rustore.channel.build_message` is the JSON it sends (buttons as data keys);
* :class:`~pes_sdk_rustore.simulator.RuStoreSimulator`: RuStore Push on loopback, and
  :class:`~pes_sdk_rustore.simulator.RuStoreHarness` for the conformance suite.
"""

from typing import TYPE_CHECKING

from pes_sdk.plugins.lazy import lazy_exports
from pes_sdk_rustore.plugin import DEFAULT_TOKEN_ENV, SETTINGS, RuStoreFactory

if TYPE_CHECKING:
    from pes_sdk_rustore.channel import RuStoreChannel, RuStoreSettings, build_message, button_keys
    from pes_sdk_rustore.simulator import RuStoreHarness, RuStoreSimulator

__all__ = [
    "DEFAULT_TOKEN_ENV",
    "SETTINGS",
    "RuStoreChannel",
    "RuStoreFactory",
    "RuStoreHarness",
    "RuStoreSettings",
    "RuStoreSimulator",
    "build_message",
    "button_keys",
]

# Imported on first use: the plugin host loads this package for every `pes` command.
__getattr__ = lazy_exports(
    __name__,
    {
        "RuStoreChannel": "pes_sdk_rustore.channel",
        "RuStoreSettings": "pes_sdk_rustore.channel",
        "build_message": "pes_sdk_rustore.channel",
        "button_keys": "pes_sdk_rustore.channel",
        "RuStoreHarness": "pes_sdk_rustore.simulator",
        "RuStoreSimulator": "pes_sdk_rustore.simulator",
    },
)
