"""Drives the simulated ЮKassa's side for the conformance suite's gateway family.

It has the methods of :class:`pes_sdk_conformance.gateways.GatewayHarness` (structurally:
this package does not depend on the suite). Notifications go over real HTTP to a loopback
receiver that records them with their peer address (127.0.0.1); the gateway under test
allows exactly that network (``127.0.0.1/32``) instead of ЮKassa's published ones.
"""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from pes_sdk.gateways.models import GatewayPayment, WebhookRequest
from pes_sdk.gateways.simulation import LoopbackReceiver, SimulatorHarness
from pes_sdk_yookassa.client import YooKassaGateway
from pes_sdk_yookassa.simulator import Switches, YooKassaSimulator

__all__ = ["LOOPBACK_NETWORKS", "WebhookReceiver", "YooKassaHarness"]

#: what the tests allow as the notification source (the simulator sends from loopback)
LOOPBACK_NETWORKS = ("127.0.0.1/32",)


class WebhookReceiver(LoopbackReceiver):
    """Listens on ``127.0.0.1`` and calls ``handler`` for each POST; :attr:`url` is the URL.

    The handler gets the raw body, the headers and the peer address as a
    :class:`WebhookRequest` and returns the HTTP status to answer.
    """

    def __init__(self, handler: Callable[[WebhookRequest], int], *, path: str = "/yookassa"):
        super().__init__(handler, path=path, name="yookassa-receiver")


class YooKassaHarness(SimulatorHarness[YooKassaSimulator, YooKassaGateway]):
    """A simulator, a recording receiver and a gateway allowing loopback, started together."""

    def __init__(
        self,
        *,
        timeout: float = 2.0,
        switches: Switches | None = None,
        receipts_required: bool = False,
        webhook_networks: Iterable[str] = LOOPBACK_NETWORKS,
        **gateway_options: Any,
    ) -> None:
        super().__init__(timeout=timeout)
        self.receiver = WebhookReceiver(self._record)
        self.simulator = YooKassaSimulator(
            switches=switches, seed=1, receipts_required=receipts_required
        )
        self._networks = tuple(webhook_networks)
        self._options = gateway_options

    def start(self) -> YooKassaHarness:
        self.receiver.start()
        self.simulator.webhook_url = self.receiver.url
        self.simulator.start()
        self._gateway = self._new_gateway()
        return self

    def _new_gateway(self) -> YooKassaGateway:
        return YooKassaGateway(
            self.simulator.shop_id,
            self.simulator.secret_key,
            base_url=self.simulator.base_url,
            timeout=self._timeout,
            webhook_networks=self._networks,
            **self._options,
        )

    # -- the GatewayHarness methods ------------------------------------------------------

    def _page_url(self, payment: GatewayPayment) -> str:
        # the confirmation page, as a client's browser would see it
        pid = urllib.parse.quote(payment.gateway_payment_id, safe="")
        return f"{self.simulator.root_url}/checkout/{pid}"

    def payments_at_acquirer(self, order_id: uuid.UUID) -> int:
        return len(self.simulator.payments_for(order_id))

    def forge_webhook(
        self, event: str, payment_id: str, *, remote_addr: str = "127.0.0.1"
    ) -> WebhookRequest:
        """A notification nobody at ЮKassa sent: the body claims the payment ``succeeded``.

        It comes from an allowed address, as a forger inside the network (or a spoofed
        source) would; the adapter must still trust only the re-fetched payment.
        """
        obj = dict(self.simulator.payment(payment_id))
        obj.update(status="succeeded", paid=True)
        body = json.dumps({"type": "notification", "event": event, "object": obj}).encode()
        return WebhookRequest(
            body=body, headers=[("Content-Type", "application/json")], remote_addr=remote_addr
        )
