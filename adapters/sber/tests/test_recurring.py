"""Saved methods through Sber's binding protocol (связки): the recurring conformance family
against the simulator over loopback HTTP, and the fields the adapter puts on the wire."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from pes_sdk_conformance.gateways import Ledger, basket
from pes_sdk_conformance.recurring import RecurringConformance, charge_basket, charge_key
from pes_sdk_sber import SberError, SberHarness
from pes_sdk_sber.client import DECLINE_CODES, decline_of

from pes_sdk.gateways import (
    ChargeOptions,
    CreateOptions,
    Decline,
    GatewayError,
    GatewayPayment,
    GatewayRefused,
    PaymentProcessor,
    PaymentState,
    RetryPolicy,
    SavedMethod,
)
from pes_sdk.models.payments import Payment, PaymentMethod

S = PaymentState
RETURN = "https://service.example/return"
CLIENT = "client-5b1f0c2e"


class TestSberRecurring(RecurringConformance):
    # recurrentPayment.do names no client: the adapter checks the binding is one of the
    # customer's (getBindings.do) before it charges
    refuses_foreign_methods = True

    @pytest.fixture
    def gateway_harness(self) -> Iterator[SberHarness]:
        with SberHarness(timeout=0.5) as harness:
            yield harness


@pytest.fixture
def harness() -> Iterator[SberHarness]:
    with SberHarness(timeout=0.5) as h:
        yield h


def processor_for(harness: SberHarness, ledger: Ledger | None = None) -> PaymentProcessor:
    ledger = ledger or Ledger()
    return PaymentProcessor(
        harness.gateway,
        retry=RetryPolicy(attempts=4, initial_wait=0.01, max_wait=0.05),
        on_credit=ledger.credit,
        on_refund=ledger.refund,
    )


def saved(harness: SberHarness, customer_key: str = CLIENT) -> tuple[SavedMethod, str]:
    """A paid first payment with the client's consent: its method and mdOrder."""
    payment = basket(lines=1)
    options = CreateOptions(
        "first-" + uuid.uuid4().hex, RETURN, save_method=True, customer_key=customer_key
    )
    created = harness.gateway.create_payment(payment, options)
    harness.approve(created)
    snapshot = harness.gateway.get_payment(created.gateway_payment_id)
    assert snapshot.saved_method is not None
    return snapshot.saved_method, created.gateway_payment_id


def charge(
    harness: SberHarness, method: SavedMethod, amount: str = "1530.45"
) -> tuple[Payment, GatewayPayment]:
    order, key = charge_key(uuid.uuid4(), "2026-11")
    payment = charge_basket(order, Decimal(amount))
    return payment, harness.gateway.charge_saved(payment, method, ChargeOptions(key))


# -- the first payment ----------------------------------------------------------------


def test_the_first_payment_registers_the_client_and_the_recurring_marks(
    harness: SberHarness,
) -> None:
    method, md_order = saved(harness)
    form = harness.simulator.register_requests[-1]
    assert form["clientId"] == CLIENT
    params = json.loads(form["jsonParams"])
    assert params["recurringFrequency"] == "1"
    assert params["recurringExpiry"] == "20991231"
    answer = harness.simulator.extended(md_order)
    assert answer["bindingInfo"] == {"clientId": CLIENT, "bindingId": method.method_id}
    assert method.customer_key == CLIENT
    masked = answer["cardAuthInfo"]["maskedPan"]
    assert method.title == "*" + masked[-4:]
    assert "userName" not in form and "password" not in form


def test_a_payment_without_consent_sends_no_client_and_binds_nothing(
    harness: SberHarness,
) -> None:
    created = harness.gateway.create_payment(basket(lines=1), CreateOptions("plain-key-1", RETURN))
    harness.approve(created)
    form = harness.simulator.register_requests[-1]
    assert "clientId" not in form and "jsonParams" not in form
    answer = harness.simulator.extended(created.gateway_payment_id)
    assert "bindingInfo" not in answer
    assert harness.gateway.get_payment(created.gateway_payment_id).saved_method is None


def test_an_sbp_payment_cannot_save_a_card(harness: SberHarness) -> None:
    options = CreateOptions("sbp-save-key", RETURN, save_method=True, customer_key=CLIENT)
    with pytest.raises(GatewayRefused):
        harness.gateway.create_payment(basket(PaymentMethod.SBP, lines=1), options)
    assert harness.simulator.register_requests == []


