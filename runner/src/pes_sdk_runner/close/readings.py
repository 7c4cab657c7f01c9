"""Forwarding a partner-day's meter readings (реестр показаний) at the day's close.

The readings the API took in (``POST /v1/readings``) are forwarded to a partner whose
configuration names a ``readings_format``: once the partner-day's window
(:func:`~pes_sdk_runner.close.day.day_window`, the same as the payment registry's) has
ended, the readings received in it are written as one readings registry file into
``<outbox folder>/readings/``. A day without readings writes no file.

**Which readings.** Those received in the window that count when it ends
(:meth:`Store.readings_received <pes_sdk_runner.store.base.Store.readings_received>`): a
correction received the same day replaces the reading it corrects, a correction received
later goes out with its own day.

**The number.** The registry's number is the day as ``YYYYMMDD`` (20261127): one readings
registry per partner-day, so the number is unique per partner, grows with the days and
needs no counter in the store. It is not gapless — a day without readings has no registry.

**Idempotence and crash safety.** The file is derived from the store and the day only (its
creation time is the end of the window, in the service's zone), so a re-run writes the same
bytes under the same name. It is written atomically (temporary file, rename): a crash leaves
no file or a whole one, and the re-run writes it again.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pes_sdk.files import atomic_path
from pes_sdk.models.registry import ControlTotals, RegistryHeader, RegistryKind
from pes_sdk.plugins.manager import PluginHost
from pes_sdk_runner.close.day import (
    DayNotOver,
    day_window,
    local_wall_time,
    outbox_folder,
    writable_format,
)
from pes_sdk_runner.config.models import PartnerConfig, RunnerConfig
from pes_sdk_runner.store.base import Store

__all__ = ["READINGS_FOLDER", "close_readings", "readings_folder", "readings_number"]

#: The subfolder of a partner's outbox folder that holds its readings registries.
READINGS_FOLDER = "readings"


def readings_folder(config: RunnerConfig, partner: PartnerConfig) -> Path:
    """Where the partner's readings registries are written: ``<outbox folder>/readings``."""
    return outbox_folder(config, partner) / READINGS_FOLDER


def readings_number(day: dt.date) -> int:
    """The number of a partner-day's readings registry: the day as ``YYYYMMDD``."""
    return day.year * 10000 + day.month * 100 + day.day


def close_readings(
    store: Store,
    config: RunnerConfig,
    host: PluginHost,
    partner: PartnerConfig,
    day: dt.date,
    *,
    now: dt.datetime,
) -> Path | None:
    """Write the partner-day's readings registry; its path, or None when there is none.

    None for a partner without ``readings_format`` and for a day without readings. Raises
    :class:`DayNotOver` before the day's window ends and :class:`CloseError` for a format
    that is not installed or cannot write readings. Idempotent: a re-run writes the same
    bytes under the same name.
    """
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    if partner.readings_format is None:
        return None
    zone = config.service.time_zone
    start, end = day_window(day, partner.cutoff, zone)
    if now < end:
        raise DayNotOver(
            f"partner {partner.inn}: {day:%d.%m.%Y} ends at {end.isoformat()} (cut-off "
            f"{partner.cutoff:%H:%M} {zone}); it is {now.isoformat()}"
        )
    fmt = writable_format(
        host, partner.readings_format, RegistryKind.READINGS, f"partner {partner.inn}"
    )
    records = [r.reading for r in store.readings_received(partner.inn, start, end)]
    if not records:
        return None
    header = RegistryHeader(
        kind=RegistryKind.READINGS,
        partner_inn=partner.inn,
        partner_account=partner.partner.bank.account,
        number=readings_number(day),
        date=day,
        created_at=local_wall_time(end, zone),  # derived from the day, not the clock
        control=ControlTotals(len(records)),
    )
    name = fmt.filename(header) or f"readings_{partner.inn}_{day:%Y%m%d}.txt"
    path = readings_folder(config, partner) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    # The outer atomic_path makes any plugin format's write atomic, as for payment
    # registries: a partial file never appears under the final name.
    with atomic_path(path) as tmp:
        fmt.write(tmp, header, records)
    return path
