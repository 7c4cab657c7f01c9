"""Proof that the recurring family catches faults: each broken gateway fails its check.

The broken gateways wrap the sandbox gateway (pes-sdk-sandbox), whose simulator speaks the
saved-method protocol, and break one rule of autopay each: charging twice for one key,
charging a method that was not saved, reading a decline as a payment, saving a card the
client did not agree to, calling a gone card a lack of funds. As in test_gateway_faults,
every case runs the check meant for the fault and asserts it fails, and a check the fault
has nothing to do with and asserts it passes; the unbroken wrapper passes them all. The
checks are called directly, with the objects their fixtures would give.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import attrs
import pytest
from gateway_wrapper import Wrapper
from pes_sdk_conformance.gateways import Ledger
from pes_sdk_conformance.recurring import RecurringConformance

from pes_sdk.gateways import (
    ChargeOptions,
    CreateOptions,
    Decline,
    GatewayPayment,
    GatewayRefused,
    PaymentGateway,
    PaymentState,
    SavedMethod,
    new_idempotency_key,
)
from pes_sdk.models import Payment, PaymentLine

sandbox = pytest.importorskip("pes_sdk_sandbox", reason="the faults wrap the sandbox gateway")


class OrderPerAttempt(Wrapper):
    """Charges under a fresh idempotency key and a fresh order id on every call (the
    acquirer's one-charge-per-order rule cannot help), mapping the order back on the way in."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self._orders: dict[uuid.UUID, uuid.UUID] = {}

    def charge_saved(
        self, payment: Payment, method: SavedMethod, options: ChargeOptions
    ) -> GatewayPayment:
        sent = attrs.evolve(payment, payment_id=uuid.uuid4())
        self._orders[sent.payment_id] = payment.payment_id
        fresh = attrs.evolve(options, idempotency_key=new_idempotency_key())
        return self.seen(self.inner.charge_saved(sent, method, fresh))

    def seen(self, snapshot: GatewayPayment) -> GatewayPayment:
        real = self._orders.get(snapshot.order_id, snapshot.order_id)
        return attrs.evolve(snapshot, order_id=real)


class AnyCardOnFile(Wrapper):
    """When the acquirer refuses the method asked for, charges another saved method of the
    same client it has seen ("the card on file")."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self._known: list[SavedMethod] = []

    def seen(self, snapshot: GatewayPayment) -> GatewayPayment:
        if snapshot.saved_method is not None and snapshot.saved_method not in self._known:
            self._known.append(snapshot.saved_method)
        return snapshot

    def charge_saved(
        self, payment: Payment, method: SavedMethod, options: ChargeOptions
    ) -> GatewayPayment:
        try:
            return self.seen(self.inner.charge_saved(payment, method, options))
        except GatewayRefused:
            for other in self._known:
                if other.customer_key == method.customer_key and other != method:
                    # a request of its own (the refused one's key is spent at the acquirer)
                    again = attrs.evolve(options, idempotency_key=new_idempotency_key())
                    return self.seen(self.inner.charge_saved(payment, other, again))
            raise


class IgnoresDeclines(Wrapper):
    """Reports a declined charge as paid."""

    def seen(self, snapshot: GatewayPayment) -> GatewayPayment:
        if snapshot.decline is None:
            return snapshot
        return attrs.evolve(snapshot, state=PaymentState.SUCCEEDED, decline=None, decline_code="")


class SavesWithoutConsent(Wrapper):
    """Asks the acquirer to save the card of every payment (the client's consent or not),
    under a made-up customer where none was given."""

    def create_payment(self, payment: Payment, options: CreateOptions) -> GatewayPayment:
        always = attrs.evolve(
            options,
            save_method=True,
            customer_key=options.customer_key or f"walk-in-{payment.payment_id.hex[:12]}",
        )
        return self.seen(self.inner.create_payment(payment, always))


class GoneReadsAsFunds(Wrapper):
    """Maps a gone method's decline to a lack of funds (so autopay would retry it)."""

    def seen(self, snapshot: GatewayPayment) -> GatewayPayment:
        if snapshot.decline is Decline.METHOD_GONE:
            return attrs.evolve(snapshot, decline=Decline.FUNDS)
        return snapshot


class ChargesByIdAlone(Wrapper):
    """Charges a method by its id under the customer it was saved for, whoever's bill it
    is (it remembers the owners of the methods it has seen)."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self._owners: dict[str, str] = {}

    def seen(self, snapshot: GatewayPayment) -> GatewayPayment:
        if snapshot.saved_method is not None:
            found = snapshot.saved_method
            self._owners[found.method_id] = found.customer_key
        return snapshot

    def charge_saved(
        self, payment: Payment, method: SavedMethod, options: ChargeOptions
    ) -> GatewayPayment:
        owner = self._owners.get(method.method_id, method.customer_key)
        as_owner = attrs.evolve(method, customer_key=owner)
        return self.seen(self.inner.charge_saved(payment, as_owner, options))


class RoublesOnly(Wrapper):
    """Charges the sum rounded down to whole roubles, and reports the basket's total."""

    def charge_saved(
        self, payment: Payment, method: SavedMethod, options: ChargeOptions
    ) -> GatewayPayment:
        first = payment.lines[0]
        whole = first.amount.quantize(Decimal("1"), rounding="ROUND_DOWN")
        rounded = attrs.evolve(
            payment, lines=[PaymentLine(first.partner_inn, first.account, whole)]
        )
        self._totals[payment.payment_id] = payment.total
        return self.seen(self.inner.charge_saved(rounded, method, options))

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self._totals: dict[uuid.UUID, Decimal] = {}

    def seen(self, snapshot: GatewayPayment) -> GatewayPayment:
        total = self._totals.get(snapshot.order_id)
        return snapshot if total is None else attrs.evolve(snapshot, amount=total)


class ForgetsLocally(Wrapper):
    """Says a method is forgotten without asking the acquirer to unbind it."""

    def forget_method(self, method: SavedMethod) -> bool:
        return True


@pytest.fixture
def harness() -> Iterator[Any]:
    with sandbox.SandboxHarness(timeout=0.5) as h:
        yield h


def _suite() -> RecurringConformance:
    suite = RecurringConformance()
    suite.refuses_foreign_methods = True  # the sandbox refuses another client's method
    return suite


def run(check: str, wrapper: type[Wrapper], harness: Any) -> None:
    """Run one check of the family against the wrapped sandbox gateway."""
    suite = _suite()
    broken = wrapper(harness.gateway)
    view = _View(harness, broken)
    ledger = Ledger()
    processor = suite.make_processor(broken, ledger)
    method: Callable[..., None] = getattr(suite, check)
    names = method.__code__.co_varnames[1 : method.__code__.co_argcount]
    given = {"processor": processor, "gateway_harness": view, "ledger": ledger}
    method(**{n: given[n] for n in names})


@attrs.define
class _View:
    """The harness, with the broken gateway in place of the real one."""

    inner: Any
    gateway: PaymentGateway

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


FAILED = (AssertionError, pytest.fail.Exception)
CONTROL = "test_a_charge_takes_the_money_without_the_client"

CASES = [
    (
        OrderPerAttempt,
        "test_a_repeated_charge_charges_once",
        "test_two_periods_are_two_charges",
        "charged more than once",
    ),
    (
        OrderPerAttempt,
        "test_a_lost_answer_is_retried_into_one_charge",
        CONTROL,
        "charged more than once",
    ),
    (
        OrderPerAttempt,
        "test_a_declined_charge_stays_declined_under_its_key",
        CONTROL,
        "attempted again under its key",
    ),
    (AnyCardOnFile, "test_an_unknown_method_is_not_charged", CONTROL, "was charged"),
    (IgnoresDeclines, "test_a_declined_charge_fails_with_its_reason", CONTROL, "not a payment"),
    (IgnoresDeclines, "test_a_revoked_method_is_gone_not_charged", CONTROL, "was charged"),
    (
        SavesWithoutConsent,
        "test_no_method_is_saved_without_the_clients_consent",
        CONTROL,
        "without consent",
    ),
    (
        GoneReadsAsFunds,
        "test_a_revoked_method_is_gone_not_charged",
        "test_a_declined_charge_fails_with_its_reason",
        "must read as gone, not funds",
    ),
    (ChargesByIdAlone, "test_another_customers_method_is_not_charged", CONTROL, "was charged"),
    (RoublesOnly, "test_the_acquirer_takes_the_baskets_total", CONTROL, "another sum"),
    (ForgetsLocally, "test_forgetting_a_method", CONTROL, "still holds it"),
]


@pytest.mark.parametrize(
    ("wrapper", "check", "control", "reason"),
    CASES,
    ids=[f"{c[0].__name__}-{c[1]}" for c in CASES],
)
def test_broken_recurring_gateway_fails_its_check(
    harness: Any, wrapper: type[Wrapper], check: str, control: str, reason: str
) -> None:
    with pytest.raises(FAILED, match=reason):
        run(check, wrapper, harness)
    run(control, wrapper, harness)


def test_the_sandbox_passes_every_recurring_check(harness: Any) -> None:
    checks = [n for n in dir(RecurringConformance) if n.startswith("test_")]
    assert {c[1] for c in CASES} <= set(checks)
    for check in checks:
        run(check, Wrapper, harness)


def test_a_gateway_without_the_capability_skips_saying_so(harness: Any) -> None:
    suite = _suite()
    plain = Wrapper(harness.gateway)
    plain.capabilities = attrs.evolve(plain.capabilities, recurring=False)
    fixture = RecurringConformance.gateway.__wrapped__  # type: ignore[attr-defined]
    with pytest.raises(pytest.skip.Exception, match="'recurring'"):
        fixture(suite, _View(harness, plain))


def test_a_protocol_without_customers_skips_the_foreign_check(harness: Any) -> None:
    suite = RecurringConformance()  # refuses_foreign_methods: False by default
    processor = suite.make_processor(harness.gateway, Ledger())
    with pytest.raises(pytest.skip.Exception, match="customer"):
        suite.test_another_customers_method_is_not_charged(processor, harness, Ledger())


def test_threads_racing_on_one_key_make_one_charge(harness: Any) -> None:
    # several workers of the job engine pick up the same consent's charge at once, each with
    # a book of its own (as separate processes have): the acquirer still charges once
    suite = _suite()
    ledger = Ledger()
    first = suite.make_processor(harness.gateway, ledger)
    method = suite._saved(first, harness)
    consent = uuid.uuid4()
    ids: list[str | None] = []
    start = threading.Barrier(6)

    def worker() -> None:
        processor = suite.make_processor(harness.gateway, Ledger())
        start.wait()
        ids.append(suite._charge(processor, method, consent=consent).gateway_payment_id)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1 and None not in ids
    harness.settle()
    assert harness.charges_at_acquirer(method) == 1
