"""Autopay end to end in one process: consent, plan, notice, charge, retries, cancellation.

Real parts: SQLite and PostgreSQL stores (``store_url``); the sandbox acquirer's simulator
over loopback HTTP (its saved methods and charges, declines injected the way its protocol
declines); the outbox channel, whose file holds each notice handed over. Time is a clock
the test moves (:meth:`Autopay.run`'s ``sleep``), as the job engine's durable sleeps do
(test_autopay_jobs.py runs the same on the engine in worker processes).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
from example_inputs import VODOKANAL
from pes_sdk_outbox import read_outbox
from pes_sdk_runner.api import processor_for
from pes_sdk_runner.autopay import (
    Autopay,
    Next,
    attempt_of,
    charge_id_of,
    customer_key_of,
    request_consent,
)
from pes_sdk_runner.config.models import RunnerConfig
from pes_sdk_runner.notify import Sender
from pes_sdk_runner.store import SqlStore
from pes_sdk_runner.store.autopay import ChargeState, Consent, ConsentRule, consent_id_of
from pes_sdk_runner.triggers import Triggers, autopay_source
from pes_sdk_sandbox.harness import SandboxHarness
from runner_proc import config_of, write_config

from pes_sdk.gateways.models import ChargeOptions, Decline, PaymentState
from pes_sdk.gateways.processor import PaymentProcessor, RetryPolicy
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.period import Period
from pes_sdk.plugins.manager import get_host
from pes_sdk.premises import Premises

pytestmark = pytest.mark.timezone

HOUSE = "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"
CLIENT = "app:anna"
ACCOUNT = "1001"
#: Noon in Perm (UTC+5) on 7 December 2026
NOON = dt.datetime(2026, 12, 7, 7, 0, tzinfo=dt.UTC)
DEC = Period(2026, 12)


def no_wait(seconds: float) -> None:
    """The notification retries' wait: nothing here sleeps for real."""


@pytest.fixture
def config(tmp_path: Path, store_url: str) -> RunnerConfig:
    return config_of(write_config(tmp_path, store_url))


@pytest.fixture
def store(store: SqlStore, config: RunnerConfig) -> SqlStore:
    store.upsert_partners(p.partner for p in config.partners)
    store.set_contact(CLIENT, phone="+79160000001")
    return store


@pytest.fixture
def acquirer() -> Iterator[SandboxHarness]:
    with SandboxHarness() as harness:
        yield harness


