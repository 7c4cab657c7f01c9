"""Saved methods and charges without the client (автоплатёж) in the gateway contract.

The models' rules (no card number in a method's title, a decline only on a payment that did
not go through, no saving without a customer) and :meth:`PaymentProcessor.charge_saved`:
one charge per key, whatever repeats, races or news arrive. The processor runs against the
sandbox acquirer over loopback HTTP (pes-sdk-sandbox), as in production.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal

import attrs
import pes_sdk_sandbox as sandbox
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pes_sdk.gateways import (
    ChargeOptions,
    CreateOptions,
    Decline,
    GatewayError,
    GatewayPayment,
    GatewayRefused,
    MemoryPaymentStore,
    PaymentEntry,
    PaymentProcessor,
    PaymentState,
    RetryPolicy,
    SavedMethod,
)
from pes_sdk.models import Payment, PaymentLine, PaymentMethod

S = PaymentState
INN = "7707083893"
AT = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
RETURN = "https://service.example/return"
#: the hypothesis profile the root conftest loaded (a costly property caps itself below it)
PROFILE = settings.default


# -- the models --------------------------------------------------------------------------


@pytest.mark.parametrize("title", ["", "Card *4242", "МИР **** 0042", "Visa •••• 1234", "*4"])
def test_a_title_with_the_last_four_digits_at_most_is_kept(title: str) -> None:
    assert SavedMethod("sandbox", "pm_1", "client-1", title).title == title


@given(
    pan=st.text(alphabet="0123456789", min_size=13, max_size=19),
    sep=st.sampled_from(["", " ", "-"]),
    prefix=st.sampled_from(["", "Card ", "Карта "]),
    shown=st.integers(min_value=5, max_value=19),
)
def test_a_title_showing_more_than_four_digits_is_refused(
    pan: str, sep: str, prefix: str, shown: int
) -> None:
    # whatever the grouping, five digits of a card or more is more than the client needs to
    # recognise it and more than 54-ФЗ's masked PAN shows
    visible = pan[-min(shown, len(pan)) :]
    grouped = sep.join(visible[i : i + 4] for i in range(0, len(visible), 4))
    with pytest.raises(ValueError, match="four digits"):
        SavedMethod("sandbox", "pm_1", "client-1", prefix + "*" + grouped)


def test_a_saved_method_has_the_acquirers_id() -> None:
    with pytest.raises(ValueError, match="acquirer's id"):
        SavedMethod("sandbox", "", "client-1", "*4242")


@pytest.mark.parametrize("state", list(S))
def test_a_decline_only_on_a_payment_that_did_not_go_through(state: PaymentState) -> None:
    def make() -> GatewayPayment:
        return GatewayPayment(
            "sandbox",
            "sbx_1",
            uuid.uuid4(),
            state,
            Decimal("10.00"),
            decline=Decline.FUNDS,
            decline_code="insufficient_funds",
        )

    if state in (S.FAILED, S.CANCELLED):
        assert make().decline is Decline.FUNDS
    else:
        with pytest.raises(ValueError, match="has no decline"):
            make()


def test_saving_a_method_needs_the_customer_key() -> None:
    with pytest.raises(ValueError, match="customer_key"):
        CreateOptions("k" * 16, RETURN, save_method=True)
    options = CreateOptions("k" * 16, RETURN, save_method=True, customer_key="client-1")
    assert options.save_method and options.customer_key == "client-1"
    # a customer key alone asks nothing to be saved
    assert not CreateOptions("k" * 16, RETURN, customer_key="client-1").save_method


@pytest.mark.parametrize("key", ["short", "k" * 65])
def test_a_charge_key_has_8_to_64_characters(key: str) -> None:
    with pytest.raises(ValueError, match="8 to 64"):
        ChargeOptions(key)


# -- the processor, against the sandbox acquirer -----------------------------------------


@pytest.fixture
def harness() -> Iterator[sandbox.SandboxHarness]:
    with sandbox.SandboxHarness(timeout=1.0) as h:
        yield h


@attrs.define
class Book:
    """The service's side: the processor and what it credited."""

    processor: PaymentProcessor
    credited: list[tuple[uuid.UUID, Decimal]]

    def of(self, order: uuid.UUID) -> list[Decimal]:
        return [v for o, v in self.credited if o == order]


def book(harness: sandbox.SandboxHarness) -> Book:
    credited: list[tuple[uuid.UUID, Decimal]] = []
    processor = PaymentProcessor(
        harness.gateway,
        store=MemoryPaymentStore(),
        retry=RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.02),
        on_credit=lambda e: credited.append((e.order_id, e.payment.total)),
    )
    return Book(processor, credited)


