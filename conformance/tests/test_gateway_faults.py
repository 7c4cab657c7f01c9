"""Proof that the gateway family catches faults: each broken gateway fails its check.

The broken gateways wrap the sandbox gateway (pes-sdk-sandbox) and break one rule each.
Every case runs the check meant for the fault and asserts it fails, and runs a check the
fault has nothing to do with and asserts it passes, so a check that failed for every
gateway would not count as proof. The checks are called directly with the objects their
fixtures would give.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import attrs
import pytest
from gateway_wrapper import Wrapper
from pes_sdk_conformance.gateways import GatewayConformance, Ledger, basket

from pes_sdk.gateways import (
    Confirmation,
    ConfirmationKind,
    CreateOptions,
    GatewayEvent,
    GatewayPayment,
    GatewayRefused,
    GatewayTimeout,
    GatewayUnavailable,
    PaymentGateway,
    PaymentState,
    RefundRequest,
    RefundResult,
    UnknownPayment,
    WebhookRequest,
    new_idempotency_key,
)
from pes_sdk.models import Payment, PaymentMethod
from pes_sdk.models.receipts import Receipt

sandbox = pytest.importorskip("pes_sdk_sandbox", reason="the faults wrap the sandbox gateway")
SandboxHarness = sandbox.SandboxHarness


class ForgetsTheKey(Wrapper):
    """Sends a fresh idempotency key on every attempt."""

    def create_payment(self, payment: Payment, options: CreateOptions) -> GatewayPayment:
        fresh = attrs.evolve(options, idempotency_key=new_idempotency_key())
        return self.inner.create_payment(payment, fresh)  # type: ignore[no-any-return]


class TrustsAnyWebhook(Wrapper):
    """Parses webhooks without checking the signature."""

    def parse_webhook(self, request: WebhookRequest) -> list[GatewayEvent]:
        data = json.loads(request.body)
        snapshot = self.inner._snapshot(data["payment"])
        return [GatewayEvent(str(data["event_id"]), snapshot, request.received_at)]


class IgnoresTheClock(Wrapper):
    """Reports the arrival time as the signed time, so no replay is ever too old."""

    def parse_webhook(self, request: WebhookRequest) -> list[GatewayEvent]:
        return [
            attrs.evolve(e, signed_at=request.received_at)
            for e in self.inner.parse_webhook(request)
        ]


class RefundsEverything(Wrapper):
    """Refunds the whole remaining amount whatever lines were asked for."""

    def refund(self, request: RefundRequest, idempotency_key: str) -> RefundResult:
        current = self.inner.get_payment(request.gateway_payment_id)
        left = current.amount - current.refunded
        whole = RefundRequest(
            request.gateway_payment_id, [attrs.evolve(request.lines[0], amount=left)]
        )
        return self.inner.refund(whole, idempotency_key)  # type: ignore[no-any-return]


class UnknownIsNone(Wrapper):
    """Answers None for a payment id the acquirer does not know."""

    def get_payment(self, gateway_payment_id: str) -> GatewayPayment:
        try:
            return self.inner.get_payment(gateway_payment_id)  # type: ignore[no-any-return]
        except UnknownPayment:
            return None  # type: ignore[return-value]


class UnknownIsRawError(Wrapper):
    """Lets the protocol's 404 through as it came, not as UnknownPayment."""

    def get_payment(self, gateway_payment_id: str) -> GatewayPayment:
        try:
            return self.inner.get_payment(gateway_payment_id)  # type: ignore[no-any-return]
        except UnknownPayment as exc:
            raise GatewayRefused(exc.message, gateway=self.name, status=404) from None


class CancelDoesNothing(Wrapper):
    """Answers a cancel with the payment as it is, without asking the acquirer to cancel."""

    def cancel_payment(self, gateway_payment_id: str, idempotency_key: str) -> GatewayPayment:
        return self.inner.get_payment(gateway_payment_id)  # type: ignore[no-any-return]