class World:
    """The service's side: store, processor, triggers (notices sent through the outbox)
    and a clock the test moves."""

    def __init__(self, store: SqlStore, config: RunnerConfig, acquirer: SandboxHarness) -> None:
        self.store = store
        self.config = config
        self.acquirer = acquirer
        self.now = NOON
        # The acquirer stamps its payments with the test's clock, not the host's: a debt
        # counts only the payments after its registry arrived (ledger ``at``), so a real
        # clock would make the amounts depend on the day the suite runs.
        acquirer.simulator.clock = lambda: self.now.timestamp()
        self.client = CLIENT
        self.batches: list[list[int]] = []
        self.triggers = Triggers(store, config, enqueue=lambda wid, ids: self.batches.append(ids))
        self.autopay = Autopay(store, config, self.triggers)
        self.processor: PaymentProcessor = processor_for(
            acquirer.gateway,
            store,
            retry=RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.02),
        )

    def clock(self) -> dt.datetime:
        return self.now

    def sleep(self, until: dt.datetime) -> None:
        self.now = max(self.now, until)
        self.send()

    def send(self) -> None:
        """Hand the queued messages to the channels now, as the notify workflows do."""
        sender = Sender(self.config, get_host(), sleep=no_wait)
        try:
            while self.batches:
                sender.send_batch(self.store, self.batches.pop(0), "test", now=self.clock)
        finally:
            sender.close()

    def texts(self) -> list[str]:
        channel = self.config.notifications.channel("outbox")
        assert channel is not None
        path = Path(channel.adapter.settings["path"])
        return [str(line["text"]) for line in read_outbox(path)] if path.exists() else []

    def registry(self, period: Period, number: int, amount: str) -> None:
        record = DebtRecord(ACCOUNT, HOUSE, Premises("кв. 1"), Decimal(amount), service="Вода")
        self.store.ingest_debt_registry(
            VODOKANAL, period, number, [record], sha256=f"r{number}", received_at=self.now
        )

    def connect(
        self,
        limit: str = "5000.00",
        rule: ConsentRule = ConsentRule.ON_REGISTRY,
        day: int | None = None,
    ) -> Consent:
        """The client pays November's bill with "Подключить автоплатёж" ticked."""
        order = uuid.uuid4()
        request_consent(
            self.store,
            self.config,
            order_id=order,
            client_id=self.client,
            partner_inn=VODOKANAL,
            account=ACCOUNT,
            rule=rule,
            day=day,
            limit=Decimal(limit),
            now=self.now,
        )
        line = PaymentLine(VODOKANAL, ACCOUNT, Decimal("700.00"), service="Вода")
        payment = Payment(order, self.now, PaymentMethod.CARD, [line])
        entry = self.processor.start(
            payment,
            return_url="https://pay.example/back",
            customer_key=customer_key_of(self.client),
        )
        assert entry.gateway_payment_id is not None
        self.acquirer.approve(self.acquirer.gateway.get_payment(entry.gateway_payment_id))
        assert self.processor.refresh(order).entry.state is PaymentState.SUCCEEDED
        consent = self.store.consent(consent_id_of(order))
        assert consent is not None, "the consent comes into force with the saved method"
        return consent

    def december(self, amount: str = "1530.45") -> uuid.UUID:
        """December's registry arrives (an hour after the first payment, which it counts);
        the charge is planned and its notice sent."""
        self.now += dt.timedelta(hours=1)
        self.registry(DEC, 2, amount)
        planned = self.autopay.plan_registry(VODOKANAL, DEC, self.now)
        self.send()
        assert len(planned) <= 1
        return planned[0].charge_id if planned else uuid.uuid4()

    def run(self, charge_id: uuid.UUID) -> ChargeState:
        step = self.autopay.run(charge_id, self.processor, self.clock, self.sleep)
        assert step.next is Next.DONE and step.state is not None
        self.send()
        return step.state


@pytest.fixture
def w(store: SqlStore, config: RunnerConfig, acquirer: SandboxHarness) -> World:
    world = World(store, config, acquirer)
    world.registry(Period(2026, 11), 1, "700.00")
    return world


def test_the_notice_goes_out_then_the_charge_three_days_later_credits_the_partner(
    w: World,
) -> None:
    consent = w.connect()
    assert consent.text.startswith("Я даю согласие на автоматическое списание")
    assert "5 000,00 руб." in consent.text and "3 дн." in consent.text
    charge_id = w.december()
    assert w.texts()[-1] == "10 декабря автоплатёж спишет 1 530,45 руб. — АО «Водоканал»"
    assert w.run(charge_id) is ChargeState.PAID
    assert w.now >= NOON + dt.timedelta(days=3, hours=1), "never before the notice period ends"
    assert w.texts()[-1] == "Автоплатёж: списано 1 530,45 руб. — АО «Водоканал»"
    assert w.acquirer.charges_at_acquirer(consent.method) == 1
    order, _ = attempt_of(charge_id, 1)
    entry = w.store.get(order)
    assert entry is not None and entry.state is PaymentState.SUCCEEDED
    assert [(ln.partner_inn, ln.account, ln.amount) for ln in entry.payment.lines] == [
        (VODOKANAL, ACCOUNT, Decimal("1530.45"))
    ]
    assert not any(b.due for b in w.store.find_by_account(VODOKANAL, ACCOUNT))


def test_running_a_charge_again_charges_nothing_more(w: World) -> None:
    consent = w.connect()
    charge_id = w.december()
    assert w.run(charge_id) is ChargeState.PAID
    assert w.run(charge_id) is ChargeState.PAID
    assert w.autopay.plan_registry(VODOKANAL, DEC, w.now) == []  # nothing due any more
    assert w.acquirer.charges_at_acquirer(consent.method) == 1
    assert charge_id == charge_id_of(consent.consent_id, str(DEC))


