"""Conformance checks of the **gateway** family: payment gateway adapters.

An adapter author activates the plugin and subclasses :class:`GatewayConformance`, giving it
a ``gateway_harness`` fixture: a running gateway plus a way to drive the acquirer's side
(any object with the methods of :class:`GatewayHarness`)::

    # conftest.py
    pytest_plugins = ["pes_sdk_conformance.plugin"]

    # test_conformance.py
    from pes_sdk_conformance.gateways import GatewayConformance

    class TestMyGateway(GatewayConformance):
        @pytest.fixture
        def gateway_harness(self):
            with MyHarness() as harness:   # e.g. the adapter's protocol simulator on loopback
                yield harness

The checks go through :class:`~pes_sdk.gateways.processor.PaymentProcessor`, as a service
does: state machine, idempotent create (also after a lost answer and after a timeout, counted
once the stalled first call has done its work), a timeout measured on a stalled call, an
unknown payment id, a lookup by order id from a gateway that created nothing, cancelling,
the confirmation's kind and the capture time (``paid_at``), webhook authenticity (tampered,
stale, malformed, naming a payment the acquirer or the book does not know), stable event
ids, duplicate and out-of-order events, full and per-line refunds with an id of their own,
a refund the acquirer refuses, the 54-ФЗ receipt (and a partial refund's) and the
description as the acquirer holds them. The gateway's
:class:`~pes_sdk.gateways.models.GatewayCapabilities` gate the checks it cannot take (skipped
with the capability's name); a harness that cannot inject a fault returns False (or lacks
the optional method, see :class:`GatewayHarnessExtras`) and the check is skipped, saying so.
"""

from __future__ import annotations

import datetime as dt
import string
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, Protocol

import attrs
import pytest

from pes_sdk.gateways import (
    ConfirmationKind,
    CreateOptions,
    GatewayPayment,
    GatewayRefused,
    GatewayTimeout,
    GatewayUnavailable,
    IllegalTransition,
    InvalidRefund,
    Outcome,
    PaymentEntry,
    PaymentGateway,
    PaymentProcessor,
    PaymentState,
    RefundRequest,
    RetryPolicy,
    UnknownPayment,
    WebhookRejected,
    WebhookRequest,
    can_move,
    check_move,
    new_idempotency_key,
)
from pes_sdk.gateways.simulation import AcquirerPosition, AcquirerReceipt
from pes_sdk.gateways.state import TRANSITIONS
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.models.receipts import Receipt, ReceiptVat, Supplier
from pes_sdk.money import ZERO

__all__ = [
    "AcquirerPosition",
    "AcquirerReceipt",
    "GatewayConformance",
    "GatewayHarness",
    "GatewayHarnessExtras",
    "Ledger",
    "ProcessorFixtures",
]

S = PaymentState
INNS = ("7707083893", "7736050003", "500100732259")


class GatewayHarness(Protocol):
    """What the suite needs from the author: a gateway and the acquirer's side of it."""

    @property
    def gateway(self) -> PaymentGateway:
        """The adapter under test, configured against the (simulated) acquirer."""
        ...

    def approve(self, payment: GatewayPayment) -> None:
        """The client confirms and pays (e.g. the confirmation page's pay button)."""
        ...

    def decline(self, payment: GatewayPayment) -> None:
        """The payment is declined."""
        ...

    def webhooks(self) -> list[WebhookRequest]:
        """Every notification the acquirer has sent so far, as received, in arrival order."""
        ...

    def settle(self) -> None:
        """Return once the acquirer has sent every notification it is going to send."""
        ...

    def payments_at_acquirer(self, order_id: uuid.UUID) -> int:
        """How many payments the acquirer holds for our order id."""
        ...

    def lose_next_answer(self) -> bool:
        """Make the next API call do its work but lose its answer (a 5xx); False: can't."""
        ...

    def time_out_next_answer(self) -> bool:
        """Make the next API call answer after the gateway's timeout; False: can't."""
        ...


class GatewayHarnessExtras(Protocol):
    """Optional capabilities of a harness, looked up by name.

    A harness without one of them still runs: the checks that need it are skipped, naming
    the method. Every first-party gateway's harness has them all
    (:class:`pes_sdk.gateways.simulation.SimulatorHarness` gives them to a simulator built
    on :class:`~pes_sdk.gateways.simulation.LoopbackSimulator`).
    """

    def stall_next_answer(self, seconds: float) -> bool:
        """Make the next API call wait ``seconds`` at the acquirer before it does its work
        and answers (whatever the client does meanwhile); False: can't."""
        ...

    def finish_stalled_calls(self) -> None:
        """End every stall now; return once each stalled call has done its work at the
        acquirer (its answer goes nowhere: the client gave up on it)."""
        ...

    def refuse_next_refund(self) -> bool:
        """Make the acquirer refuse the next refund, giving nothing back, the way its
        protocol refuses one (an error answer, or a refund object that ends canceled);
        False: can't."""
        ...

    def fresh_gateway(self) -> PaymentGateway | None:
        """A second gateway configured as ``gateway`` is, sharing no memory with it (as
        after a restart); the harness closes it. None: can't."""
        ...

    def pend_next_refund(self) -> bool:
        """Make the acquirer answer the next refund as still in progress (e.g. ЮKassa's
        ``pending`` refund) and keep it so, also when read again; False: can't."""
        ...

    def finish_pending_refunds(self) -> None:
        """Make every refund the acquirer holds in progress go through now."""
        ...

    def receipt_at_acquirer(
        self, gateway_payment_id: str, refund_id: str | None = None
    ) -> AcquirerReceipt | None:
        """The 54-ФЗ receipt the acquirer holds for the payment (or for its refund
        ``refund_id``), translated back from its protocol into neutral terms: each
        position's name, sum, VAT rate and agent sign by name, the supplier's ИНН, name and
        phones, the buyer's contact. None: the acquirer holds no receipt for it."""
        ...

    def description_at_acquirer(self, gateway_payment_id: str) -> str | None:
        """The payment's description as the acquirer holds it (None: it keeps none)."""
        ...


