"""A basket: the services a client ticked, paid in one gateway payment, split by partner."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import attrs

from pes_sdk.fees import FeePlan
from pes_sdk.models.partners import FeeTerms
from pes_sdk.models.payments import Payment, PaymentLine
from pes_sdk.money import ZERO

__all__ = ["BasketSplit", "price_line", "split_basket"]


def price_line(line: PaymentLine, terms: FeeTerms, plans: Mapping[str, FeePlan]) -> PaymentLine:
    """The line with the client fee its partner's plan asks for."""
    plan = plans.get(terms.plan)
    if plan is None:
        raise KeyError(f"no fee plan named {terms.plan!r}")
    return attrs.evolve(line, client_fee=plan.client_fee(terms, line.amount))


@attrs.frozen
class BasketSplit:
    """Where the money of one payment goes: to each partner, and the service's own fees."""

    to_partners: dict[str, Decimal] = attrs.field(hash=False)
    service_fees: Decimal

    @property
    def total(self) -> Decimal:
        return sum(self.to_partners.values(), ZERO) + self.service_fees


def split_basket(payment: Payment) -> BasketSplit:
    """Split a basket payment: each partner's lines, and the client fees the service keeps.

    The parts always sum to :attr:`Payment.total`.
    """
    parts: dict[str, Decimal] = {}
    fees = ZERO
    for line in payment.lines:
        parts[line.partner_inn] = parts.get(line.partner_inn, ZERO) + line.amount
        fees += line.client_fee
    return BasketSplit(parts, fees)
