"""The payment backstop asks about every waiting payment in turn, however many wait.

A pass asks about at most ``PAYMENT_CHECKS_PER_PASS`` payments. An unchanged answer ("still
pending") does not change a payment, so a pass that took the least recently *changed*
first asked the same ones every time: with more abandoned payments than one pass takes, a
newer one paid at the acquirer whose webhook was lost was never asked about, never
credited. Real stores of both kinds, a real sandbox acquirer on loopback that drops every
webhook, the runner's processor; only the per-pass limit is made small (so that a few
payments are "more than a pass takes" without hundreds of them).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from pes_sdk_runner import daemon as daemon_module
from pes_sdk_runner.api import processor_for
from pes_sdk_runner.config import RunnerConfig
from pes_sdk_runner.daemon import PAYMENT_FRESH_FOR, PAYMENT_RECHECK_OLD, Daemon
from pes_sdk_runner.store import LedgerKind, SqlStore
from pes_sdk_sandbox import AcquirerSimulator, SandboxGateway
from webhookless import NO_WAIT, empty_inboxes_config, webhookless_acquirer

from pes_sdk.gateways import Applied, PaymentProcessor
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.plugins.manager import get_host

PER_PASS = 4


@pytest.fixture
def config(tmp_path: Path) -> RunnerConfig:
    return empty_inboxes_config(tmp_path)


@pytest.fixture
def book(store: SqlStore, config: RunnerConfig) -> SqlStore:
    """The conftest's store (a fresh SQLite file, a fresh PostgreSQL schema), partners in."""
    store.upsert_partners(p.partner for p in config.partners)
    return store


@pytest.fixture
def sim() -> Iterator[AcquirerSimulator]:
    with webhookless_acquirer() as sim:
        yield sim


@pytest.fixture
def processor(sim: AcquirerSimulator, book: SqlStore) -> PaymentProcessor:
    processor = processor_for(SandboxGateway.for_simulator(sim, timeout=5.0), book)
    processor.retry = NO_WAIT
    return processor


@pytest.fixture(autouse=True)
def small_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(daemon_module, "PAYMENT_CHECKS_PER_PASS", PER_PASS)


class Asked:
    """The processor's real ``refresh``, each payment it is called for counted."""

    def __init__(self, processor: PaymentProcessor) -> None:
        self.processor = processor
        self.counts: Counter[uuid.UUID] = Counter()

    def __call__(self, order_id: uuid.UUID) -> Applied:
        self.counts[order_id] += 1
        return self.processor.refresh(order_id)


def _start(processor: PaymentProcessor, config: RunnerConfig, n: int) -> list[uuid.UUID]:
    inn = config.partners[0].inn
    made = []
    for i in range(n):
        payment = Payment(
            uuid.uuid4(),
            dt.datetime.now(dt.UTC),
            PaymentMethod.CARD,
            [PaymentLine(inn, f"00{i:05d}", Decimal("100.00") + i, service="Отопление")],
        )
        made.append(processor.start(payment, return_url="https://cabinet.example/paid").order_id)
    return made


def _passes(daemon: Daemon, first: dt.datetime, n: int, every: float) -> list[set[uuid.UUID]]:
    """``n`` passes ``every`` seconds apart from ``first``: the payments each asked about."""
    return [
        {c.order_id for c in daemon.run_once(first + dt.timedelta(seconds=i * every)).payments}
        for i in range(n)
    ]


def _checks(
    daemon: Daemon, asked: Asked, first: dt.datetime, n: int, every: float
) -> list[set[uuid.UUID]]:
    """Like :func:`_passes`, the backstop only (as the job engine runs it): whether a pass
    would close a day, and so ask about every payment, depends on the host's clock."""
    return [
        {
            c.order_id
            for c in daemon._check_payments(asked, first + dt.timedelta(seconds=i * every), [])
        }
        for i in range(n)
    ]


def test_more_waiting_payments_than_a_pass_takes_are_all_asked_in_turn(
    config: RunnerConfig, book: SqlStore, sim: AcquirerSimulator, processor: PaymentProcessor
) -> None:
    waiting = _start(processor, config, 3 * PER_PASS)
    # The newest one is paid at the acquirer; its webhook is lost.
    paid = waiting[-1]
    entry = book.get(paid)
    assert entry is not None and entry.gateway_payment_id is not None
    sim.approve(entry.gateway_payment_id)

    asked = Asked(processor)
    daemon = Daemon(book, config, get_host(), check_payment=asked)
    interval = config.daemon.payment_check_interval
    # A fixed offset from the payments' creation (the host's clock): fresh ones, asked at
    # every pass.
    first = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=config.daemon.payment_check_after + 60)
    rounds = _passes(daemon, first, 3, interval)

    assert all(len(r) == PER_PASS for r in rounds)
    # Three passes of PER_PASS: each of the 3 * PER_PASS payments once, none twice.
    assert set(asked.counts) == set(waiting)
    assert set(asked.counts.values()) == {1}
    credits = book.ledger_entries(kind=LedgerKind.CREDIT)
    assert [e.order_id for e in credits] == [paid]

    # And round again: the fourth pass starts over with the first pass's payments.
    again = _passes(daemon, first + dt.timedelta(seconds=3 * interval), 1, interval)
    assert again == [rounds[0]]


def test_old_waiting_payments_are_asked_less_often_than_fresh_ones(
    config: RunnerConfig, book: SqlStore, processor: PaymentProcessor
) -> None:
    waiting = _start(processor, config, PER_PASS)
    asked = Asked(processor)
    daemon = Daemon(book, config, get_host(), check_payment=asked)
    interval = config.daemon.payment_check_interval
    created = dt.datetime.now(dt.UTC)
    fresh = created + dt.timedelta(seconds=config.daemon.payment_check_after + 60)
    assert fresh + dt.timedelta(seconds=2 * interval) < created + dt.timedelta(
        seconds=PAYMENT_FRESH_FOR
    )
    # Fresh: asked at every pass.
    assert _checks(daemon, asked, fresh, 3, interval) == [set(waiting)] * 3

    # Old (created more than PAYMENT_FRESH_FOR ago): asked once, then left alone until
    # PAYMENT_RECHECK_OLD has passed since.
    old = created + dt.timedelta(seconds=PAYMENT_FRESH_FOR + 60)
    assert _checks(daemon, asked, old, 2, interval) == [set(waiting), set()]
    later = old + dt.timedelta(seconds=PAYMENT_RECHECK_OLD + 1)
    assert _checks(daemon, asked, later, 1, interval) == [set(waiting)]


def test_a_pass_before_a_close_asks_the_old_payments_asked_recently_too(
    config: RunnerConfig, book: SqlStore, processor: PaymentProcessor
) -> None:
    waiting = _start(processor, config, 2)
    asked = Asked(processor)
    daemon = Daemon(book, config, get_host(), check_payment=asked)
    old = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=PAYMENT_FRESH_FOR + 60)
    assert _checks(daemon, asked, old, 1, 0) == [set(waiting)]
    found = list(daemon._check_payments(asked, old + dt.timedelta(seconds=60), [], every=True))
    assert {c.order_id for c in found} == set(waiting)
