"""1,000 payments through the T-Bank simulator on a bad day: every one ends once, credited once.

The acquirer answers 5xx before and after doing the work (lost answers), sometimes too
slowly, and duplicates, reorders and drops notifications. The service is a
:class:`PaymentProcessor` behind a real loopback receiver that answers ``OK``, with polling
(``GetState``) as the backstop. At the end every payment is in the final state the acquirer
holds, no OrderId has two payments, nothing is credited twice, and the credited and refunded
sums equal the acquirer's.
"""

from __future__ import annotations

import collections
import datetime as dt
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from pes_sdk_tbank import NOTIFICATION_ANSWER, NotificationReceiver, TBankGateway, TBankSimulator
from pes_sdk_tbank.client import STATUS_MAP, from_kopecks
from pes_sdk_tbank.simulator import TBankSwitches

from pes_sdk.gateways import (
    Outcome,
    PaymentEntry,
    PaymentProcessor,
    RetryPolicy,
    WebhookRejected,
    WebhookRequest,
)
from pes_sdk.models import Payment, PaymentLine, PaymentMethod
from pes_sdk.money import ZERO

N = 1_000
INNS = ("7707083893", "7736050003", "500100732259")


def _payment(rng: random.Random) -> Payment:
    lines = [
        PaymentLine(
            INNS[i % 3],
            f"{rng.randrange(1, 10**6):07d}",
            Decimal(rng.randrange(100, 500_000)) / 100,
            client_fee=Decimal(rng.choice((0, 0, 150))) / 100,
        )
        for i in range(rng.randint(1, 3))
    ]
    return Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), rng.choice(list(PaymentMethod)), lines)


def test_payments_on_a_bad_day() -> None:
    rng = random.Random(20261127)
    lock = threading.Lock()
    credits: collections.Counter[uuid.UUID] = collections.Counter()
    sums = {"credited": ZERO, "refunded": ZERO}
    outcomes: collections.Counter[str] = collections.Counter()

    def credit(entry: PaymentEntry) -> None:
        with lock:
            credits[entry.order_id] += 1
            sums["credited"] += entry.payment.total

    def refunded(entry: PaymentEntry, value: Decimal) -> None:
        with lock:
            sums["refunded"] += value

    switches = TBankSwitches(
        api_error_rate=0.05,
        lost_answer_rate=0.05,
        slow_rate=0.003,
        api_delay=0.4,
        webhook_duplicate_rate=0.2,
        webhook_reorder_rate=0.2,
        webhook_drop_rate=0.15,
    )
    sim = TBankSimulator(seed=7, switches=switches, webhook_workers=6)
    gateway = TBankGateway(
        terminal_key=sim.terminal_key,
        password=sim.password,
        base_url=sim.base_url,
        timeout=0.25,
        receipt_email="receipts@service.example",
    )
    processor = PaymentProcessor(
        gateway,
        retry=RetryPolicy(attempts=10, initial_wait=0.005, max_wait=0.05),
        on_credit=credit,
        on_refund=refunded,
    )

    def receive(request: WebhookRequest) -> tuple[int, bytes]:
        try:
            applied = processor.handle_webhook(request)
        except WebhookRejected:
            outcomes["rejected"] += 1
            return 400, b"REJECTED"
        for a in applied:
            outcomes[a.move.outcome.value] += 1
        return 200, NOTIFICATION_ANSWER

    plans = [(_payment(rng), rng.random()) for _ in range(N)]

    def one(plan: tuple[Payment, float]) -> None:
        payment, fate = plan
        entry = processor.start(payment, return_url="https://service.example/done")
        assert entry.gateway_payment_id is not None
        if fate < 0.7:
            sim.approve(entry.gateway_payment_id)
            if fate < 0.15:
                processor.refresh(payment.payment_id)
                processor.refund(payment.payment_id, [0] if fate < 0.08 else None)
        elif fate < 0.9:
            sim.decline(entry.gateway_payment_id)
        else:
            sim.expire(entry.gateway_payment_id)

    with NotificationReceiver(receive) as receiver, sim:
        gateway.notification_url = receiver.url
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(one, plans))
        assert sim.flush(timeout=30)
        not_final = [e.order_id for e in processor.store if not e.state.is_final]
        switches.api_error_rate = switches.lost_answer_rate = switches.slow_rate = 0.0
        for order_id in not_final:
            processor.refresh(order_id)
        report = sim.report()
    gateway.close()

    entries = list(processor.store)
    assert len(entries) == N == report.payments
    for entry in entries:
        assert entry.state.is_final, f"{entry.order_id} ended {entry.state}"
        assert entry.gateway_payment_id is not None
        assert STATUS_MAP[sim.status(entry.gateway_payment_id)] is entry.state
        assert len(sim.payments_for(entry.order_id)) == 1, "an OrderId got two payments"
        assert credits[entry.order_id] == (1 if entry.state.is_paid else 0)
    paid = [e for e in entries if e.state.is_paid]
    assert report.paid == len(paid) > 0
    assert sums["credited"] == from_kopecks(report.captured)
    assert sums["credited"] == sum((e.payment.total for e in paid), ZERO)
    assert sums["refunded"] == from_kopecks(report.refunded) > 0
    assert report.webhooks_dropped > 0 and report.webhooks_duplicated > 0
    assert report.webhooks_reordered > 0
    assert outcomes[Outcome.DUPLICATE.value] > 0 and outcomes[Outcome.STALE.value] > 0
    assert not_final, "no notification was lost: the polling backstop went untested"
