"""Drives the sandbox acquirer's side for the conformance suite's gateway family.

It has the methods of :class:`pes_sdk_conformance.gateways.GatewayHarness` and of
:class:`pes_sdk_conformance.recurring.RecurringHarness` (structurally: this package does not
depend on the suite). Webhooks go over real HTTP to a
:class:`~pes_sdk_sandbox.receiver.WebhookReceiver` that records them.
"""

from __future__ import annotations

import urllib.parse
import uuid
from decimal import Decimal
from typing import Any

from pes_sdk.gateways.models import Decline, GatewayPayment, SavedMethod
from pes_sdk.gateways.simulation import AcquirerPosition, AcquirerReceipt, SimulatorHarness
from pes_sdk.models.receipts import AgentType, ReceiptVat
from pes_sdk_sandbox.client import SandboxGateway
from pes_sdk_sandbox.receiver import WebhookReceiver
from pes_sdk_sandbox.simulator import AcquirerSimulator, Switches

__all__ = ["SandboxHarness"]


class SandboxHarness(SimulatorHarness[AcquirerSimulator, SandboxGateway]):
    """A simulator, a recording webhook receiver and a gateway, started together."""

    def __init__(self, *, timeout: float = 2.0, switches: Switches | None = None) -> None:
        super().__init__(timeout=timeout)
        self.receiver = WebhookReceiver(self._record)
        self.simulator = AcquirerSimulator(switches=switches, seed=1)

    def start(self) -> SandboxHarness:
        self.receiver.start()
        self.simulator.webhook_url = self.receiver.url
        self.simulator.start()
        self._gateway = self._new_gateway()
        return self

    def _new_gateway(self) -> SandboxGateway:
        return SandboxGateway.for_simulator(self.simulator, timeout=self._timeout)

    # -- the GatewayHarness methods ------------------------------------------------------

    def _page_url(self, payment: GatewayPayment) -> str:
        # the confirmation page, as a client's browser would see it
        return f"{self.simulator.base_url}/pay/{urllib.parse.quote(payment.gateway_payment_id)}"

    def payments_at_acquirer(self, order_id: uuid.UUID) -> int:
        return len(self.simulator.payments_for(order_id))

    def receipt_at_acquirer(
        self, gateway_payment_id: str, refund_id: str | None = None
    ) -> AcquirerReceipt | None:
        """The payment's ``receipt`` as sent. A refund carries no receipt (its lines only)."""
        items = self.simulator.receipt_items(gateway_payment_id)
        if refund_id is not None or not items:
            return None
        customer = self.simulator.receipt_customer(gateway_payment_id)
        return AcquirerReceipt(
            [_position(item) for item in items],
            customer_email=customer.get("email"),
            customer_phone=customer.get("phone"),
        )

    def description_at_acquirer(self, gateway_payment_id: str) -> str:
        return self.simulator.description_of(gateway_payment_id)

    # -- the RecurringHarness methods ----------------------------------------------------

    def charges_at_acquirer(self, method: SavedMethod) -> int:
        return len(self.simulator.charges_of(method.method_id))

    def decline_next_charge(self, decline: Decline) -> bool:
        self.simulator.switches.decline_charges.append(_DECLINE_CODES[decline])
        return True

    def revoke(self, method: SavedMethod) -> bool:
        # the client withdrew the permission at the bank: the acquirer declines from now on
        self.simulator.revoke_method(method.method_id)
        return True

    def taken_at_acquirer(self, method: SavedMethod) -> Decimal:
        return self.simulator.taken_from(method.method_id)

    def method_at_acquirer(self, method: SavedMethod) -> bool:
        return self.simulator.method_status(method.method_id) == "active"


#: how the simulator declines a charge for each reason (client.DECLINES the other way)
_DECLINE_CODES = {
    Decline.FUNDS: "insufficient_funds",
    Decline.METHOD_GONE: "card_expired",
    Decline.OTHER: "issuer_declined",
}


def _position(item: dict[str, Any]) -> AcquirerPosition:
    vat, agent, phones = item.get("vat"), item.get("agent_type"), item.get("supplier_phones")
    return AcquirerPosition(
        name=str(item.get("name", "")),
        amount=str(item.get("amount", "0")),
        vat=ReceiptVat(vat) if vat in set(ReceiptVat) else None,
        agent=AgentType(agent) if agent in set(AgentType) else None,
        supplier_inn=item.get("supplier_inn"),
        supplier_name=item.get("supplier_name"),
        supplier_phones=tuple(str(phones).split(",")) if phones else (),
    )