def test_the_charge_reports_no_new_saved_method(harness: SberHarness) -> None:
    # a charge is paid by the binding, so getOrderStatusExtended.do answers bindingInfo for
    # it too: it must not read as a method saved anew
    method, _ = saved(harness)
    _, snapshot = charge(harness, method)
    assert snapshot.state is S.SUCCEEDED
    assert "bindingInfo" in harness.simulator.extended(snapshot.gateway_payment_id)
    assert snapshot.saved_method is None


def test_a_binding_without_the_recurring_marks_is_not_charged(harness: SberHarness) -> None:
    # a clientId payment binds the card, but only a first payment with recurringFrequency /
    # recurringExpiry makes a binding recurrentPayment.do may charge
    form = {
        "userName": harness.simulator.user_name,
        "password": harness.simulator.password,
        "orderNumber": uuid.uuid4().hex,
        "amount": "1000",
        "returnUrl": RETURN,
        "clientId": CLIENT,
    }
    status, answer = harness.simulator.handle_api("register.do", form)
    assert status == 200
    harness.simulator.approve(answer["orderId"])
    binding = harness.simulator.extended(answer["orderId"])["bindingInfo"]["bindingId"]
    with pytest.raises(SberError) as caught:
        charge(harness, SavedMethod("sber", binding, CLIENT))
    assert caught.value.method == "recurrentPayment.do"


# -- the charge ---------------------------------------------------------------------------


def test_a_charge_is_one_recurrent_payment_with_the_documented_fields(
    harness: SberHarness,
) -> None:
    method, _ = saved(harness)
    before = len(harness.simulator.calls)
    payment, snapshot = charge(harness, method)
    # the owner check, the one charging call, the status query: no register.do, no
    # paymentOrderBinding.do
    assert harness.simulator.calls[before:] == [
        "getBindings.do",
        "recurrentPayment.do",
        "getOrderStatusExtended.do",
    ]
    assert snapshot.state is S.SUCCEEDED and snapshot.confirmation is None
    assert snapshot.order_id == payment.payment_id
    (body,) = harness.simulator.recurrent_requests
    assert body["orderNumber"] == payment.payment_id.hex
    assert body["bindingId"] == method.method_id
    assert body["amount"] == 153045  # kopecks, a JSON number
    assert body["currency"] == "643"
    assert "userName" not in body  # the record leaves the credentials out
    assert harness.charges_at_acquirer(method) == 1


def test_a_repeated_charge_finds_the_order_and_charges_nothing(harness: SberHarness) -> None:
    method, _ = saved(harness)
    payment, first = charge(harness, method)
    again = harness.gateway.charge_saved(payment, method, ChargeOptions("again-key-1"))
    assert again.gateway_payment_id == first.gateway_payment_id
    assert again.state is S.SUCCEEDED
    assert harness.simulator.orders_for(payment.payment_id.hex) == 1
    assert harness.charges_at_acquirer(method) == 1


def test_a_repeat_with_another_amount_is_an_error_not_a_success(harness: SberHarness) -> None:
    method, _ = saved(harness)
    payment, _ = charge(harness, method)
    other = charge_basket(payment.payment_id, Decimal("99.00"))
    with pytest.raises(GatewayError):
        harness.gateway.charge_saved(other, method, ChargeOptions("other-amount-key"))
    assert harness.charges_at_acquirer(method) == 1


@pytest.mark.parametrize(
    ("action_code", "decline"),
    [(116, Decline.FUNDS), (101, Decline.METHOD_GONE), (2001, Decline.OTHER)],
)
def test_a_declined_charge_carries_its_action_code(
    harness: SberHarness, action_code: int, decline: Decline
) -> None:
    method, _ = saved(harness)
    harness.simulator.switches.decline_charges_next.append(action_code)
    _, snapshot = charge(harness, method)
    assert snapshot.state is S.FAILED
    assert snapshot.decline is decline
    assert snapshot.decline_code == str(action_code)
    assert harness.charges_at_acquirer(method) == 0


def test_the_decline_table() -> None:
    assert decline_of(116) is Decline.FUNDS
    assert decline_of(101) is Decline.METHOD_GONE
    assert decline_of(208) is Decline.METHOD_GONE
    assert decline_of(2001) is Decline.OTHER
    assert decline_of(999_999) is Decline.OTHER
    assert set(DECLINE_CODES.values()) == {Decline.FUNDS, Decline.METHOD_GONE}


