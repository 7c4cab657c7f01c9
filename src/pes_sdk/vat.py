"""VAT (НДС) as date-effective data, not a constant.

The Russian standard rate was 18% until 2018-12-31, 20% from 2019-01-01 to 2025-12-31 and is
22% from 2026-01-01. A :class:`VatSchedule` answers "which rate applies on this date"; pass
your own schedule wherever a computation takes one to override the default (a future change
of law, a partner exempt from VAT with a 0% schedule).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

import attrs

from pes_sdk.money import round_money

__all__ = ["DEFAULT_VAT_SCHEDULE", "VatPeriod", "VatSchedule"]


@attrs.frozen
class VatPeriod:
    """A VAT rate in force from ``since`` (inclusive) until the next period starts."""

    since: dt.date
    rate: Decimal = attrs.field(validator=attrs.validators.instance_of(Decimal))

    def __attrs_post_init__(self) -> None:
        if not Decimal(0) <= self.rate < Decimal(1):
            raise ValueError(f"a VAT rate is a fraction in [0, 1), not {self.rate}")


def _by_start(periods: Iterable[VatPeriod]) -> tuple[VatPeriod, ...]:
    return tuple(sorted(periods, key=lambda p: p.since))


@attrs.frozen
class VatSchedule:
    """Rates in force over time, ordered by start date."""

    periods: tuple[VatPeriod, ...] = attrs.field(converter=_by_start)

    def __attrs_post_init__(self) -> None:
        if not self.periods:
            raise ValueError("a VAT schedule needs at least one period")
        starts = [p.since for p in self.periods]
        if len(set(starts)) != len(starts):
            raise ValueError("two VAT periods start on the same date")

    @classmethod
    def of(cls, pairs: Iterable[tuple[dt.date, Decimal]]) -> VatSchedule:
        """Build a schedule from ``(since, rate)`` pairs."""
        return cls(tuple(VatPeriod(since, rate) for since, rate in pairs))

    def rate_on(self, day: dt.date) -> Decimal:
        """The rate in force on ``day``."""
        starts = [p.since for p in self.periods]
        i = bisect.bisect_right(starts, day) - 1
        if i < 0:
            raise ValueError(f"no VAT rate is known for {day.isoformat()}")
        return self.periods[i].rate

    def vat_on_top(self, net: Decimal, day: dt.date) -> Decimal:
        """VAT added on top of a net amount, rounded half-up to the kopeck."""
        return round_money(net * self.rate_on(day))

    def vat_included(self, gross: Decimal, day: dt.date) -> Decimal:
        """The VAT share inside a gross amount (e.g. 22/122 of it), rounded half-up."""
        rate = self.rate_on(day)
        return round_money(gross * rate / (1 + rate))


DEFAULT_VAT_SCHEDULE = VatSchedule.of(
    [
        (dt.date(2004, 1, 1), Decimal("0.18")),
        (dt.date(2019, 1, 1), Decimal("0.20")),
        (dt.date(2026, 1, 1), Decimal("0.22")),
    ]
)
