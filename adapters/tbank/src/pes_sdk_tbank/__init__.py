"""T-Bank (ex-Tinkoff) internet acquiring API v2 for pes-sdk: adapter, simulator, harness.

* :class:`TBankGateway`: the :class:`~pes_sdk.gateways.PaymentGateway` (``Init``,
  ``GetState``, ``GetQr``, ``Cancel``, ``CheckOrder``; saved cards with ``Recurrent`` /
  ``RebillId``, ``Charge``, ``GetCardList``, ``RemoveCard``; ``Token`` on requests and
  notifications);
* :class:`TBankSimulator`: the documented protocol on loopback, with failure switches;
* :class:`TBankHarness`: both, plus a notification receiver, for the conformance suite;
* :func:`make_token` / :func:`verify_token`: the signature rule.

See docs/gateway-tbank.md.
"""

from typing import TYPE_CHECKING

from pes_sdk.plugins.lazy import lazy_exports

if TYPE_CHECKING:
    from pes_sdk_tbank.client import (
        DECLINE_CODES,
        NOTIFICATION_ANSWER,
        STATUS_MAP,
        TBankGateway,
        TBankRefused,
        TBankUnclear,
    )
    from pes_sdk_tbank.harness import NotificationReceiver, TBankHarness, notification_handler
    from pes_sdk_tbank.plugin import TBankFactory
    from pes_sdk_tbank.simulator import ErrorCodes, TBankReport, TBankSimulator, TBankSwitches
    from pes_sdk_tbank.token import make_token, verify_token

__all__ = [
    "DECLINE_CODES",
    "NOTIFICATION_ANSWER",
    "STATUS_MAP",
    "ErrorCodes",
    "NotificationReceiver",
    "TBankFactory",
    "TBankGateway",
    "TBankHarness",
    "TBankRefused",
    "TBankReport",
    "TBankSimulator",
    "TBankSwitches",
    "TBankUnclear",
    "make_token",
    "notification_handler",
    "verify_token",
]

__version__ = "0.1.0"

_CLIENT = "pes_sdk_tbank.client"
_HARNESS = "pes_sdk_tbank.harness"
_SIMULATOR = "pes_sdk_tbank.simulator"
_TOKEN = "pes_sdk_tbank.token"

# Imported on first use: the plugin host loads this package for every `pes` command.
__getattr__ = lazy_exports(
    __name__,
    {
        "DECLINE_CODES": _CLIENT,
        "NOTIFICATION_ANSWER": _CLIENT,
        "STATUS_MAP": _CLIENT,
        "TBankGateway": _CLIENT,
        "TBankRefused": _CLIENT,
        "TBankUnclear": _CLIENT,
        "NotificationReceiver": _HARNESS,
        "TBankHarness": _HARNESS,
        "notification_handler": _HARNESS,
        "TBankFactory": "pes_sdk_tbank.plugin",
        "ErrorCodes": _SIMULATOR,
        "TBankReport": _SIMULATOR,
        "TBankSimulator": _SIMULATOR,
        "TBankSwitches": _SIMULATOR,
        "make_token": _TOKEN,
        "verify_token": _TOKEN,
    },
)
