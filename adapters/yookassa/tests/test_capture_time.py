"""ЮKassa's ``captured_at`` is the payment's capture time (the day a bank statement shows).

The payment object carries ``captured_at`` (UTC, ISO 8601) once it succeeded; the adapter
gives it as :attr:`GatewayPayment.paid_at`, and a status query long after the capture (the
backstop for a lost webhook) still says when the money was taken.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from pes_sdk_conformance.gateways import basket
from pes_sdk_yookassa import YooKassaHarness

from pes_sdk.gateways import CreateOptions, PaymentProcessor, PaymentState, new_idempotency_key

# Days, cut-offs and capture times must not depend on the host's zone: make test runs
# these again under two more TZ values.
pytestmark = pytest.mark.timezone

RETURN = "https://service.example/return"


@pytest.fixture
def harness() -> Iterator[YooKassaHarness]:
    with YooKassaHarness(timeout=1.0) as h:
        yield h


def test_captured_at_is_the_capture_time(harness: YooKassaHarness) -> None:
    created = harness.gateway.create_payment(basket(), CreateOptions(new_idempotency_key(), RETURN))
    assert created.paid_at is None
    at = dt.datetime(2026, 3, 9, 16, 59, 58, 123000, tzinfo=dt.UTC)

    harness.simulator.approve(created.gateway_payment_id, at=at)

    assert harness.simulator.payment(created.gateway_payment_id)["captured_at"] == (
        "2026-03-09T16:59:58.123Z"
    )
    snapshot = harness.gateway.get_payment(created.gateway_payment_id)
    assert (snapshot.state, snapshot.paid_at) == (PaymentState.SUCCEEDED, at)


def test_the_processor_keeps_it_when_the_payment_is_first_paid(harness: YooKassaHarness) -> None:
    harness.simulator.switches.webhook_drop_rate = 1.0
    processor = PaymentProcessor(harness.gateway)
    entry = processor.start(basket(), return_url=RETURN)
    assert entry.gateway_payment_id is not None
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=7)
    harness.simulator.approve(entry.gateway_payment_id, at=at)

    assert processor.refresh(entry.order_id).entry.paid_at == at
