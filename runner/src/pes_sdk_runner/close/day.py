"""Closing one partner-day (закрытие дня): registry, settlement, transfer order, ledger.

**The window.** Day ``D`` of a partner with cut-off ``C`` (local time of the service's zone,
``config.service.time_zone``) holds the payments whose ledger credit was recorded in the
half-open interval ``[C on D−1, C on D)``: a payment confirmed at 20:00:00 with a 20:00
cut-off belongs to the next day. A cut-off of 00:00 means midnight at the *end* of the
day, so ``D`` is then the calendar day ``[00:00 D, 00:00 D+1)``. The bounds are converted
to UTC through the zone (the same half-open convention as ``Store.ledger_totals``). A day
is closed only once its window has ended (``now`` past the end), so a closed window never
gains a payment and a re-close sees exactly the same lines.

**Idempotence.** Everything in the files is derived from the store and the day — never
from the wall clock — and records are sorted by (confirmation time, operation id), so a
re-run of the close of a day writes byte-identical files under the same names, with the
same number (``Store.record_payment_registry`` returns the registry recorded the first
time), appends no ledger entry twice (refs) and opens no second delivery.

**Crash safety.** The number is recorded first; the files are then written atomically
(temporary file, fsync, rename, fsync of the folder); the ledger entries and the delivery
follow. A crash anywhere leaves either no file or a whole one under its final name, and
the re-run completes what is missing with the same bytes. A crash inside a write leaves its
hidden ``.NAME.*.part`` temporary behind: it is not removed (a concurrent closer may be
writing it), and no reader of the folder takes such a name. The crash points ``close.*``
(:mod:`pes_sdk_runner.crashpoints`) test this with a real SIGKILL (docs/runner-crash-safety.md).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path

import attrs

from pes_sdk.errors import PesError
from pes_sdk.fees import Settlement, settle_day
from pes_sdk.files import atomic_path
from pes_sdk.formats.base import Record, RegistryFormat
from pes_sdk.models.payments import PaymentRecord, PaymentRegistry, PaymentTotals
from pes_sdk.models.registry import ControlTotals, RegistryHeader, RegistryKind
from pes_sdk.models.transfers import PaymentOrder
from pes_sdk.money import ZERO
from pes_sdk.plugins.manager import PluginHost
from pes_sdk.premises import Premises
from pes_sdk.settlement_orders import PartnerDay, RegistryRef, payment_order
from pes_sdk.vat import DEFAULT_VAT_SCHEDULE
from pes_sdk_runner.config.models import PartnerConfig, RunnerConfig
from pes_sdk_runner.crashpoints import crashpoint
from pes_sdk_runner.store.base import (
    DeliveryInfo,
    LedgerEntry,
    LedgerKind,
    PaymentRegistryInfo,
    Store,
)

__all__ = [
    "DEFAULT_PAYMENTS_FORMAT",
    "CloseConflict",
    "CloseError",
    "DayClose",
    "DayNotOver",
    "PartnerDayRegistry",
    "build_registry",
    "close_day",
    "day_of",
    "day_window",
    "days_to_close_before",
    "local_wall_time",
    "outbox_folder",
    "registry_filename",
    "transfers_folder",
    "writable_format",
]

#: The payments format of a partner whose channel names none (an adapter channel): the
#: file is then the service's own copy of what was delivered.
DEFAULT_PAYMENTS_FORMAT = "pes-payments"

_CREDIT_REF = re.compile(r"^credit:([0-9a-f-]{36}):(\d+)$")


class CloseError(PesError):
    """A day cannot be closed (bad configuration, a format that cannot write, …)."""


class DayNotOver(CloseError):
    """The day's window has not ended yet: closing it now could miss payments."""


class CloseConflict(CloseError):
    """The day was closed before with other figures than the store now gives."""


