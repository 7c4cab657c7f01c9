"""Fee plans and the settlement of one partner-day.

Commission is computed once per settlement unit (partner, day) on the day's total, then
allocated to the lines by largest remainder so that line fees sum exactly to it, and
``transfer + commission + VAT == paid`` to the kopeck.

Two plans are built in:

``percent`` (the partner pays)
    commission = rate × the day's payments (default 1.36%), VAT on top; both withheld from
    the transfer. The client pays no agent fee.
``subscription`` (the client pays)
    the client pays an agent fee per paid line at the contract rate, on top of the line;
    the partner's transfer is the whole paid amount, and the partner pays a flat monthly
    fee (default 100 RUB) plus VAT, invoiced per period.

A plugin adds a plan through the ``pes_fee_plans`` hook.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable

import attrs

from pes_sdk.models.partners import FeeTerms
from pes_sdk.money import ZERO, allocate, amount, round_money
from pes_sdk.period import Period
from pes_sdk.vat import DEFAULT_VAT_SCHEDULE, VatSchedule

__all__ = [
    "Charge",
    "FeePlan",
    "MonthlyCharge",
    "PercentPlan",
    "Settlement",
    "SubscriptionPlan",
    "settle_day",
]


@attrs.frozen
class Charge:
    """What a plan withholds from one partner-day: commission net of VAT, and the VAT."""

    commission: Decimal
    vat: Decimal


@attrs.frozen
class MonthlyCharge:
    """A flat monthly fee a plan invoices the partner: net and VAT."""

    net: Decimal
    vat: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


@runtime_checkable
class FeePlan(Protocol):
    """A fee plan. Implement it in a plugin and return it from ``pes_fee_plans``."""

    @property
    def name(self) -> str:
        """The plan's unique name, as ``FeeTerms.plan`` refers to it."""
        ...

    def day_charge(self, terms: FeeTerms, day: dt.date, paid: Decimal, vat: VatSchedule) -> Charge:
        """What to withhold from a partner-day whose payments total ``paid``."""
        ...

    def client_fee(self, terms: FeeTerms, line_amount: Decimal) -> Decimal:
        """The agent fee the client pays on top of one paid line (zero if none)."""
        ...

    def monthly_charge(self, terms: FeeTerms, period: Period, vat: VatSchedule) -> MonthlyCharge:
        """The flat fee invoiced to the partner for a period (zero if none)."""
        ...


@attrs.frozen
class PercentPlan:
    """The partner pays ``rate`` of each day's payments plus VAT, withheld from the transfer."""

    name: str = "percent"

    def day_charge(self, terms: FeeTerms, day: dt.date, paid: Decimal, vat: VatSchedule) -> Charge:
        commission = round_money(paid * terms.rate)
        return Charge(commission, vat.vat_on_top(commission, day))

    def client_fee(self, terms: FeeTerms, line_amount: Decimal) -> Decimal:
        return ZERO

    def monthly_charge(self, terms: FeeTerms, period: Period, vat: VatSchedule) -> MonthlyCharge:
        return MonthlyCharge(ZERO, ZERO)


@attrs.frozen
class SubscriptionPlan:
    """The client pays an agent fee per line; the partner a flat monthly fee plus VAT."""

    name: str = "subscription"

    def day_charge(self, terms: FeeTerms, day: dt.date, paid: Decimal, vat: VatSchedule) -> Charge:
        return Charge(ZERO, ZERO)

    def client_fee(self, terms: FeeTerms, line_amount: Decimal) -> Decimal:
        return round_money(amount(line_amount) * terms.rate)

    def monthly_charge(self, terms: FeeTerms, period: Period, vat: VatSchedule) -> MonthlyCharge:
        return MonthlyCharge(terms.monthly_fee, vat.vat_on_top(terms.monthly_fee, period.first_day))


@attrs.frozen
class Settlement:
    """One partner-day settled: totals and the fee withheld from each line, in line order."""

    day: dt.date
    plan: str
    paid: Decimal
    commission: Decimal
    vat: Decimal
    transfer: Decimal
    line_fees: tuple[Decimal, ...]
    line_amounts: tuple[Decimal, ...] = ()

    @property
    def fee(self) -> Decimal:
        """All that is withheld: commission plus VAT."""
        return self.commission + self.vat

    @property
    def line_transfers(self) -> tuple[Decimal, ...]:
        return tuple(a - f for a, f in zip(self.line_amounts, self.line_fees, strict=True))


def settle_day(
    plan: FeePlan,
    terms: FeeTerms,
    day: dt.date,
    line_amounts: Sequence[Decimal],
    vat: VatSchedule = DEFAULT_VAT_SCHEDULE,
) -> Settlement:
    """Settle one partner-day: charge the day's total once, allocate the fee to the lines."""
    amounts = tuple(amount(a) for a in line_amounts)
    if any(a <= 0 for a in amounts):
        raise ValueError("every paid line of a day is a positive amount")
    paid = sum(amounts, ZERO)
    charge = plan.day_charge(terms, day, paid, vat)
    fee = charge.commission + charge.vat
    if not ZERO <= fee <= paid:
        raise ValueError(f"plan {plan.name!r} withholds {fee} from {paid}: out of range")
    return Settlement(
        day=day,
        plan=plan.name,
        paid=paid,
        commission=charge.commission,
        vat=charge.vat,
        transfer=paid - fee,
        line_fees=tuple(allocate(fee, amounts)),
        line_amounts=amounts,
    )
