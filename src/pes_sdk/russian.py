"""Money, months and dates in the forms a Russian reader expects (bills, notifications).

``1 234,56 руб.``, ``ноябрь 2026``, ``10 декабря``: written once here for everything the
kit prints in Russian (the bills, the runner's messages and receipts' e-mails).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pes_sdk.money import round_money
from pes_sdk.period import Period

__all__ = ["day_month", "month_year", "rubles"]

_MONTHS = (
    "январь", "февраль", "март", "апрель", "май", "июнь",
    "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь",
)  # fmt: skip
_MONTHS_OF = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip


def rubles(value: Decimal) -> str:
    """``1 234,56 руб.``: thousands apart by a space, a decimal comma, always kopecks (the
    amount rounded half up to the kopeck first, as every amount of the kit is)."""
    exact = round_money(value)
    sign = "-" if exact < 0 else ""
    whole, _, kopecks = f"{abs(exact):.2f}".partition(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}{' '.join(groups)},{kopecks} руб."


def month_year(period: Period) -> str:
    """``ноябрь 2026`` (as in "за ноябрь 2026")."""
    return f"{_MONTHS[period.month - 1]} {period.year}"


def day_month(day: dt.date) -> str:
    """``10 декабря`` (as in "до 10 декабря")."""
    return f"{day.day} {_MONTHS_OF[day.month - 1]}"