def first_payment() -> Payment:
    line = PaymentLine(INN, "001", Decimal("100.00"), service="Электроснабжение")
    return Payment(uuid.uuid4(), AT, PaymentMethod.CARD, [line])


def charge(order: uuid.UUID, total: str = "1530.45") -> Payment:
    return Payment(order, AT, PaymentMethod.CARD, [PaymentLine(INN, "001", Decimal(total))])


def saved(harness: sandbox.SandboxHarness, b: Book, customer: str = "client-1") -> SavedMethod:
    entry = b.processor.start(first_payment(), return_url=RETURN, customer_key=customer)
    assert entry.gateway_payment_id is not None
    harness.approve(harness.gateway.get_payment(entry.gateway_payment_id))
    method = b.processor.refresh(entry.order_id).entry.saved_method
    assert method is not None
    return method


def test_start_with_a_customer_key_learns_the_method_once_paid(
    harness: sandbox.SandboxHarness,
) -> None:
    b = book(harness)
    entry = b.processor.start(first_payment(), return_url=RETURN, customer_key="client-1")
    assert entry.saved_method is None, "nothing is saved before the client pays"
    assert entry.gateway_payment_id is not None
    harness.approve(harness.gateway.get_payment(entry.gateway_payment_id))
    paid = b.processor.refresh(entry.order_id).entry
    assert paid.state is S.SUCCEEDED and paid.saved_method is not None
    assert paid.saved_method.customer_key == "client-1"
    assert harness.method_at_acquirer(paid.saved_method)


def test_start_without_a_customer_key_saves_nothing(harness: sandbox.SandboxHarness) -> None:
    b = book(harness)
    entry = b.processor.start(first_payment(), return_url=RETURN)
    assert entry.gateway_payment_id is not None
    harness.approve(harness.gateway.get_payment(entry.gateway_payment_id))
    assert b.processor.refresh(entry.order_id).entry.saved_method is None


def test_a_charge_is_credited_once_and_not_asked_again(harness: sandbox.SandboxHarness) -> None:
    b = book(harness)
    method = saved(harness, b)
    order = uuid.uuid4()
    entry = b.processor.charge_saved(charge(order), method, idempotency_key=f"autopay-{order.hex}")
    assert entry.state is S.SUCCEEDED and entry.confirmation is None
    assert entry.idempotency_key == f"autopay-{order.hex}", "the caller's key is the book's"
    harness.simulator.switches.fail_next = 1  # a second request would fail: none is made
    again = b.processor.charge_saved(charge(order), method, idempotency_key=f"autopay-{order.hex}")
    assert again == entry
    assert harness.simulator.switches.fail_next == 1
    assert b.of(order) == [Decimal("1530.45")]
    assert harness.charges_at_acquirer(method) == 1


def test_the_same_order_with_another_key_or_basket_is_refused(
    harness: sandbox.SandboxHarness,
) -> None:
    b = book(harness)
    method = saved(harness, b)
    order = uuid.uuid4()
    b.processor.charge_saved(charge(order), method, idempotency_key="autopay-key-0001")
    with pytest.raises(GatewayError, match="another key"):
        b.processor.charge_saved(charge(order), method, idempotency_key="autopay-key-0002")
    with pytest.raises(GatewayError, match="other lines"):
        b.processor.charge_saved(charge(order, "1.00"), method, idempotency_key="autopay-key-0001")
    assert harness.charges_at_acquirer(method) == 1


def test_a_declined_charge_keeps_its_reason_and_is_not_retried_under_its_key(
    harness: sandbox.SandboxHarness,
) -> None:
    b = book(harness)
    method = saved(harness, b)
    assert harness.decline_next_charge(Decline.FUNDS)
    order = uuid.uuid4()
    entry = b.processor.charge_saved(charge(order), method, idempotency_key="autopay-key-0001")
    assert (entry.state, entry.decline, entry.decline_code) == (
        S.FAILED,
        Decline.FUNDS,
        "insufficient_funds",
    )
    # the same key again: the book's answer, no new request (a retry takes a new key)
    assert b.processor.charge_saved(charge(order), method, idempotency_key="autopay-key-0001") == (
        entry
    )
    assert harness.simulator.payments_for(order) == [entry.gateway_payment_id]
    # news of the failed charge, again and again, keeps the reason
    snapshot = harness.gateway.get_payment(entry.gateway_payment_id or "")
    for _ in range(2):
        assert b.processor.apply(snapshot).entry.decline is Decline.FUNDS
    assert b.of(order) == []


