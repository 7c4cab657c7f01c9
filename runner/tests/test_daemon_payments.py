"""The scheduler asks the acquirer about payments whose webhook never came.

A real sandbox acquirer on loopback that drops every webhook, a real SQLite store, the
runner's processor: the client pays at the acquirer, no webhook arrives, and a scheduler
pass credits the payment all the same — so it reaches the day's registry instead of never.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from pes_sdk_runner.api import processor_for
from pes_sdk_runner.api.metrics import Metrics
from pes_sdk_runner.config import RunnerConfig
from pes_sdk_runner.daemon import Daemon, Stage
from pes_sdk_runner.store import LedgerKind, SqlStore, open_store
from pes_sdk_sandbox import AcquirerSimulator, SandboxGateway
from webhookless import NO_WAIT, empty_inboxes_config, webhookless_acquirer

from pes_sdk.gateways import PaymentProcessor, PaymentState
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.plugins.manager import get_host


@pytest.fixture
def config(tmp_path: Path) -> RunnerConfig:
    return empty_inboxes_config(tmp_path)


@pytest.fixture
def store(config: RunnerConfig) -> Iterator[SqlStore]:
    store = open_store(config.store.url)
    store.upsert_partners(p.partner for p in config.partners)
    yield store
    store.close()


@pytest.fixture
def sim() -> Iterator[AcquirerSimulator]:
    with webhookless_acquirer() as sim:
        yield sim


@pytest.fixture
def processor(sim: AcquirerSimulator, store: SqlStore) -> PaymentProcessor:
    gateway = SandboxGateway.for_simulator(sim, timeout=1.0)
    processor = processor_for(gateway, store)
    processor.retry = NO_WAIT
    return processor


def _start(processor: PaymentProcessor, config: RunnerConfig, amount: str) -> uuid.UUID:
    inn = config.partners[0].inn
    payment = Payment(
        uuid.uuid4(),
        dt.datetime.now(dt.UTC),
        PaymentMethod.CARD,
        [PaymentLine(inn, "0012345", Decimal(amount), service="Отопление")],
    )
    entry = processor.start(payment, return_url="https://cabinet.example/paid")
    return entry.order_id


def _later(seconds: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)


def test_a_paid_payment_without_its_webhook_is_credited_by_a_pass(
    config: RunnerConfig, store: SqlStore, sim: AcquirerSimulator, processor: PaymentProcessor
) -> None:
    paid = _start(processor, config, "1500.50")
    waiting = _start(processor, config, "99.99")  # the client never pays this one
    paid_entry = store.get(paid)
    assert paid_entry is not None and paid_entry.gateway_payment_id is not None
    sim.approve(paid_entry.gateway_payment_id)
    assert store.ledger_entries(kind=LedgerKind.CREDIT) == []  # no webhook: not credited

    metrics = Metrics()
    daemon = Daemon(store, config, get_host(), metrics=metrics, check_payment=processor.refresh)
    # Too soon: a webhook normally comes within seconds, so nothing is asked yet.
    early = daemon.run_once(_later(10))
    assert early.payments == ()

    done = daemon.run_once(_later(config.daemon.payment_check_after + 60))
    by_id = {c.order_id: c for c in done.payments}
    assert set(by_id) == {paid, waiting}
    assert (by_id[paid].state, by_id[paid].changed, by_id[paid].credited) == (
        PaymentState.SUCCEEDED,
        True,
        True,
    )
    assert (by_id[waiting].changed, by_id[waiting].credited) == (False, False)
    credits = store.ledger_entries(kind=LedgerKind.CREDIT)
    assert [(e.order_id, e.amount) for e in credits] == [(paid, Decimal("1500.50"))]
    assert metrics.value("pes_daemon_payments_checked_total", result="credited") == 1
    assert metrics.value("pes_daemon_payments_checked_total", result="unchanged") == 1

    # A settled payment is never asked about again; the unpaid one is, once per interval.
    again = daemon.run_once(_later(config.daemon.payment_check_after + 60 + 2 * 120))
    assert [c.order_id for c in again.payments] == [waiting]
    assert len(store.ledger_entries(kind=LedgerKind.CREDIT)) == 1


def test_payments_older_than_the_window_are_left_alone(
    config: RunnerConfig, store: SqlStore, sim: AcquirerSimulator, processor: PaymentProcessor
) -> None:
    _start(processor, config, "10.00")
    daemon = Daemon(store, config, get_host(), check_payment=processor.refresh)
    done = daemon.run_once(_later(config.daemon.payment_check_window + 60))
    assert done.payments == ()


def test_an_acquirer_that_is_down_is_one_error_and_the_rest_waits(
    config: RunnerConfig, store: SqlStore, sim: AcquirerSimulator, processor: PaymentProcessor
) -> None:
    first = _start(processor, config, "10.00")
    _start(processor, config, "20.00")
    sim.switches.fail_next = 100  # every status query fails with a 5xx
    daemon = Daemon(store, config, get_host(), check_payment=processor.refresh)
    done = daemon.run_once(_later(config.daemon.payment_check_after + 60))
    errors = [e for e in done.errors if e.stage is Stage.PAYMENTS]
    # One error for the first payment asked about; the second is not asked in this pass.
    assert len(errors) == 1 and errors[0].subject == str(first)
    assert done.payments == ()
    assert not done.ok


def test_without_a_gateway_no_payment_is_asked_about(
    config: RunnerConfig, store: SqlStore, processor: PaymentProcessor
) -> None:
    _start(processor, config, "10.00")
    done = Daemon(store, config, get_host()).run_once(_later(3600))  # run-once has no gateway
    assert done.payments == ()