def day_window(day: dt.date, cutoff: dt.time, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC bounds ``[start, end)`` of a partner-day (see the module's docstring)."""

    def end_of(d: dt.date) -> dt.datetime:
        if cutoff == dt.time(0):
            local = dt.datetime.combine(d + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
        else:
            local = dt.datetime.combine(d, cutoff, tzinfo=zone)
        return local.astimezone(dt.UTC)

    return end_of(day - dt.timedelta(days=1)), end_of(day)


def day_of(moment: dt.datetime, cutoff: dt.time, zone: dt.tzinfo) -> dt.date:
    """The partner-day whose window (:func:`day_window`) holds ``moment`` (aware)."""
    local = moment.astimezone(zone).date()
    for day in (local - dt.timedelta(days=1), local, local + dt.timedelta(days=1)):
        start, end = day_window(day, cutoff, zone)
        if start <= moment < end:
            return day
    raise AssertionError("a moment lies in one of three neighbouring partner-days")


def days_to_close_before(
    store: Store, config: RunnerConfig, partner: PartnerConfig, day: dt.date
) -> list[dt.date]:
    """The partner's days before ``day`` that must be closed first, oldest first.

    Days are closed in order, and every credit belongs in exactly one registry, so before
    ``day`` come: a day whose registry was recorded but never delivered (a close cut short
    by a crash: redone with the same number and bytes), and every day after the last
    closed one that has credits no registry carries yet — or every such day at all, for a
    partner with empty registries that has had one (before its first, nothing tells when
    it started to be served).
    """
    zone = config.service.time_zone
    recorded = store.payment_registries(partner.inn)
    opened = {d.registry_id for d in store.deliveries()}
    days = {r.day for r in recorded if r.id not in opened and r.day < day}
    last = max((r.day for r in recorded if r.day < day), default=None)
    since = day_window(last, partner.cutoff, zone)[1] if last is not None else None
    until = day_window(day, partner.cutoff, zone)[0]
    for e in store.ledger_entries(partner.inn, kind=LedgerKind.CREDIT, since=since, until=until):
        if e.at is not None:
            days.add(day_of(e.at, partner.cutoff, zone))
    if partner.empty_registry and last is not None:
        # Such a partner gets a registry every day, with payments or without.
        following = last + dt.timedelta(days=1)
        days.update(following + dt.timedelta(days=n) for n in range((day - following).days))
    return sorted(days)


def outbox_folder(config: RunnerConfig, partner: PartnerConfig) -> Path:
    """Where the partner's payment registry files are written.

    The channel's folder for an ``outbox`` channel; otherwise ``<data>/outbox/<ИНН>``,
    the service's copy of what an adapter channel delivered.
    """
    if partner.channel.is_outbox and partner.channel.folder is not None:
        return partner.channel.folder
    return config.service.data / "outbox" / partner.inn


def transfers_folder(config: RunnerConfig) -> Path:
    """Where the transfer orders (платёжные поручения) for the service's bank go."""
    return config.service.data / "transfers"


def registry_filename(fmt: RegistryFormat, header: RegistryHeader) -> str:
    """The format's own name for the file, or the stable ``<ИНН>_<ГГГГММДД>_<N>.txt``."""
    named = fmt.filename(header)
    if named:
        return named
    day = header.date or dt.date.min
    return f"{header.partner_inn}_{day:%Y%m%d}_{header.number}.txt"


@attrs.frozen
class PartnerDayRegistry:
    """A partner-day's lines settled, before (or without) a number."""

    partner: PartnerConfig
    day: dt.date
    window: tuple[dt.datetime, dt.datetime]
    records: tuple[PaymentRecord, ...]
    settlement: Settlement

    @property
    def totals(self) -> PaymentTotals:
        s = self.settlement
        return PaymentTotals(len(self.records), s.paid, s.commission, s.vat, s.transfer)

    def registry(self, number: int) -> PaymentRegistry:
        return PaymentRegistry(self.partner.inn, self.day, number, self.records, self.totals)


@attrs.frozen
class DayClose:
    """What closing a partner-day produced. ``registry`` is None for a skipped empty day."""

    partner_inn: str
    day: dt.date
    window: tuple[dt.datetime, dt.datetime]
    registry: PaymentRegistry | None = None
    info: PaymentRegistryInfo | None = None
    registry_path: Path | None = None
    order: PaymentOrder | None = None
    transfer_path: Path | None = None
    delivery: DeliveryInfo | None = None

    @property
    def skipped(self) -> bool:
        return self.registry is None


def local_wall_time(moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """``moment`` as the wall time of ``zone``, to the second, without an offset.

    What registry files carry (their creation time is the end of the day's window).
    """
    return moment.astimezone(zone).replace(tzinfo=None, microsecond=0)


def build_registry(
    store: Store, config: RunnerConfig, host: PluginHost, partner: PartnerConfig, day: dt.date
) -> PartnerDayRegistry:
    """Collect and settle the partner's credited lines of ``day`` (no number, no files).

    Each ledger credit in the window is one record; the basket line it came from (found by
    the credit's ref ``credit:<order>:<line>``) gives the house, premises and period. The
    day is settled once with the partner's fee plan; the fee is spread over the lines by
    largest remainder (:func:`pes_sdk.fees.settle_day`).
    """
    zone = config.service.time_zone
    start, end = day_window(day, partner.cutoff, zone)
    plans = host.fee_plans()
    plan = plans.get(partner.partner.fee.plan)
    if plan is None:
        raise CloseError(
            f"partner {partner.inn}: fee plan {partner.partner.fee.plan!r} is not installed"
        )
    raw: list[tuple[dt.datetime, str, LedgerEntry]] = []
    for e in store.ledger_entries(partner.inn, kind=LedgerKind.CREDIT, since=start, until=end):
        if e.at is None:
            continue
        op = e.ref or f"ledger-{e.id}"
        m = _CREDIT_REF.match(e.ref or "")
        if m:
            op = f"{m.group(1)}-{int(m.group(2)) + 1}"
        # aware, in the service's zone: the files show its wall time, channels want a zone
        raw.append((e.at.astimezone(zone).replace(microsecond=0), op, e))
    raw.sort(key=lambda t: (t[0], t[1]))
    amounts = [e.amount for _, _, e in raw]
    settlement = settle_day(plan, partner.partner.fee, day, amounts, DEFAULT_VAT_SCHEDULE)
    records = []
    for (paid_at, op, e), fee in zip(raw, settlement.line_fees, strict=True):
        house_id = None
        premises: Premises | str = ""
        period = None
        method = ""
        m = _CREDIT_REF.match(e.ref or "")
        payment = store.get(e.order_id) if e.order_id is not None else None
        if m and payment is not None:
            index = int(m.group(2))
            if index < len(payment.payment.lines):
                line = payment.payment.lines[index]
                house_id = line.house_id
                premises = line.premises
                period = line.period
            method = str(payment.payment.method)
        records.append(
            PaymentRecord(
                paid_at=paid_at,
                operation_id=op,
                account=e.account or "",
                amount=e.amount,
                transfer=e.amount - fee,
                fee=fee,
                house_id=house_id,
                premises=premises,
                period=period,
                service=e.service,
                channel=method,
            )
        )
    return PartnerDayRegistry(partner, day, (start, end), tuple(records), settlement)


def _write(
    fmt: RegistryFormat, path: Path, header: RegistryHeader, records: Sequence[Record]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # The formats write atomically themselves; the outer atomic_path makes it so for any
    # plugin format too: a partial file never appears under the final name.
    with atomic_path(path) as tmp:
        fmt.write(tmp, header, records)
        crashpoint("close.file-temp-written")


def writable_format(host: PluginHost, name: str, kind: RegistryKind, what: str) -> RegistryFormat:
    """The installed format ``name``, which must write ``kind``; else a :class:`CloseError`."""
    fmt = host.formats().get(name)
    if fmt is None:
        raise CloseError(f"{what}: format {name!r} is not installed")
    if fmt.kind is not kind or not fmt.capabilities.write:
        raise CloseError(f"{what}: format {name!r} cannot write {kind} registries")
    return fmt


def close_day(
    store: Store,
    config: RunnerConfig,
    host: PluginHost,
    partner: PartnerConfig,
    day: dt.date,
    *,
    now: dt.datetime,
) -> DayClose:
    """Close one partner-day: registry file, transfer order, ledger entries, delivery.

    Idempotent: a re-run returns the same number and writes the same bytes. Raises
    :class:`DayNotOver` before the day's window ends, :class:`CloseConflict` when the day
    was closed before with other figures, :class:`CloseError` for what the configuration
    lacks.
    """
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    built = build_registry(store, config, host, partner, day)
    _start, end = built.window
    if now < end:
        raise DayNotOver(
            f"partner {partner.inn}: {day:%d.%m.%Y} ends at {end.isoformat()} (cut-off "
            f"{partner.cutoff:%H:%M} {config.service.time_zone}); it is {now.isoformat()}"
        )
    if not built.records and not partner.empty_registry:
        return DayClose(partner.inn, day, built.window)
    what = f"partner {partner.inn}"
    fmt = writable_format(
        host,
        partner.channel.format or DEFAULT_PAYMENTS_FORMAT,
        RegistryKind.PAYMENTS,
        what,
    )
    transfer_fmt = (
        writable_format(host, partner.transfer_format, RegistryKind.TRANSFERS, what)
        if partner.transfer_format
        else None
    )
    s = built.settlement
    info = store.record_payment_registry(
        partner.inn, day, count=len(built.records), amount=s.paid, fee=s.fee, transfer=s.transfer
    )
    recorded = (info.count, info.amount, info.fee, info.transfer)
    if recorded != (len(built.records), s.paid, s.fee, s.transfer):
        raise CloseConflict(
            f"{what}: {day:%d.%m.%Y} was closed as registry № {info.number} with "
            f"count/amount/fee/transfer {recorded}; the store now gives "
            f"{(len(built.records), s.paid, s.fee, s.transfer)}"
        )
    crashpoint("close.number-recorded")
    registry = built.registry(info.number)
    created = local_wall_time(end, config.service.time_zone)  # derived from the day, not the clock

    order: PaymentOrder | None = None
    transfer_path: Path | None = None
    if transfer_fmt is not None and s.transfer > 0:
        pday = PartnerDay(
            partner=partner.partner,
            settlement=s,
            registry_fee=s.fee,
            registry_transfer=s.transfer,
            vat_rate=DEFAULT_VAT_SCHEDULE.rate_on(day),
        )
        # The order's number is the registry's store id: unique across partners and stable
        # across re-runs (the store keeps no counter of payment orders).
        order = payment_order(
            config.service.details,
            pday,
            RegistryRef(str(info.number), day),
            number=str(info.id),
            date=created.date(),
        )
        order_header = RegistryHeader(
            kind=RegistryKind.TRANSFERS,
            partner_inn=partner.inn,
            partner_account=partner.partner.bank.account,
            number=info.id,
            date=order.date,
            created_at=created,
            extra=(("sender_id", config.service.details.directbank_id),),
        )
        name = transfer_fmt.filename(order_header) or (
            f"{partner.inn}_{day:%Y%m%d}_{info.number}_transfer.txt"
        )
        transfer_path = transfers_folder(config) / name
        _write(transfer_fmt, transfer_path, order_header, [order])
        crashpoint("close.transfer-written")

    extra: tuple[tuple[str, str], ...] = ()
    if order is not None:
        extra = (("order_number", order.number), ("order_date", f"{order.date:%d.%m.%Y}"))
    header = RegistryHeader(
        kind=RegistryKind.PAYMENTS,
        partner_inn=partner.inn,
        partner_account=partner.partner.bank.account,
        number=info.number,
        date=day,
        created_at=created,
        control=ControlTotals(
            len(registry.records),
            {"amount": s.paid, "transfer": s.transfer, "fee": s.fee},
        ),
        extra=extra,
    )
    registry_path = outbox_folder(config, partner) / registry_filename(fmt, header)
    _write(fmt, registry_path, header, registry.records)
    crashpoint("close.registry-written")

    entries = [
        LedgerEntry(
            LedgerKind.FEE,
            partner.inn,
            s.commission,
            registry_id=info.id,
            ref=f"close:{info.id}:commission",
            memo=f"commission, registry № {info.number} of {day:%d.%m.%Y}",
        ),
        LedgerEntry(
            LedgerKind.FEE,
            partner.inn,
            s.vat,
            registry_id=info.id,
            ref=f"close:{info.id}:vat",
            memo=f"VAT on commission, registry № {info.number} of {day:%d.%m.%Y}",
        ),
        LedgerEntry(
            LedgerKind.TRANSFER,
            partner.inn,
            s.transfer,
            registry_id=info.id,
            ref=f"close:{info.id}:transfer",
            memo=f"transfer, registry № {info.number} of {day:%d.%m.%Y}",
        ),
    ]
    store.ledger_append([e for e in entries if e.amount > ZERO])
    crashpoint("close.ledger-booked")
    target = str(registry_path) if partner.channel.is_outbox else partner.inn
    delivery = store.open_delivery(info.id, partner.channel.kind, target)
    return DayClose(
        partner.inn,
        day,
        built.window,
        registry=registry,
        info=info,
        registry_path=registry_path,
        order=order,
        transfer_path=transfer_path,
        delivery=delivery,
    )
