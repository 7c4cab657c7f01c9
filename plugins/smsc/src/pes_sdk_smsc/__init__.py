"""pes-sdk-smsc: the SMS notification channel through SMSC.ru's HTTP API.

* :class:`~pes_sdk_smsc.plugin.SmscFactory`: the ``smsc`` factory of the
  ``pes_notification_channels`` hook, and its settings;
* :class:`~pes_sdk_smsc.channel.SmscChannel`: one notification, one ``/sys/send.php``;
* :mod:`~pes_sdk_smsc.segments`: how many SMS a text takes (GSM 7-bit or UCS-2);
* :class:`~pes_sdk_smsc.simulator.SmscSimulator`: SMSC.ru's API on loopback, and
  :class:`~pes_sdk_smsc.simulator.SmscHarness` for the conformance suite.
"""

from typing import TYPE_CHECKING

from pes_sdk.plugins.lazy import lazy_exports
from pes_sdk_smsc.plugin import DEFAULT_API_KEY_ENV, SETTINGS, SmscFactory

if TYPE_CHECKING:
    from pes_sdk_smsc.channel import SmscChannel, SmscSettings, check_phone, message_id
    from pes_sdk_smsc.simulator import SmscHarness, SmscSimulator

__all__ = [
    "DEFAULT_API_KEY_ENV",
    "SETTINGS",
    "SmscChannel",
    "SmscFactory",
    "SmscHarness",
    "SmscSettings",
    "SmscSimulator",
    "check_phone",
    "message_id",
]

# Imported on first use: the plugin host loads this package for every `pes` command.
__getattr__ = lazy_exports(
    __name__,
    {
        "SmscChannel": "pes_sdk_smsc.channel",
        "SmscSettings": "pes_sdk_smsc.channel",
        "check_phone": "pes_sdk_smsc.channel",
        "message_id": "pes_sdk_smsc.channel",
        "SmscHarness": "pes_sdk_smsc.simulator",
        "SmscSimulator": "pes_sdk_smsc.simulator",
    },
)
