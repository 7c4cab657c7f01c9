"""``[partners.notifications]``: when the runner's triggers remind a partner's clients.

Per partner, all optional (docs/runner-config.md, "Partners' notifications")::

    [partners.notifications]
    due_day = 10                 # the debt of a period is due by this day of the next month
    reminder_days = [-3, 5]      # a reminder 3 days before the due date and 5 days after
    readings_days = [20, 25]     # the meter-reading window: opens on the 20th, ends the 25th
    charges = true               # "Начислено …" when a new period's registry comes (default)

A day beyond a month's end means its last day (``due_day = 31``: 30 November, 28 February).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from pes_sdk_runner.i18n import tr

if TYPE_CHECKING:
    from pes_sdk_runner.config.loader import _Reader

__all__ = ["PartnerNotifications", "clamp_day", "load_partner_notifications"]

_KEYS = ("due_day", "reminder_days", "readings_days", "charges")
#: The furthest a reminder may be from its due date, in days (either way).
MAX_OFFSET = 60


def clamp_day(year: int, month: int, day: int) -> dt.date:
    """``day`` of the month, or the month's last day when it has fewer days."""
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


@attrs.frozen
class PartnerNotifications:
    """A partner's settings for the triggers (:mod:`pes_sdk_runner.triggers`)."""

    #: the day of the month after a period by which its debt is due (срок оплаты); None:
    #: no debt reminders
    due_day: int | None = None
    #: the days relative to the due date a reminder goes out (-3: three days before)
    reminder_days: tuple[int, ...] = ()
    #: the meter-reading window (first day, last day) of each month; None: no reminder
    readings_days: tuple[int, int] | None = None
    #: tell clients of a new period's charges when its registry arrives
    charges: bool = True

    def due_date(self, period_year: int, period_month: int) -> dt.date | None:
        """When the debt of the period is due (``due_day`` of the next month), or None."""
        if self.due_day is None:
            return None
        year, month = (
            (period_year + 1, 1) if period_month == 12 else (period_year, period_month + 1)
        )
        return clamp_day(year, month, self.due_day)


def _day(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 31:
        raise ValueError(tr("is a day of the month, 1 to 31"))
    return value


def _offsets(value: Any) -> tuple[int, ...]:
    ok = isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and -MAX_OFFSET <= v <= MAX_OFFSET
        for v in value
    )
    if not ok:
        raise ValueError(
            tr(
                "is a list of days from the due date, {low} to {high}",
                low=-MAX_OFFSET,
                high=MAX_OFFSET,
            )
        )
    return tuple(sorted(set(value)))


def _window(value: Any) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError(tr("is [first day, last day] of the month, such as [20, 25]"))
    first, last = _day(value[0]), _day(value[1])
    if first > last:
        raise ValueError(tr("is [first day, last day] of the month, such as [20, 25]"))
    return first, last


def load_partner_notifications(
    r: _Reader, item: Mapping[str, Any], where: str
) -> PartnerNotifications | None:
    """The partner's ``notifications`` table (the defaults without one); None on a problem
    (each noted with its key path)."""
    from pes_sdk_runner.config.loader import _bool

    if "notifications" not in item:
        return PartnerNotifications()
    table = r.table(item, "notifications", where)
    if table is None:
        return None
    here = f"{where}.notifications"
    r.unknown(table, _KEYS, here)
    problems = len(r.problems)
    due = r.get(table, "due_day", here, _day)
    no_offsets: tuple[int, ...] = ()
    offsets = r.get(table, "reminder_days", here, _offsets, default=no_offsets)
    window = r.get(table, "readings_days", here, _window)
    charges = r.get(table, "charges", here, _bool, default=True)
    if offsets and due is None and "due_day" not in table:
        r.note(f"{here}.reminder_days", tr("needs due_day: the days count from the due date"))
    if len(r.problems) > problems or offsets is None or charges is None:
        return None
    return PartnerNotifications(due, offsets, window, charges)
