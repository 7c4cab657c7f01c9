"""Т-Банк tells no capture time: the moment the service learned of the payment stands in.

Neither GetState's answer (TerminalKey, Amount, OrderId, Success, Status, PaymentId,
ErrorCode, Message, Details, Params) nor a notification carries a time, so the snapshot's
``paid_at`` is None and the processor takes the moment the news came (docs/gateways.md):
a payment whose notification was lost and that a status query finds after the cut-off
belongs to the day it was found on.
"""

from __future__ import annotations

import datetime as dt

from pes_sdk_conformance.gateways import basket
from pes_sdk_tbank import TBankHarness

from pes_sdk.gateways import PaymentProcessor, PaymentState


def test_a_paid_payment_has_no_capture_time_and_the_processor_takes_its_own() -> None:
    with TBankHarness(timeout=1.0) as harness:
        harness.simulator.switches.webhook_drop_rate = 1.0
        processor = PaymentProcessor(harness.gateway)
        entry = processor.start(basket(), return_url="https://service.example/return")
        assert entry.gateway_payment_id is not None
        harness.simulator.approve(entry.gateway_payment_id)
        snapshot = harness.gateway.get_payment(entry.gateway_payment_id)
        assert (snapshot.state, snapshot.paid_at) == (PaymentState.SUCCEEDED, None)

        before = dt.datetime.now(dt.UTC)
        paid = processor.refresh(entry.order_id).entry
        assert paid.paid_at is not None
        assert before <= paid.paid_at <= dt.datetime.now(dt.UTC)
