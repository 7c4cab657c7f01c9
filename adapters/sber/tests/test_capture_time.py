"""Сбербанк's ``depositedDate`` is the payment's capture time (the day a statement shows).

getOrderStatusExtended.do answers ``depositedDate`` (and ``authDateTime``: the same moment in
a one-stage payment) in unix milliseconds; the adapter gives it as
:attr:`GatewayPayment.paid_at`, however long after the payment the order is read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from pes_sdk_conformance.gateways import basket
from pes_sdk_sber import SberHarness

from pes_sdk.gateways import CreateOptions, PaymentProcessor, PaymentState, new_idempotency_key

# Days, cut-offs and capture times must not depend on the host's zone: make test runs
# these again under two more TZ values.
pytestmark = pytest.mark.timezone

RETURN = "https://service.example/return"


@pytest.fixture
def harness() -> Iterator[SberHarness]:
    with SberHarness(timeout=1.0) as h:
        yield h


def test_deposited_date_is_the_capture_time(harness: SberHarness) -> None:
    created = harness.gateway.create_payment(basket(), CreateOptions(new_idempotency_key(), RETURN))
    assert created.paid_at is None
    at = dt.datetime(2026, 3, 9, 16, 59, 58, 123000, tzinfo=dt.UTC)

    harness.simulator.approve(created.gateway_payment_id, at=at)

    answer = harness.simulator.extended(created.gateway_payment_id)
    assert answer["depositedDate"] == answer["authDateTime"] == 1773075598123
    snapshot = harness.gateway.get_payment(created.gateway_payment_id)
    assert (snapshot.state, snapshot.paid_at) == (PaymentState.SUCCEEDED, at)


def test_the_processor_keeps_it_when_the_payment_is_first_paid(harness: SberHarness) -> None:
    harness.simulator.switches.callback_drop_rate = 1.0
    processor = PaymentProcessor(harness.gateway)
    entry = processor.start(basket(), return_url=RETURN)
    assert entry.gateway_payment_id is not None
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=7)
    harness.simulator.approve(entry.gateway_payment_id, at=at)

    assert processor.refresh(entry.order_id).entry.paid_at == at
