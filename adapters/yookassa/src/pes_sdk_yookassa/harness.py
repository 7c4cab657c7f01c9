"""Drives the simulated ЮKassa's side for the conformance suite's gateway and recurring families.

It has the methods of :class:`pes_sdk_conformance.gateways.GatewayHarness` and
:class:`pes_sdk_conformance.recurring.RecurringHarness` (structurally: this package does not
depend on the suite). Notifications go over real HTTP to a loopback
receiver that records them with their peer address (127.0.0.1); the gateway under test
allows exactly that network (``127.0.0.1/32``) instead of ЮKassa's published ones.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from pes_sdk.gateways.models import (
    Decline,
    GatewayPayment,
    RefundRequest,
    SavedMethod,
    WebhookRequest,
)
from pes_sdk.gateways.simulation import (
    AcquirerPosition,
    AcquirerReceipt,
    LoopbackReceiver,
    SimulatorHarness,
    e164,
)
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.models.receipts import AgentType, Receipt, ReceiptPosition, Supplier
from pes_sdk_yookassa.client import YooKassaGateway, refund_receipt
from pes_sdk_yookassa.protocol import VAT_CODES
from pes_sdk_yookassa.simulator import Switches, YooKassaSimulator

__all__ = ["LOOPBACK_NETWORKS", "WebhookReceiver", "YooKassaHarness"]

#: what the tests allow as the notification source (the simulator sends from loopback)
LOOPBACK_NETWORKS = ("127.0.0.1/32",)
#: ``vat_code`` back to the rate it stands for (ЮKassa's table, in the protocol module)
_VAT_NAMES = {code: vat for vat, code in VAT_CODES.items()}
#: how ЮKassa declines a charge for each reason (``cancellation_details.reason``)
DECLINE_REASONS = {
    Decline.FUNDS: "insufficient_funds",
    Decline.METHOD_GONE: "card_expired",
    Decline.OTHER: "general_decline",
}


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
        recurring: bool = True,
        webhook_networks: Iterable[str] = LOOPBACK_NETWORKS,
        **gateway_options: Any,
    ) -> None:
        super().__init__(timeout=timeout)
        self.receiver = WebhookReceiver(self._record)
        self.simulator = YooKassaSimulator(
            switches=switches, seed=1, receipts_required=receipts_required, recurring=recurring
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
        options = dict(self._options)
        # as a service sending receipts does: a refund's receipt from the payment's
        options.setdefault("refund_receipt_for", self._refund_receipt)
        return YooKassaGateway(
            self.simulator.shop_id,
            self.simulator.secret_key,
            base_url=self.simulator.base_url,
            timeout=self._timeout,
            webhook_networks=self._networks,
            **options,
        )

    def _refund_receipt(self, request: RefundRequest) -> Receipt | None:
        """``refund_receipt_for`` of the harness's gateway: what a service's book gives it
        (the payment's basket and receipt), here read back from the receipt the payment
        was created with at the acquirer, one line per agent position; None without one."""
        sent = self.simulator.receipt_of(request.gateway_payment_id)
        if sent is None:
            return None
        positions = [_position(item) for item in sent["items"]]
        customer = sent.get("customer") or {}
        receipt = Receipt(
            positions,
            customer_email=customer.get("email"),
            customer_phone=e164(customer.get("phone")),
        )
        lines = [
            PaymentLine(p.supplier.inn, "1", p.amount) for p in positions if p.supplier is not None
        ]
        basket = Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), PaymentMethod.CARD, lines)
        return refund_receipt(basket, receipt, request)

    # -- the GatewayHarness methods ------------------------------------------------------

    def _page_url(self, payment: GatewayPayment) -> str:
        # the confirmation page, as a client's browser would see it
        pid = urllib.parse.quote(payment.gateway_payment_id, safe="")
        return f"{self.simulator.root_url}/checkout/{pid}"

    def payments_at_acquirer(self, order_id: uuid.UUID) -> int:
        return len(self.simulator.payments_for(order_id))

    def receipt_at_acquirer(
        self, gateway_payment_id: str, refund_id: str | None = None
    ) -> AcquirerReceipt | None:
        """The ``receipt`` the payment (or its refund ``refund_id``) was made with."""
        if refund_id is None:
            sent = self.simulator.receipt_of(gateway_payment_id)
        else:
            sent = self.simulator.refund_receipt_of(refund_id)
        if sent is None:
            return None
        customer = sent.get("customer") or {}
        return AcquirerReceipt(
            [_acquirer_position(item) for item in sent.get("items", [])],
            customer_email=customer.get("email"),
            customer_phone=e164(customer.get("phone")),
        )

    def description_at_acquirer(self, gateway_payment_id: str) -> str:
        return self.simulator.description_of(gateway_payment_id)

    # -- the RecurringHarness methods ----------------------------------------------------

    def charges_at_acquirer(self, method: SavedMethod) -> int:
        return len(self.simulator.charges_of(method.method_id))

    def taken_at_acquirer(self, method: SavedMethod) -> Decimal:
        return self.simulator.taken_from(method.method_id)

    def decline_next_charge(self, decline: Decline) -> bool:
        self.simulator.decline_next_charge(DECLINE_REASONS[decline])
        return True

    def revoke(self, method: SavedMethod) -> bool:
        """The client withdrew the permission for autopayments (``permission_revoked``)."""
        self.simulator.revoke_method(method.method_id)
        return True

    def method_at_acquirer(self, method: SavedMethod) -> bool:
        held = self.simulator.method(method.method_id)
        return held is not None and held["status"] == "active"

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


def _acquirer_position(item: dict[str, Any]) -> AcquirerPosition:
    supplier = item.get("supplier") or {}
    agent = item.get("agent_type")
    quantity = int(float(item.get("quantity", "1")))
    phone = e164(supplier.get("phone"))
    return AcquirerPosition(
        name=str(item.get("description", "")),
        amount=_amount(item) * quantity,
        vat=_VAT_NAMES.get(item.get("vat_code")),  # type: ignore[arg-type]
        agent=AgentType(agent) if agent in set(AgentType) else None,
        supplier_inn=supplier.get("inn"),
        supplier_name=supplier.get("name"),
        supplier_phones=(phone,) if phone else (),
    )


def _amount(item: dict[str, Any]) -> Decimal:
    return Decimal(str((item.get("amount") or {}).get("value", "0")))


def _position(item: dict[str, Any]) -> ReceiptPosition:
    held = _acquirer_position(item)
    supplier = None
    if held.agent is not None and held.supplier_inn:
        supplier = Supplier(held.supplier_inn, held.supplier_name or "?", held.supplier_phones)
    return ReceiptPosition(
        name=held.name,
        amount=held.amount,
        vat=held.vat or _VAT_NAMES[1],
        agent=held.agent if supplier is not None else None,
        supplier=supplier,
        subject=str(item.get("payment_subject", "service")),
        mode=str(item.get("payment_mode", "full_payment")),
    )
