"""Payments through the simulated ЮKassa on a bad day, webhooks into a processor.

5xx before and after the work, 429s, duplicated, reordered and dropped notifications; the
processor's webhooks go through the source check and the re-fetch. Every payment ends in
exactly one final state (the one ЮKassa holds), nothing is credited twice, and the credits
and refunds sum to what ЮKassa reports.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from decimal import Decimal

from pes_sdk_yookassa import WebhookReceiver, YooKassaHarness
from pes_sdk_yookassa.simulator import Switches

from pes_sdk.gateways import (
    GatewayError,
    PaymentEntry,
    PaymentProcessor,
    PaymentState,
    RetryPolicy,
    WebhookRejected,
    WebhookRequest,
)
from pes_sdk.models import Payment, PaymentLine, PaymentMethod
from pes_sdk.money import ZERO

N = 60


def test_chaos_credits_once_and_reconciles() -> None:
    switches = Switches(
        api_error_rate=0.1,
        lost_answer_rate=0.1,
        webhook_duplicate_rate=0.3,
        webhook_reorder_rate=0.3,
        webhook_drop_rate=0.2,
    )
    lock = threading.Lock()
    credits: list[uuid.UUID] = []
    refunds: list[Decimal] = []

    def credit(entry: PaymentEntry) -> None:
        with lock:
            credits.append(entry.order_id)

    def refunded(entry: PaymentEntry, value: Decimal) -> None:
        with lock:
            refunds.append(value)

    with YooKassaHarness(timeout=1, switches=switches) as h:
        processor = PaymentProcessor(
            h.gateway,
            retry=RetryPolicy(attempts=8, initial_wait=0.001, max_wait=0.01),
            on_credit=credit,
            on_refund=refunded,
        )

        def handle(request: WebhookRequest) -> int:
            try:
                processor.handle_webhook(request)
            except WebhookRejected:
                return 400
            except GatewayError:
                return 500  # e.g. the re-fetch failed: ЮKassa will resend
            return 200

        with WebhookReceiver(handle) as receiver:
            h.simulator.webhook_url = receiver.url
            orders = []
            for i in range(N):
                p = Payment(
                    uuid.uuid4(),
                    dt.datetime.now(dt.UTC),
                    list(PaymentMethod)[i % 3],
                    [
                        PaymentLine(
                            "7707083893", f"{i:05d}", Decimal("100.00") + i, client_fee="1.00"
                        )
                    ],
                )
                entry = processor.start(p, return_url="https://service.example/r")
                assert entry.gateway_payment_id is not None
                outcome = i % 4
                if outcome in (0, 1):
                    h.simulator.approve(entry.gateway_payment_id)
                elif outcome == 2:
                    h.simulator.decline(entry.gateway_payment_id)
                else:
                    h.simulator.expire(entry.gateway_payment_id)
                orders.append((p, outcome))
            h.simulator.flush()
            switches.api_error_rate = switches.lost_answer_rate = 0.0
            for p, outcome in orders:
                if outcome == 1:
                    processor.refresh(p.payment_id)  # the backstop for a dropped webhook
                    processor.refund(p.payment_id, {0: Decimal("10.00")})
            h.simulator.flush()
            for p, _ in orders:
                processor.refresh(p.payment_id)
        expected = {
            0: PaymentState.SUCCEEDED,
            1: PaymentState.PARTIALLY_REFUNDED,
            2: PaymentState.FAILED,
            3: PaymentState.CANCELLED,
        }
        for p, outcome in orders:
            entry = processor.entry(p.payment_id)
            assert entry.state is expected[outcome]
            assert h.simulator.payments_for(p.payment_id) == [entry.gateway_payment_id]
        assert len(credits) == len(set(credits)) == N // 2
        captured, given_back = h.simulator.totals()
        paid = {p.payment_id: p.total for p, o in orders if o in (0, 1)}
        assert sum((paid[o] for o in credits), ZERO) == captured
        assert sum(refunds, ZERO) == given_back == Decimal("10.00") * (N // 4)
