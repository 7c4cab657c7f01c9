"""1,000 payments through the sandbox on a bad day: every one ends once, credited once.

The acquirer answers 5xx (before and after doing the work), sometimes too slowly (the
client times out), and duplicates, reorders and drops webhooks. The service side is a
:class:`PaymentProcessor` behind a real loopback webhook endpoint, with polling as the
backstop for dropped webhooks. At the end:

* every payment is in exactly one final state, the same the acquirer holds;
* nothing is credited twice, and nothing unpaid is credited;
* the sum of credits equals what the acquirer reports captured, and refunds likewise.
"""

from __future__ import annotations

import collections
import datetime as dt
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from pes_sdk_sandbox import AcquirerSimulator, SandboxGateway, Switches, WebhookReceiver

from pes_sdk.gateways import (
    Outcome,
    PaymentEntry,
    PaymentProcessor,
    PaymentState,
    RetryPolicy,
    WebhookRejected,
    WebhookRequest,
)
from pes_sdk.models import Payment, PaymentLine, PaymentMethod
from pes_sdk.money import ZERO

N = 1_000
INNS = ("7707083893", "7736050003", "500100732259")


class CreditLedger:
    """The test's ledger: credits and refunds per order, guarded by a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.credits: collections.Counter[uuid.UUID] = collections.Counter()
        self.credited = ZERO
        self.refunded = ZERO

    def credit(self, entry: PaymentEntry) -> None:
        with self.lock:
            self.credits[entry.order_id] += 1
            self.credited += entry.payment.total

    def refund(self, entry: PaymentEntry, value: Decimal) -> None:
        with self.lock:
            self.refunded += value


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
    method = rng.choice(list(PaymentMethod))
    return Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), method, lines)


def test_thousand_payments_on_a_bad_day() -> None:
    rng = random.Random(20261127)
    ledger = CreditLedger()
    outcomes: collections.Counter[str] = collections.Counter()
    switches = Switches(
        api_error_rate=0.05,
        lost_answer_rate=0.05,
        slow_rate=0.003,
        api_delay=0.4,
        webhook_duplicate_rate=0.2,
        webhook_reorder_rate=0.2,
        webhook_drop_rate=0.15,
    )
    sim = AcquirerSimulator(seed=7, switches=switches, webhook_workers=6)
    gateway = SandboxGateway.for_simulator(sim, timeout=0.25)
    processor = PaymentProcessor(
        gateway,
        retry=RetryPolicy(attempts=10, initial_wait=0.005, max_wait=0.05),
        on_credit=ledger.credit,
        on_refund=ledger.refund,
    )

    def receive(request: WebhookRequest) -> int:
        try:
            applied = processor.handle_webhook(request)
        except WebhookRejected:
            outcomes["rejected"] += 1
            return 400
        for a in applied:
            outcomes[a.move.outcome.value] += 1
        return 200

    plans = [(_payment(rng), rng.random()) for _ in range(N)]

    def one(plan: tuple[Payment, float]) -> None:
        payment, fate = plan
        entry = processor.start(payment, return_url="https://service.example/done")
        assert entry.gateway_payment_id is not None
        if fate < 0.7:
            sim.approve(entry.gateway_payment_id)
            if fate < 0.1:
                # the payment must be known as paid before the service refunds it
                processor.refresh(payment.payment_id)
                processor.refund(payment.payment_id, [0] if fate < 0.05 else None)
        elif fate < 0.9:
            sim.decline(entry.gateway_payment_id)
        else:
            sim.expire(entry.gateway_payment_id)

    with WebhookReceiver(receive) as receiver, sim:
        sim.webhook_url = receiver.url
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(one, plans))
        assert sim.flush(timeout=30)
        # polling, the backstop for the webhooks that never came
        not_final = [e.order_id for e in processor.store if not e.state.is_final]
        switches.api_error_rate = switches.lost_answer_rate = switches.slow_rate = 0.0
        for order_id in not_final:
            processor.refresh(order_id)
        report = sim.report()

    entries = list(processor.store)
    assert len(entries) == N
    for entry in entries:
        assert entry.state.is_final, f"{entry.order_id} ended {entry.state}"
        assert entry.gateway_payment_id is not None
        assert sim.status(entry.gateway_payment_id) == entry.state.value
        assert len(sim.payments_for(entry.order_id)) == 1, "a payment was created twice"
        expected = 1 if entry.state.is_paid else 0
        assert ledger.credits[entry.order_id] == expected
    assert max(ledger.credits.values()) == 1
    paid = [e for e in entries if e.state.is_paid]
    assert report.payments == N
    assert report.succeeded == len(paid) > 0
    assert ledger.credited == report.captured == sum((e.payment.total for e in paid), ZERO)
    assert ledger.refunded == report.refunded > 0
    assert {e.state for e in entries} >= {
        PaymentState.SUCCEEDED,
        PaymentState.PARTIALLY_REFUNDED,
        PaymentState.REFUNDED,
        PaymentState.FAILED,
        PaymentState.CANCELLED,
    }
    # the bad day really happened, and the processor saw its effects
    assert report.webhooks_dropped > 0
    assert report.webhooks_duplicated > 0
    assert report.webhooks_reordered > 0
    assert outcomes[Outcome.DUPLICATE.value] > 0
    assert outcomes[Outcome.STALE.value] > 0
    assert not_final, "no webhook was lost: the polling backstop went untested"
