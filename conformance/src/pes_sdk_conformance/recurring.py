"""Conformance checks of the **recurring** family: saved methods and charges without the client.

A gateway with :attr:`~pes_sdk.gateways.models.GatewayCapabilities.recurring` saves the
method of a first payment the client agreed to autopay on, and later charges it without the
client (автоплатёж). That is money taken without anyone pressing a button, so the checks are
about never charging twice, never charging what was not saved, and never reading a decline
as a payment. The adapter author subclasses :class:`RecurringConformance` with a
``gateway_harness`` fixture, as for :class:`~pes_sdk_conformance.gateways.GatewayConformance`,
whose harness also has the methods of :class:`RecurringHarness`::

    class TestMyRecurring(RecurringConformance):
        @pytest.fixture
        def gateway_harness(self):
            with MyHarness() as harness:
                yield harness

The checks go through :class:`~pes_sdk.gateways.processor.PaymentProcessor`
(:meth:`~pes_sdk.gateways.processor.PaymentProcessor.start` with a ``customer_key``, then
:meth:`~pes_sdk.gateways.processor.PaymentProcessor.charge_saved`), as the runner's autopay
does. A gateway without the capability has every check skipped, saying so.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Protocol

import pytest

from pes_sdk.gateways import (
    Decline,
    GatewayPayment,
    GatewayRefused,
    PaymentEntry,
    PaymentGateway,
    PaymentProcessor,
    PaymentState,
    SavedMethod,
)
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk_conformance.gateways import (
    INNS,
    GatewayHarness,
    Ledger,
    ProcessorFixtures,
    basket,
    wait_for,
)

__all__ = [
    "RecurringConformance",
    "RecurringHarness",
    "RecurringHarnessExtras",
    "charge_basket",
    "charge_key",
]

S = PaymentState


class RecurringHarness(GatewayHarness, Protocol):
    """What the recurring checks need on top of :class:`GatewayHarness`."""

    def charges_at_acquirer(self, method: SavedMethod) -> int:
        """How many times the acquirer took money from ``method`` without the client
        (charges that went through; declined ones do not count)."""
        ...

    def decline_next_charge(self, decline: Decline) -> bool:
        """Make the acquirer decline the next charge of a saved method the way its
        protocol declines for that reason (e.g. ЮKassa ``insufficient_funds`` /
        ``permission_revoked``); False: can't."""
        ...

    def revoke(self, method: SavedMethod) -> bool:
        """Make ``method`` unusable at the acquirer, as when the card expires or the client
        withdraws the permission at the bank; False: can't."""
        ...

    def method_at_acquirer(self, method: SavedMethod) -> bool:
        """Whether the acquirer still holds ``method`` as chargeable."""
        ...


class RecurringHarnessExtras(Protocol):
    """Optional methods of a recurring harness, looked up by name: a check that needs one
    the harness lacks is skipped, naming it."""

    def taken_at_acquirer(self, method: SavedMethod) -> Decimal:
        """The sum the acquirer took from ``method`` by charges (declined ones not), as
        its own books say (not as the adapter reports)."""
        ...


def charge_key(consent: uuid.UUID, period: str) -> tuple[uuid.UUID, str]:
    """The order id and idempotency key of one consent's charge for one period, derived
    from both (as the runner's autopay derives them): the same charge, every time."""
    order = uuid.uuid5(consent, f"autopay:{period}")
    return order, f"autopay-{order.hex}"


#: when the suite's charges were made: fixed, as the runner derives it from the period, so
#: that every retry of one charge books the same :class:`Payment` (the processor refuses an
#: order id booked with another one)
CHARGED_AT = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def charge_basket(order_id: uuid.UUID, amount: Decimal = Decimal("1530.45")) -> Payment:
    """One service's amount due, charged by autopay."""
    line = PaymentLine(INNS[0], "001", amount, service="Электроснабжение")
    return Payment(order_id, CHARGED_AT, PaymentMethod.CARD, [line])


