"""The sandbox gateway passes the recurring family (saved methods, charges without the
client), and its protocol carries the fields the README names, over loopback HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pes_sdk_conformance.gateways import basket
from pes_sdk_conformance.recurring import RecurringConformance, charge_basket, charge_key
from pes_sdk_sandbox import SandboxHarness
from pes_sdk_sandbox.client import DECLINES

from pes_sdk.gateways import (
    ChargeOptions,
    CreateOptions,
    Decline,
    GatewayRefused,
    PaymentState,
    SavedMethod,
)


class TestSandboxRecurring(RecurringConformance):
    refuses_foreign_methods = True

    @pytest.fixture
    def gateway_harness(self) -> Iterator[SandboxHarness]:
        with SandboxHarness(timeout=0.5) as harness:
            yield harness


@pytest.fixture
def harness() -> Iterator[SandboxHarness]:
    with SandboxHarness(timeout=1.0) as h:
        yield h


def _call(harness: SandboxHarness, method: str, path: str, body: Any = None) -> Any:
    """One API call as any client would make it (the harness's credentials)."""
    sim = harness.simulator
    status, answer = sim.handle_api(
        method,
        path,
        {},
        json.dumps(body).encode() if body is not None else b"",
        {"Authorization": f"Bearer {sim.api_key}", "Idempotence-Key": uuid.uuid4().hex},
    )
    return status, json.loads(answer)


def _saved(harness: SandboxHarness, customer: str = "client-1") -> SavedMethod:
    gateway = harness.gateway
    options = CreateOptions(
        uuid.uuid4().hex, "https://x.example/r", save_method=True, customer_key=customer
    )
    created = gateway.create_payment(basket(), options)
    harness.approve(created)
    paid = gateway.get_payment(created.gateway_payment_id)
    assert paid.saved_method is not None
    return paid.saved_method


def test_the_create_asks_to_save_and_the_paid_snapshot_tells_the_method(
    harness: SandboxHarness,
) -> None:
    gateway = harness.gateway
    options = CreateOptions(
        uuid.uuid4().hex, "https://x.example/r", save_method=True, customer_key="client-1"
    )
    created = gateway.create_payment(basket(), options)
    assert created.saved_method is None, "nothing is saved before the client pays"
    _, raw = _call(harness, "GET", f"/v1/payments/{created.gateway_payment_id}")
    assert raw["save_payment_method"] is True and "payment_method" not in raw
    harness.approve(created)
    _, raw = _call(harness, "GET", f"/v1/payments/{created.gateway_payment_id}")
    pm = raw["payment_method"]
    assert pm["saved"] is True and pm["customer_key"] == "client-1"
    assert pm["id"].startswith("pm_") and pm["title"].startswith("Card *")
    method = gateway.get_payment(created.gateway_payment_id).saved_method
    assert method == SavedMethod("sandbox", pm["id"], "client-1", pm["title"])
    # the webhook of the payment tells it too, signed as every webhook
    harness.settle()
    told = [
        e.payment.saved_method
        for w in harness.webhooks()
        for e in gateway.parse_webhook(w)
        if e.payment.state is PaymentState.SUCCEEDED
    ]
    assert told == [method]


def test_a_payment_without_consent_sends_no_save_fields(harness: SandboxHarness) -> None:
    created = harness.gateway.create_payment(
        basket(), CreateOptions(uuid.uuid4().hex, "https://x.example/r")
    )
    harness.approve(created)
    _, raw = _call(harness, "GET", f"/v1/payments/{created.gateway_payment_id}")
    assert "save_payment_method" not in raw and "payment_method" not in raw


def test_saving_needs_a_customer_and_a_card(harness: SandboxHarness) -> None:
    order = str(uuid.uuid4())
    status, raw = _call(
        harness,
        "POST",
        "/v1/payments",
        {"order_id": order, "amount": "10.00", "method": "card", "save_payment_method": True},
    )
    assert status == 400 and "customer_key" in raw["error"]
    status, raw = _call(
        harness,
        "POST",
        "/v1/payments",
        {
            "order_id": order,
            "amount": "10.00",
            "method": "sbp",
            "save_payment_method": True,
            "customer_key": "client-1",
        },
    )
    assert status == 400


def test_a_charge_on_the_wire(harness: SandboxHarness) -> None:
    method = _saved(harness)
    order, key = charge_key(uuid.uuid4(), "2026-11")
    charged = harness.gateway.charge_saved(
        charge_basket(order, Decimal("77.70")), method, ChargeOptions(key)
    )
    assert charged.state is PaymentState.SUCCEEDED and charged.confirmation is None
    assert charged.saved_method is None, "a charge saves nothing new"
    _, raw = _call(harness, "GET", f"/v1/payments/{charged.gateway_payment_id}")
    assert raw["kind"] == "charge" and raw["amount"] == "77.70"
    assert raw["payment_method"]["id"] == method.method_id
    assert harness.simulator.charges_of(method.method_id) == [charged.gateway_payment_id]


def test_one_charge_per_order_whatever_the_key(harness: SandboxHarness) -> None:
    method = _saved(harness)
    order, key = charge_key(uuid.uuid4(), "2026-11")
    first = harness.gateway.charge_saved(charge_basket(order), method, ChargeOptions(key))
    other_key = harness.gateway.charge_saved(
        charge_basket(order), method, ChargeOptions("another-key-0001")
    )
    assert other_key.gateway_payment_id == first.gateway_payment_id
    with pytest.raises(GatewayRefused) as refused:
        harness.gateway.charge_saved(
            charge_basket(order, Decimal("1.00")), method, ChargeOptions("another-key-0002")
        )
    assert refused.value.status == 409
    assert harness.charges_at_acquirer(method) == 1


@pytest.mark.parametrize(("code", "decline"), sorted(DECLINES.items()))
def test_each_decline_code_is_mapped(harness: SandboxHarness, code: str, decline: Decline) -> None:
    method = _saved(harness)
    harness.simulator.switches.decline_charges.append(code)
    order, key = charge_key(uuid.uuid4(), "2026-11")
    charged = harness.gateway.charge_saved(charge_basket(order), method, ChargeOptions(key))
    assert charged.state is PaymentState.FAILED
    assert (charged.decline, charged.decline_code) == (decline, code)
    assert harness.charges_at_acquirer(method) == 0


def test_a_chosen_orders_charge_is_declined_and_the_others_are_not(
    harness: SandboxHarness,
) -> None:
    method = _saved(harness)
    chosen, chosen_key = charge_key(uuid.uuid4(), "2026-11")
    other, other_key = charge_key(uuid.uuid4(), "2026-11")
    harness.simulator.switches.decline_orders[str(chosen)] = "card_expired"
    # the other order asks first: the decline waits for the chosen one
    paid = harness.gateway.charge_saved(charge_basket(other), method, ChargeOptions(other_key))
    assert paid.state is not PaymentState.FAILED
    declined = harness.gateway.charge_saved(
        charge_basket(chosen), method, ChargeOptions(chosen_key)
    )
    assert (declined.state, declined.decline) == (PaymentState.FAILED, Decline.METHOD_GONE)


def test_another_clients_method_is_refused_as_unknown(harness: SandboxHarness) -> None:
    method = _saved(harness, "client-1")
    order, key = charge_key(uuid.uuid4(), "2026-11")
    foreign = SavedMethod("sandbox", method.method_id, "client-2", method.title)
    with pytest.raises(GatewayRefused) as refused:
        harness.gateway.charge_saved(charge_basket(order), foreign, ChargeOptions(key))
    assert refused.value.status == 422 and "payment_method_not_found" in refused.value.message
    # nor can another client unbind it
    assert harness.gateway.forget_method(foreign) is True
    assert harness.method_at_acquirer(method)


def test_a_forgotten_method_is_unknown_to_the_acquirer(harness: SandboxHarness) -> None:
    method = _saved(harness)
    assert harness.gateway.forget_method(method) is True
    assert harness.simulator.method_status(method.method_id) == "forgotten"
    status, raw = _call(harness, "GET", f"/v1/payment_methods/{method.method_id}")
    assert (status, raw["code"]) == (422, "payment_method_not_found")


def test_an_expired_card_is_declined_as_gone(harness: SandboxHarness) -> None:
    method = _saved(harness)
    harness.simulator.revoke_method(method.method_id, status="expired")
    order, key = charge_key(uuid.uuid4(), "2026-11")
    charged = harness.gateway.charge_saved(charge_basket(order), method, ChargeOptions(key))
    assert (charged.decline, charged.decline_code) == (Decline.METHOD_GONE, "card_expired")


def test_charges_count_in_the_acquirers_report(harness: SandboxHarness) -> None:
    method = _saved(harness)
    before = harness.simulator.report()
    order, key = charge_key(uuid.uuid4(), "2026-11")
    harness.gateway.charge_saved(charge_basket(order, Decimal("5.55")), method, ChargeOptions(key))
    after = harness.simulator.report()
    assert after.captured - before.captured == Decimal("5.55")


def test_a_payments_order_cannot_be_charged(harness: SandboxHarness) -> None:
    # an order id belongs to one payment: a charge under a client's payment's order is refused
    method = _saved(harness)
    paid = harness.gateway.create_payment(
        basket(), CreateOptions(uuid.uuid4().hex, "https://x.example/r")
    )
    _, raw = _call(harness, "GET", f"/v1/payments/{paid.gateway_payment_id}")
    status, answer = _call(
        harness,
        "POST",
        "/v1/charges",
        {
            "order_id": raw["order_id"],
            "amount": raw["amount"],
            "payment_method_id": method.method_id,
            "customer_key": method.customer_key,
        },
    )
    assert status == 409 and "already has a payment" in answer["error"]
    assert harness.charges_at_acquirer(method) == 0


def test_another_gateways_method_is_refused_before_any_request(harness: SandboxHarness) -> None:
    method = _saved(harness)
    elsewhere = SavedMethod("yookassa", method.method_id, method.customer_key, method.title)
    order, key = charge_key(uuid.uuid4(), "2026-11")
    harness.simulator.switches.fail_next = 1  # a request would fail: none is made
    with pytest.raises(GatewayRefused, match="not the sandbox's"):
        harness.gateway.charge_saved(charge_basket(order), elsewhere, ChargeOptions(key))
    assert harness.simulator.switches.fail_next == 1
    assert harness.simulator.payments_for(order) == []
