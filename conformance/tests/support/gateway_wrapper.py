"""A payment gateway that delegates everything to another: the base of the broken gateways
of test_gateway_faults.py and test_recurring_faults.py, which wrap the sandbox's.

Each fault subclasses :class:`Wrapper` and breaks one thing; every snapshot the wrapper
hands back passes :meth:`Wrapper.seen` (by default unchanged), for a fault in what the
gateway reports rather than in what it asks.
"""

from __future__ import annotations

from typing import Any

import attrs

from pes_sdk.gateways import (
    ChargeOptions,
    CreateOptions,
    GatewayEvent,
    GatewayPayment,
    PaymentGateway,
    RefundRequest,
    RefundResult,
    SavedMethod,
    WebhookRequest,
)
from pes_sdk.models import Payment

__all__ = ["Wrapper"]


class Wrapper(PaymentGateway):
    """Delegates everything to ``inner`` (the sandbox gateway); every snapshot passes
    :meth:`seen`. Subclasses break one thing."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.capabilities = inner.capabilities

    @property
    def timeout(self) -> float:
        return float(self.inner.timeout)

    def seen(self, snapshot: GatewayPayment) -> GatewayPayment:
        """A snapshot on its way out: unchanged unless a fault changes it."""
        return snapshot

    def create_payment(self, payment: Payment, options: CreateOptions) -> GatewayPayment:
        return self.seen(self.inner.create_payment(payment, options))

    def charge_saved(
        self, payment: Payment, method: SavedMethod, options: ChargeOptions
    ) -> GatewayPayment:
        return self.seen(self.inner.charge_saved(payment, method, options))

    def forget_method(self, method: SavedMethod) -> bool:
        return bool(self.inner.forget_method(method))

    def get_payment(self, gateway_payment_id: str) -> GatewayPayment:
        return self.seen(self.inner.get_payment(gateway_payment_id))

    def find_payment(self, order_id: Any, idempotency_key: str) -> GatewayPayment | None:
        found = self.inner.find_payment(order_id, idempotency_key)
        return None if found is None else self.seen(found)

    def cancel_payment(self, gateway_payment_id: str, idempotency_key: str) -> GatewayPayment:
        return self.seen(self.inner.cancel_payment(gateway_payment_id, idempotency_key))

    def refund(self, request: RefundRequest, idempotency_key: str) -> RefundResult:
        return self.inner.refund(request, idempotency_key)  # type: ignore[no-any-return]

    def parse_webhook(self, request: WebhookRequest) -> list[GatewayEvent]:
        return [
            attrs.evolve(e, payment=self.seen(e.payment)) for e in self.inner.parse_webhook(request)
        ]