def test_a_declined_charge_is_tried_again_after_a_pause_and_goes_through(w: World) -> None:
    consent = w.connect()
    charge_id = w.december()
    assert w.acquirer.decline_next_charge(Decline.FUNDS)
    assert w.run(charge_id) is ChargeState.PAID
    charge = w.store.charge(charge_id)
    assert charge is not None and charge.attempts == 2
    assert w.now >= NOON + dt.timedelta(days=4, hours=1), "the first pause is a day"
    assert w.acquirer.charges_at_acquirer(consent.method) == 1


def test_five_declines_end_the_charge_and_tell_the_client_once(w: World) -> None:
    consent = w.connect()
    charge_id = w.december()
    for _ in range(5):
        assert w.acquirer.decline_next_charge(Decline.FUNDS)
    assert w.run(charge_id) is ChargeState.FAILED
    charge = w.store.charge(charge_id)
    assert charge is not None and (charge.attempts, charge.reason) == (5, "declined 5 times")
    failed = [t for t in w.texts() if "не прошёл" in t]
    assert failed == [
        "Автоплатёж на 1 530,45 руб. не прошёл — АО «Водоканал». Оплатите вручную или"
        " проверьте карту"
    ]
    assert w.acquirer.charges_at_acquirer(consent.method) == 0


def test_a_gone_method_stops_at_once(w: World) -> None:
    consent = w.connect()
    charge_id = w.december()
    assert w.acquirer.revoke(consent.method)
    assert w.run(charge_id) is ChargeState.FAILED
    charge = w.store.charge(charge_id)
    assert charge is not None and (charge.attempts, charge.reason) == (1, "method gone")


def test_a_cancellation_after_the_notice_stops_the_charge(w: World) -> None:
    consent = w.connect()
    charge_id = w.december()
    w.store.cancel_consent(consent.consent_id, w.now + dt.timedelta(days=1))
    assert w.run(charge_id) is ChargeState.CANCELLED
    assert w.acquirer.charges_at_acquirer(consent.method) == 0


def test_a_cancellation_between_attempts_stops_the_next(w: World) -> None:
    consent = w.connect()
    charge_id = w.december()
    assert w.acquirer.decline_next_charge(Decline.FUNDS)
    w.now += dt.timedelta(days=3)
    step = w.autopay.prepare(charge_id, w.now)
    step = w.autopay.attempt(charge_id, step.attempt, w.processor, w.now)
    assert step.next is Next.RETRY
    w.store.cancel_consent(consent.consent_id, w.now)
    assert w.run(charge_id) is ChargeState.CANCELLED
    assert w.acquirer.charges_at_acquirer(consent.method) == 0


def test_over_the_monthly_limit_nothing_is_charged_and_the_client_is_told(w: World) -> None:
    consent = w.connect(limit="1000.00")
    charge_id = w.december()
    assert w.run(charge_id) is ChargeState.OVER_LIMIT
    assert w.acquirer.charges_at_acquirer(consent.method) == 0
    assert any("не прошёл" in t for t in w.texts())


class Killed(BaseException):
    """The process killed (SIGKILL): nothing after that point runs, no handler sees it."""


class DiesAfter:
    """The store, but the process dies the moment ``method`` returns (its transaction
    committed). A stand-in for a SIGKILL at one exact point, in one process: the chaos
    test (test_autopay_jobs.py) reaches such points only by chance."""

    def __init__(self, store: SqlStore, method: str) -> None:
        self.store = store
        self.method = method

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.store, name)
        if name != self.method:
            return found

        def then_die(*args: Any, **kwargs: Any) -> Any:
            found(*args, **kwargs)
            raise Killed(name)

        return then_die


def test_a_run_killed_right_after_its_claim_never_charges_over_the_limit(w: World) -> None:
    # A run that claimed the charge and died before weighing it against the limit left it
    # ``charging``; the next run resumed it as claimed and sent it (the chaos test, seed
    # 150251328: an over-limit consent's charge paid). The claim weighs it itself.
    consent = w.connect(limit="1000.00")
    charge_id = w.december()
    w.now += dt.timedelta(days=3)
    dying = Autopay(cast(SqlStore, DiesAfter(w.store, "claim_charge")), w.config, w.triggers)
    with pytest.raises(Killed):
        dying.prepare(charge_id, w.now)
    assert w.run(charge_id) is ChargeState.OVER_LIMIT  # the round run again, elsewhere
    assert w.acquirer.charges_at_acquirer(consent.method) == 0
    failed = [t for t in w.texts() if "не прошёл" in t]
    assert len(failed) == 1, "the client is told all the same, once"


