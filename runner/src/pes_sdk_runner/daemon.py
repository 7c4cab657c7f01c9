"""The runner's scheduler (планировщик): ingest, day closes and deliveries on their own.

:class:`Daemon` does in one *pass* (:meth:`Daemon.run_once`) what an operator would do by
hand with ``pes runner scan``, ``close-day`` and a redelivery:

1. **ingest**, when due: every file waiting in every inbox (``daemon.scan_interval``), and
   every billing source asked for the current month (``daemon.poll_interval``);
2. **ask the acquirer** about payments still waiting ``daemon.payment_check_after``
   seconds after their last change (``daemon.payment_check_interval``; ``serve`` only, which
   holds the gateway): the backstop for a webhook that never came, so that a payment paid
   at the acquirer is credited — and reaches a registry — even then. The credit is booked
   at the acquirer's capture time, so it belongs to the day the bank statement shows; a
   pass about to close a day asks about every waiting payment first, however recently it
   changed, so that one captured before the cut-off is in its own day's registry (one the
   acquirer confirms only after the close goes into the next registry, with its real time);
3. **close** every partner-day whose window ended at least ``daemon.close_grace`` seconds
   ago and that is not closed yet, oldest first (which days: below), and write its meter
   readings file for partners with ``readings_format``
   (:func:`~pes_sdk_runner.close.close_readings`);
4. **deliver** the open deliveries (``daemon.delivery_interval``, and at once after a pass
   that closed a day) with :func:`~pes_sdk_runner.close.deliver_pending`'s bounded retries.

A pass is deterministic in its ``now``: the days, the registries' contents and the
``received_at`` of the ingested registries derive from it, so tests drive it with any
clock. :meth:`Daemon.run_forever` runs passes until a stop event is set, sleeping until the
next thing is due (a scan, a poll, a partner's cut-off plus the grace, a delivery retry).

**Which days a pass closes.** For each partner, the last day that *ended* is the newest day
whose window (:func:`~pes_sdk_runner.close.day_window`) ended ``close_grace`` ago or more.
Closing goes on from the day after the partner's last closed registry day (or after the day
this process last handled) up to it, never further back than ``catch_up_days`` days before
it; days before a later day closed meanwhile by hand are passed. A day with no payments of
a partner without empty registries is a no-op: it is only remembered in memory, and redone
(cheaply, one read of the open credits) after a restart.
Days are closed in order and a failure stops the partner at that day (the next pass starts
there again), so registry numbers always grow with the days. A registry of the range that
has no delivery yet was cut short by a crash: the first pass closes that day again (the
close is idempotent: same number, same bytes) and goes on from there. Payments older than
the catch-up range that no registry carries stop the partner with an error instead of being
skipped (those of days closed already do not: the next registry carries them): the operator
closes those days with ``pes runner close-day`` (or raises ``catch_up_days``) and the daemon
carries on. A partner with empty registries that has never had a registry starts on the day
of its first debt registry or payment (:func:`~pes_sdk_runner.close.served_from`), at the
earliest the range's first: no empty registries for days before it was served.

**Failures.** An error in one file, one partner's close or the delivery run is logged (one
JSON object per event, like the API's, with no personal data), counted in the metrics and in
:attr:`Pass.errors`, and the pass goes on with the rest; the failed work is tried again on
the next pass. A file the ingest could not place stays in its inbox; a day that failed stays
open and holds back the partner's later days.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

import attrs

from pes_sdk.billing.retry import BillingRetry
from pes_sdk.errors import PesError
from pes_sdk.gateways.errors import GatewayTimeout, GatewayUnavailable, UnknownPayment
from pes_sdk.gateways.models import PaymentState
from pes_sdk.gateways.processor import Applied
from pes_sdk.plugins.manager import PluginHost
from pes_sdk_runner.close import (
    DayClose,
    close_day,
    close_readings,
    day_of,
    day_window,
    deliver_pending,
    open_credits,
    served_from,
)
from pes_sdk_runner.config.models import DaemonConfig, PartnerConfig, RunnerConfig
from pes_sdk_runner.ingest import (
    IngestOutcome,
    Outcome,
    current_period,
    inbox_files,
    ingest_file,
    poll_source,
    report_strays,
)
from pes_sdk_runner.logs import event
from pes_sdk_runner.store.base import DeliveryInfo, DeliveryStatus, Store

if TYPE_CHECKING:
    from pes_sdk.billing.contract import DeliveryChannel

__all__ = [
    "MAX_SLEEP",
    "PAYMENT_CHECKS_PER_PASS",
    "PAYMENT_FRESH_FOR",
    "PAYMENT_RECHECK_OLD",
    "Clock",
    "Daemon",
    "DaemonMetrics",
    "Pass",
    "PassError",
    "PaymentCheck",
    "Stage",
    "utc_now",
]

log = logging.getLogger("pes_sdk_runner.daemon")

#: The most waiting payments one pass asks the acquirer about (the never asked first, then
#: the longest unasked): a backlog is worked off over passes, each payment in its turn,
#: instead of holding one pass for long.
PAYMENT_CHECKS_PER_PASS = 500

#: A waiting payment created less than this many seconds ago is asked about at every
#: backstop pass: a client who is paying pays within minutes.
PAYMENT_FRESH_FOR = 3600.0

#: An older one (most likely abandoned: the client closed the page) is asked again at most
#: once in this many seconds, so that a heap of abandoned payments leaves the passes' room
#: to the fresh ones; one paid late all the same is credited within this time.
PAYMENT_RECHECK_OLD = 1800.0

#: The longest :meth:`Daemon.run_forever` sleeps at once, whatever is due: a wall clock
#: set forward (or a machine resumed from sleep) is noticed within this many seconds.
MAX_SLEEP = 60.0

#: Ingest outcomes an operator must look at (the file is in ``rejected/``, or nothing came).
_BAD = frozenset({Outcome.REFUSED, Outcome.CONFLICT, Outcome.FAILED})

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The current time, aware, in UTC: the default clock."""
    return dt.datetime.now(dt.UTC)


