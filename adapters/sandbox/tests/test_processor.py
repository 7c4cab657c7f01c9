"""The processor against the sandbox: keys kept across failed attempts, resume, refresh."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from pes_sdk_sandbox import AcquirerSimulator, SandboxGateway

from pes_sdk.gateways import (
    GatewayRefused,
    GatewayTimeout,
    GatewayUnavailable,
    InvalidRefund,
    PaymentProcessor,
    PaymentState,
    RetryPolicy,
    UnknownPayment,
)
from pes_sdk.models import Payment, PaymentLine, PaymentMethod

NO_WAIT = RetryPolicy(attempts=3, initial_wait=0.0, max_wait=0.0, sleep=lambda s: None)


def basket() -> Payment:
    lines = [PaymentLine("7707083893", "0001", Decimal("99.99"))]
    return Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), PaymentMethod.CARD, lines)


@pytest.fixture
def sim() -> Iterator[AcquirerSimulator]:
    with AcquirerSimulator() as sim:
        yield sim


@pytest.fixture
def processor(sim: AcquirerSimulator) -> PaymentProcessor:
    return PaymentProcessor(SandboxGateway.for_simulator(sim, timeout=0.3), retry=NO_WAIT)


def test_key_is_booked_before_the_first_attempt_and_reused(
    sim: AcquirerSimulator, processor: PaymentProcessor
) -> None:
    payment = basket()
    sim.switches.fail_next = 3  # every attempt of the first start fails
    with pytest.raises(GatewayUnavailable):
        processor.start(payment, return_url="https://s.example/r")
    entry = processor.entry(payment.payment_id)
    assert (entry.state, entry.gateway_payment_id) == (PaymentState.CREATED, None)
    key = entry.idempotency_key
    assert sim.payments_for(payment.payment_id) == []
    sim.switches.lose_next = 1  # the next create is done, its answer lost
    resumed = processor.start(payment, return_url="https://s.example/r")
    assert resumed.idempotency_key == key
    assert resumed.state is PaymentState.PENDING
    assert len(sim.payments_for(payment.payment_id)) == 1
    assert key in sim._keys


def test_refresh_finds_a_payment_whose_create_timed_out(
    sim: AcquirerSimulator, processor: PaymentProcessor
) -> None:
    payment = basket()
    sim.switches.api_delay = 0.6
    sim.switches.stall_next = 6  # creates and the status queries after them all time out
    with pytest.raises(GatewayTimeout):
        processor.start(payment, return_url="https://s.example/r")
    assert processor.entry(payment.payment_id).gateway_payment_id is None
    sim.switches.stall_next = 0
    # the slow create still runs at the acquirer: once it is done, polling finds it
    deadline = time.monotonic() + 10
    while not sim.payments_for(payment.payment_id) and time.monotonic() < deadline:
        time.sleep(0.01)
    applied = processor.refresh(payment.payment_id)
    assert applied.entry.state is PaymentState.PENDING
    assert len(sim.payments_for(payment.payment_id)) == 1


def test_refresh_of_a_payment_the_acquirer_never_saw(
    sim: AcquirerSimulator, processor: PaymentProcessor
) -> None:
    payment = basket()
    sim.switches.fail_next = 3
    with pytest.raises(GatewayUnavailable):
        processor.start(payment, return_url="https://s.example/r")
    with pytest.raises(UnknownPayment):
        processor.refresh(payment.payment_id)
    with pytest.raises(UnknownPayment):
        processor.refresh(uuid.uuid4())


def test_refunds_need_a_paid_payment(sim: AcquirerSimulator, processor: PaymentProcessor) -> None:
    entry = processor.start(basket(), return_url="https://s.example/r")
    with pytest.raises(InvalidRefund):
        processor.refund(entry.order_id)
    assert entry.gateway_payment_id is not None
    sim.approve(entry.gateway_payment_id)
    processor.refresh(entry.order_id)
    with pytest.raises(InvalidRefund):
        processor.refund(entry.order_id, {0: Decimal("100.00")})
    with pytest.raises(ValueError):
        processor.refund(entry.order_id, [5])
    sim.switches.fail_next = 3
    with pytest.raises(GatewayUnavailable):
        processor.refund(entry.order_id, {0: Decimal("10.00")})
    # an unfinished refund blocks a different one, and is finished with the same lines
    with pytest.raises(InvalidRefund):
        processor.refund(entry.order_id, {0: Decimal("20.00")})
    done = processor.refund(entry.order_id, {0: Decimal("10.00")}).entry
    assert (done.refunded, done.pending_refund) == (Decimal("10.00"), None)
    assert sim.report().refunded == Decimal("10.00")


def test_a_refused_refund_is_forgotten_and_another_can_follow(
    sim: AcquirerSimulator, processor: PaymentProcessor
) -> None:
    entry = processor.start(basket(), return_url="https://s.example/r")
    assert entry.gateway_payment_id is not None
    sim.approve(entry.gateway_payment_id)
    processor.refresh(entry.order_id)
    sim.switches.refuse_refunds_next = 1  # the shop's balance does not cover it: a 4xx
    with pytest.raises(GatewayRefused):
        processor.refund(entry.order_id, {0: Decimal("50.00")})
    after = processor.entry(entry.order_id)
    # Nothing was given back, and the refusal does not block the payment's next refund.
    assert (after.refunded, after.pending_refund, after.refund_count) == (Decimal(0), None, 0)
    done = processor.refund(entry.order_id, {0: Decimal("20.00")}).entry
    assert (done.refunded, done.refund_count) == (Decimal("20.00"), 1)
    assert sim.report().refunded == Decimal("20.00")
    # The second request went under its own key, not the refused one's.
    refund_keys = [k for k in sim._keys if "-r1-" in k]
    assert len(refund_keys) == 2


def test_a_refused_refund_can_be_asked_again_as_it_was(
    sim: AcquirerSimulator, processor: PaymentProcessor
) -> None:
    entry = processor.start(basket(), return_url="https://s.example/r")
    assert entry.gateway_payment_id is not None
    sim.approve(entry.gateway_payment_id)
    processor.refresh(entry.order_id)
    sim.switches.refuse_refunds_next = 1
    with pytest.raises(GatewayRefused):
        processor.refund(entry.order_id, {0: Decimal("50.00")})
    # The same request again goes under a new key: the refused one's would be answered
    # with the refusal the acquirer keeps for it.
    done = processor.refund(entry.order_id, {0: Decimal("50.00")}).entry
    assert (done.refunded, done.refund_count) == (Decimal("50.00"), 1)
    assert sim.report().refunded == Decimal("50.00")


def test_a_refund_the_acquirer_finds_invalid_is_forgotten(
    sim: AcquirerSimulator, processor: PaymentProcessor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An adapter's InvalidRefund (the acquirer found the request wrong: nothing given
    back) must not leave the refund pending, or it blocks every later refund."""
    entry = processor.start(basket(), return_url="https://s.example/r")
    assert entry.gateway_payment_id is not None
    sim.approve(entry.gateway_payment_id)
    processor.refresh(entry.order_id)

    def invalid(*args: object) -> None:
        raise InvalidRefund("the receipt does not add up", gateway="sandbox")

    monkeypatch.setattr(processor.gateway, "refund", invalid)
    with pytest.raises(InvalidRefund):
        processor.refund(entry.order_id, {0: Decimal("50.00")})
    after = processor.entry(entry.order_id)
    assert (after.refunded, after.pending_refund, after.refund_count) == (Decimal(0), None, 0)
    monkeypatch.undo()
    done = processor.refund(entry.order_id, {0: Decimal("20.00")}).entry
    assert (done.refunded, done.refund_count) == (Decimal("20.00"), 1)


def test_cancel(sim: AcquirerSimulator, processor: PaymentProcessor) -> None:
    entry = processor.start(basket(), return_url="https://s.example/r")
    assert processor.cancel(entry.order_id).entry.state is PaymentState.CANCELLED
    assert entry.gateway_payment_id is not None
    assert sim.status(entry.gateway_payment_id) == "cancelled"