@pytest.mark.parametrize(
    ("declined", "told"),
    [
        (False, "Автоплатёж: списано 1 530,45 руб. — АО «Водоканал»"),
        (
            True,
            "Автоплатёж на 1 530,45 руб. не прошёл — АО «Водоканал». Оплатите вручную или"
            " проверьте карту",
        ),
    ],
    ids=["paid", "failed"],
)
def test_a_run_killed_between_ending_a_charge_and_telling_the_client_tells_once(
    w: World, declined: bool, told: str
) -> None:
    # A run that ended the charge and died before queueing its notice: the step run again
    # (the engine's recovery) found the charge final and stopped, and the client never
    # learnt that the money went, or did not. Whoever finds a charge ended tells again,
    # through the notice's source: once, however many runs find it.
    consent = w.connect()
    charge_id = w.december()
    if declined:
        assert w.acquirer.revoke(consent.method)  # the first attempt ends the charge
    state, event = (ChargeState.FAILED, "failed") if declined else (ChargeState.PAID, "done")
    w.now += dt.timedelta(days=3)
    dying = Autopay(cast(SqlStore, DiesAfter(w.store, "end_charge")), w.config, w.triggers)
    step = dying.prepare(charge_id, w.now)
    assert step.next is Next.ATTEMPT
    with pytest.raises(Killed):
        dying.attempt(charge_id, step.attempt, w.processor, w.now)
    charge = w.store.charge(charge_id)
    assert charge is not None and charge.state is state
    assert w.store.messages(autopay_source(event, str(charge_id))) == [], "killed before it"
    # the step again, as the engine's recovery runs it; then the round; then once more
    again = w.autopay.attempt(charge_id, step.attempt, w.processor, w.now)
    assert (again.next, again.state) == (Next.DONE, state)
    assert w.run(charge_id) is state
    assert w.run(charge_id) is state
    assert [t for t in w.texts() if t == told] == [told], "told, and once"
    assert len(w.store.messages(autopay_source(event, str(charge_id)))) == 1
    assert w.acquirer.charges_at_acquirer(consent.method) == (0 if declined else 1)


def test_a_charge_that_never_reached_the_acquirer_tells_no_failure(w: World) -> None:
    # Ended unpaid before any attempt (its notice could not go out): no "не прошёл" either,
    # however often a run finds it ended.
    w.client = "app:nobody"
    w.connect()
    charge_id = w.december()
    assert w.run(charge_id) is ChargeState.FAILED
    assert w.run(charge_id) is ChargeState.FAILED
    assert w.store.messages(autopay_source("failed", str(charge_id))) == []


def test_no_charge_without_a_notice(w: World) -> None:
    w.client = "app:nobody"  # a client no channel can reach: no device, phone or e-mail
    consent = w.connect()
    charge_id = w.december()
    assert w.run(charge_id) is ChargeState.FAILED
    charge = w.store.charge(charge_id)
    assert charge is not None and charge.reason == "notice not sent"
    assert w.acquirer.charges_at_acquirer(consent.method) == 0


def test_paid_by_hand_before_the_day_nothing_is_charged(w: World) -> None:
    consent = w.connect()
    charge_id = w.december()
    order = uuid.uuid4()
    line = PaymentLine(VODOKANAL, ACCOUNT, Decimal("1530.45"), service="Вода")
    entry = w.processor.start(
        Payment(order, w.now, PaymentMethod.CARD, [line]), return_url="https://pay.example/b"
    )
    assert entry.gateway_payment_id is not None
    w.acquirer.approve(w.acquirer.gateway.get_payment(entry.gateway_payment_id))
    w.processor.refresh(order)
    assert w.run(charge_id) is ChargeState.NOTHING_DUE
    assert w.acquirer.charges_at_acquirer(consent.method) == 0


def test_the_notice_is_in_the_autopay_source_and_names_the_day_in_the_services_zone(
    w: World,
) -> None:
    w.connect()
    charge_id = w.december()
    (notice,) = w.store.messages(autopay_source("upcoming", str(charge_id)))
    assert notice.client_id == CLIENT
    charge = w.store.charge(charge_id)
    assert charge is not None
    # 3 days after 1 p.m. in Perm on the 7th is the 10th there, whatever the host's zone
    assert charge.due_at == NOON + dt.timedelta(days=3, hours=1)


