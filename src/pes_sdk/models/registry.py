"""What every registry file carries besides its records: its header and control totals."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from decimal import Decimal

import attrs

from pes_sdk.i18n import tr
from pes_sdk.period import Period

__all__ = ["ControlTotals", "RegistryHeader", "RegistryKind"]


class RegistryKind(enum.StrEnum):
    """What a registry holds."""

    DEBTS = "debts"  #: реестр задолженности / начислений: partner → service, monthly
    PAYMENTS = "payments"  #: реестр оплат: service → partner, daily
    READINGS = "readings"  #: реестр показаний приборов учёта
    TRANSFERS = "transfers"  #: payment orders (платёжные поручения) to the bank
    STATEMENTS = "statements"  #: bank statements (выписки) back from the bank


@attrs.frozen
class ControlTotals:
    """The sender's own count and sums, against which what was read is checked.

    ``sums`` maps a record field (``amount``, ``transfer``, ``fee``, …) to its total.
    """

    count: int
    sums: dict[str, Decimal] = attrs.field(factory=dict, hash=False)

    def mismatches(self, count: int, sums: dict[str, Decimal]) -> list[str]:
        """Human-readable differences between these totals and the ones computed."""
        problems: list[str] = []
        if count != self.count:
            problems.append(
                tr(
                    "control count is {expected}, the file has {count} records",
                    expected=self.count,
                    count=count,
                )
            )
        for name, expected in self.sums.items():
            got = sums.get(name, Decimal("0.00"))
            if got != expected:
                problems.append(
                    tr(
                        "control sum of {name} is {expected}, the records sum to {got}",
                        name=name,
                        expected=expected,
                        got=got,
                    )
                )
        return problems


def _pairs(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in value)


@attrs.frozen
class RegistryHeader:
    """Facts about a registry as a whole, from its header, footer or file name.

    Every field may be unknown (``None``): a headerless file named by no template says
    nothing about its partner.
    """

    kind: RegistryKind
    partner_inn: str | None = None
    partner_account: str | None = None  #: the partner's р/с, used by some file names
    period: Period | None = None
    number: int | None = None
    date: dt.date | None = None
    created_at: dt.datetime | None = None
    control: ControlTotals | None = None
    #: Facts a format carries that have no field of their own, as ordered ``(name, text)``
    #: pairs: e.g. the payment order number and date in a Sberbank-style footer.
    extra: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs)