def _event(name: str, level: int = logging.INFO, **fields: object) -> None:
    event(log, name, level, **fields)


class Stage(enum.StrEnum):
    """The part of a pass an error happened in (the ``stage`` label of the metrics)."""

    SCAN = "scan"  #: an inbox file
    POLL = "poll"  #: a billing source
    CLOSE = "close"  #: a partner-day close
    DELIVER = "deliver"  #: the delivery run
    PAYMENTS = "payments"  #: asking the acquirer about waiting payments
    PASS = "pass"  #: the pass itself (the store did not answer, …)


@attrs.frozen
class PassError:
    """One thing a pass could not do; it is tried again on the next pass."""

    stage: Stage
    #: the partner's ИНН, or None when the error is no one partner's
    partner: str | None
    #: what failed: an inbox file's name, a day (``2026-10-20``), or empty
    subject: str
    message: str


@attrs.frozen
class PaymentCheck:
    """A waiting payment the acquirer was asked about (its webhook had not come)."""

    order_id: uuid.UUID
    #: the payment's state after the answer
    state: PaymentState
    #: the answer moved the payment (paid, cancelled, …): its webhook was lost or late
    changed: bool
    #: the answer made it paid: it was credited now, by this check
    credited: bool


@attrs.frozen
class Pass:
    """What one pass did.

    ``closed`` holds every day the pass handled, in order, the skipped empty days included
    (:attr:`DayClose.skipped`); ``deliveries`` the state of every delivery tried.
    """

    at: dt.datetime
    scanned: bool = False
    polled: bool = False
    delivered: bool = False
    ingested: tuple[IngestOutcome, ...] = ()
    closed: tuple[DayClose, ...] = ()
    deliveries: tuple[DeliveryInfo, ...] = ()
    errors: tuple[PassError, ...] = ()
    #: True when the stop event cut the pass short (what was left waits for the next run)
    stopped: bool = False
    #: waiting payments the acquirer was asked about (``serve`` only: it holds the gateway)
    payments: tuple[PaymentCheck, ...] = ()

    @property
    def registries(self) -> tuple[DayClose, ...]:
        """The days closed with a registry (the skipped empty days left out)."""
        return tuple(c for c in self.closed if not c.skipped)

    @property
    def refused(self) -> tuple[IngestOutcome, ...]:
        """Registries refused, in conflict, or that a billing source could not deliver."""
        return tuple(o for o in self.ingested if o.outcome in _BAD)

    @property
    def failed_deliveries(self) -> tuple[DeliveryInfo, ...]:
        """Deliveries given up in this pass (``failed``: an operator must look)."""
        return tuple(d for d in self.deliveries if d.status is DeliveryStatus.FAILED)

    @property
    def ok(self) -> bool:
        """Nothing refused, nothing failed (a delivery still to be retried is no failure)."""
        return not (self.refused or self.failed_deliveries or self.errors)

    @property
    def quiet(self) -> bool:
        """Nothing to tell: no file, no registry, no delivery, no error."""
        moved = any(c.changed for c in self.payments)
        return not (self.ingested or self.registries or self.deliveries or self.errors or moved)