@attrs.define
class Ledger:
    """The suite's credit ledger: what the processor credited and refunded, per order."""

    credits: list[tuple[uuid.UUID, Decimal]] = attrs.Factory(list)
    refunds: list[tuple[uuid.UUID, Decimal]] = attrs.Factory(list)

    def credit(self, entry: PaymentEntry) -> None:
        self.credits.append((entry.order_id, entry.payment.total))

    def refund(self, entry: PaymentEntry, value: Decimal) -> None:
        self.refunds.append((entry.order_id, value))

    def credited(self, order_id: uuid.UUID) -> list[Decimal]:
        return [v for o, v in self.credits if o == order_id]

    def refunded(self, order_id: uuid.UUID) -> Decimal:
        return sum((v for o, v in self.refunds if o == order_id), ZERO)


def basket(method: PaymentMethod = PaymentMethod.CARD, lines: int = 2) -> Payment:
    """A basket of ``lines`` services at different partners, the first with a client fee."""
    items: list[PaymentLine] = [
        PaymentLine(
            INNS[i % len(INNS)],
            f"00{i + 1}",
            Decimal("100.00") + i * Decimal("25.50"),
            service="Электроснабжение",
            client_fee=Decimal("1.50") if i == 0 else ZERO,
        )
        for i in range(lines)
    ]
    return Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), method, items)


#: the suppliers of :data:`INNS` as receipts name them: a rate each (the fee has another),
#: rates every first-party acquirer has a code for
RECEIPT_SUPPLIERS = {
    INNS[0]: Supplier(INNS[0], "ООО «УК Домовой»", ("+74951234567",), ReceiptVat.NONE),
    INNS[1]: Supplier(
        INNS[1], "АО «Энергосбыт»", ("+74957654321", "+78001002030"), ReceiptVat.VAT10
    ),
    INNS[2]: Supplier(INNS[2], "ИП Водников Пётр Ильич", (), ReceiptVat.VAT0),
}
RECEIPT_FEE_VAT = ReceiptVat.VAT20
RECEIPT_EMAIL = "ivan.petrov@example.ru"
RECEIPT_PHONE = "+79161234567"


def receipt_basket(fee: Decimal = Decimal("0.75")) -> tuple[Payment, Receipt]:
    """Three services at three partners, sums with kopecks, a client ``fee`` (under a
    rouble) on the first; and its receipt (:meth:`Receipt.for_payment`) with the buyer's
    e-mail and phone."""
    items = [
        PaymentLine(
            INNS[0],
            "001",
            Decimal("100.37"),
            service="Содержание жилья",
            client_fee=fee,
        ),
        PaymentLine(INNS[1], "002", Decimal("125.55"), service="Электроснабжение"),
        PaymentLine(INNS[2], "003", Decimal("151.09"), service="Холодное водоснабжение"),
    ]
    payment = Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), PaymentMethod.CARD, items)
    receipt = Receipt.for_payment(
        payment,
        RECEIPT_SUPPLIERS,
        fee_vat=RECEIPT_FEE_VAT,
        customer_email=RECEIPT_EMAIL,
        customer_phone=RECEIPT_PHONE,
    )
    return payment, receipt


def compare_receipts(held: AcquirerReceipt | None, sent: Receipt, total: Decimal) -> None:
    """Fail unless the acquirer holds ``sent``: one position per position sent (by name),
    each sum to the kopeck, its VAT rate, agent sign and supplier, summing to ``total``,
    and the buyer's contact."""
    assert held is not None, "the acquirer holds no receipt"
    names = [p.name for p in held.positions]
    assert len(held.positions) == len(sent.positions), (
        f"the acquirer holds {len(held.positions)} positions {names}, "
        f"{len(sent.positions)} were sent (one per line, and the fee)"
    )
    for position in sent.positions:
        found = [p for p in held.positions if p.name == position.name]
        assert len(found) == 1, f"no single position {position.name!r} at the acquirer: {names}"
        got = found[0]
        what = f"the position {position.name!r}"
        assert got.amount == position.amount * position.quantity, (
            f"{what} holds {got.amount}, {position.amount * position.quantity} was sent"
        )
        assert got.vat == position.vat, f"{what} has the VAT rate {got.vat}, not {position.vat}"
        assert got.agent == position.agent, (
            f"{what} has the agent sign {got.agent}, not {position.agent}"
        )
        supplier = position.supplier
        if supplier is None:
            assert got.supplier_inn is None, f"{what} (the fee) names a supplier"
            continue
        assert got.supplier_inn == supplier.inn, (
            f"{what} names the supplier ИНН {got.supplier_inn}, not {supplier.inn}"
        )
        assert got.supplier_name == supplier.name, (
            f"{what} names the supplier {got.supplier_name!r}, not {supplier.name!r}"
        )
        if supplier.phones:
            assert supplier.phones[0] in got.supplier_phones, (
                f"{what}: the supplier's phone {supplier.phones[0]} is not at the acquirer"
            )
    held_total = sum((p.amount for p in held.positions), ZERO)
    assert held_total == total, f"the positions sum to {held_total}, not {total}"
    assert held.customer_email == sent.customer_email, "the buyer's e-mail did not arrive"
    assert held.customer_phone == sent.customer_phone, "the buyer's phone did not arrive"


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds; a failure naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.01)


class ProcessorFixtures:
    """The fixtures the payment suites share (:class:`GatewayConformance`, and
    :class:`~pes_sdk_conformance.recurring.RecurringConformance`): the author's harness, its
    gateway, a ledger of credits and refunds, and a processor over both, as a service has.

    Not a suite of its own: it holds no checks. A suite that needs more of the gateway
    (a capability) overrides :meth:`gateway` and skips there.
    """

    #: the replay window the processor enforces in these checks
    replay_window: dt.timedelta = dt.timedelta(minutes=5)
    return_url: str = "https://service.example/return"

    @pytest.fixture
    def gateway_harness(self) -> Any:
        """Override: yield a harness (a :class:`GatewayHarness`; for the recurring family, a
        :class:`~pes_sdk_conformance.recurring.RecurringHarness`)."""
        pytest.fail(f"override the gateway_harness fixture in {type(self).__name__}")

    @pytest.fixture
    def gateway(self, gateway_harness: GatewayHarness) -> PaymentGateway:
        return gateway_harness.gateway

    @pytest.fixture
    def ledger(self) -> Ledger:
        return Ledger()

    @pytest.fixture
    def processor(self, gateway: PaymentGateway, ledger: Ledger) -> PaymentProcessor:
        return self.make_processor(gateway, ledger)

    def make_processor(self, gateway: PaymentGateway, ledger: Ledger) -> PaymentProcessor:
        """The processor the checks use: quick retries, the ledger's callbacks."""
        return PaymentProcessor(
            gateway,
            retry=RetryPolicy(attempts=4, initial_wait=0.01, max_wait=0.05),
            replay_window=self.replay_window,
            on_credit=ledger.credit,
            on_refund=ledger.refund,
        )


