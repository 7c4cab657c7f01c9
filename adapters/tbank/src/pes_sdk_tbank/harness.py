"""Drives the simulated T-Bank side for the conformance suite's gateway family.

It has the methods of :class:`pes_sdk_conformance.gateways.GatewayHarness` and of
:class:`pes_sdk_conformance.recurring.RecurringHarness` (structurally: this package does not
depend on the suite). Notifications go over real HTTP to a small
loopback receiver that records them and answers ``OK``, as a merchant must.
"""

from __future__ import annotations

import logging
import urllib.parse
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pes_sdk.gateways.errors import IllegalTransition, WebhookRejected
from pes_sdk.gateways.models import Decline, GatewayPayment, SavedMethod, WebhookRequest
from pes_sdk.gateways.processor import PaymentProcessor
from pes_sdk.gateways.simulation import (
    AcquirerPosition,
    AcquirerReceipt,
    LoopbackReceiver,
    SimulatorHarness,
)
from pes_sdk_tbank.client import AGENT_SIGNS, NOTIFICATION_ANSWER, VAT_CODES, TBankGateway
from pes_sdk_tbank.simulator import ErrorCodes, TBankSimulator, TBankSwitches

__all__ = ["NotificationReceiver", "TBankHarness", "notification_handler"]

log = logging.getLogger("pes_sdk_tbank")
PATH = "/tbank/notifications"


def notification_handler(
    processor: PaymentProcessor,
) -> Callable[[WebhookRequest], tuple[int, bytes]]:
    """A receiver handler that applies notifications through ``processor``.

    ``200 OK`` when applied (also a duplicate or an older one: T-Bank need not resend);
    400 when refused (bad Token, unknown payment: never credited); 409 for an illegal move;
    500 otherwise, so that T-Bank sends it again.
    """

    def handle(request: WebhookRequest) -> tuple[int, bytes]:
        try:
            processor.handle_webhook(request)
        except WebhookRejected as exc:
            log.warning("T-Bank notification refused: %s", exc.reason)
            return 400, b"REJECTED"
        except IllegalTransition as exc:
            log.error("T-Bank notification with an illegal move: %s", exc)
            return 409, b"CONFLICT"
        except Exception:
            log.exception("T-Bank notification failed")
            return 500, b"ERROR"
        return 200, NOTIFICATION_ANSWER

    return handle


class NotificationReceiver(LoopbackReceiver):
    """Listens on ``127.0.0.1``; each POST goes to ``handler``, whose (status, body) answers it."""

    def __init__(self, handler: Callable[[WebhookRequest], tuple[int, bytes]]) -> None:
        super().__init__(handler, path=PATH, name="tbank-receiver")


class TBankHarness(SimulatorHarness[TBankSimulator, TBankGateway]):
    """A simulator, a recording notification receiver and a gateway, started together."""

    record_answer = (200, NOTIFICATION_ANSWER)

    def __init__(self, *, timeout: float = 2.0, switches: TBankSwitches | None = None) -> None:
        super().__init__(timeout=timeout)
        self.receiver = NotificationReceiver(self._record)
        self.simulator = TBankSimulator(switches=switches, seed=1)

    def start(self) -> TBankHarness:
        self.receiver.start()
        self.simulator.start()
        self._gateway = self._new_gateway()
        return self

    def _new_gateway(self) -> TBankGateway:
        return TBankGateway(
            terminal_key=self.simulator.terminal_key,
            password=self.simulator.password,
            base_url=self.simulator.base_url,
            notification_url=self.receiver.url,
            timeout=self._timeout,
            receipt_email="receipts@service.example",
        )

    # -- the GatewayHarness methods ------------------------------------------------------

    def _page_url(self, payment: GatewayPayment) -> str:
        # the payment form, as the client's browser would see it
        return f"{self.simulator.base_url}/new/{urllib.parse.quote(payment.gateway_payment_id)}"

    def payments_at_acquirer(self, order_id: uuid.UUID) -> int:
        return len(self.simulator.payments_for(order_id))

    def receipt_at_acquirer(
        self, gateway_payment_id: str, refund_id: str | None = None
    ) -> AcquirerReceipt | None:
        """The ``Receipt`` of the payment's ``Init``. A refund's receipt is not kept: the
        gateway's refund receipts name no supplier (``refund_receipts`` is off)."""
        if refund_id is not None:
            return None
        sent = self.simulator.receipt_of(gateway_payment_id)
        if sent is None:
            return None
        return AcquirerReceipt(
            [_position(item) for item in sent.get("Items", [])],
            customer_email=sent.get("Email"),
            customer_phone=sent.get("Phone"),
        )

    def description_at_acquirer(self, gateway_payment_id: str) -> str:
        return self.simulator.description_of(gateway_payment_id)

    def lose_next_answer(self) -> bool:
        # the answer of the next call that does work (an Init, not the CheckOrder before it;
        # a Cancel; a Charge), not of a lookup
        self.simulator.switches.only_method = "Init|Cancel|Charge"
        return super().lose_next_answer()

    def time_out_next_answer(self) -> bool:
        # the Init itself times out (a create, or a charge, first asks CheckOrder, which
        # answers at once); a Charge when it comes first
        self.simulator.switches.only_method = "Init|Charge"
        return super().time_out_next_answer()

    def stall_next_answer(self, seconds: float) -> bool:
        # whatever the next call is (e.g. a create's CheckOrder)
        self.simulator.switches.only_method = ""
        return super().stall_next_answer(seconds)

    # -- the RecurringHarness methods ----------------------------------------------------

    def charges_at_acquirer(self, method: SavedMethod) -> int:
        return self.simulator.charges_with(method.method_id)

    def decline_next_charge(self, decline: Decline) -> bool:
        self.simulator.decline_next_charge(DECLINE_BY[decline])
        return True

    def revoke(self, method: SavedMethod) -> bool:
        # the card expired: every later Charge is REJECTED with 1054
        return self.simulator.revoke_card(method.method_id, ErrorCodes.CARD_EXPIRED)

    def method_at_acquirer(self, method: SavedMethod) -> bool:
        return self.simulator.card_active(method.method_id)

    def taken_at_acquirer(self, method: SavedMethod) -> Decimal:
        return Decimal(self.simulator.taken_with(method.method_id)) / 100


#: how the simulated issuer declines a Charge for each reason (codes of the error table)
DECLINE_BY: dict[Decline, str] = {
    Decline.FUNDS: ErrorCodes.INSUFFICIENT_FUNDS,
    Decline.METHOD_GONE: ErrorCodes.CARD_EXPIRED,
    Decline.OTHER: ErrorCodes.ISSUER_DECLINED,
}

#: ``Tax`` and ``AgentSign`` back to what they stand for
_VAT_NAMES = {code: vat for vat, code in VAT_CODES.items()}
_AGENT_NAMES = {sign: agent for agent, sign in AGENT_SIGNS.items()}


def _position(item: dict[str, Any]) -> AcquirerPosition:
    supplier = item.get("SupplierInfo") or {}
    sign = (item.get("AgentData") or {}).get("AgentSign")
    return AcquirerPosition(
        name=str(item.get("Name", "")),
        amount=Decimal(int(item.get("Amount", 0))) / 100,
        vat=_VAT_NAMES.get(str(item.get("Tax"))),
        agent=_AGENT_NAMES.get(str(sign)) if sign is not None else None,
        supplier_inn=supplier.get("Inn"),
        supplier_name=supplier.get("Name"),
        supplier_phones=tuple(supplier.get("Phones") or ()),
    )