class NoSocketTimeout(Wrapper):
    """Declares the sandbox's timeout, but its own connection waits as long as it takes."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self._declared = float(inner.timeout)
        # the same simulator and credentials, through a socket that waits a minute
        self.inner = type(inner)(
            inner._http.base_url,
            api_key="sandbox-key",
            webhook_secret=inner._secret,
            timeout=60.0,
        )

    @property
    def timeout(self) -> float:
        return self._declared


class NewKeyAfterTimeout(Wrapper):
    """Keeps the key, except that a create retried after a timeout gets a new one."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self._timed_out: set[Any] = set()

    def create_payment(self, payment: Payment, options: CreateOptions) -> GatewayPayment:
        if payment.payment_id in self._timed_out:
            options = attrs.evolve(options, idempotency_key=new_idempotency_key())
        try:
            return self.inner.create_payment(payment, options)  # type: ignore[no-any-return]
        except GatewayTimeout:
            self._timed_out.add(payment.payment_id)
            raise


class FindsOnlyWhatItCreated(Wrapper):
    """Finds a payment by order id only from its own memory of the creates it made."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self._created: dict[Any, str] = {}

    def create_payment(self, payment: Payment, options: CreateOptions) -> GatewayPayment:
        snapshot = self.inner.create_payment(payment, options)
        self._created[payment.payment_id] = snapshot.gateway_payment_id
        return snapshot  # type: ignore[no-any-return]

    def find_payment(self, order_id: Any, idempotency_key: str) -> GatewayPayment | None:
        known = self._created.get(order_id)
        return None if known is None else self.get_payment(known)


class RefusedRefundReportedAsDone(Wrapper):
    """Reports a refund the acquirer refused as made, with the snapshot it would have had."""

    def refund(self, request: RefundRequest, idempotency_key: str) -> RefundResult:
        try:
            return self.inner.refund(request, idempotency_key)  # type: ignore[no-any-return]
        except GatewayRefused:
            current = self.inner.get_payment(request.gateway_payment_id)
            refunded = current.refunded + request.amount
            state = (
                PaymentState.REFUNDED
                if refunded == current.amount
                else PaymentState.PARTIALLY_REFUNDED
            )
            hoped = attrs.evolve(current, state=state, refunded=refunded)
            return RefundResult(f"refused:{idempotency_key}", request.amount, hoped)


class NoCaptureTime(Wrapper):
    """Drops the acquirer's capture time: the processor books the moment it learned."""

    def get_payment(self, gateway_payment_id: str) -> GatewayPayment:
        snapshot = self.inner.get_payment(gateway_payment_id)
        return attrs.evolve(snapshot, paid_at=None)  # type: ignore[no-any-return]


class NamesNoGateway(Wrapper):
    """Leaves the snapshot's gateway name empty."""

    def get_payment(self, gateway_payment_id: str) -> GatewayPayment:
        snapshot = self.inner.get_payment(gateway_payment_id)
        return attrs.evolve(snapshot, gateway="")  # type: ignore[no-any-return]


class ConfirmationKindSwapped(Wrapper):
    """Reports the confirmation page's URL as a QR code."""

    def create_payment(self, payment: Payment, options: CreateOptions) -> GatewayPayment:
        snapshot = self.inner.create_payment(payment, options)
        conf = snapshot.confirmation
        if conf is not None and conf.kind is ConfirmationKind.REDIRECT:
            conf = Confirmation(ConfirmationKind.QR, qr_payload=conf.url)
        return attrs.evolve(snapshot, confirmation=conf)  # type: ignore[no-any-return]


