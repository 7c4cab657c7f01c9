"""Autopay charges through the sandbox on a bad day: one charge per key, credited once.

Sixty clients saved a card; each is charged for two periods. Every charge is asked for by
two racing threads of the service and, for some, again by another worker with a book of
its own (a process that crashed and came back without its memory). The acquirer answers
5xx before and after the work, times out, declines some charges, has some cards revoked,
and duplicates, reorders and drops webhooks; polling is the backstop. At the end:

* the acquirer holds exactly one charge per order, none of a revoked card;
* every entry is final, in the state the acquirer holds, a decline with its reason;
* nothing is credited twice, and the credits equal what the acquirer took from the cards.
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
    Decline,
    GatewayError,
    GatewayRefused,
    PaymentEntry,
    PaymentProcessor,
    PaymentState,
    RetryPolicy,
    SavedMethod,
    WebhookRejected,
    WebhookRequest,
)
from pes_sdk.models import Payment, PaymentLine, PaymentMethod
from pes_sdk.money import ZERO

CLIENTS = 60
PERIODS = ("2026-11", "2026-12")
INN = "7707083893"
AT = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


class Ledger:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.credits: collections.Counter[uuid.UUID] = collections.Counter()
        self.credited = ZERO

    def credit(self, entry: PaymentEntry) -> None:
        with self.lock:
            self.credits[entry.order_id] += 1
            self.credited += entry.payment.total


def test_autopay_charges_on_a_bad_day() -> None:
    rng = random.Random(20261207)
    ledger = Ledger()
    switches = Switches()
    sim = AcquirerSimulator(seed=11, switches=switches, webhook_workers=4)
    gateway = SandboxGateway.for_simulator(sim, timeout=0.25)
    retry = RetryPolicy(attempts=10, initial_wait=0.005, max_wait=0.05)
    service = PaymentProcessor(gateway, retry=retry, on_credit=ledger.credit)
    # another worker, restarted without its memory: its book is its own, its credits unused
    stranger = PaymentProcessor(gateway, retry=retry)

    def receive(request: WebhookRequest) -> int:
        try:
            service.handle_webhook(request)
        except WebhookRejected:
            return 400
        return 200

    with WebhookReceiver(receive) as receiver, sim:
        sim.webhook_url = receiver.url
        # the first payments, on a good day: each client agreed to autopay and paid
        methods: list[SavedMethod] = []
        for i in range(CLIENTS):
            line = PaymentLine(INN, f"{i:07d}", Decimal("100.00"))
            first = Payment(uuid.uuid4(), AT, PaymentMethod.CARD, [line])
            entry = service.start(first, return_url="https://x.example/r", customer_key=f"c-{i}")
            assert entry.gateway_payment_id is not None
            sim.approve(entry.gateway_payment_id)
            method = service.refresh(first.payment_id).entry.saved_method
            assert method is not None
            methods.append(method)
        revoked = set(rng.sample(range(CLIENTS), 6))
        for i in revoked:
            sim.revoke_method(methods[i].method_id, status=rng.choice(["revoked", "expired"]))
        assert sim.flush(timeout=30)
        first_takings = sim.report().captured
        first_credited = ledger.credited

        # the charges, on a bad day
        switches.api_error_rate = 0.05
        switches.lost_answer_rate = 0.05
        switches.slow_rate = 0.01
        switches.api_delay = 0.4
        switches.webhook_duplicate_rate = 0.2
        switches.webhook_reorder_rate = 0.2
        switches.webhook_drop_rate = 0.15
        switches.decline_charges = [
            rng.choice(["insufficient_funds", "issuer_declined", "card_expired"]) for _ in range(12)
        ]
        consents = [uuid.uuid4() for _ in range(CLIENTS)]
        plans = []
        for period in PERIODS:
            for i, consent in enumerate(consents):
                order = uuid.uuid5(consent, f"autopay:{period}")
                total = Decimal(rng.randrange(100, 900_000)) / 100
                basket = Payment(order, AT, PaymentMethod.CARD, [PaymentLine(INN, "1", total)])
                plans.append((basket, methods[i], f"autopay-{order.hex}", rng.random() < 0.3))

        def charge(
            processor: PaymentProcessor, basket: Payment, method: SavedMethod, key: str
        ) -> None:
            for _ in range(3):  # the job engine's bounded retries of a step that raised
                try:
                    processor.charge_saved(basket, method, idempotency_key=key)
                    return
                except GatewayRefused:
                    return  # the entry ended failed: nothing was charged
                except GatewayError:
                    continue

        def one(plan: tuple[Payment, SavedMethod, str, bool]) -> None:
            basket, method, key, stranger_too = plan
            racing = [threading.Thread(target=charge, args=(service, basket, method, key))]
            if stranger_too:
                racing.append(threading.Thread(target=charge, args=(stranger, basket, method, key)))
            for t in racing:
                t.start()
            charge(service, basket, method, key)
            for t in racing:
                t.join()

        with ThreadPoolExecutor(max_workers=12) as pool:
            list(pool.map(one, plans))
        sim.end_stalls()
        assert sim.flush(timeout=30)
        # polling, the backstop for the webhooks that never came (and a resumed charge for
        # an entry whose every attempt failed)
        switches.api_error_rate = switches.lost_answer_rate = switches.slow_rate = 0.0
        for basket, method, key, _ in plans:
            booked = service.store.get(basket.payment_id)
            assert booked is not None
            if booked.gateway_payment_id is None and booked.state is not PaymentState.FAILED:
                charge(service, basket, method, key)
            elif not booked.state.is_final:
                service.refresh(basket.payment_id)
        taken = sum((sim.taken_from(m.method_id) for m in methods), ZERO)
        takings = sim.report().captured - first_takings

    states: collections.Counter[PaymentState] = collections.Counter()
    for basket, method, _, _ in plans:
        final = service.store.get(basket.payment_id)
        assert final is not None
        entry = final
        held = sim.payments_for(basket.payment_id)
        assert len(held) == 1, "an order was charged twice, or never"
        assert held == [entry.gateway_payment_id]
        assert sim.status(held[0]) == entry.state.value
        states[entry.state] += 1
        assert ledger.credits[basket.payment_id] == (1 if entry.state.is_paid else 0)
        if entry.state is PaymentState.FAILED:
            assert entry.decline is not None and entry.decline_code, "a decline says why"
        if methods.index(method) in revoked:
            assert entry.state is PaymentState.FAILED
            assert entry.decline is Decline.METHOD_GONE
    for i in revoked:
        assert sim.charges_of(methods[i].method_id) == []
    charged = [b for b, _, _, _ in plans if ledger.credits[b.payment_id]]
    credited = ledger.credited - first_credited
    assert credited == taken == takings == sum((b.total for b in charged), ZERO)
    # the bad day really happened
    assert states[PaymentState.SUCCEEDED] > 0 and states[PaymentState.FAILED] > len(revoked) * 2
    assert switches.decline_charges == [], "every planned decline was used"
    assert sim.webhooks_dropped > 0 and sim.webhooks_duplicated > 0
