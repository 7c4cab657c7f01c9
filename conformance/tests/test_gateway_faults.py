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
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from pes_sdk_conformance.gateways import GatewayConformance, Ledger

from pes_sdk.gateways import (
    CreateOptions,
    GatewayEvent,
    GatewayPayment,
    PaymentGateway,
    RefundRequest,
    RefundResult,
    WebhookRequest,
    new_idempotency_key,
)
from pes_sdk.models import Payment

sandbox = pytest.importorskip("pes_sdk_sandbox", reason="the faults wrap the sandbox gateway")
SandboxHarness = sandbox.SandboxHarness


class Wrapper(PaymentGateway):
    """Delegates everything to the sandbox gateway; subclasses break one thing."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.capabilities = inner.capabilities

    @property
    def timeout(self) -> float:
        return float(self.inner.timeout)

    def create_payment(self, payment: Payment, options: CreateOptions) -> GatewayPayment:
        return self.inner.create_payment(payment, options)  # type: ignore[no-any-return]

    def get_payment(self, gateway_payment_id: str) -> GatewayPayment:
        return self.inner.get_payment(gateway_payment_id)  # type: ignore[no-any-return]

    def find_payment(self, order_id: Any, idempotency_key: str) -> GatewayPayment | None:
        return self.inner.find_payment(order_id, idempotency_key)  # type: ignore[no-any-return]

    def cancel_payment(self, gateway_payment_id: str, idempotency_key: str) -> GatewayPayment:
        return self.inner.cancel_payment(gateway_payment_id, idempotency_key)  # type: ignore[no-any-return]

    def refund(self, request: RefundRequest, idempotency_key: str) -> RefundResult:
        return self.inner.refund(request, idempotency_key)  # type: ignore[no-any-return]

    def parse_webhook(self, request: WebhookRequest) -> list[GatewayEvent]:
        return self.inner.parse_webhook(request)  # type: ignore[no-any-return]


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


@pytest.fixture
def harness() -> Iterator[Any]:
    with SandboxHarness(timeout=0.5) as h:
        yield h


def run(check: str, wrapper: type[Wrapper], harness: Any) -> None:
    """Run one check of the suite against the wrapped sandbox gateway."""
    suite = GatewayConformance()
    broken = wrapper(harness.gateway)
    view = _View(harness, broken)
    ledger = Ledger()
    processor = suite.make_processor(broken, ledger)
    method: Callable[..., None] = getattr(suite, check)
    names = method.__code__.co_varnames[1 : method.__code__.co_argcount]
    given = {"processor": processor, "gateway": broken, "gateway_harness": view, "ledger": ledger}
    method(**{n: given[n] for n in names})


@attrs.define
class _View:
    """The harness, with the broken gateway in place of the real one."""

    inner: Any
    gateway: PaymentGateway

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


FAILED = (AssertionError, pytest.fail.Exception)

CASES = [
    (ForgetsTheKey, "test_create_is_idempotent", "test_duplicate_webhook_credits_once"),
    (ForgetsTheKey, "test_lost_answer_is_retried_with_the_same_key", "test_full_refund"),
    (TrustsAnyWebhook, "test_tampered_webhook_is_refused", "test_full_refund"),
    (IgnoresTheClock, "test_stale_webhook_is_refused", "test_duplicate_webhook_credits_once"),
    (RefundsEverything, "test_per_line_refunds_sum_to_the_total", "test_full_refund"),
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
    from pes_sdk_conformance.gateways import basket

    assert basket().created_at.tzinfo is dt.UTC
