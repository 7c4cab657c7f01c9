"""Closing days and delivering payment registries (закрытие дня и доставка реестров).

* :func:`close_day` closes one partner-day (after :func:`check_close`, which writes
  nothing): the payment registry with its gapless number, in day order,
  written to the outbox in the partner's payments format, the settlement (commission and
  VAT by the partner's fee plan), the transfer order through a bank-file format, the
  ledger entries, and the delivery opened. Idempotent and byte-for-byte repeatable.
* :func:`close_readings` writes the partner-day's meter readings (реестр показаний) in the
  partner's ``readings_format`` into ``<outbox>/readings/`` (:mod:`.readings`).
* :func:`deliver_pending` hands the open deliveries over, with bounded retries.

See :mod:`pes_sdk_runner.close.day` for the day's window and the crash-safety order.
"""

from pes_sdk_runner.close.day import (
    DEFAULT_PAYMENTS_FORMAT,
    CloseConflict,
    CloseError,
    DayClose,
    DayNotOver,
    DayOutOfOrder,
    PartnerDayRegistry,
    build_registry,
    check_close,
    close_day,
    day_of,
    day_window,
    days_to_close_before,
    open_credits,
    outbox_folder,
    registry_filename,
    served_from,
    transfers_folder,
)
from pes_sdk_runner.close.deliver import DEFAULT_MAX_ATTEMPTS, deliver_pending
from pes_sdk_runner.close.readings import (
    READINGS_FOLDER,
    close_readings,
    readings_folder,
    readings_number,
)

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_PAYMENTS_FORMAT",
    "READINGS_FOLDER",
    "CloseConflict",
    "CloseError",
    "DayClose",
    "DayNotOver",
    "DayOutOfOrder",
    "PartnerDayRegistry",
    "build_registry",
    "check_close",
    "close_day",
    "close_readings",
    "day_of",
    "day_window",
    "days_to_close_before",
    "deliver_pending",
    "open_credits",
    "outbox_folder",
    "readings_folder",
    "readings_number",
    "registry_filename",
    "served_from",
    "transfers_folder",
]