def test_a_refused_charge_ends_failed_without_a_charge(harness: sandbox.SandboxHarness) -> None:
    b = book(harness)
    method = saved(harness, b)
    assert harness.gateway.forget_method(method)
    order = uuid.uuid4()
    with pytest.raises(GatewayRefused):
        b.processor.charge_saved(charge(order), method, idempotency_key="autopay-key-0001")
    entry = b.processor.store.get(order)
    assert entry is not None and entry.state is S.FAILED
    again = b.processor.charge_saved(charge(order), method, idempotency_key="autopay-key-0001")
    assert again.state is S.FAILED
    assert harness.simulator.payments_for(order) == []


def _paid_snapshots(harness: sandbox.SandboxHarness) -> tuple[Book, PaymentEntry, GatewayPayment]:
    b = book(harness)
    entry = b.processor.start(first_payment(), return_url=RETURN, customer_key="client-1")
    assert entry.gateway_payment_id is not None
    harness.approve(harness.gateway.get_payment(entry.gateway_payment_id))
    told = harness.gateway.get_payment(entry.gateway_payment_id)
    assert told.saved_method is not None
    return b, entry, told


def test_a_method_told_by_a_later_duplicate_snapshot_is_kept(
    harness: sandbox.SandboxHarness,
) -> None:
    # Т-Банк tells RebillId in its notification only: the status query said "paid" first
    b, entry, told = _paid_snapshots(harness)
    silent = attrs.evolve(told, saved_method=None)
    assert b.processor.apply(silent).entry.saved_method is None
    learned = b.processor.apply(told).entry
    assert learned.saved_method == told.saved_method
    assert b.credited == [(entry.order_id, entry.payment.total)], "credited once"
    # a later snapshot naming another method does not replace the one learned
    assert told.saved_method is not None
    other = attrs.evolve(told, saved_method=attrs.evolve(told.saved_method, method_id="pm_other"))
    assert b.processor.apply(other).entry.saved_method == told.saved_method
    assert b.processor.apply(silent).entry.saved_method == told.saved_method


@pytest.fixture(scope="module")
def first_paid() -> Iterator[tuple[Payment, GatewayPayment, sandbox.SandboxGateway]]:
    """A first payment with the client's consent, paid: the basket, the acquirer's snapshot
    that tells the saved method and the gateway (one, for every example of the property)."""
    with sandbox.SandboxHarness(timeout=1.0) as harness:
        _, entry, told = _paid_snapshots(harness)
        yield entry.payment, told, harness.gateway


@settings(max_examples=min(PROFILE.max_examples if PROFILE else 100, 100))
@given(news=st.lists(st.sampled_from(["pending", "silent", "told"]), min_size=1, max_size=8))
def test_any_order_of_news_keeps_the_method_and_credits_once(
    first_paid: tuple[Payment, GatewayPayment, sandbox.SandboxGateway], news: list[str]
) -> None:
    # the news of one payment, duplicated and out of order: the status before it was paid,
    # "paid" without the method (a status query that does not tell it), "paid" with it
    payment, told, gateway = first_paid
    credited: list[PaymentEntry] = []
    processor = PaymentProcessor(gateway, on_credit=credited.append)
    processor.book(payment)
    by_name = {
        "pending": attrs.evolve(told, state=S.PENDING, saved_method=None, paid_at=None),
        "silent": attrs.evolve(told, saved_method=None),
        "told": told,
    }
    for name in news:
        processor.apply(by_name[name])
    final = processor.store.get(payment.payment_id)
    assert final is not None
    paid = any(n != "pending" for n in news)
    assert final.state is (S.SUCCEEDED if paid else S.PENDING)
    assert len(credited) == (1 if paid else 0)
    assert final.saved_method == (told.saved_method if "told" in news else None)


def test_threads_racing_on_one_key_make_one_charge(harness: sandbox.SandboxHarness) -> None:
    b = book(harness)
    method = saved(harness, b)
    order = uuid.uuid4()
    start = threading.Barrier(8)
    entries: list[PaymentEntry] = []
    errors: list[BaseException] = []

    def worker() -> None:
        start.wait()
        try:
            entries.append(
                b.processor.charge_saved(
                    charge(order), method, idempotency_key=f"autopay-{order.hex}"
                )
            )
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({e.gateway_payment_id for e in entries}) == 1
    assert harness.charges_at_acquirer(method) == 1
    assert b.of(order) == [Decimal("1530.45")]