def test_a_charge_whose_run_died_after_the_acquirer_took_it_is_not_charged_again(
    w: World,
) -> None:
    consent = w.connect()
    charge_id = w.december()
    w.now += dt.timedelta(days=3)
    assert w.autopay.prepare(charge_id, w.now).next is Next.ATTEMPT
    # The run began attempt 1, booked it and sent it; the acquirer took the money, and the
    # process died before the answer was recorded.
    order, key = attempt_of(charge_id, 1)
    assert w.store.begin_attempt(charge_id, 1, order, w.now)
    charge = w.store.charge(charge_id)
    assert charge is not None
    payment = w.autopay.basket(charge, order, w.now)
    assert payment is not None
    w.processor.book(payment, idempotency_key=key)
    taken = w.acquirer.gateway.charge_saved(payment, consent.method, ChargeOptions(key))
    assert taken.state is PaymentState.SUCCEEDED
    assert w.run(charge_id) is ChargeState.PAID
    assert w.acquirer.charges_at_acquirer(consent.method) == 1


def test_cancelling_asks_the_acquirer_to_forget_the_card(w: World) -> None:
    consent = w.connect()
    assert w.acquirer.method_at_acquirer(consent.method)
    _, stopped = w.autopay.cancel(consent.consent_id, w.acquirer.gateway, w.now)
    assert stopped == []
    assert not w.acquirer.method_at_acquirer(consent.method), "the sandbox can unbind"
    again, _ = w.autopay.cancel(consent.consent_id, w.acquirer.gateway, w.now)
    assert again.version == 2, "cancelling twice adds nothing"


def test_a_charge_carries_its_54fz_receipt_to_a_fiscalising_acquirer(
    tmp_path: Path, store_url: str, acquirer: SandboxHarness
) -> None:
    receipts_on = {
        "# [receipts]": "[receipts]",
        "# enabled = true": "enabled = true",
        '# fee_vat = "vat22"': 'fee_vat = "vat22"',
    }
    config = config_of(write_config(tmp_path / "r", store_url, receipts_on))
    assert config.receipts.enabled
    from pes_sdk_runner.store import open_store

    store = open_store(config.store.url)
    try:
        store.upsert_partners(p.partner for p in config.partners)
        store.set_contact(CLIENT, phone="+79160000001")
        w = World(store, config, acquirer)
        w.registry(Period(2026, 11), 1, "700.00")
        w.connect()
        charge_id = w.december()
        assert w.run(charge_id) is ChargeState.PAID
        order, _ = attempt_of(charge_id, 1)
        entry = w.store.get(order)
        assert entry is not None and entry.gateway_payment_id is not None
        held = acquirer.receipt_at_acquirer(entry.gateway_payment_id)
        assert held is not None, "the charge went without its receipt"
        assert [p.supplier_inn for p in held.positions] == [VODOKANAL]
        assert held.customer_phone == "+79160000001"
    finally:
        store.close()


def test_a_day_of_month_consent_is_noticed_three_days_before_its_day(w: World) -> None:
    consent = w.connect(rule=ConsentRule.DAY_OF_MONTH, day=10)
    assert w.autopay.plan_registry(VODOKANAL, DEC, w.now) == [], "not on the registry"
    # 7 December in Perm: the 10th is three days ahead, so its charge is planned today
    w.now += dt.timedelta(hours=1)  # December's registry, after the first payment
    w.registry(DEC, 2, "1530.45")
    early = w.autopay.plan_days(w.now - dt.timedelta(days=1))
    assert early == [], "the 6th is four days before the 10th: nothing yet"
    (charge,) = w.autopay.plan_days(w.now)
    assert (charge.consent_id, charge.period, charge.amount) == (
        consent.consent_id,
        "2026-12",
        Decimal("1530.45"),
    )
    again = w.autopay.plan_days(w.now + dt.timedelta(hours=6))
    assert [c.charge_id for c in again] == [charge.charge_id], "the same charge, not a second"
    w.send()
    assert w.run(charge.charge_id) is ChargeState.PAID
    assert w.acquirer.charges_at_acquirer(consent.method) == 1
