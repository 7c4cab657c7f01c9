"""pes-sdk-yookassa: the ЮKassa (YooKassa, API v3) payment gateway of pes-sdk.

* :class:`~pes_sdk_yookassa.client.YooKassaGateway`: the adapter (Basic auth,
  ``Idempotence-Key``, unsigned notifications checked by source network and re-fetched);
* :class:`~pes_sdk_yookassa.simulator.YooKassaSimulator`: ЮKassa's protocol on loopback, with
  switches for failures and for duplicated, reordered and dropped notifications;
* :class:`~pes_sdk_yookassa.harness.YooKassaHarness`: drives the acquirer side for the
  conformance suite's gateway and recurring families (with a loopback :class:`WebhookReceiver`);
* :func:`~pes_sdk_yookassa.client.receipt_json`, :func:`~pes_sdk_yookassa.client.refund_receipt`:
  54-ФЗ receipts in ЮKassa's shape.
"""

from typing import TYPE_CHECKING

from pes_sdk.plugins.lazy import lazy_exports

if TYPE_CHECKING:
    from pes_sdk_yookassa.client import YooKassaGateway, receipt_json, refund_receipt
    from pes_sdk_yookassa.harness import LOOPBACK_NETWORKS, WebhookReceiver, YooKassaHarness
    from pes_sdk_yookassa.protocol import (
        API_URL,
        DEFAULT_WEBHOOK_NETWORKS,
        VAT_CODES,
        Networks,
        basic_auth,
    )
    from pes_sdk_yookassa.simulator import SimulatorError, Switches, YooKassaSimulator

__all__ = [
    "API_URL",
    "DEFAULT_WEBHOOK_NETWORKS",
    "LOOPBACK_NETWORKS",
    "VAT_CODES",
    "Networks",
    "SimulatorError",
    "Switches",
    "WebhookReceiver",
    "YooKassaGateway",
    "YooKassaHarness",
    "YooKassaSimulator",
    "basic_auth",
    "receipt_json",
    "refund_receipt",
]

__version__ = "0.1.0"

# Imported on first use: the plugin host loads this package for every `pes` command.
__getattr__ = lazy_exports(
    __name__,
    {
        "API_URL": "pes_sdk_yookassa.protocol",
        "DEFAULT_WEBHOOK_NETWORKS": "pes_sdk_yookassa.protocol",
        "VAT_CODES": "pes_sdk_yookassa.protocol",
        "Networks": "pes_sdk_yookassa.protocol",
        "basic_auth": "pes_sdk_yookassa.protocol",
        "YooKassaGateway": "pes_sdk_yookassa.client",
        "receipt_json": "pes_sdk_yookassa.client",
        "refund_receipt": "pes_sdk_yookassa.client",
        "LOOPBACK_NETWORKS": "pes_sdk_yookassa.harness",
        "WebhookReceiver": "pes_sdk_yookassa.harness",
        "YooKassaHarness": "pes_sdk_yookassa.harness",
        "SimulatorError": "pes_sdk_yookassa.simulator",
        "Switches": "pes_sdk_yookassa.simulator",
        "YooKassaSimulator": "pes_sdk_yookassa.simulator",
    },
)
