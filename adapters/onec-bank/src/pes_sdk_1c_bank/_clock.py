"""Creation times of bank files as the service's wall time.

1C writes ``ДатаСоздания``/``ВремяСоздания`` and ``creationDate`` as local times without an
offset; whoever reads them takes them in the service's zone. So a time without a zone is
already such a wall time, a time with one is converted to the service's zone, and "now" is
read in that zone: never in the host's (a UTC host would date a file made at 01:30 Moscow
time on the day before).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from pes_sdk.partners_file import DEFAULT_TIME_ZONE


def zone_of(time_zone: dt.tzinfo | str | None) -> dt.tzinfo:
    """A zone from a ``tzinfo`` or an IANA name; None is :data:`DEFAULT_TIME_ZONE`."""
    if time_zone is None:
        return ZoneInfo(DEFAULT_TIME_ZONE)
    return ZoneInfo(time_zone) if isinstance(time_zone, str) else time_zone


def wall_time(moment: dt.datetime | None, zone: dt.tzinfo) -> dt.datetime:
    """``moment`` as a wall time of ``zone`` to the second, without an offset.

    A naive ``moment`` is taken as already in ``zone``; None is now.
    """
    if moment is None:
        moment = dt.datetime.now(zone)
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone).replace(tzinfo=None)
    return moment.replace(microsecond=0)