class RecurringConformance(ProcessorFixtures):
    """The recurring family's checks. Subclass it and provide ``gateway_harness`` (a
    :class:`RecurringHarness`); the other fixtures are :class:`ProcessorFixtures`'."""

    customer_key: str = "client-5b1f0c2e"
    #: the protocol keeps the customer the method belongs to (Т-Банк ``CustomerKey``,
    #: Сбербанк ``clientId``): the saved method must carry the key it was saved for
    keeps_customer: bool = True
    #: the acquirer refuses (or declines as gone) a charge naming a method of another
    #: customer (Сбербанк: a binding of another ``clientId``); False where the protocol
    #: charges by the method's handle alone, and the check is skipped saying so
    refuses_foreign_methods: bool = False

    @pytest.fixture
    def gateway(self, gateway_harness: GatewayHarness) -> PaymentGateway:
        if not gateway_harness.gateway.capabilities.recurring:
            pytest.skip("the gateway lacks the capability 'recurring'")
        return gateway_harness.gateway

    # -- helpers -------------------------------------------------------------------------

    def _saved(self, processor: PaymentProcessor, harness: RecurringHarness) -> SavedMethod:
        """A first payment the client agreed to autopay on, paid: the method it saved."""
        entry = processor.start(
            basket(lines=1), return_url=self.return_url, customer_key=self.customer_key
        )
        assert entry.gateway_payment_id is not None
        harness.approve(processor.gateway.get_payment(entry.gateway_payment_id))
        order = entry.order_id
        found: list[SavedMethod] = []

        def learned() -> bool:
            current = processor.refresh(order).entry
            if current.saved_method is None:
                for event in self._events(harness, processor.gateway, order):
                    current = processor.apply(event).entry
            if current.saved_method is not None:
                found.append(current.saved_method)
            return bool(found)

        wait_for(learned, "the acquirer to tell the saved method")
        return found[0]

    @staticmethod
    def _events(
        harness: RecurringHarness, gateway: PaymentGateway, order: uuid.UUID
    ) -> list[GatewayPayment]:
        harness.settle()
        out: list[GatewayPayment] = []
        for request in harness.webhooks():
            out.extend(
                e.payment for e in gateway.parse_webhook(request) if e.payment.order_id == order
            )
        return out

    def _charge(
        self,
        processor: PaymentProcessor,
        method: SavedMethod,
        *,
        consent: uuid.UUID | None = None,
        period: str = "2026-11",
        amount: Decimal = Decimal("1530.45"),
    ) -> PaymentEntry:
        order, key = charge_key(consent or uuid.uuid4(), period)
        return processor.charge_saved(charge_basket(order, amount), method, idempotency_key=key)

    def _final(
        self, processor: PaymentProcessor, harness: RecurringHarness, entry: PaymentEntry
    ) -> PaymentEntry:
        """The charge once the acquirer has decided (by status query and webhooks)."""
        result: list[PaymentEntry] = []

        def decided() -> bool:
            current = processor.refresh(entry.order_id).entry
            if not current.state.is_final:
                for event in self._events(harness, processor.gateway, entry.order_id):
                    current = processor.apply(event).entry
            if current.state.is_final:
                result.append(current)
            return bool(result)

        wait_for(decided, f"the acquirer to decide charge {entry.order_id}")
        return result[0]

    # -- saving a method -----------------------------------------------------------------

    def test_a_paid_first_payment_saves_the_method(
        self, processor: PaymentProcessor, gateway_harness: RecurringHarness
    ) -> None:
        method = self._saved(processor, gateway_harness)
        assert method.gateway == processor.gateway.name
        if self.keeps_customer:
            assert method.customer_key == self.customer_key, (
                "the saved method belongs to the customer it was saved for"
            )
        assert gateway_harness.method_at_acquirer(method)
        assert sum(ch.isdigit() for ch in method.title) <= 4, "no more than 4 card digits"

    def test_no_method_is_saved_without_the_clients_consent(
        self, processor: PaymentProcessor, gateway_harness: RecurringHarness
    ) -> None:
        entry = processor.start(basket(lines=1), return_url=self.return_url)
        assert entry.gateway_payment_id is not None
        gateway_harness.approve(processor.gateway.get_payment(entry.gateway_payment_id))
        entry = processor.refresh(entry.order_id).entry
        events = self._events(gateway_harness, processor.gateway, entry.order_id)
        for event in events:
            entry = processor.apply(event).entry
        assert entry.state is S.SUCCEEDED
        assert entry.saved_method is None, "a payment without consent saved the method"
        assert all(e.saved_method is None for e in events)

    # -- charging ------------------------------------------------------------------------

    def test_a_charge_takes_the_money_without_the_client(
        self, processor: PaymentProcessor, gateway_harness: RecurringHarness, ledger: Ledger
    ) -> None:
        method = self._saved(processor, gateway_harness)
        entry = self._charge(processor, method)
        assert entry.confirmation is None, "a charge without the client asks for no confirmation"
        entry = self._final(processor, gateway_harness, entry)
        assert entry.state is S.SUCCEEDED
        assert ledger.credited(entry.order_id) == [Decimal("1530.45")]
        assert gateway_harness.charges_at_acquirer(method) == 1, "charged more than once"

    def test_a_repeated_charge_charges_once(
        self, processor: PaymentProcessor, gateway_harness: RecurringHarness, ledger: Ledger
    ) -> None:
        method = self._saved(processor, gateway_harness)
        consent = uuid.uuid4()
        first = self._charge(processor, method, consent=consent)
        again = self._charge(processor, method, consent=consent)
        assert again.gateway_payment_id == first.gateway_payment_id
        # another process with a book of its own and the same key: still one charge
        other = self.make_processor(processor.gateway, Ledger())
        third = self._charge(other, method, consent=consent)
        assert third.gateway_payment_id == first.gateway_payment_id, "charged more than once"
        self._final(processor, gateway_harness, first)
        gateway_harness.settle()
        assert gateway_harness.charges_at_acquirer(method) == 1, "charged more than once"
        assert ledger.credited(first.order_id) == [Decimal("1530.45")]

    def test_a_lost_answer_is_retried_into_one_charge(
        self, processor: PaymentProcessor, gateway_harness: RecurringHarness
    ) -> None:
        method = self._saved(processor, gateway_harness)
        if not gateway_harness.lose_next_answer():
            pytest.skip("the harness cannot lose an answer")
        entry = self._final(processor, gateway_harness, self._charge(processor, method))
        assert entry.state is S.SUCCEEDED
        assert gateway_harness.charges_at_acquirer(method) == 1, "charged more than once"

    def test_a_timed_out_charge_is_looked_up_not_repeated(
        self, processor: PaymentProcessor, gateway_harness: RecurringHarness
    ) -> None:
        method = self._saved(processor, gateway_harness)
        if not gateway_harness.time_out_next_answer():
            pytest.skip("the harness cannot time out an answer")
        entry = self._final(processor, gateway_harness, self._charge(processor, method))
        assert entry.state is S.SUCCEEDED
        gateway_harness.settle()
        assert gateway_harness.charges_at_acquirer(method) == 1, "charged more than once"

    def test_two_periods_are_two_charges(
        self, processor: PaymentProcessor, gateway_harness: RecurringHarness
    ) -> None:
        method = self._saved(processor, gateway_harness)
        consent = uuid.uuid4()
        for period in ("2026-11", "2026-12"):
            entry = self._charge(processor, method, consent=consent, period=period)
            assert self._final(processor, gateway_harness, entry).state is S.SUCCEEDED
        assert gateway_harness.charges_at_acquirer(method) == 2

    # -- declines ------------------------------------------------------------------------

    def test_a_declined_charge_fails_with_its_reason(
        self, processor: PaymentProcessor, gateway_harness: RecurringHarness, ledger: Ledger
    ) -> None:
        method = self._saved(processor, gateway_harness)
        if not gateway_harness.decline_next_charge(Decline.FUNDS):
            pytest.skip("the harness cannot decline a charge")
        entry = self._final(processor, gateway_harness, self._charge(processor, method))
        assert entry.state is S.FAILED, "a declined charge is not a payment"
        assert entry.decline is Decline.FUNDS
        assert entry.decline_code, "the acquirer's own code is kept for the operator"
        assert ledger.credited(entry.order_id) == []
        assert gateway_harness.charges_at_acquirer(method) == 0
        # the method still works: the next attempt (a new key) goes through
        retry = self._charge(processor, method, period="2026-11-retry-1")
        assert self._final(processor, gateway_harness, retry).state is S.SUCCEEDED

    def test_a_declined_charge_stays_declined_under_its_key(
        self, processor: PaymentProcessor, gateway_harness: RecurringHarness, ledger: Ledger
    ) -> None:
        method = self._saved(processor, gateway_harness)
        if not gateway_harness.decline_next_charge(Decline.FUNDS):
            pytest.skip("the harness cannot decline a charge")
        consent = uuid.uuid4()
        declined = self._final(
            processor, gateway_harness, self._charge(processor, method, consent=consent)
        )
        assert declined.state is S.FAILED
        # another process, with a book of its own, asks for the same charge (same consent and
        # period): the acquirer's answer is the declined charge, not a fresh attempt; a
        # retry after a decline is a new attempt, with a key of its own
        other = self.make_processor(processor.gateway, Ledger())
        again = self._final(other, gateway_harness, self._charge(other, method, consent=consent))
        assert again.gateway_payment_id == declined.gateway_payment_id, (
            "a declined charge was attempted again under its key"
        )
        assert again.state is S.FAILED
        gateway_harness.settle()
        assert gateway_harness.charges_at_acquirer(method) == 0, "charged after a decline"
        assert ledger.credited(declined.order_id) == []

    def test_a_revoked_method_is_gone_not_charged(
        self, processor: PaymentProcessor, gateway_harness: RecurringHarness, ledger: Ledger
    ) -> None:
        method = self._saved(processor, gateway_harness)
        if not gateway_harness.revoke(method):
            pytest.skip("the harness cannot revoke a method")
        self._assert_not_chargeable(processor, gateway_harness, ledger, method)

    def test_an_unknown_method_is_not_charged(
        self, processor: PaymentProcessor, gateway_harness: RecurringHarness, ledger: Ledger
    ) -> None:
        method = self._saved(processor, gateway_harness)
        bogus = SavedMethod(
            method.gateway,
            _other_id(method.method_id),
            method.customer_key,
            method.title,
        )
        self._assert_not_chargeable(processor, gateway_harness, ledger, bogus)
        assert gateway_harness.charges_at_acquirer(method) == 0

    def test_another_customers_method_is_not_charged(
        self, processor: PaymentProcessor, gateway_harness: RecurringHarness, ledger: Ledger
    ) -> None:
        if not (self.keeps_customer and self.refuses_foreign_methods):
            pytest.skip("the protocol does not tie a charge to the method's customer")
        method = self._saved(processor, gateway_harness)
        foreign = SavedMethod(
            method.gateway, method.method_id, _other_id(method.customer_key), method.title
        )
        self._assert_not_chargeable(processor, gateway_harness, ledger, foreign)
        assert gateway_harness.charges_at_acquirer(method) == 0, (
            "a method was charged for another customer's bill"
        )
        assert gateway_harness.method_at_acquirer(method), "the owner's method stays"

    def test_the_acquirer_takes_the_baskets_total(
        self, processor: PaymentProcessor, gateway_harness: RecurringHarness, ledger: Ledger
    ) -> None:
        method = self._saved(processor, gateway_harness)
        taken = getattr(gateway_harness, "taken_at_acquirer", None)
        if taken is None:
            pytest.skip("the harness lacks RecurringHarnessExtras.taken_at_acquirer")
        total = Decimal("987.65")  # kopecks that a rounding or a float would lose
        entry = self._final(
            processor, gateway_harness, self._charge(processor, method, amount=total)
        )
        assert entry.state is S.SUCCEEDED
        assert taken(method) == total, "the acquirer took another sum than the basket's"
        assert ledger.credited(entry.order_id) == [total]

    def test_a_charges_webhooks_duplicated_and_replayed_credit_once(
        self, processor: PaymentProcessor, gateway_harness: RecurringHarness, ledger: Ledger
    ) -> None:
        method = self._saved(processor, gateway_harness)
        entry = self._final(processor, gateway_harness, self._charge(processor, method))
        gateway_harness.settle()
        gateway = processor.gateway
        told = [
            request
            for request in gateway_harness.webhooks()
            if any(e.payment.order_id == entry.order_id for e in gateway.parse_webhook(request))
        ]
        assert told, "the acquirer told of the charge by a notification"
        # each delivered twice, then all again in reverse (a late replay), verified as any
        for request in [r for r in told for _ in range(2)] + told[::-1]:
            processor.handle_webhook(request)
        assert ledger.credited(entry.order_id) == [Decimal("1530.45")]
        assert gateway_harness.charges_at_acquirer(method) == 1, "charged more than once"

    def _assert_not_chargeable(
        self,
        processor: PaymentProcessor,
        harness: RecurringHarness,
        ledger: Ledger,
        method: SavedMethod,
    ) -> None:
        order, key = charge_key(uuid.uuid4(), "2026-11")
        try:
            entry = processor.charge_saved(charge_basket(order), method, idempotency_key=key)
        except GatewayRefused:
            entry = processor.store.get(order)  # type: ignore[assignment]
            assert entry is not None and entry.state is S.FAILED
        else:
            entry = self._final(processor, harness, entry)
            assert entry.state is S.FAILED, "a method that cannot be charged was charged"
            assert entry.decline is Decline.METHOD_GONE, (
                f"an unusable method must read as gone, not {entry.decline}"
            )
        assert ledger.credited(order) == []

    # -- unbinding -----------------------------------------------------------------------

    def test_forgetting_a_method(
        self, processor: PaymentProcessor, gateway_harness: RecurringHarness, ledger: Ledger
    ) -> None:
        method = self._saved(processor, gateway_harness)
        if not processor.gateway.capabilities.unbind:
            assert processor.gateway.forget_method(method) is False
            assert gateway_harness.method_at_acquirer(method), "nothing was asked of it"
            return
        assert processor.gateway.forget_method(method) is True
        assert not gateway_harness.method_at_acquirer(method), "the acquirer still holds it"
        assert processor.gateway.forget_method(method) is True, "forgetting is idempotent"
        self._assert_not_chargeable(processor, gateway_harness, ledger, method)


def _other_id(known: str) -> str:
    """A well-formed id the acquirer never issued: the last digit or letter moved on."""
    for i in range(len(known) - 1, -1, -1):
        ch = known[i]
        if ch.isdigit():
            return known[:i] + str((int(ch) + 1) % 10) + known[i + 1 :]
        if ch.isalpha() and ch.isascii():
            nxt = "a" if ch == "z" else "A" if ch == "Z" else chr(ord(ch) + 1)
            return known[:i] + nxt + known[i + 1 :]
    return known + "0"
