"""Closing one partner-day (закрытие дня): registry, settlement, transfer order, ledger.

**The window.** Day ``D`` of a partner with cut-off ``C`` (local time of the service's zone,
``config.service.time_zone``) is the half-open interval ``[C on D−1, C on D)``; a payment
belongs to the day whose window holds its ledger credit's time, which is the acquirer's
capture time (``PaymentEntry.paid_at``, the time a bank statement shows; where a protocol
tells none, the moment the service learned of the payment): a payment captured at
20:00:00 with a 20:00 cut-off belongs to the next day. A cut-off of 00:00 means midnight at
the *end* of the day, so ``D`` is then the calendar day ``[00:00 D, 00:00 D+1)``. The
bounds are converted to UTC through the zone (the same half-open convention as
``Store.ledger_totals``). A day is closed only once its window has ended (``now`` past the
end).

**Late payments.** A payment can be learned of after its day was closed: captured at 19:55,
its webhook lost, the scheduler's backstop asks the acquirer at 20:05, after the close. Its
credit is booked at 19:55 all the same, and is carried by the next registry the partner's
days get (its records keep the real 19:55): a closed registry never changes, and no credit
is left out of every registry. For that, the store keeps which registry carries each credit
(``Store.open_credits``, ``Store.registry_credits``), and records a registry together with
the credits it takes.

**Order.** Numbers follow the days: a day before the partner's last closed day is never
closed afterwards (:class:`DayOutOfOrder`; the store refuses it too), and a day whose
earlier days still hold payments in no registry waits for them
(:func:`days_to_close_before` lists them; ``pes runner close-day`` and the scheduler close
them first). A partner's days start with its first debt registry or payment
(:func:`served_from`): before that, no empty registry is written.

**Checks first.** :func:`check_close` checks what a close needs — the day is over, the fee
plan and formats are installed, the order — and :func:`close_day` runs it before it writes
anything; ``pes runner close-day`` runs it for every partner before it closes any.

**Idempotence.** Everything in the files is derived from the store and the day — never
from the wall clock — and records are sorted by (capture time, operation id), so a re-run
of the close of a day writes byte-identical files under the same names, with the same
number and lines (``Store.record_payment_registry`` returns the registry recorded the first
time, ``Store.registry_credits`` its credits), appends no ledger entry twice (refs) and
opens no second delivery.

**Crash safety.** The number is recorded first, with the credits it carries, in one
transaction; the files are then written atomically
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
    "DayOutOfOrder",
    "PartnerDayRegistry",
    "build_registry",
    "check_close",
    "close_day",
    "day_of",
    "day_window",
    "days_to_close_before",
    "local_wall_time",
    "open_credits",
    "outbox_folder",
    "registry_filename",
    "served_from",
    "transfers_folder",
    "writable_format",
]

#: The payments format of a partner whose channel names none (an adapter channel): the
#: file is then the service's own copy of what was delivered.
DEFAULT_PAYMENTS_FORMAT = "pes-payments"

_CREDIT_REF = re.compile(r"^credit:([0-9a-f-]{36}):(\d+)$")
_NOT_SERVED = "not served yet: its days start with its first debt registry or payment"


class CloseError(PesError):
    """A day cannot be closed (bad configuration, a format that cannot write, …)."""


class DayNotOver(CloseError):
    """The day's window has not ended yet: closing it now could miss payments."""


class CloseConflict(CloseError):
    """The day was closed before with other figures than the store now gives."""


class DayOutOfOrder(CloseError):
    """The day would get a registry after a later day's: numbers must follow the days."""


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


def open_credits(
    store: Store,
    config: RunnerConfig,
    partner: PartnerConfig,
    until: dt.datetime | None = None,
    registries: Sequence[PaymentRegistryInfo] | None = None,
    limit: int | None = None,
) -> list[LedgerEntry]:
    """The partner's credits that no registry carries yet, before ``until``, oldest first.

    ``registries`` are the partner's recorded ones when the caller has read them already;
    ``limit``: the oldest few only.
    """
    if registries is None:
        registries = store.payment_registries(partner.inn)
    last = max((r.day for r in registries), default=None)
    # Credits from before migration 0003 up to the last closed day are in the registries of
    # that time by their window (the rule then), not by the store's rows.
    legacy_until = (
        day_window(last, partner.cutoff, config.service.time_zone)[1] if last is not None else None
    )
    return store.open_credits(partner.inn, until=until, legacy_until=legacy_until, limit=limit)


def served_from(store: Store, config: RunnerConfig, partner: PartnerConfig) -> dt.date | None:
    """The partner's first day: that of its first debt registry, payment or payment registry.

    docs/runner-config.md: a partner's days start with its first registry or payment; a
    partner with empty registries gets none for the days before (None: not served yet).
    """
    zone = config.service.time_zone
    days = [r.day for r in store.payment_registries(partner.inn)]
    moments = [r.received_at for r in store.debt_registries(partner.inn)]
    if not days:  # with no registry, every credit of the partner is still open
        moments += [e.at for e in store.open_credits(partner.inn, limit=1) if e.at is not None]
    days += [day_of(m, partner.cutoff, zone) for m in moments]
    return min(days, default=None)