class FirstPageOnly(Wrapper):
    """Looks up an order among the 10 newest payments only, as a lookup reading one page of
    a newest-first list would (it knows only the creates made through it)."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self._created: list[Any] = []

    def create_payment(self, payment: Payment, options: CreateOptions) -> GatewayPayment:
        self._created.append(payment.payment_id)
        return self.inner.create_payment(payment, options)  # type: ignore[no-any-return]

    def find_payment(self, order_id: Any, idempotency_key: str) -> GatewayPayment | None:
        if order_id in self._created and order_id not in self._created[-10:]:
            return None
        return self.inner.find_payment(order_id, idempotency_key)  # type: ignore[no-any-return]


class RefetchesRaw(Wrapper):
    """Re-fetches the payment a notification names, unverified, letting every error out
    as it comes (JSON errors, the acquirer's UnknownPayment)."""

    def parse_webhook(self, request: WebhookRequest) -> list[GatewayEvent]:
        data = json.loads(request.body)
        named = self.inner._snapshot(data["payment"]).gateway_payment_id
        return [GatewayEvent(str(data["event_id"]), self.inner.get_payment(named))]


class EventIdPerParse(Wrapper):
    """Makes up a new event id each time a notification is parsed."""

    def parse_webhook(self, request: WebhookRequest) -> list[GatewayEvent]:
        return [
            attrs.evolve(e, event_id=str(uuid.uuid4())) for e in self.inner.parse_webhook(request)
        ]


class EventIdIsThePaymentId(Wrapper):
    """Names every notification of a payment by the payment's id."""

    def parse_webhook(self, request: WebhookRequest) -> list[GatewayEvent]:
        return [
            attrs.evolve(e, event_id=e.payment.gateway_payment_id)
            for e in self.inner.parse_webhook(request)
        ]


class RefundIdIsThePaymentId(Wrapper):
    """Answers the payment's id as the refund's id, so that every refund has the same."""

    def refund(self, request: RefundRequest, idempotency_key: str) -> RefundResult:
        result = self.inner.refund(request, idempotency_key)
        return attrs.evolve(result, refund_id=request.gateway_payment_id)  # type: ignore[no-any-return]


class BreaksTheReceipt(Wrapper):
    """Creates the payment as the sandbox gateway does, with the receipt it was given changed
    on the way (by :meth:`damage`, on the sandbox protocol's ``receipt`` object)."""

    def create_payment(self, payment: Payment, options: CreateOptions) -> GatewayPayment:
        if options.receipt is None:  # the receipt the sandbox derives is not the one damaged
            return self.inner.create_payment(payment, options)  # type: ignore[no-any-return]
        receipt = sandbox.client._receipt(payment, options.receipt)
        self.damage(receipt["items"], receipt.get("customer", {}))
        body = {
            "order_id": str(payment.payment_id),
            "amount": str(payment.total),
            "currency": "RUB",
            "method": payment.method.value,
            "return_url": options.return_url,
            "description": options.description,
            "receipt": receipt,
        }
        answer = self.inner._post("/v1/payments", body, options.idempotency_key)
        return self.inner._snapshot(answer)  # type: ignore[no-any-return]

    def damage(self, items: list[dict[str, str]], customer: dict[str, str]) -> None:
        raise NotImplementedError


class NoAgentSign(BreaksTheReceipt):
    """Sends the supplier of each line but not the agent sign."""

    def damage(self, items: list[dict[str, str]], customer: dict[str, str]) -> None:
        for item in items:
            item.pop("agent_type", None)


class FeeOnAPartnersLine(BreaksTheReceipt):
    """Adds the client's fee to the first line's position instead of a position of its own."""

    def damage(self, items: list[dict[str, str]], customer: dict[str, str]) -> None:
        fee = next(i for i in items if "supplier_inn" not in i)
        items.remove(fee)
        items[0]["amount"] = str(Decimal(items[0]["amount"]) + Decimal(fee["amount"]))


class LosesTheBuyersEmail(BreaksTheReceipt):
    """Sends the buyer's phone but not the e-mail address."""

    def damage(self, items: list[dict[str, str]], customer: dict[str, str]) -> None:
        customer.pop("email", None)


class RoundsAPosition(BreaksTheReceipt):
    """Rounds the first line's position to the rouble, the kopecks going to the last one
    (so that the positions still sum to the total)."""

    def damage(self, items: list[dict[str, str]], customer: dict[str, str]) -> None:
        exact = Decimal(items[0]["amount"])
        rounded = exact.quantize(Decimal("1"))
        items[0]["amount"] = str(rounded)
        items[-1]["amount"] = str(Decimal(items[-1]["amount"]) + exact - rounded)


class SwapsTwoSuppliersInn(BreaksTheReceipt):
    """Puts the second line's supplier ИНН on the first line and the first's on the second."""

    def damage(self, items: list[dict[str, str]], customer: dict[str, str]) -> None:
        items[0]["supplier_inn"], items[1]["supplier_inn"] = (
            items[1]["supplier_inn"],
            items[0]["supplier_inn"],
        )


class LosesTheDescription(Wrapper):
    """Sends no description."""

    def create_payment(self, payment: Payment, options: CreateOptions) -> GatewayPayment:
        plain = attrs.evolve(options, description="")
        return self.inner.create_payment(payment, plain)  # type: ignore[no-any-return]


@pytest.fixture
def harness() -> Iterator[Any]:
    with SandboxHarness(timeout=0.5) as h:
        yield h


def run(check: str, wrapper: type[Wrapper], harness: Any) -> None:
    """Run one check of the suite against the wrapped sandbox gateway."""
    suite = GatewayConformance()
    broken = wrapper(harness.gateway)
    view = _View(harness, broken, wrapper)
    ledger = Ledger()
    processor = suite.make_processor(broken, ledger)
    method: Callable[..., None] = getattr(suite, check)
    names = method.__code__.co_varnames[1 : method.__code__.co_argcount]
    given = {
        "processor": processor,
        "gateway": broken,
        "gateway_harness": view,
        "ledger": ledger,
        "method": PaymentMethod.CARD,  # the parametrised checks' first case
    }
    method(**{n: given[n] for n in names})


@attrs.define
class _View:
    """The harness, with the broken gateway in place of the real one."""

    inner: Any
    gateway: PaymentGateway
    wrapper: type[Wrapper]

    def fresh_gateway(self) -> PaymentGateway:
        # a second broken gateway, as the same adapter would be after a restart
        return self.wrapper(self.inner.fresh_gateway())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


FAILED = (AssertionError, pytest.fail.Exception)

CASES = [
    (ForgetsTheKey, "test_create_is_idempotent", "test_duplicate_webhook_credits_once"),
    (ForgetsTheKey, "test_lost_answer_is_retried_with_the_same_key", "test_full_refund"),
    (TrustsAnyWebhook, "test_tampered_webhook_is_refused", "test_full_refund"),
    (IgnoresTheClock, "test_stale_webhook_is_refused", "test_duplicate_webhook_credits_once"),
    (RefundsEverything, "test_per_line_refunds_sum_to_the_total", "test_full_refund"),
    (UnknownIsNone, "test_unknown_payment_id_raises_unknown_payment", "test_full_refund"),
    (UnknownIsRawError, "test_unknown_payment_id_raises_unknown_payment", "test_full_refund"),
    (CancelDoesNothing, "test_cancel_ends_an_unpaid_payment", "test_full_refund"),
    (CancelDoesNothing, "test_cancel_after_a_lost_answer_is_retried", "test_full_refund"),
    (NoSocketTimeout, "test_a_stalled_call_ends_in_a_timeout", "test_create_is_idempotent"),
    (NewKeyAfterTimeout, "test_timeout_asks_for_the_status_first", "test_create_is_idempotent"),
    (FindsOnlyWhatItCreated, "test_find_payment_by_order_id", "test_full_refund"),
    (RefusedRefundReportedAsDone, "test_refused_refund_gives_nothing_back", "test_full_refund"),
    (FirstPageOnly, "test_find_payment_by_order_id", "test_full_refund"),
    (NoCaptureTime, "test_paid_at_is_the_capture_time", "test_create_is_idempotent"),
    (NamesNoGateway, "test_create_gives_a_confirmation", "test_create_is_idempotent"),
    (ConfirmationKindSwapped, "test_create_gives_a_confirmation", "test_full_refund"),
    (
        RefetchesRaw,
        "test_webhook_naming_a_payment_the_acquirer_never_issued_is_refused",
        "test_full_refund",
    ),
    (RefetchesRaw, "test_malformed_webhook_is_refused", "test_full_refund"),
    (EventIdPerParse, "test_duplicate_webhook_credits_once", "test_full_refund"),
    (RefundIdIsThePaymentId, "test_refund_result_names_each_refund", "test_full_refund"),
    (
        EventIdIsThePaymentId,
        "test_distinct_notifications_have_distinct_event_ids",
        "test_duplicate_webhook_credits_once",
    ),
    (NoAgentSign, "test_receipt_reaches_the_acquirer", "test_full_refund"),
    (FeeOnAPartnersLine, "test_receipt_reaches_the_acquirer", "test_full_refund"),
    (LosesTheBuyersEmail, "test_receipt_reaches_the_acquirer", "test_full_refund"),
    (RoundsAPosition, "test_receipt_reaches_the_acquirer", "test_full_refund"),
    (SwapsTwoSuppliersInn, "test_receipt_reaches_the_acquirer", "test_full_refund"),
    (
        LosesTheDescription,
        "test_description_reaches_the_acquirer",
        "test_receipt_reaches_the_acquirer",
    ),
]


@pytest.mark.parametrize(
    ("wrapper", "check", "control"), CASES, ids=[f"{c[0].__name__}-{c[1]}" for c in CASES]
)
def test_broken_gateway_fails_its_check(
    harness: Any, wrapper: type[Wrapper], check: str, control: str
) -> None:
    with pytest.raises(FAILED):
        run(check, wrapper, harness)
    run(control, wrapper, harness)


def test_the_sandbox_passes_the_checks_used_here(harness: Any) -> None:
    for check in {c[1] for c in CASES} | {c[2] for c in CASES}:
        run(check, Wrapper, harness)


def test_a_new_key_after_a_timeout_went_unseen_before_the_stalled_call_finished(
    harness: Any,
) -> None:
    # Why the timeout check waits for the stalled call: counted at once, as it used to be,
    # the acquirer holds one payment, and the second (the stalled call's) comes only later.
    suite = GatewayConformance()
    broken = NewKeyAfterTimeout(harness.gateway)
    processor = suite.make_processor(broken, Ledger())
    assert harness.time_out_next_answer()
    entry = processor.start(basket(), return_url=suite.return_url)
    assert harness.payments_at_acquirer(entry.order_id) == 1
    harness.finish_stalled_calls()
    assert harness.payments_at_acquirer(entry.order_id) == 2


def test_a_harness_without_the_optional_methods_skips_saying_why(harness: Any) -> None:
    @attrs.define
    class Plain:
        """Only the methods GatewayHarness requires."""

        inner: Any

        @property
        def gateway(self) -> PaymentGateway:
            return self.inner.gateway  # type: ignore[no-any-return]

        def approve(self, payment: GatewayPayment) -> None:
            self.inner.approve(payment)

        def settle(self) -> None:
            self.inner.settle()

        def time_out_next_answer(self) -> bool:
            return self.inner.time_out_next_answer()  # type: ignore[no-any-return]

        def payments_at_acquirer(self, order_id: Any) -> int:
            return self.inner.payments_at_acquirer(order_id)  # type: ignore[no-any-return]

    suite = GatewayConformance()
    plain = Plain(harness)
    processor = suite.make_processor(harness.gateway, Ledger())
    for check, args in [
        ("test_a_stalled_call_ends_in_a_timeout", (harness.gateway, plain)),
        ("test_timeout_asks_for_the_status_first", (processor, plain)),
        ("test_find_payment_by_order_id", (processor, harness.gateway, plain)),
        ("test_refused_refund_gives_nothing_back", (processor, plain, Ledger())),
        ("test_receipt_reaches_the_acquirer", (harness.gateway, plain)),
        ("test_pending_refund_is_neither_made_nor_refused", (processor, plain, Ledger())),
        ("test_description_reaches_the_acquirer", (harness.gateway, plain)),
    ]:
        with pytest.raises(pytest.skip.Exception, match="GatewayHarnessExtras"):
            getattr(suite, check)(*args)


def test_a_refund_receipt_with_the_fee_on_a_partners_line_fails_its_check() -> None:
    # the sandbox takes no refund receipt: ЮKassa's does, built by refund_receipt_for
    yookassa = pytest.importorskip("pes_sdk_yookassa")
    harness = yookassa.YooKassaHarness(timeout=1.0)

    def fee_on_the_first_line(request: RefundRequest) -> Receipt | None:
        right: Receipt | None = harness._refund_receipt(request)
        if right is None:
            return None
        fee = [p for p in right.positions if p.agent is None]
        lines = [p for p in right.positions if p.agent is not None]
        moved = sum((p.amount for p in fee), Decimal("0"))
        lines[0] = attrs.evolve(lines[0], amount=lines[0].amount + moved)
        return attrs.evolve(right, positions=lines)

    harness._options["refund_receipt_for"] = fee_on_the_first_line
    suite = GatewayConformance()
    with harness:
        with pytest.raises(FAILED, match="positions"):
            suite.test_refund_receipt_reaches_the_acquirer(
                harness.gateway, harness, Decimal("0.75")
            )
        suite.test_receipt_reaches_the_acquirer(harness.gateway, harness)


class PendingIsRefused(Wrapper):
    """Reports a refund the acquirer has not finished as refused."""

    def refund(self, request: RefundRequest, idempotency_key: str) -> RefundResult:
        try:
            return self.inner.refund(request, idempotency_key)  # type: ignore[no-any-return]
        except GatewayUnavailable as exc:
            raise GatewayRefused(exc.message, gateway=self.name) from None


def test_a_pending_refund_reported_refused_fails_its_check() -> None:
    # the sandbox cannot keep a refund in progress: ЮKassa's simulator can
    yookassa = pytest.importorskip("pes_sdk_yookassa")
    suite = GatewayConformance()
    with yookassa.YooKassaHarness(timeout=1.0) as inner:
        view = _View(inner, PendingIsRefused(inner.gateway), PendingIsRefused)
        ledger = Ledger()
        processor = suite.make_processor(view.gateway, ledger)
        with pytest.raises(FAILED, match="reported refused"):
            suite.test_pending_refund_is_neither_made_nor_refused(processor, view, ledger)
        suite.test_full_refund(processor, view, ledger)


def test_a_gateway_without_receipts_skips_the_receipt_checks(harness: Any) -> None:
    suite = GatewayConformance()
    gateway = Wrapper(harness.gateway)
    gateway.capabilities = attrs.evolve(gateway.capabilities, receipts=False)
    with pytest.raises(pytest.skip.Exception, match="'receipts'"):
        suite.test_receipt_reaches_the_acquirer(gateway, harness)
    with pytest.raises(pytest.skip.Exception, match="'refund_receipts'"):
        suite.test_refund_receipt_reaches_the_acquirer(harness.gateway, harness, Decimal("0.75"))


def test_unset_harness_fixture_fails_with_a_message(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["pes_sdk_conformance.plugin"]\n')
    pytester.makepyfile(
        test_x="""
from pes_sdk_conformance.gateways import GatewayConformance

class TestNoHarness(GatewayConformance):
    pass
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "test_create_is_idempotent")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*override the gateway_harness fixture*"])


def test_time_zone_aware() -> None:
    # the suite's baskets carry a time zone, as Payment requires
    assert basket().created_at.tzinfo is dt.UTC