class DaemonMetrics(Protocol):
    """Where a daemon counts what it does (:class:`pes_sdk_runner.api.metrics.Metrics`)."""

    def inc(self, name: str, **labels: str) -> None: ...

    def set(self, name: str, value: float, **labels: str) -> None: ...


def _describe(exc: BaseException) -> str:
    # The runner's own errors and the file system's name files, days and partners; any
    # other exception's text could carry a record's values (an account), so only its type
    # is told. Its traceback goes to the debug log.
    if isinstance(exc, PesError | OSError):
        return f"{type(exc).__name__}: {exc}"[:500]
    return f"{type(exc).__name__} (details in the debug log)"


class Daemon:
    """Runs passes over one store: ingest, day closes and deliveries when they are due.

    The daemon keeps little in memory: when each interval is next due, and from which day
    each partner's closing goes on (read from the store the first time). Everything else
    is read from the store each pass, and closing a day again is harmless (idempotent), so
    a restart or a ``pes runner close-day`` by hand is safe at any time. Not thread-safe:
    one thread runs the passes (the store may be shared).

    ``retry`` bounds the attempts of one delivery run (its waits are cut short by the stop
    event); ``channels`` builds a partner's delivery channel (tests). ``metrics`` receives
    counters and gauges; ``on_pass`` is called with each :class:`Pass` that
    :meth:`run_forever` makes.
    """

    def __init__(
        self,
        store: Store,
        config: RunnerConfig,
        host: PluginHost,
        *,
        settings: DaemonConfig | None = None,
        metrics: DaemonMetrics | None = None,
        retry: BillingRetry | None = None,
        channels: Callable[[PartnerConfig], DeliveryChannel] | None = None,
        on_pass: Callable[[Pass], None] | None = None,
        check_payment: Callable[[uuid.UUID], Applied] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.host = host
        self.settings = settings or config.daemon
        self.metrics = metrics
        self.on_pass = on_pass
        self._channels = channels
        self._stop = threading.Event()
        # Waits between a delivery's attempts end at once when the daemon is told to stop.
        self._retry = attrs.evolve(retry or BillingRetry(), sleep=self._pause)
        self._next_scan: dt.datetime | None = None
        self._next_poll: dt.datetime | None = None
        self._next_delivery: dt.datetime | None = None
        self._next_payment_check: dt.datetime | None = None
        #: asks the acquirer about one payment and applies the answer (the processor's
        #: ``refresh``); None where no gateway is held (``run-once``)
        self._check_payment = check_payment
        #: per partner, the first day this process has not closed yet (read from the store
        #: the first time): a day that failed stays here until it is closed
        self._next_day: dict[str, dt.date] = {}
        #: the (partner, day) closes the acquirer was last asked about every waiting payment for
        self._asked_before_close: set[tuple[str, dt.date]] = set()

    # -- timing ----------------------------------------------------------------------------

    def _pause(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _seconds(self, value: float) -> dt.timedelta:
        return dt.timedelta(seconds=value)

    def _due(self, next_at: dt.datetime | None, interval: float, now: dt.datetime) -> bool:
        # Further off than one interval: the clock was set back; do not wait for it.
        return next_at is None or now >= next_at or next_at - now > self._seconds(interval)

    def _end(self, partner: PartnerConfig, day: dt.date) -> dt.datetime:
        return day_window(day, partner.cutoff, self.config.service.time_zone)[1]

    def last_ended_day(self, partner: PartnerConfig, now: dt.datetime) -> dt.date:
        """The newest day of ``partner`` whose window ended ``close_grace`` before ``now``."""
        grace = self._seconds(self.settings.close_grace)
        day = now.astimezone(self.config.service.time_zone).date() + dt.timedelta(days=1)
        while self._end(partner, day) + grace > now:
            day -= dt.timedelta(days=1)
        return day

    def next_due(self, now: dt.datetime) -> dt.datetime:
        """When the next pass has something to do: a scan, a poll, a close or a delivery.

        Never later than one scan interval from ``now``: a pass also retries what failed.
        """
        due = [now + self._seconds(self.settings.scan_interval)]
        due += [
            t
            for t in (
                self._next_scan,
                self._next_poll,
                self._next_delivery,
                self._next_payment_check,
            )
            if t
        ]
        grace = self._seconds(self.settings.close_grace)
        for p in self.config.partners:
            following = self.last_ended_day(p, now) + dt.timedelta(days=1)
            due.append(self._end(p, following) + grace)
        return min(due)

    # -- a pass ------------------------------------------------------------------------------

    def run_once(self, now: dt.datetime) -> Pass:
        """One pass at ``now`` (aware): ingest if due, close the ended days, deliver if due.

        Never raises for one file, partner or delivery run: such errors are in the result.
        """
        if now.tzinfo is None:
            raise ValueError("now must carry a time zone")
        errors: list[PassError] = []
        ingested: list[IngestOutcome] = []
        scanned = polled = delivered = False
        if self._due(self._next_scan, self.settings.scan_interval, now):
            self._next_scan = now + self._seconds(self.settings.scan_interval)
            scanned = True
            ingested += self._scan(now, errors)
        sources = [p for p in self.config.partners if not p.source.is_inbox]
        if sources and self._due(self._next_poll, self.settings.poll_interval, now):
            self._next_poll = now + self._seconds(self.settings.poll_interval)
            polled = True
            ingested += self._poll(sources, now, errors)
        checks: list[PaymentCheck] = []
        interval = self.settings.payment_check_interval
        closing = self._check_payment is not None and self._closing_due(now)
        if self._check_payment is not None and (
            closing or self._due(self._next_payment_check, interval, now)
        ):
            # Before the closes: a payment captured before the cut-off whose webhook was lost
            # is credited at its capture time, so it lands in its own day's registry. Before
            # a close every waiting payment is asked about, however recently it changed; one
            # the acquirer confirms only later still goes into the next registry.
            self._next_payment_check = now + self._seconds(interval)
            checks = list(self._check_payments(self._check_payment, now, errors, every=closing))
        closed = list(self._close(now, errors))
        deliveries: list[DeliveryInfo] = []
        # A registry just closed is handed over at once, not a delivery interval later.
        opened = any(
            c.delivery is not None and c.delivery.status is DeliveryStatus.PENDING for c in closed
        )
        interval = self.settings.delivery_interval
        if not self._stop.is_set() and (opened or self._due(self._next_delivery, interval, now)):
            self._next_delivery = now + self._seconds(self.settings.delivery_interval)
            delivered = True
            deliveries = self._deliver(now, errors)
        done = Pass(
            now,
            scanned,
            polled,
            delivered,
            tuple(ingested),
            tuple(closed),
            tuple(deliveries),
            tuple(errors),
            self._stop.is_set(),
            tuple(checks),
        )
        self._count(done)
        return done

    def _error(
        self,
        errors: list[PassError],
        stage: Stage,
        partner: str | None,
        subject: str,
        exc: BaseException | str,
        kind: str = "",
    ) -> None:
        """Note an error in the pass's result and the log (its text only when safe)."""
        message = exc if isinstance(exc, str) else _describe(exc)
        errors.append(PassError(stage, partner, subject, message))
        _event(
            "daemon.error",
            logging.ERROR,
            stage=str(stage),
            partner=partner,
            subject=subject,
            error=kind or type(exc).__name__,
            message=message,
        )
        if isinstance(exc, BaseException):
            log.debug("daemon.error traceback", exc_info=exc)
        self._inc("pes_daemon_errors_total", stage=str(stage))

    def _inc(self, name: str, **labels: str) -> None:
        # Each stage counts as it goes, so the counts are the same whether a pass of the
        # scheduler thread or a workflow of the job engine ran it.
        if self.metrics is not None:
            self.metrics.inc(name, **labels)

    def _scan(self, now: dt.datetime, errors: list[PassError]) -> Iterator[IngestOutcome]:
        for partner in self.config.partners:
            folder = partner.source.folder
            if not partner.source.is_inbox or folder is None:
                continue
            try:
                report_strays(partner.inn, folder)  # links, folders, FIFOs: told, not read
                waiting = inbox_files(folder, min_age=self.settings.file_min_age)
            except OSError as exc:  # an inbox that cannot be listed: the others go on
                self._error(errors, Stage.SCAN, partner.inn, "", exc)
                continue
            for path in waiting:
                if self._stop.is_set():
                    return
                if not path.is_file():
                    continue  # taken away since the folder was listed
                try:
                    out = ingest_file(self.store, partner, path, self.host, received_at=now)
                except Exception as exc:
                    # Not the file's fault (the store, the file system): it stays for the
                    # next pass, and the other files and partners go on.
                    self._error(errors, Stage.SCAN, partner.inn, path.name, exc)
                    continue
                _event(
                    "daemon.ingested",
                    logging.WARNING if out.outcome in _BAD else logging.INFO,
                    partner=partner.inn,
                    file=path.name,
                    outcome=str(out.outcome),
                    number=out.registry_number,
                    period=str(out.period) if out.period is not None else None,
                    records=out.records,
                    rejected=out.rejected,
                )
                self._inc("pes_daemon_registries_ingested_total", outcome=str(out.outcome))
                yield out

    def _poll(
        self, sources: list[PartnerConfig], now: dt.datetime, errors: list[PassError]
    ) -> Iterator[IngestOutcome]:
        period = current_period(self.config, now)
        for partner in sources:
            if self._stop.is_set():
                return
            try:
                out = poll_source(self.store, partner, period, self.host, received_at=now)
            except Exception as exc:
                self._error(errors, Stage.POLL, partner.inn, str(period), exc)
                continue
            _event(
                "daemon.polled",
                logging.WARNING if out.outcome in _BAD else logging.INFO,
                partner=partner.inn,
                source=partner.source.kind,
                outcome=str(out.outcome),
                number=out.registry_number,
                period=str(period),
                records=out.records,
            )
            self._inc("pes_daemon_registries_ingested_total", outcome=str(out.outcome))
            yield out

    # -- waiting payments -------------------------------------------------------------------------

    def _closing_due(self, now: dt.datetime) -> bool:
        """This pass closes a day not asked about before (of a partner whose next day is known).

        Each such day once: a day whose close keeps failing does not make every pass ask
        the acquirer about every waiting payment again.
        """
        due = {
            (p.inn, following)
            for p in self.config.partners
            if (following := self._next_day.get(p.inn)) is not None
            and following <= self.last_ended_day(p, now)
        }
        new = due - self._asked_before_close
        self._asked_before_close = due
        return bool(new)

    def _check_payments(
        self,
        check: Callable[[uuid.UUID], Applied],
        now: dt.datetime,
        errors: list[PassError],
        *,
        every: bool = False,
    ) -> Iterator[PaymentCheck]:
        """Ask the acquirer about payments whose webhook has not come (the backstop).

        ``every``: also those changed less than ``payment_check_after`` ago, and the old ones
        asked less than :data:`PAYMENT_RECHECK_OLD` ago (before a close). Each payment asked
        is recorded as checked at ``now``, which sends it behind the others for the next
        passes: with more waiting than :data:`PAYMENT_CHECKS_PER_PASS`, each gets its turn.
        """
        after = 0.0 if every else self.settings.payment_check_after
        try:
            waiting = self.store.unsettled_payments(
                updated_before=now - self._seconds(after),
                created_since=now - self._seconds(self.settings.payment_check_window),
                limit=PAYMENT_CHECKS_PER_PASS,
                checked_before=None if every else now - self._seconds(PAYMENT_RECHECK_OLD),
                fresh_since=now - self._seconds(PAYMENT_FRESH_FOR),
            )
        except Exception as exc:
            self._error(errors, Stage.PAYMENTS, None, "", exc)
            return
        asked: list[uuid.UUID] = []
        try:
            for order_id in waiting:
                if self._stop.is_set():
                    return
                # Asked, whatever the answer: one the acquirer fails on must not hold the
                # head of the queue and keep the others from their turn.
                asked.append(order_id)
                try:
                    applied = check(order_id)
                except UnknownPayment:
                    continue  # the create never reached the acquirer: nothing to be paid
                except (GatewayTimeout, GatewayUnavailable) as exc:
                    # The acquirer is down: asking about the rest now would only time out too.
                    self._error(errors, Stage.PAYMENTS, None, str(order_id), exc)
                    return
                except Exception as exc:
                    self._error(errors, Stage.PAYMENTS, None, str(order_id), exc)
                    continue
                move = applied.move
                found = PaymentCheck(order_id, move.after, move.before != move.after, move.credited)
                if found.changed:
                    _event(
                        "daemon.payment_checked",
                        order_id=order_id,
                        before=str(move.before),
                        after=str(move.after),
                        credited=move.credited,
                    )
                result = (
                    "credited" if found.credited else "changed" if found.changed else "unchanged"
                )
                self._inc("pes_daemon_payments_checked_total", result=result)
                yield found
        finally:
            self._record_checks(asked, now, errors)

    def _record_checks(
        self, asked: list[uuid.UUID], now: dt.datetime, errors: list[PassError]
    ) -> None:
        """Move the payments asked about behind the others (a failure: they are asked first
        again next pass, which is no harm: an answer is applied once)."""
        if not asked:
            return
        try:
            self.store.record_payment_checks(asked, now)
        except Exception as exc:
            self._error(errors, Stage.PAYMENTS, None, "", exc)

    # -- closing ---------------------------------------------------------------------------------

    def _start_day(
        self,
        partner: PartnerConfig,
        latest: dt.date,
        errors: list[PassError],
        complete: Callable[[], set[int]],
    ) -> dt.date | None:
        """Where ``partner``'s closing starts when this process first looks (from the store).

        The earliest registry of the catch-up range that has no delivery yet (a close cut
        short by a crash: it is redone, byte for byte), else the day after the last closed
        one; None when there is nothing to close or payments beyond the range hold it back.
        """
        oldest = latest - dt.timedelta(days=self.settings.catch_up_days)
        recorded = self.store.payment_registries(partner.inn)
        unfinished = [r.day for r in recorded if r.day >= oldest and r.id not in complete()]
        if unfinished:
            return min(unfinished)
        last = max((r.day for r in recorded), default=None)
        first = last + dt.timedelta(days=1) if last is not None else None
        if first is not None and first >= oldest:
            return first
        # Days before the catch-up range: payments there must not be passed over. Credits of
        # days closed already (confirmed late) are not held: the next registry takes them.
        zone = self.config.service.time_zone
        until = day_window(oldest, partner.cutoff, zone)[0]
        held = [
            e
            for e in open_credits(self.store, self.config, partner, until, recorded)
            if e.at is not None and (last is None or day_of(e.at, partner.cutoff, zone) > last)
        ]
        if held:
            after = f" after {last:%d.%m.%Y}" if last is not None else ""
            self._error(
                errors,
                Stage.CLOSE,
                partner.inn,
                f"{first or ''}..{oldest - dt.timedelta(days=1)}",
                f"partner {partner.inn}: payments before {oldest:%d.%m.%Y}, more than "
                f"daemon.catch_up_days ({self.settings.catch_up_days}) days back, are in no "
                f"registry{after}; close those days with `pes runner close-day` (or raise "
                "catch_up_days), and the daemon goes on from there",
                kind="catch-up-limit",
            )
            return None
        if not partner.empty_registry:
            return oldest  # the days before had no payments: nothing was missed
        if last is not None:
            _event(
                "daemon.days_skipped",
                logging.WARNING,
                partner=partner.inn,
                first=first,
                last=oldest - dt.timedelta(days=1),
                reason="more than daemon.catch_up_days back: no empty registries for them",
            )
            return oldest
        # Empty registries start when the partner is first served, not before.
        served = served_from(self.store, self.config, partner)
        if served is None or served > latest:
            return None
        return max(served, oldest)

    def _close(self, now: dt.datetime, errors: list[PassError]) -> Iterator[DayClose]:
        """Close each partner's days from where it stands up to its last ended day.

        Where a partner stands is read from the store the first time, then kept in memory:
        the day after the last one closed (or found empty), or the day that failed.
        """
        delivered: set[int] | None = None

        def complete() -> set[int]:
            nonlocal delivered
            if delivered is None:
                delivered = {d.registry_id for d in self.store.deliveries()}
            return delivered

        for partner in self.config.partners:
            if self._stop.is_set():
                return
            latest = self.last_ended_day(partner, now)
            first = self._next_day.get(partner.inn)
            if first is None:
                try:
                    first = self._start_day(partner, latest, errors, complete)
                except Exception as exc:
                    self._error(errors, Stage.CLOSE, partner.inn, "", exc)
                    continue
                if first is None:
                    continue
                self._next_day[partner.inn] = first
            day = first
            try:
                recorded = {r.day for r in self.store.payment_registries(partner.inn)}
            except Exception as exc:
                self._error(errors, Stage.CLOSE, partner.inn, "", exc)
                continue
            last = max(recorded, default=None)
            while day <= latest:
                if self._stop.is_set():
                    return
                if last is not None and day < last and day not in recorded:
                    # A later day was closed by hand meanwhile: the days before it are
                    # passed (numbers follow the days; their late payments go into the
                    # next registry).
                    day += dt.timedelta(days=1)
                    self._next_day[partner.inn] = day
                    continue
                try:
                    result = close_day(self.store, self.config, self.host, partner, day, now=now)
                except Exception as exc:
                    # The day is tried again next pass, and the later days wait for it: the
                    # registry numbers must follow the days.
                    self._error(errors, Stage.CLOSE, partner.inn, day.isoformat(), exc)
                    break
                try:
                    close_readings(self.store, self.config, self.host, partner, day, now=now)
                except Exception as exc:
                    # The payment registry stands and is yielded (delivered at once); the
                    # day is not passed, so the next pass closes it again (same number,
                    # same bytes) and retries the readings.
                    self._error(errors, Stage.CLOSE, partner.inn, day.isoformat(), exc)
                    yield result
                    break
                day += dt.timedelta(days=1)
                self._next_day[partner.inn] = day
                self.day_closed(result)
                yield result

    def ticked(self, at: dt.datetime) -> None:
        """The job engine's tick ran in this process at ``at``: it stands for a pass in the
        ``pes_daemon_*pass*`` figures (and so in ``/healthz``'s ``scheduler_last_pass``)."""
        m = self.metrics
        if m is None:
            return
        m.inc("pes_daemon_passes_total")
        m.set("pes_daemon_last_pass_timestamp_seconds", at.timestamp())
        m.set("pes_daemon_last_ok_pass_timestamp_seconds", at.timestamp())

    def day_closed(self, result: DayClose) -> None:
        """Tell (the ``daemon.day_closed`` event) and count a partner-day's close."""
        if result.registry is None or result.info is None:
            return
        t = result.registry.totals
        _event(
            "daemon.day_closed",
            partner=result.partner_inn,
            day=result.day.isoformat(),
            number=result.info.number,
            new=result.info.new,
            count=t.count,
            amount=t.amount,
            transfer=t.transfer,
        )
        if result.info.new:
            self._inc("pes_daemon_days_closed_total", partner=result.partner_inn)

    # -- delivering -------------------------------------------------------------------------------

    def _deliver(self, now: dt.datetime, errors: list[PassError]) -> list[DeliveryInfo]:
        try:
            results = deliver_pending(
                self.store,
                self.config,
                self.host,
                now=now,
                retry=self._retry,
                max_attempts=self.settings.delivery_max_attempts,
                channels=self._channels,
            )
        except Exception as exc:
            self._error(errors, Stage.DELIVER, None, "", exc)
            return []
        for d in results:
            _event(
                "daemon.delivery",
                logging.ERROR if d.status is DeliveryStatus.FAILED else logging.INFO,
                delivery=d.id,
                registry=d.registry_id,
                channel=d.channel,
                status=str(d.status),
                attempts=d.attempts,
            )
            self._inc("pes_daemon_deliveries_total", status=str(d.status))
        if results and self.metrics is not None:
            try:
                for status in (DeliveryStatus.PENDING, DeliveryStatus.FAILED):
                    count = len(self.store.deliveries(status))
                    self.metrics.set("pes_daemon_deliveries_open", count, status=str(status))
            except Exception as exc:  # a gauge is not worth failing a delivery run for
                _event("daemon.metrics_failed", logging.WARNING, error=type(exc).__name__)
        return results

    # -- counting ---------------------------------------------------------------------------------

    def _count(self, done: Pass) -> None:
        _event(
            "daemon.pass",
            # A pass that found nothing to do is logged only when debugging.
            logging.DEBUG if done.quiet else logging.INFO,
            at=done.at.isoformat(),
            scanned=done.scanned,
            polled=done.polled,
            delivered=done.delivered,
            ingested=len(done.ingested),
            registries=len(done.registries),
            deliveries=len(done.deliveries),
            errors=len(done.errors),
            stopped=done.stopped,
        )
        m = self.metrics
        if m is None:
            return
        # What the pass did was counted by its stages as they went (:meth:`_inc`).
        m.inc("pes_daemon_passes_total")
        m.set("pes_daemon_last_pass_timestamp_seconds", done.at.timestamp())
        if done.ok:
            m.set("pes_daemon_last_ok_pass_timestamp_seconds", done.at.timestamp())

    # -- the loop ---------------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event, clock: Clock = utc_now) -> None:
        """Run passes until ``stop`` is set, sleeping until the next thing is due.

        A pass in progress when ``stop`` is set finishes the file, day or delivery it is at
        (each is its own transaction) and skips the rest; the loop then returns. An error
        that breaks a whole pass (the store unreachable) is logged and counted, and the pass
        is tried again one scan interval later.
        """
        self._stop = stop
        _event(
            "daemon.started",
            scan_interval=self.settings.scan_interval,
            close_grace=self.settings.close_grace,
            catch_up_days=self.settings.catch_up_days,
            delivery_interval=self.settings.delivery_interval,
        )
        while not stop.is_set():
            now = clock()
            try:
                done = self.run_once(now)
            except Exception as exc:
                self._error([], Stage.PASS, None, "", exc)
                if self.metrics is not None:
                    self.metrics.inc("pes_daemon_errors_total", stage=str(Stage.PASS))
                stop.wait(self.settings.scan_interval)
                continue
            if self.on_pass is not None:
                try:
                    self.on_pass(done)
                except Exception as exc:  # a broken report must not stop the work
                    _event("daemon.report_failed", logging.WARNING, error=type(exc).__name__)
            if stop.is_set():
                break
            now = clock()
            wait = (self.next_due(now) - now).total_seconds()
            # A small floor: a clock that stands still (tests) must not spin the loop.
            stop.wait(min(max(wait, 0.01), MAX_SLEEP))
        _event("daemon.stopped")