def days_to_close_before(
    store: Store, config: RunnerConfig, partner: PartnerConfig, day: dt.date
) -> list[dt.date]:
    """The partner's days before ``day`` that must be closed first, oldest first.

    Days are closed in order, and every credit belongs in exactly one registry, so before
    ``day`` come: a day whose registry was recorded but never delivered (a close cut short
    by a crash: redone with the same number and bytes), and every day after the last
    closed one that holds credits no registry carries yet — or, for a partner with empty
    registries, every day after the last closed one from its first day on
    (:func:`served_from`). Credits of days closed already (confirmed after the close) are
    no reason to close anything: the next registry carries them.
    """
    zone = config.service.time_zone
    recorded = store.payment_registries(partner.inn)
    opened = {d.registry_id for d in store.deliveries()}
    days = {r.day for r in recorded if r.id not in opened and r.day < day}
    last = max((r.day for r in recorded), default=None)
    if last is not None and last >= day:
        return sorted(days)  # ``day`` is closed already, or refused (:func:`check_close`)
    until = day_window(day, partner.cutoff, zone)[0]
    for e in open_credits(store, config, partner, until, recorded):
        if e.at is not None:
            d = day_of(e.at, partner.cutoff, zone)
            if last is None or d > last:
                days.add(d)
    if partner.empty_registry:
        # Such a partner gets a registry every day, with payments or without.
        first = (
            last + dt.timedelta(days=1) if last is not None else served_from(store, config, partner)
        )
        if first is not None:
            days.update(first + dt.timedelta(days=n) for n in range((day - first).days))
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
    #: the ledger ids of the credits the records come from
    credit_ids: tuple[int, ...] = ()
    #: the day's registry when it was recorded before (a re-close), else None
    info: PaymentRegistryInfo | None = None

    @property
    def totals(self) -> PaymentTotals:
        s = self.settlement
        return PaymentTotals(len(self.records), s.paid, s.commission, s.vat, s.transfer)

    def registry(self, number: int) -> PaymentRegistry:
        return PaymentRegistry(self.partner.inn, self.day, number, self.records, self.totals)


@attrs.frozen
class DayClose:
    """What closing a partner-day produced. ``registry`` is None for a day skipped.

    ``reason`` says why a day was skipped (no payments, not served yet, a later day closed).
    """

    partner_inn: str
    day: dt.date
    window: tuple[dt.datetime, dt.datetime]
    registry: PaymentRegistry | None = None
    info: PaymentRegistryInfo | None = None
    registry_path: Path | None = None
    order: PaymentOrder | None = None
    transfer_path: Path | None = None
    delivery: DeliveryInfo | None = None
    reason: str = ""

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

    A day already closed carries the credits its registry was recorded with; an open day
    every credit no registry carries yet up to the end of its window, whatever its time (a
    payment captured before the cut-off of a day already closed, and confirmed after the
    close, comes with its real time into the next day's registry). Each credit is one
    record; the basket line it came from (found by
    the credit's ref ``credit:<order>:<line>``) gives the house, premises, period and the
    service's code (its name is on the credit): the partner books each line to its service. The
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
    registries = store.payment_registries(partner.inn)
    info = next((r for r in registries if r.day == day), None)
    if info is None:
        credits = open_credits(store, config, partner, end, registries)
    else:
        credits = store.registry_credits(info.id)
        if not credits and info.count:
            # Closed before migration 0003, when a registry carried its window's credits.
            credits = store.ledger_entries(
                partner.inn, kind=LedgerKind.CREDIT, since=start, until=end
            )
    raw: list[tuple[dt.datetime, str, LedgerEntry]] = []
    for e in credits:
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
    # Every line's payment at once (a few queries), not one look-up per credit.
    payments = store.get_many(e.order_id for _, _, e in raw if e.order_id is not None)
    records = []
    for (paid_at, op, e), fee in zip(raw, settlement.line_fees, strict=True):
        house_id = None
        premises: Premises | str = ""
        period = None
        method = ""
        service_code = ""
        m = _CREDIT_REF.match(e.ref or "")
        payment = payments.get(e.order_id) if e.order_id is not None else None
        if m and payment is not None:
            index = int(m.group(2))
            if index < len(payment.payment.lines):
                line = payment.payment.lines[index]
                house_id = line.house_id
                premises = line.premises
                period = line.period
                service_code = line.service_code
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
                service_code=service_code,
                channel=method,
            )
        )
    ids = tuple(e.id for _, _, e in raw if e.id is not None)
    return PartnerDayRegistry(partner, day, (start, end), tuple(records), settlement, ids, info)


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