def test_an_expired_card_is_declined_as_gone_and_no_longer_listed(harness: SberHarness) -> None:
    method, _ = saved(harness)
    assert harness.method_at_acquirer(method)
    harness.revoke(method)
    assert not harness.method_at_acquirer(method), "getBindings.do hides an expired card"
    _, snapshot = charge(harness, method)
    assert (snapshot.state, snapshot.decline, snapshot.decline_code) == (
        S.FAILED,
        Decline.METHOD_GONE,
        "101",
    )


def test_a_lost_charge_answer_is_found_by_order_number(harness: SberHarness) -> None:
    method, _ = saved(harness)
    ledger = Ledger()
    processor = processor_for(harness, ledger)
    # recurrentPayment.do charges, then answers 500
    harness.simulator.switches.lose_method_next.append("recurrentPayment.do")
    order, key = charge_key(uuid.uuid4(), "2026-12")
    entry = processor.charge_saved(charge_basket(order), method, idempotency_key=key)
    assert entry.state is S.SUCCEEDED
    assert harness.simulator.calls.count("recurrentPayment.do") == 2, "the retry was refused"
    assert harness.charges_at_acquirer(method) == 1
    assert ledger.credited(order) == [Decimal("1530.45")]


def test_the_callback_of_a_charge_is_checked_and_answered_by_a_status_query(
    harness: SberHarness,
) -> None:
    method, _ = saved(harness)
    payment, _ = charge(harness, method)
    harness.settle()
    events = [
        e
        for request in harness.webhooks()
        for e in harness.gateway.parse_webhook(request)
        if e.payment.order_id == payment.payment_id
    ]
    assert events and all(e.payment.state is S.SUCCEEDED for e in events)
    assert all(e.payment.saved_method is None for e in events)


# -- bindings and unbinding ------------------------------------------------------------


def test_get_bindings_lists_the_clients_bindings(harness: SberHarness) -> None:
    assert harness.gateway.bindings(CLIENT) == []  # errorCode 2: none yet
    first, _ = saved(harness)
    second, _ = saved(harness)
    saved(harness, customer_key="another-client")
    held = harness.gateway.bindings(CLIENT)
    assert {m.method_id for m in held} == {first.method_id, second.method_id}
    assert all(m.customer_key == CLIENT and len(m.title) == 5 for m in held)


def test_unbind_card_deactivates_the_binding_once(harness: SberHarness) -> None:
    method, _ = saved(harness)
    assert harness.gateway.forget_method(method) is True
    assert harness.simulator.calls[-1] == "unBindCard.do"
    assert not harness.simulator.binding_usable(method.method_id)
    assert harness.gateway.forget_method(method) is True  # errorCode 2: already inactive
    # getBindings.do lists it no more: refused before recurrentPayment.do is asked
    with pytest.raises(GatewayRefused):
        charge(harness, method)
    assert "recurrentPayment.do" not in harness.simulator.calls


def test_another_clients_binding_is_refused_before_recurrent_payment(
    harness: SberHarness,
) -> None:
    method, _ = saved(harness)
    saved(harness, customer_key="another-client")
    stolen = SavedMethod("sber", method.method_id, "another-client", method.title)
    with pytest.raises(GatewayRefused):
        charge(harness, stolen)
    assert "recurrentPayment.do" not in harness.simulator.calls
    assert harness.charges_at_acquirer(method) == 0


def test_a_repeat_after_the_binding_was_unbound_returns_the_charge(harness: SberHarness) -> None:
    method, _ = saved(harness)
    payment, first = charge(harness, method)
    harness.gateway.forget_method(method)
    again = harness.gateway.charge_saved(payment, method, ChargeOptions("repeat-key-1"))
    assert again.gateway_payment_id == first.gateway_payment_id
    assert again.state is S.SUCCEEDED
    assert harness.charges_at_acquirer(method) == 1


def test_a_foreign_method_is_refused_before_any_call(harness: SberHarness) -> None:
    foreign = SavedMethod("yookassa", "2a1b-pm", CLIENT)
    calls = len(harness.simulator.calls)
    with pytest.raises(GatewayRefused):
        charge(harness, foreign)
    with pytest.raises(GatewayRefused):
        harness.gateway.forget_method(foreign)
    assert len(harness.simulator.calls) == calls
