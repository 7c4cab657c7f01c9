"""The acquirer's capture time reaches the processor's book, however late the news comes.

A payment belongs to the partner-day its capture falls in (the day a bank statement shows),
so the processor keeps the acquirer's time on the entry when it is first paid — from a
webhook or from a status query made long after (the backstop for a lost webhook). Real
loopback sandbox acquirer, real processor.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import attrs
import pytest
from pes_sdk_conformance.gateways import basket
from pes_sdk_sandbox import AcquirerSimulator, SandboxGateway

from pes_sdk.gateways import PaymentProcessor, PaymentState, RetryPolicy

# Days, cut-offs and capture times must not depend on the host's zone: make test runs
# these again under two more TZ values.
pytestmark = pytest.mark.timezone

NO_WAIT = RetryPolicy(attempts=2, initial_wait=0.0, max_wait=0.0, sleep=lambda s: None)
RETURN = "https://cabinet.example/paid"


@pytest.fixture
def sim() -> Iterator[AcquirerSimulator]:
    with AcquirerSimulator() as sim:
        sim.switches.webhook_drop_rate = 1.0  # the webhook is lost: only a query tells
        yield sim


def test_a_status_query_long_after_the_capture_keeps_the_capture_time(
    sim: AcquirerSimulator,
) -> None:
    processor = PaymentProcessor(SandboxGateway.for_simulator(sim), retry=NO_WAIT)
    started = processor.start(basket(), return_url=RETURN)
    assert started.paid_at is None  # not paid yet
    assert started.gateway_payment_id is not None
    captured = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=10)
    sim.approve(started.gateway_payment_id, at=captured)

    snapshot = processor.gateway.get_payment(started.gateway_payment_id)
    assert (snapshot.state, snapshot.paid_at) == (PaymentState.SUCCEEDED, captured)
    applied = processor.refresh(started.order_id)  # ten minutes later: the backstop

    assert applied.move.credited
    assert applied.entry.paid_at == captured
    # A later refund leaves the capture time as it was.
    refunded = processor.refund(started.order_id, [0])
    assert refunded.entry.paid_at == captured


def test_a_webhook_carries_the_capture_time_too() -> None:
    with AcquirerSimulator() as sim:
        gateway = SandboxGateway.for_simulator(sim)
        processor = PaymentProcessor(gateway, retry=NO_WAIT)
        started = processor.start(basket(), return_url=RETURN)
        assert started.gateway_payment_id is not None
        before = dt.datetime.now(dt.UTC)
        sim.approve(started.gateway_payment_id)  # now, by the simulator's clock
        snapshot = gateway.get_payment(started.gateway_payment_id)
        assert snapshot.paid_at is not None
        assert before - dt.timedelta(seconds=1) <= snapshot.paid_at <= dt.datetime.now(dt.UTC)
        assert processor.apply(snapshot).entry.paid_at == snapshot.paid_at


def test_an_acquirer_that_tells_no_time_gives_the_moment_it_was_learned(
    sim: AcquirerSimulator,
) -> None:
    """Where a protocol has no capture time (Т-Банк), the processor's clock stands in."""
    gateway = SandboxGateway.for_simulator(sim)
    processor = PaymentProcessor(gateway, retry=NO_WAIT)
    started = processor.start(basket(), return_url=RETURN)
    assert started.gateway_payment_id is not None
    sim.approve(started.gateway_payment_id, at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    timeless = attrs.evolve(gateway.get_payment(started.gateway_payment_id), paid_at=None)
    before = dt.datetime.now(dt.UTC)
    entry = processor.apply(timeless).entry
    assert entry.paid_at is not None and before <= entry.paid_at <= dt.datetime.now(dt.UTC)


def test_a_naive_capture_time_is_refused() -> None:
    with AcquirerSimulator() as sim, pytest.raises(ValueError, match="time zone"):
        sim.approve("nothing", at=dt.datetime(2026, 1, 1, 12, 0))