def check_close(
    store: Store,
    config: RunnerConfig,
    host: PluginHost,
    partner: PartnerConfig,
    day: dt.date,
    *,
    now: dt.datetime,
) -> None:
    """Check what closing ``day`` needs, writing nothing; raise what :func:`close_day` would.

    :class:`DayNotOver` before the day's window ends; :class:`CloseError` when the fee plan
    or a format is not installed or cannot write; :class:`DayOutOfOrder` for a day before
    the partner's last closed day that would need a registry (a partner with empty
    registries on a day it was served). Days before ``day`` still to be closed are not an
    error here: :func:`days_to_close_before` lists them, for the caller to close first.
    """
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    zone = config.service.time_zone
    end = day_window(day, partner.cutoff, zone)[1]
    if now < end:
        raise DayNotOver(
            f"partner {partner.inn}: {day:%d.%m.%Y} ends at {end.isoformat()} (cut-off "
            f"{partner.cutoff:%H:%M} {zone}); it is {now.isoformat()}"
        )
    what = f"partner {partner.inn}"
    if partner.partner.fee.plan not in host.fee_plans():
        raise CloseError(f"{what}: fee plan {partner.partner.fee.plan!r} is not installed")
    writable_format(
        host, partner.channel.format or DEFAULT_PAYMENTS_FORMAT, RegistryKind.PAYMENTS, what
    )
    if partner.transfer_format:
        writable_format(host, partner.transfer_format, RegistryKind.TRANSFERS, what)
    recorded = store.payment_registries(partner.inn)
    last = max(recorded, key=lambda r: r.day, default=None)
    if last is None or last.day <= day or any(r.day == day for r in recorded):
        return
    first = served_from(store, config, partner)
    if partner.empty_registry and first is not None and first <= day:
        raise DayOutOfOrder(
            f"{what}: {day:%d.%m.%Y} was not closed, and cannot be now: registry "
            f"№ {last.number} of a later day, {last.day:%d.%m.%Y}, is closed, and the numbers "
            "follow the days (a payment of that day confirmed late is in the next registry)"
        )


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

    Idempotent: a re-run returns the same number and writes the same bytes. Everything is
    checked before anything is written (:func:`check_close`). Raises :class:`DayNotOver`
    before the day's window ends, :class:`DayOutOfOrder` for a day that would get its
    number after a later day's, :class:`CloseError` when an earlier day still holds
    payments in no registry (close it first) or for what the configuration lacks, and
    :class:`CloseConflict` when the day was closed before with other figures. A day with
    nothing to write is skipped (:attr:`DayClose.reason` says why).

    One close of a partner at a time across every process and thread on the store
    (:meth:`Store.exclusive <pes_sdk_runner.store.base.Store.exclusive>`): a second closer
    of the day waits, then gets the first one's registry, number and bytes.
    """
    # Per partner, not per day: the next day's close takes the open credits this one may
    # be taking. Waiting, a second closer reads the registry recorded and its credits,
    # never its own earlier view of the open credits, which a late payment confirmed in
    # between would have made differ (a CloseConflict, or another closer's file).
    with store.exclusive(f"close:{partner.inn}"):
        return _close_day(store, config, host, partner, day, now=now)


def _close_day(
    store: Store,
    config: RunnerConfig,
    host: PluginHost,
    partner: PartnerConfig,
    day: dt.date,
    *,
    now: dt.datetime,
) -> DayClose:
    check_close(store, config, host, partner, day, now=now)
    zone = config.service.time_zone
    window = day_window(day, partner.cutoff, zone)
    built = build_registry(store, config, host, partner, day)
    if built.info is None:
        registries = store.payment_registries(partner.inn)
        last = max((r.day for r in registries), default=None)
        if last is not None and last > day:
            # Nothing to write (check_close refused a day that would need a registry): its
            # open credits, confirmed after their day was closed, go into the next one.
            first = served_from(store, config, partner)
            reason = f"a later day, {last:%d.%m.%Y}, is closed"
            if first is None or first > day:
                reason = _NOT_SERVED
            return DayClose(partner.inn, day, window, reason=reason)
        waiting = sorted(
            {
                d
                for e in built.records
                # (before the window's start, or the day itself: day_of only for those)
                if e.paid_at < window[0]
                and (d := day_of(e.paid_at, partner.cutoff, zone)) < day
                and (last is None or d > last)
            }
        )
        if waiting:
            raise CloseError(
                f"partner {partner.inn}: {waiting[0]:%d.%m.%Y} holds payments in no registry "
                f"and is not closed: close it before {day:%d.%m.%Y}, the numbers follow the days"
            )
        if not built.records:
            if not partner.empty_registry:
                return DayClose(partner.inn, day, window, reason="no payments")
            first = served_from(store, config, partner)
            if first is None or first > day:
                return DayClose(partner.inn, day, window, reason=_NOT_SERVED)
    _start, end = built.window
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
        partner.inn,
        day,
        count=len(built.records),
        amount=s.paid,
        fee=s.fee,
        transfer=s.transfer,
        credits=built.credit_ids if built.info is None else (),
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
