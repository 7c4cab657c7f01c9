"""pes-sdk-sber: Sber acquiring (Сбербанк интернет-эквайринг) for pes-sdk.

* :class:`~pes_sdk_sber.client.SberGateway`: the adapter (``register.do``,
  ``getOrderStatusExtended.do``, ``refund.do``, ``reverse.do``, СБП QR, callbacks, and
  saved cards: bindings by ``clientId``, ``recurrentPayment.do``, ``unBindCard.do``);
* :mod:`~pes_sdk_sber.checksums`: the callback checksum (HMAC-SHA256, upper-case hex);
* :class:`~pes_sdk_sber.simulator.SberSimulator`: the protocol on loopback, with switches;
* :class:`~pes_sdk_sber.harness.SberHarness`: drives it for the conformance suite.
"""

from typing import TYPE_CHECKING

from pes_sdk.plugins.lazy import lazy_exports

if TYPE_CHECKING:
    from pes_sdk_sber.checksums import checksum, signed_text, verify_checksum
    from pes_sdk_sber.client import (
        DECLINE_CODES,
        SberError,
        SberGateway,
        callback_params,
        decline_of,
        order_bundle,
        state_of,
    )
    from pes_sdk_sber.harness import CallbackReceiver, SberHarness, gateway_for
    from pes_sdk_sber.simulator import SberSimulator, Switches

__all__ = [
    "DECLINE_CODES",
    "CallbackReceiver",
    "SberError",
    "SberGateway",
    "SberHarness",
    "SberSimulator",
    "Switches",
    "callback_params",
    "checksum",
    "decline_of",
    "gateway_for",
    "order_bundle",
    "signed_text",
    "state_of",
    "verify_checksum",
]

__version__ = "0.1.0"

_CLIENT = "pes_sdk_sber.client"
_HARNESS = "pes_sdk_sber.harness"
_SIMULATOR = "pes_sdk_sber.simulator"
_CHECKSUM = "pes_sdk_sber.checksums"

# Imported on first use: the plugin host loads this package for every `pes` command, and
# the simulator and harness bring http.server.
__getattr__ = lazy_exports(
    __name__,
    {
        "DECLINE_CODES": _CLIENT,
        "CallbackReceiver": _HARNESS,
        "SberError": _CLIENT,
        "SberGateway": _CLIENT,
        "SberHarness": _HARNESS,
        "SberSimulator": _SIMULATOR,
        "Switches": _SIMULATOR,
        "callback_params": _CLIENT,
        "checksum": _CHECKSUM,
        "decline_of": _CLIENT,
        "gateway_for": _HARNESS,
        "order_bundle": _CLIENT,
        "signed_text": _CHECKSUM,
        "state_of": _CLIENT,
        "verify_checksum": _CHECKSUM,
    },
)
