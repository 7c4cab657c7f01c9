"""Drives the simulated Sber side for the conformance suite's gateway family.

It has the methods of :class:`pes_sdk_conformance.gateways.GatewayHarness` and of
:class:`pes_sdk_conformance.recurring.RecurringHarness` (structurally: this package does not
depend on the suite). Callbacks go over real HTTP to a loopback
:class:`CallbackReceiver` that records them as received.
"""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from pes_sdk.gateways.models import Decline, GatewayPayment, SavedMethod, WebhookRequest
from pes_sdk.gateways.simulation import (
    AcquirerPosition,
    AcquirerReceipt,
    LoopbackReceiver,
    SimulatorHarness,
    e164,
)
from pes_sdk_sber.client import AGENT_TYPES, DEFAULT_TAX_TYPES, SberGateway
from pes_sdk_sber.simulator import EXPIRED_CARD, SberSimulator, Switches

__all__ = ["CallbackReceiver", "SberHarness"]


class CallbackReceiver(LoopbackReceiver):
    """A loopback endpoint for Sber callbacks (GET or POST); hands each to ``handler``."""

    def __init__(self, handler: Callable[[WebhookRequest], int], *, path: str = "/sber") -> None:
        super().__init__(handler, path=path, methods=("GET", "POST"), name="sber-callback-receiver")


class SberHarness(SimulatorHarness[SberSimulator, SberGateway]):
    """A simulator, a recording callback receiver and a gateway, started together."""

    def __init__(
        self,
        *,
        timeout: float = 2.0,
        switches: Switches | None = None,
        callback_method: str = "GET",
    ) -> None:
        super().__init__(timeout=timeout)
        self.receiver = CallbackReceiver(self._record)
        self.simulator = SberSimulator(switches=switches, seed=1, callback_method=callback_method)

    def start(self) -> SberHarness:
        self.receiver.start()
        self.simulator.callback_url = self.receiver.url
        self.simulator.start()
        self._gateway = self._new_gateway()
        return self

    def _new_gateway(self) -> SberGateway:
        return gateway_for(self.simulator, timeout=self._timeout)

    def _page_url(self, payment: GatewayPayment) -> str:
        # the payment page, as the client's browser would see it
        return self.simulator.form_url_template.format(
            order_id=urllib.parse.quote(payment.gateway_payment_id)
        )

    def payments_at_acquirer(self, order_id: uuid.UUID) -> int:
        return self.simulator.orders_for(order_id.hex)

    def receipt_at_acquirer(
        self, gateway_payment_id: str, refund_id: str | None = None
    ) -> AcquirerReceipt | None:
        """The registered ``orderBundle``. A refund (``refund.do``) carries no receipt."""
        if refund_id is not None:
            return None
        bundle = self.simulator.order_bundle(gateway_payment_id)
        if bundle is None:
            return None
        customer = bundle.get("customerDetails") or {}
        return AcquirerReceipt(
            [_position(item) for item in bundle["cartItems"]["items"]],
            customer_email=customer.get("email"),
            customer_phone=e164(customer.get("phone")),
        )

    def description_at_acquirer(self, gateway_payment_id: str) -> str:
        return self.simulator.description_of(gateway_payment_id)

    # -- the RecurringHarness methods ----------------------------------------------------

    #: the actionCode the issuer declines a charge with, for each reason
    DECLINE_ACTION_CODES: ClassVar[Mapping[Decline, int]] = {
        Decline.FUNDS: 116,  # insufficient funds
        Decline.METHOD_GONE: EXPIRED_CARD,
        Decline.OTHER: 2001,  # declined by the antifraud rules
    }

    def charges_at_acquirer(self, method: SavedMethod) -> int:
        return self.simulator.binding_charges(method.method_id)

    def taken_at_acquirer(self, method: SavedMethod) -> Decimal:
        """The simulator's own books: kopecks taken by the binding's charges, in roubles."""
        return Decimal(self.simulator.binding_taken(method.method_id)) / 100

    def decline_next_charge(self, decline: Decline) -> bool:
        self.simulator.switches.decline_charges_next.append(self.DECLINE_ACTION_CODES[decline])
        return True

    def revoke(self, method: SavedMethod) -> bool:
        # the bound card expires: the issuer declines with actionCode 101
        self.simulator.expire_card(method.method_id)
        return True

    def method_at_acquirer(self, method: SavedMethod) -> bool:
        """Asked over the protocol: getBindings.do lists the client's usable bindings."""
        held = self.gateway.bindings(method.customer_key)
        return any(m.method_id == method.method_id for m in held)


def gateway_for(sim: SberSimulator, *, timeout: float = 5.0) -> SberGateway:
    """A gateway configured for a running simulator, with its credentials and secret."""
    return SberGateway(
        sim.rest_url,
        user_name=sim.user_name,
        password=sim.password,
        callback_secret=sim.callback_secret,
        timeout=timeout,
        form_url_template=sim.form_url_template,
    )


#: ``tax.taxType`` and ``agent_info.type`` back to what they stand for
_VAT_NAMES = {code: vat for vat, code in DEFAULT_TAX_TYPES.items()}
_AGENT_NAMES = {code: agent for agent, code in AGENT_TYPES.items()}


def _position(item: dict[str, Any]) -> AcquirerPosition:
    attributes = {
        str(a["name"]): str(a["value"])
        for a in (item.get("itemAttributes") or {}).get("attributes", [])
    }
    agent = attributes.get("agent_info.type")
    phones = attributes.get("supplier_info.phones")
    return AcquirerPosition(
        name=str(item.get("name", "")),
        amount=Decimal(int(item["itemAmount"])) / 100,
        vat=_VAT_NAMES.get(int((item.get("tax") or {}).get("taxType", -1))),
        agent=_AGENT_NAMES.get(agent) if agent is not None else None,
        supplier_inn=attributes.get("supplier_info.inn"),
        supplier_name=attributes.get("supplier_info.name"),
        supplier_phones=tuple(phones.split(",")) if phones else (),
    )