class GatewayConformance(ProcessorFixtures):
    """The gateway family's checks. Subclass it and provide ``gateway_harness``."""

    #: the protocol tells when the money was captured (ЮKassa ``captured_at``, Сбербанк
    #: ``depositedDate``): a paid snapshot must carry it as ``paid_at``. Set it to False
    #: for a protocol that tells no such time (Т-Банк): the processor then takes the moment
    #: it learned of the payment.
    reports_paid_at: bool = True
    #: payments created after the one find_payment looks for: a lookup that lists recent
    #: payments page by page must find it past the first page (scale the page size down
    #: in the harness, as ЮKassa's runs do)
    lookup_crowd: int = 12

    # -- helpers -------------------------------------------------------------------------

    def _require(self, gateway: PaymentGateway, capability: str) -> None:
        if not getattr(gateway.capabilities, capability):
            pytest.skip(f"the gateway lacks the capability {capability!r}")

    def _paid(
        self, processor: PaymentProcessor, harness: GatewayHarness, lines: int = 2
    ) -> PaymentEntry:
        entry = processor.start(basket(lines=lines), return_url=self.return_url)
        harness.approve(self._snapshot(processor, entry))
        entry = processor.refresh(entry.order_id).entry
        assert entry.state is S.SUCCEEDED, "an approved payment must read as succeeded"
        return entry

    @staticmethod
    def _extra(harness: GatewayHarness, name: str) -> Any:
        """The optional harness method ``name`` (see :class:`GatewayHarnessExtras`), or a
        skip saying the harness lacks it."""
        method = getattr(harness, name, None)
        if method is None:
            pytest.skip(f"the harness has no {name}() (see GatewayHarnessExtras)")
        return method

    def unknown_payment_id(self, known: str) -> str:
        """An id of the acquirer's shape that it never issued, made from a real one.

        The default changes the last character of ``known`` within its kind (a digit, a hex
        letter, a letter), so that the acquirer sees a well-formed id it does not know
        rather than one it cannot parse. Override it for ids with a check digit.
        """
        kinds = ("0123456789", "abcdef", "ABCDEF", string.ascii_lowercase, string.ascii_uppercase)
        for i in range(len(known) - 1, -1, -1):
            for kind in kinds:
                if known[i] in kind:
                    swapped = kind[(kind.index(known[i]) + 1) % len(kind)]
                    return known[:i] + swapped + known[i + 1 :]
        return known + "0"

    @staticmethod
    def _snapshot(processor: PaymentProcessor, entry: PaymentEntry) -> GatewayPayment:
        assert entry.gateway_payment_id is not None
        return processor.gateway.get_payment(entry.gateway_payment_id)

    @staticmethod
    def _webhooks_about(
        harness: GatewayHarness, gateway: PaymentGateway, order_id: uuid.UUID
    ) -> Iterator[tuple[WebhookRequest, GatewayPayment]]:
        harness.settle()
        for request in harness.webhooks():
            for event in gateway.parse_webhook(request):
                if event.payment.order_id == order_id:
                    yield request, event.payment

    def _webhook_reaching(
        self,
        harness: GatewayHarness,
        gateway: PaymentGateway,
        order_id: uuid.UUID,
        state: PaymentState,
    ) -> WebhookRequest:
        found: list[WebhookRequest] = []

        def seen() -> bool:
            found[:] = [
                r for r, p in self._webhooks_about(harness, gateway, order_id) if p.state is state
            ]
            return bool(found)

        wait_for(seen, f"a webhook saying {state} for order {order_id}")
        return found[0]

    # -- receipts and description --------------------------------------------------------

    def _receipt_payment(
        self, gateway: PaymentGateway, fee: Decimal = Decimal("0.75"), **options: Any
    ) -> tuple[Payment, Receipt, GatewayPayment]:
        payment, receipt = receipt_basket(fee)
        created = gateway.create_payment(
            payment,
            CreateOptions(new_idempotency_key(), self.return_url, receipt=receipt, **options),
        )
        return payment, receipt, created

    def test_receipt_reaches_the_acquirer(
        self, gateway: PaymentGateway, gateway_harness: GatewayHarness
    ) -> None:
        """``CreateOptions.receipt`` reaches the acquirer whole: one position per line and
        one for the client's fee, each sum to the kopeck (summing to the payment's total),
        the agent sign and the supplier's ИНН, name and phone on each line's position, each
        position's VAT rate, the buyer's e-mail and phone."""
        self._require(gateway, "receipts")
        held_by = self._extra(gateway_harness, "receipt_at_acquirer")
        payment, receipt, created = self._receipt_payment(gateway)
        compare_receipts(held_by(created.gateway_payment_id), receipt, payment.total)

    @pytest.mark.parametrize("fee", [Decimal("0.75"), ZERO], ids=["with-fee", "no-fee"])
    def test_refund_receipt_reaches_the_acquirer(
        self, gateway: PaymentGateway, gateway_harness: GatewayHarness, fee: Decimal
    ) -> None:
        """A partial refund's receipt: the refunded part of each line's position (its agent
        sign and supplier) and the fee given back as the fee position, summing to the
        refund, to the payment's buyer. A line refunded whole gives back its fee too; a
        basket without a fee has no fee position to give back."""
        self._require(gateway, "refund_receipts")
        held_by = self._extra(gateway_harness, "receipt_at_acquirer")
        payment, receipt, created = self._receipt_payment(gateway, fee)
        gateway_harness.approve(created)
        gid = created.gateway_payment_id

        def paid() -> bool:
            return gateway.get_payment(gid).state is S.SUCCEEDED

        wait_for(paid, "the payment to be paid")
        first = payment.lines[0]
        request = RefundRequest.for_lines(
            payment, gid, {0: first.amount + first.client_fee, 1: Decimal("10.01")}
        )
        result = gateway.refund(request, new_idempotency_key())
        positions = list(receipt.positions)
        back = [
            attrs.evolve(positions[0], amount=first.amount),
            attrs.evolve(positions[1], amount=Decimal("10.01")),
        ]
        if first.client_fee:
            back.append(attrs.evolve(positions[-1], amount=first.client_fee))
        expected = Receipt(
            back, customer_email=receipt.customer_email, customer_phone=receipt.customer_phone
        )
        compare_receipts(held_by(gid, result.refund_id), expected, request.amount)

    def test_description_reaches_the_acquirer(
        self, gateway: PaymentGateway, gateway_harness: GatewayHarness
    ) -> None:
        """``CreateOptions.description`` (short enough for every acquirer) reaches it as is."""
        held_by = self._extra(gateway_harness, "description_at_acquirer")
        description = "Оплата ЖКУ: лицевые счета 001, 002, 003"
        _, _, created = self._receipt_payment(gateway, description=description)
        held = held_by(created.gateway_payment_id)
        if held is None:
            pytest.skip("the acquirer keeps no description (description_at_acquirer)")
        assert held == description, f"the acquirer holds the description {held!r}"

    # -- the state machine ---------------------------------------------------------------

    def test_state_machine_moves(self) -> None:
        """The documented moves are legal, every other direct move is refused, typed."""
        legal = {
            (S.CREATED, S.PENDING),
            (S.PENDING, S.SUCCEEDED),
            (S.PENDING, S.FAILED),
            (S.PENDING, S.CANCELLED),
            (S.SUCCEEDED, S.PARTIALLY_REFUNDED),
            (S.SUCCEEDED, S.REFUNDED),
            (S.PARTIALLY_REFUNDED, S.REFUNDED),
        }
        for a in S:
            for b in S:
                if (a, b) in legal:
                    assert can_move(a, b), f"{a} → {b} must be legal"
                    check_move(a, b)
                elif b not in TRANSITIONS[a]:
                    with pytest.raises(IllegalTransition):
                        check_move(a, b)
        for final in (S.FAILED, S.CANCELLED, S.REFUNDED):
            assert not TRANSITIONS[final], f"{final} is final"

    def test_illegal_move_is_refused(
        self, processor: PaymentProcessor, gateway_harness: GatewayHarness, ledger: Ledger
    ) -> None:
        """A declined payment never becomes paid, whatever a snapshot claims."""
        entry = processor.start(basket(), return_url=self.return_url)
        snapshot = self._snapshot(processor, entry)
        gateway_harness.decline(snapshot)
        assert processor.refresh(entry.order_id).entry.state is S.FAILED
        with pytest.raises(IllegalTransition):
            processor.apply(attrs.evolve(snapshot, state=S.SUCCEEDED))
        assert processor.entry(entry.order_id).state is S.FAILED
        assert not ledger.credits

    # -- create --------------------------------------------------------------------------

    def test_every_call_has_a_timeout(self, gateway: PaymentGateway) -> None:
        """The gateway declares a finite, positive timeout for its calls."""
        assert 0 < gateway.timeout < 600

    #: the longest gateway timeout the stalled-call check waits out (scale it down in the
    #: harness: the first-party harnesses use 0.5 s)
    longest_timed_timeout: float = 5.0

    def test_a_stalled_call_ends_in_a_timeout(
        self, gateway: PaymentGateway, gateway_harness: GatewayHarness
    ) -> None:
        """A call the acquirer stalls ends with GatewayTimeout after the declared timeout.

        The acquirer stalls each call for three times the timeout plus a second; the call
        must give up with :class:`GatewayTimeout` before half of the stall beyond the
        timeout has passed, so the margin is wide (a loaded machine does not fail it) and a
        socket without a timeout (or a longer one) cannot pass.
        """
        stall_next = self._extra(gateway_harness, "stall_next_answer")
        finish = getattr(gateway_harness, "finish_stalled_calls", None)
        timeout = float(gateway.timeout)
        if timeout > self.longest_timed_timeout:
            pytest.skip(
                f"the harness's gateway times out after {timeout}s: scale it down to at most "
                f"{self.longest_timed_timeout}s to time a stalled call"
            )
        payment = basket()
        created = gateway.create_payment(
            payment, CreateOptions(new_idempotency_key(), self.return_url)
        )
        other = basket()
        calls: list[tuple[str, Callable[[], object]]] = [
            (
                "create_payment",
                lambda: gateway.create_payment(
                    other, CreateOptions(new_idempotency_key(), self.return_url)
                ),
            ),
            ("get_payment", lambda: gateway.get_payment(created.gateway_payment_id)),
        ]
        if gateway.capabilities.lookup_by_order:
            calls.append(
                ("find_payment", lambda: gateway.find_payment(payment.payment_id, "k" * 32))
            )
        stall = 3 * timeout + 1.0
        limit = timeout + (stall - timeout) / 2
        for name, call in calls:
            if not stall_next(stall):
                pytest.skip("the harness cannot stall an answer")
            began = time.monotonic()
            try:
                call()
            except GatewayTimeout:
                took = time.monotonic() - began
            except Exception as exc:
                pytest.fail(
                    f"{name} of a stalled call raised {type(exc).__name__}, not GatewayTimeout"
                )
            else:
                took = time.monotonic() - began
                pytest.fail(
                    f"{name} answered after {took:.2f}s although the acquirer stalled it "
                    f"{stall:.1f}s: no timeout of {timeout}s on the call"
                )
            finally:
                if finish is not None:
                    finish()  # the stall ends now: no waiting out the rest of it
            assert took < limit, (
                f"{name} gave up after {took:.2f}s, beyond its declared timeout of {timeout}s"
            )

    @pytest.mark.parametrize("method", list(PaymentMethod), ids=str)
    def test_create_gives_a_confirmation(
        self, processor: PaymentProcessor, gateway: PaymentGateway, method: PaymentMethod
    ) -> None:
        """A new payment is pending for the basket's total, with something to show."""
        if method not in gateway.capabilities.methods:
            pytest.skip(f"the gateway does not offer {method}")
        payment = basket(method)
        entry = processor.start(payment, return_url=self.return_url)
        assert entry.state is S.PENDING
        assert entry.confirmation is not None
        if method is PaymentMethod.SBP:
            assert entry.confirmation.kind is ConfirmationKind.QR, "СБП is paid by a QR code"
            assert entry.confirmation.qr_payload, "СБП needs the acquirer's QR payload"
        else:
            assert entry.confirmation.kind is ConfirmationKind.REDIRECT, (
                f"{method} is paid on the acquirer's page: a redirect"
            )
            assert entry.confirmation.url
            assert entry.confirmation.url.startswith(("https://", "http://"))
        status = self._snapshot(processor, entry)
        assert (status.gateway, status.order_id, status.amount, status.state) == (
            gateway.name,
            payment.payment_id,
            payment.total,
            S.PENDING,
        ), "the snapshot names another gateway, order, amount or state"
        # the method is optional (None: the acquirer does not say), never another one
        assert status.method in (None, method), f"a {method} payment reads as {status.method}"
        assert status.paid_at is None, "an unpaid payment has no capture time"

    def test_create_is_idempotent(
        self, gateway: PaymentGateway, gateway_harness: GatewayHarness
    ) -> None:
        """The same key twice gives the same acquirer payment: nothing is created twice."""
        payment = basket()
        options = CreateOptions(new_idempotency_key(), self.return_url)
        first = gateway.create_payment(payment, options)
        second = gateway.create_payment(payment, options)
        assert first.gateway_payment_id == second.gateway_payment_id
        assert gateway_harness.payments_at_acquirer(payment.payment_id) == 1

    def test_lost_answer_is_retried_with_the_same_key(
        self, processor: PaymentProcessor, gateway_harness: GatewayHarness
    ) -> None:
        """A create whose answer was lost (5xx after the work) is retried: one payment."""
        if not gateway_harness.lose_next_answer():
            pytest.skip("the harness cannot lose an answer")
        payment = basket()
        entry = processor.start(payment, return_url=self.return_url)
        assert entry.state is S.PENDING
        assert gateway_harness.payments_at_acquirer(payment.payment_id) == 1

    def test_timeout_asks_for_the_status_first(
        self, processor: PaymentProcessor, gateway_harness: GatewayHarness
    ) -> None:
        """After a timed-out create, the payment is found, not created a second time.

        The acquirer is counted once the stalled first call has done its work too: a retry
        under a new key makes its own payment at once, the stalled one a second, later.
        """
        if not gateway_harness.time_out_next_answer():
            pytest.skip("the harness cannot make an answer time out")
        payment = basket()
        entry = processor.start(payment, return_url=self.return_url)
        assert entry.state is S.PENDING
        assert gateway_harness.payments_at_acquirer(payment.payment_id) == 1
        self._extra(gateway_harness, "finish_stalled_calls")()
        assert gateway_harness.payments_at_acquirer(payment.payment_id) == 1, (
            "the stalled first create made a second payment: the retry used another key"
        )
        assert processor.refresh(entry.order_id).entry.gateway_payment_id == (
            entry.gateway_payment_id
        )

    # -- status, lookup, cancel ----------------------------------------------------------

    def test_unknown_payment_id_raises_unknown_payment(
        self, gateway: PaymentGateway, gateway_harness: GatewayHarness
    ) -> None:
        """get_payment of an id the acquirer never issued raises UnknownPayment.

        Not None, not the protocol's raw error: the processor and the service tell "no such
        payment" (never retried, never credited) from "ask again later" by that type.
        """
        payment = basket()
        known = gateway.create_payment(
            payment, CreateOptions(new_idempotency_key(), self.return_url)
        ).gateway_payment_id
        unknown = self.unknown_payment_id(known)
        assert unknown != known, "unknown_payment_id() returned the known id"
        try:
            answer = gateway.get_payment(unknown)
        except UnknownPayment:
            pass
        except Exception as exc:
            pytest.fail(f"get_payment({unknown!r}) raised {type(exc).__name__}, not UnknownPayment")
        else:
            pytest.fail(f"get_payment({unknown!r}) answered {answer!r}, not UnknownPayment")
        assert gateway.get_payment(known).order_id == payment.payment_id

    def test_find_payment_by_order_id(
        self,
        processor: PaymentProcessor,
        gateway: PaymentGateway,
        gateway_harness: GatewayHarness,
    ) -> None:
        """find_payment finds a payment by our order id alone, from a gateway that did not
        create it (as after a restart), and answers None for an order never created.

        :attr:`lookup_crowd` payments are created after the one looked up, so that a lookup
        that lists recent payments must read past its first page."""
        self._require(gateway, "lookup_by_order")
        assert gateway.find_payment(uuid.uuid4(), new_idempotency_key()) is None
        entry = processor.start(basket(), return_url=self.return_url)
        for _ in range(self.lookup_crowd):
            gateway.create_payment(basket(), CreateOptions(new_idempotency_key(), self.return_url))
        fresh = self._extra(gateway_harness, "fresh_gateway")()
        if fresh is None:
            pytest.skip("the harness cannot make a second gateway")
        expected = (entry.gateway_payment_id, entry.order_id, entry.payment.total)
        for who, lookup in (("the gateway", gateway), ("a fresh gateway", fresh)):
            found = lookup.find_payment(entry.order_id, entry.idempotency_key)
            assert found is not None, f"{who} did not find order {entry.order_id}"
            assert (found.gateway_payment_id, found.order_id, found.amount) == expected
            assert found.state is S.PENDING
        gateway_harness.approve(self._snapshot(processor, entry))
        paid = fresh.find_payment(entry.order_id, entry.idempotency_key)
        assert paid is not None and paid.state is S.SUCCEEDED, "the lookup reads a stale state"

    def test_cancel_ends_an_unpaid_payment(
        self,
        processor: PaymentProcessor,
        gateway: PaymentGateway,
        gateway_harness: GatewayHarness,
        ledger: Ledger,
    ) -> None:
        """cancel_payment of a pending payment ends it cancelled at the acquirer too; a
        repeat (same key) answers the cancelled payment. A gateway that cannot cancel
        (capability ``cancel_pending``) refuses, changing nothing."""
        entry = processor.start(basket(), return_url=self.return_url)
        if not gateway.capabilities.cancel_pending:
            with pytest.raises(GatewayRefused):
                processor.cancel(entry.order_id)
            assert processor.entry(entry.order_id).state is S.PENDING
            assert self._snapshot(processor, entry).state is S.PENDING
            return
        cancelled = processor.cancel(entry.order_id).entry
        assert cancelled.state is S.CANCELLED, f"a cancelled payment reads as {cancelled.state}"
        assert self._snapshot(processor, entry).state is S.CANCELLED, (
            "cancel_payment answered, but the acquirer did not cancel the payment"
        )
        again = processor.cancel(entry.order_id)
        assert again.move.outcome is Outcome.DUPLICATE
        assert again.entry.state is S.CANCELLED
        assert not ledger.credits

    def test_cancel_after_a_lost_answer_is_retried(
        self,
        processor: PaymentProcessor,
        gateway: PaymentGateway,
        gateway_harness: GatewayHarness,
    ) -> None:
        """A cancel whose answer was lost (done, then a 5xx) is retried and ends cancelled."""
        self._require(gateway, "cancel_pending")
        entry = processor.start(basket(), return_url=self.return_url)
        if not gateway_harness.lose_next_answer():
            pytest.skip("the harness cannot lose an answer")
        after = processor.cancel(entry.order_id).entry
        assert after.state is S.CANCELLED, f"a cancel retried after a lost answer: {after.state}"
        assert self._snapshot(processor, entry).state is S.CANCELLED

    def test_approved_and_declined_are_read_back(
        self, processor: PaymentProcessor, gateway_harness: GatewayHarness, ledger: Ledger
    ) -> None:
        """Polling reads the acquirer's outcome; only the paid payment is credited, once."""
        paid = self._paid(processor, gateway_harness)
        declined = processor.start(basket(), return_url=self.return_url)
        gateway_harness.decline(self._snapshot(processor, declined))
        assert processor.refresh(declined.order_id).entry.state is S.FAILED
        assert processor.refresh(paid.order_id).move.outcome is Outcome.DUPLICATE
        assert ledger.credits == [(paid.order_id, paid.payment.total)]

    def test_paid_at_is_the_capture_time(
        self, processor: PaymentProcessor, gateway: PaymentGateway, gateway_harness: GatewayHarness
    ) -> None:
        """A paid snapshot carries the acquirer's capture time as ``paid_at`` (aware, at the
        approval), and the processor books that time: it decides the partner-day the
        payment belongs to. Without it a payment captured before midnight and learned of
        after it lands in the next day's registry. See :attr:`reports_paid_at`."""
        entry = processor.start(basket(), return_url=self.return_url)
        before = dt.datetime.now(dt.UTC)
        gateway_harness.approve(self._snapshot(processor, entry))
        after = dt.datetime.now(dt.UTC)
        snapshot = self._snapshot(processor, entry)
        assert snapshot.state is S.SUCCEEDED
        if not self.reports_paid_at:
            return
        assert snapshot.paid_at is not None, (
            "a paid snapshot has no paid_at (set reports_paid_at = False if the protocol "
            "tells no capture time)"
        )
        # the protocol's clock and resolution (seconds, milliseconds) give some slack
        slack = dt.timedelta(seconds=5)
        assert before - slack <= snapshot.paid_at <= after + slack, (
            f"paid_at {snapshot.paid_at.isoformat()} is not the approval's time "
            f"(between {before.isoformat()} and {after.isoformat()})"
        )
        booked = processor.refresh(entry.order_id).entry
        assert booked.paid_at == snapshot.paid_at, "the processor booked another capture time"

    # -- webhooks ------------------------------------------------------------------------

    def test_duplicate_webhook_credits_once(
        self,
        processor: PaymentProcessor,
        gateway: PaymentGateway,
        gateway_harness: GatewayHarness,
        ledger: Ledger,
    ) -> None:
        """The same notification delivered twice credits once; the second is a no-op."""
        entry = processor.start(basket(), return_url=self.return_url)
        gateway_harness.approve(self._snapshot(processor, entry))
        hook = self._webhook_reaching(gateway_harness, gateway, entry.order_id, S.SUCCEEDED)
        # the event id is what recognises an exact repeat: a string, the same both times
        ids = [[e.event_id for e in gateway.parse_webhook(hook)] for _ in range(2)]
        assert ids[0] == ids[1], f"one notification parsed twice gave event ids {ids}"
        assert all(isinstance(i, str) and i for i in ids[0]), f"event ids {ids[0]!r}"
        first = processor.handle_webhook(hook)
        second = processor.handle_webhook(hook)
        assert [a.move.outcome for a in first] == [Outcome.APPLIED]
        assert [a.move.outcome for a in second] == [Outcome.DUPLICATE]
        assert ledger.credited(entry.order_id) == [entry.payment.total]
        assert processor.entry(entry.order_id).state is S.SUCCEEDED

    def test_out_of_order_webhooks_never_move_back(
        self,
        processor: PaymentProcessor,
        gateway: PaymentGateway,
        gateway_harness: GatewayHarness,
        ledger: Ledger,
    ) -> None:
        """Every notification of a payment, delivered newest first, ends in the newest state."""
        self._require(gateway, "partial_refunds")
        entry = processor.start(basket(lines=3), return_url=self.return_url)
        gateway_harness.approve(self._snapshot(processor, entry))
        self._webhook_reaching(gateway_harness, gateway, entry.order_id, S.SUCCEEDED)
        # a second processor (another book) makes the refund, so this one learns of it only
        # through the notifications
        other = PaymentProcessor(gateway, retry=processor.retry)
        other.store.add(attrs.evolve(entry, state=S.SUCCEEDED))
        other.refund(entry.order_id, [0])
        self._webhook_reaching(gateway_harness, gateway, entry.order_id, S.PARTIALLY_REFUNDED)
        hooks = [r for r, _ in self._webhooks_about(gateway_harness, gateway, entry.order_id)]
        assert len(hooks) >= 2
        outcomes = [a.move.outcome for r in reversed(hooks) for a in processor.handle_webhook(r)]
        assert outcomes[0] is Outcome.APPLIED
        assert Outcome.APPLIED not in outcomes[1:], "an older event moved the payment"
        final = processor.entry(entry.order_id)
        acquirer = self._snapshot(processor, final)
        assert (final.state, final.refunded) == (S.PARTIALLY_REFUNDED, acquirer.refunded)
        assert ledger.credited(entry.order_id) == [entry.payment.total]

    def test_distinct_notifications_have_distinct_event_ids(
        self,
        processor: PaymentProcessor,
        gateway: PaymentGateway,
        gateway_harness: GatewayHarness,
    ) -> None:
        """Two notifications that differ (a payment's success, each of two partial
        refunds) never share an event id: a service recognising repeats by it would drop
        the second refund's news as a repeat of the first."""
        self._require(gateway, "partial_refunds")
        entry = self._paid(processor, gateway_harness, lines=3)
        processor.refund(entry.order_id, [0])
        processor.refund(entry.order_id, [1])
        ids: dict[tuple[bytes, str], set[str]] = {}
        for request, _ in self._webhooks_about(gateway_harness, gateway, entry.order_id):
            for event in gateway.parse_webhook(request):
                ids.setdefault((request.body, request.query), set()).add(event.event_id)
        assert len(ids) >= 2, "the acquirer sent no notifications of the payment and refunds"
        owners: dict[str, tuple[bytes, str]] = {}
        for request_key, event_ids in ids.items():
            for event_id in event_ids:
                other = owners.setdefault(event_id, request_key)
                assert other == request_key, (
                    f"two different notifications share the event id {event_id!r}"
                )

    def webhook_forgeries(self, genuine: WebhookRequest) -> list[WebhookRequest]:
        """Forged copies of a genuine notification; the gateway must refuse every one.

        The default changes the body after signing (``succeeded`` → ``succeedeD``) and
        drops every header but the content type. Override it for a protocol that signs
        something else, e.g. the query string of a GET callback.
        """
        return [
            attrs.evolve(genuine, body=genuine.body.replace(b"succeeded", b"succeedeD", 1)),
            attrs.evolve(genuine, headers=[("Content-Type", "application/json")]),
        ]

    def test_tampered_webhook_is_refused(
        self,
        processor: PaymentProcessor,
        gateway: PaymentGateway,
        gateway_harness: GatewayHarness,
        ledger: Ledger,
    ) -> None:
        """A notification changed after signing, or stripped of its signature, is refused."""
        self._require(gateway, "signed_webhooks")
        entry = processor.start(basket(), return_url=self.return_url)
        gateway_harness.approve(self._snapshot(processor, entry))
        hook = self._webhook_reaching(gateway_harness, gateway, entry.order_id, S.SUCCEEDED)
        forgeries = self.webhook_forgeries(hook)
        assert forgeries and hook not in forgeries, "webhook_forgeries() forged nothing"
        for forged in forgeries:
            with pytest.raises(WebhookRejected) as caught:
                processor.handle_webhook(forged)
            assert caught.value.reason in ("signature", "malformed"), caught.value.reason
        assert processor.entry(entry.order_id).state is S.PENDING
        assert not ledger.credits

    def test_stale_webhook_is_refused(
        self,
        processor: PaymentProcessor,
        gateway: PaymentGateway,
        gateway_harness: GatewayHarness,
        ledger: Ledger,
    ) -> None:
        """A genuine notification replayed after the replay window is refused."""
        self._require(gateway, "webhook_timestamps")
        entry = processor.start(basket(), return_url=self.return_url)
        gateway_harness.approve(self._snapshot(processor, entry))
        hook = self._webhook_reaching(gateway_harness, gateway, entry.order_id, S.SUCCEEDED)
        late = attrs.evolve(
            hook, received_at=hook.received_at + self.replay_window + dt.timedelta(minutes=1)
        )
        with pytest.raises(WebhookRejected) as caught:
            processor.handle_webhook(late)
        assert caught.value.reason == "stale"
        assert not ledger.credits

    def webhook_naming(self, genuine: WebhookRequest, known: str, other: str) -> WebhookRequest:
        """A copy of a genuine notification about payment ``known`` naming ``other`` instead.

        The default replaces the id in the body and the query string. Override it for a
        protocol that names the payment elsewhere.
        """
        return attrs.evolve(
            genuine,
            body=genuine.body.replace(known.encode(), other.encode()),
            query=genuine.query.replace(known, other),
        )

    def test_webhook_naming_a_payment_the_acquirer_never_issued_is_refused(
        self,
        processor: PaymentProcessor,
        gateway: PaymentGateway,
        gateway_harness: GatewayHarness,
        ledger: Ledger,
    ) -> None:
        """A notification naming a payment id the acquirer never issued is refused.

        A signed notification fails its signature; an unsigned one (the adapter re-fetches
        the payment it names) is refused as ``unknown-payment``, never passed on as an
        event and never let out as the protocol's raw error.
        """
        entry = processor.start(basket(), return_url=self.return_url)
        assert entry.gateway_payment_id is not None
        gateway_harness.approve(self._snapshot(processor, entry))
        hook = self._webhook_reaching(gateway_harness, gateway, entry.order_id, S.SUCCEEDED)
        known = entry.gateway_payment_id
        forged = self.webhook_naming(hook, known, self.unknown_payment_id(known))
        if forged == hook:
            pytest.skip("the notification does not carry the payment id (see webhook_naming)")
        expected: tuple[str, ...] = ("signature", "unknown-payment")
        if not gateway.capabilities.signed_webhooks:
            expected = ("unknown-payment",)
        try:
            events = gateway.parse_webhook(forged)
        except WebhookRejected as exc:
            assert exc.reason in expected, f"refused as {exc.reason!r}, not one of {expected}"
        except Exception as exc:
            pytest.fail(f"parse_webhook raised {type(exc).__name__}, not WebhookRejected")
        else:
            pytest.fail(f"a notification naming an unknown payment gave the events {events!r}")
        assert processor.entry(entry.order_id).state is S.PENDING
        assert not ledger.credits

    def test_malformed_webhook_is_refused(
        self,
        processor: PaymentProcessor,
        gateway: PaymentGateway,
        gateway_harness: GatewayHarness,
        ledger: Ledger,
    ) -> None:
        """A notification that is not one (empty, not JSON, the wrong shape), from where a
        genuine one comes, is refused as ``signature`` or ``malformed``: not an exception of
        another kind, which the service would answer as its own failure (and the acquirer
        would resend for ever)."""
        entry = processor.start(basket(), return_url=self.return_url)
        gateway_harness.approve(self._snapshot(processor, entry))
        hook = self._webhook_reaching(gateway_harness, gateway, entry.order_id, S.SUCCEEDED)
        for body in (b"", b"{", b"[]", b"{}", b'{"type": "notification"}', b"\xff\xfe"):
            junk = attrs.evolve(hook, body=body, query="")
            try:
                events = gateway.parse_webhook(junk)
            except WebhookRejected as exc:
                assert exc.reason in ("signature", "malformed"), (
                    f"the body {body!r} was refused as {exc.reason!r}"
                )
            except Exception as exc:
                pytest.fail(f"the body {body!r} raised {type(exc).__name__}, not WebhookRejected")
            else:
                pytest.fail(f"the body {body!r} was accepted: {events!r}")
        assert not ledger.credits

    def test_webhook_for_unknown_payment_is_refused(
        self,
        processor: PaymentProcessor,
        gateway: PaymentGateway,
        gateway_harness: GatewayHarness,
        ledger: Ledger,
    ) -> None:
        """A genuine notification about a payment not in the book is refused."""
        payment = basket()
        foreign = gateway.create_payment(
            payment, CreateOptions(new_idempotency_key(), self.return_url)
        )
        gateway_harness.approve(foreign)
        hook = self._webhook_reaching(gateway_harness, gateway, payment.payment_id, S.SUCCEEDED)
        with pytest.raises(WebhookRejected) as caught:
            processor.handle_webhook(hook)
        assert caught.value.reason == "unknown-payment"
        assert not ledger.credits

    # -- refunds -------------------------------------------------------------------------

    def test_full_refund(
        self, processor: PaymentProcessor, gateway_harness: GatewayHarness, ledger: Ledger
    ) -> None:
        """A full refund gives back the whole total and ends the payment as refunded."""
        entry = self._paid(processor, gateway_harness)
        after = processor.refund(entry.order_id).entry
        assert (after.state, after.refunded) == (S.REFUNDED, entry.payment.total)
        assert ledger.refunded(entry.order_id) == entry.payment.total
        acquirer = self._snapshot(processor, after)
        assert (acquirer.state, acquirer.refunded) == (S.REFUNDED, entry.payment.total)
        with pytest.raises(InvalidRefund):
            processor.refund(entry.order_id)

    def test_refund_result_names_each_refund(
        self, processor: PaymentProcessor, gateway: PaymentGateway, gateway_harness: GatewayHarness
    ) -> None:
        """Each refund answers its own id, the amount given back and the payment after it."""
        self._require(gateway, "partial_refunds")
        entry = self._paid(processor, gateway_harness)
        assert entry.gateway_payment_id is not None
        results = []
        for index in (0, 1):
            request = RefundRequest.for_lines(entry.payment, entry.gateway_payment_id, [index])
            results.append((request, gateway.refund(request, new_idempotency_key())))
        ids = [r.refund_id for _, r in results]
        assert all(isinstance(i, str) and i for i in ids), f"refund ids {ids!r}"
        assert ids[0] != ids[1], f"two refunds answered the same id {ids[0]!r}"
        (first_request, first), (_, second) = results
        assert first.amount == first_request.amount
        assert (first.payment.state, first.payment.refunded) == (
            S.PARTIALLY_REFUNDED,
            first_request.amount,
        )
        assert (second.payment.state, second.payment.refunded) == (
            S.REFUNDED,
            entry.payment.total,
        )

    def test_refused_refund_gives_nothing_back(
        self, processor: PaymentProcessor, gateway_harness: GatewayHarness, ledger: Ledger
    ) -> None:
        """A refund the acquirer refuses raises GatewayRefused: nothing is given back, in
        the book, the ledger or at the acquirer, and the same refund can be asked again."""
        entry = self._paid(processor, gateway_harness)
        if not self._extra(gateway_harness, "refuse_next_refund")():
            pytest.skip("the harness cannot make the acquirer refuse a refund")
        with pytest.raises(GatewayRefused):
            processor.refund(entry.order_id)
        after = processor.entry(entry.order_id)
        assert (after.state, after.refunded) == (S.SUCCEEDED, ZERO), (
            "a refused refund was booked as made"
        )
        assert ledger.refunded(entry.order_id) == ZERO
        acquirer = self._snapshot(processor, after)
        assert (acquirer.state, acquirer.refunded) == (S.SUCCEEDED, ZERO)
        # the refusal was the acquirer's answer to that attempt, not to the refund for ever
        done = processor.refund(entry.order_id).entry
        assert (done.state, done.refunded) == (S.REFUNDED, entry.payment.total)
        assert ledger.refunded(entry.order_id) == entry.payment.total

    def test_pending_refund_is_neither_made_nor_refused(
        self, processor: PaymentProcessor, gateway_harness: GatewayHarness, ledger: Ledger
    ) -> None:
        """A refund the acquirer has taken but not finished raises GatewayUnavailable (ask
        again later with the same key): not a result (nothing is given back yet), not
        GatewayRefused. Asked again once the acquirer has finished it, it answers the one
        refund made."""
        entry = self._paid(processor, gateway_harness)
        if not self._extra(gateway_harness, "pend_next_refund")():
            pytest.skip("the harness cannot keep a refund in progress")
        finish = self._extra(gateway_harness, "finish_pending_refunds")
        assert entry.gateway_payment_id is not None
        request = RefundRequest.full(entry.payment, entry.gateway_payment_id)
        key = new_idempotency_key()
        try:
            result = processor.gateway.refund(request, key)
        except GatewayUnavailable:
            pass
        except GatewayRefused as exc:
            pytest.fail(f"a refund still in progress was reported refused: {exc}")
        else:
            pytest.fail(f"a refund still in progress was reported made: {result!r}")
        finish()
        result = processor.gateway.refund(request, key)
        assert result.amount == request.amount
        acquirer = self._snapshot(processor, entry)
        assert (acquirer.state, acquirer.refunded) == (S.REFUNDED, entry.payment.total)

    def test_per_line_refunds_sum_to_the_total(
        self,
        processor: PaymentProcessor,
        gateway: PaymentGateway,
        gateway_harness: GatewayHarness,
        ledger: Ledger,
    ) -> None:
        """Refunding line by line (one line in two parts) sums exactly to the total."""
        self._require(gateway, "partial_refunds")
        entry = self._paid(processor, gateway_harness, lines=3)
        lines = entry.payment.lines
        first_whole = lines[0].amount + lines[0].client_fee
        part = processor.refund(entry.order_id, {0: Decimal("0.01")}).entry
        assert (part.state, part.refunded) == (S.PARTIALLY_REFUNDED, Decimal("0.01"))
        part = processor.refund(entry.order_id, {0: first_whole - Decimal("0.01")}).entry
        assert (part.state, part.refunded) == (S.PARTIALLY_REFUNDED, first_whole)
        with pytest.raises(InvalidRefund):
            processor.refund(entry.order_id, {0: Decimal("0.01")})
        mid = processor.refund(entry.order_id, [1]).entry
        assert (mid.state, mid.refunded) == (
            S.PARTIALLY_REFUNDED,
            first_whole + lines[1].amount + lines[1].client_fee,
        )
        last = processor.refund(entry.order_id, [2]).entry
        assert (last.state, last.refunded) == (S.REFUNDED, entry.payment.total)
        assert last.line_refunded == tuple(ln.amount + ln.client_fee for ln in lines)
        assert ledger.refunded(entry.order_id) == entry.payment.total
        assert self._snapshot(processor, last).refunded == entry.payment.total
        assert ledger.credited(entry.order_id) == [entry.payment.total]
