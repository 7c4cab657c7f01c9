"""Saved cards (автоплатёж) through T-Bank's protocol: the recurring conformance family, and
the fields on the wire (``Recurrent``, ``CustomerKey``, ``OperationInitiatorType``,
``RebillId``, ``Charge``, ``GetCardList``, ``RemoveCard``) as the simulator records them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import attrs
import pytest
from pes_sdk_conformance.gateways import basket
from pes_sdk_conformance.recurring import RecurringConformance, charge_basket, charge_key
from pes_sdk_tbank import TBankHarness
from pes_sdk_tbank.client import DECLINE_CODES, TBankGateway
from pes_sdk_tbank.simulator import ErrorCodes

from pes_sdk.gateways import (
    ChargeOptions,
    CreateOptions,
    Decline,
    GatewayPayment,
    GatewayRefused,
    GatewayTimeout,
    GatewayUnavailable,
    PaymentState,
    SavedMethod,
    WebhookRejected,
)

S = PaymentState
RETURN = "https://service.example/return"
CUSTOMER = "client-5b1f0c2e"


class TestTBankRecurring(RecurringConformance):
    customer_key = CUSTOMER
    # Charge names only the RebillId; the gateway asks GetCardList of the CustomerKey first
    refuses_foreign_methods = True

    @pytest.fixture
    def gateway_harness(self) -> Iterator[TBankHarness]:
        with TBankHarness(timeout=0.5) as harness:
            yield harness


@pytest.fixture
def harness() -> Iterator[TBankHarness]:
    with TBankHarness(timeout=0.5) as h:
        yield h


def sent(harness: TBankHarness, method: str) -> list[dict[str, Any]]:
    return [body for name, body in harness.simulator.requests if name == method]


def parent(harness: TBankHarness, customer: str = CUSTOMER) -> tuple[GatewayPayment, SavedMethod]:
    """A parent payment the client paid: its notifications parsed, the method they tell."""
    gw = harness.gateway
    payment = basket(lines=1)
    created = gw.create_payment(
        payment,
        CreateOptions(
            "k" * 16 + uuid.uuid4().hex[:8], RETURN, save_method=True, customer_key=customer
        ),
    )
    harness.approve(created)
    harness.settle()
    methods = [
        e.payment.saved_method
        for request in harness.webhooks()
        for e in gw.parse_webhook(request)
        if e.payment.gateway_payment_id == created.gateway_payment_id
    ]
    found = [m for m in methods if m is not None]
    assert found, "no notification of the parent payment told a RebillId"
    return created, found[0]


def charge(gw: TBankGateway, method: SavedMethod, order: uuid.UUID | None = None) -> GatewayPayment:
    order, key = charge_key(order or uuid.uuid4(), "2026-11")
    return gw.charge_saved(charge_basket(order), method, ChargeOptions(key))


# -- the parent payment ------------------------------------------------------------------


def test_parent_init_carries_recurrent_customer_and_initiator(harness: TBankHarness) -> None:
    _, method = parent(harness)
    init = sent(harness, "Init")[-1]
    assert init["Recurrent"] == "Y"
    assert init["CustomerKey"] == CUSTOMER
    assert init["DATA"] == {"OperationInitiatorType": "1"}
    # the method is the notification's RebillId, for that CustomerKey, with 4 digits at most
    card = harness.simulator.cards_of(CUSTOMER)[0]
    assert method == SavedMethod("tbank", card["RebillId"], CUSTOMER, "*" + card["Pan"][-4:])


def test_a_plain_payment_sends_no_recurrent_fields(harness: TBankHarness) -> None:
    harness.gateway.create_payment(basket(lines=1), CreateOptions("k" * 16, RETURN))
    init = sent(harness, "Init")[-1]
    assert not {"Recurrent", "CustomerKey", "DATA"} & init.keys()


def test_the_rebill_notification_is_signed_with_its_card_fields(harness: TBankHarness) -> None:
    """RebillId, CardId, Pan and CustomerKey are root scalars: in the Token. A notification
    with another RebillId (a card of someone else's) is refused."""
    parent(harness)
    genuine = next(r for r in harness.webhooks() if b'"RebillId"' in r.body)
    data = json.loads(genuine.body)
    assert isinstance(data["RebillId"], int) and isinstance(data["CardId"], int)
    assert data["CustomerKey"] == CUSTOMER and "******" in data["Pan"]
    for field, value in (("RebillId", data["RebillId"] + 1), ("CustomerKey", "someone-else")):
        forged = attrs.evolve(genuine, body=json.dumps({**data, field: value}).encode())
        with pytest.raises(WebhookRejected):
            harness.gateway.parse_webhook(forged)


def test_get_state_tells_no_method(harness: TBankHarness) -> None:
    """GetState carries no RebillId: the method comes from the notification only."""
    created, _ = parent(harness)
    assert harness.gateway.get_payment(created.gateway_payment_id).saved_method is None


# -- the charge --------------------------------------------------------------------------


def test_charge_is_init_with_initiator_r_then_charge(harness: TBankHarness) -> None:
    _, method = parent(harness)
    result = charge(harness.gateway, method)
    assert result.state is S.SUCCEEDED and result.amount == Decimal("1530.45")
    init = sent(harness, "Init")[-1]
    assert init["DATA"] == {"OperationInitiatorType": "R"}
    assert init["CustomerKey"] == CUSTOMER and init["PayType"] == "O"
    assert "Recurrent" not in init and "SuccessURL" not in init
    assert init["OrderId"] == str(result.order_id)
    (body,) = sent(harness, "Charge")
    assert body["PaymentId"] == result.gateway_payment_id
    assert body["RebillId"] == method.method_id
    assert set(body) == {"TerminalKey", "PaymentId", "RebillId", "Token"}


def test_a_charge_notification_tells_no_saved_method(harness: TBankHarness) -> None:
    _, method = parent(harness)
    result = charge(harness.gateway, method)
    harness.settle()
    events = [
        e.payment
        for r in harness.webhooks()
        for e in harness.gateway.parse_webhook(r)
        if e.payment.gateway_payment_id == result.gateway_payment_id
    ]
    assert events and all(e.saved_method is None for e in events)


def test_a_repeated_charge_of_the_same_payment_is_refused_by_the_simulator(
    harness: TBankHarness,
) -> None:
    """T-Bank charges one PaymentId once: the simulator refuses a second Charge."""
    _, method = parent(harness)
    result = charge(harness.gateway, method)
    answer = harness.gateway._post(
        "Charge", {"PaymentId": result.gateway_payment_id, "RebillId": method.method_id}
    )
    assert answer["Success"] is False and answer["ErrorCode"] == ErrorCodes.BAD_STATUS
    assert harness.charges_at_acquirer(method) == 1


def test_a_lost_charge_answer_is_not_a_second_charge(harness: TBankHarness) -> None:
    _, method = parent(harness)
    order, key = charge_key(uuid.uuid4(), "2026-11")
    harness.simulator.switches.only_method = "Charge"
    harness.simulator.switches.lose_next = 1
    with pytest.raises(GatewayUnavailable):
        harness.gateway.charge_saved(charge_basket(order), method, ChargeOptions(key))
    again = harness.gateway.charge_saved(charge_basket(order), method, ChargeOptions(key))
    assert again.state is S.SUCCEEDED
    assert len(sent(harness, "Charge")) == 1, "the repeat found the charge: no second Charge"
    assert harness.charges_at_acquirer(method) == 1


def test_a_timed_out_charge_resumes_the_same_payment(harness: TBankHarness) -> None:
    """The Charge stalls past the timeout: find_payment answers None (nothing charged that
    it knows of), and charge_saved again charges the same PaymentId; the stalled Charge,
    done later, is refused for the payment's status."""
    _, method = parent(harness)
    order, key = charge_key(uuid.uuid4(), "2026-11")
    sw = harness.simulator.switches
    sw.only_method, sw.stall_next, sw.api_delay = "Charge", 1, 1.5
    with pytest.raises(GatewayTimeout):
        harness.gateway.charge_saved(charge_basket(order), method, ChargeOptions(key))
    assert harness.gateway.find_payment(order, key) is None
    again = harness.gateway.charge_saved(charge_basket(order), method, ChargeOptions(key))
    assert again.state is S.SUCCEEDED
    harness.finish_stalled_calls()
    charges = sent(harness, "Charge")
    assert len(charges) == 2 and {c["PaymentId"] for c in charges} == {again.gateway_payment_id}
    assert harness.payments_at_acquirer(order) == 1
    assert harness.charges_at_acquirer(method) == 1
    assert harness.gateway.find_payment(order, key) == harness.gateway.get_payment(
        again.gateway_payment_id
    )


def test_a_crash_between_init_and_charge_charges_the_same_payment(
    harness: TBankHarness,
) -> None:
    """A process made the Init and died: another process's charge_saved finds the NEW
    payment by CheckOrder and charges it, with no second Init."""
    _, method = parent(harness)
    order, key = charge_key(uuid.uuid4(), "2026-11")
    options = ChargeOptions(key)
    harness.gateway._call(
        "Init", harness.gateway._charge_init(charge_basket(order), method, options)
    )
    fresh = harness.fresh_gateway()
    assert fresh is not None
    result = fresh.charge_saved(charge_basket(order), method, options)
    assert result.state is S.SUCCEEDED
    assert harness.payments_at_acquirer(order) == 1
    assert len(sent(harness, "Init")) == 2  # the parent's and the dead process's
    fresh.close()


def test_a_charge_of_an_order_begun_with_another_amount_is_refused(
    harness: TBankHarness,
) -> None:
    _, method = parent(harness)
    order, key = charge_key(uuid.uuid4(), "2026-11")
    harness.gateway.charge_saved(charge_basket(order), method, ChargeOptions(key))
    # paid already: the same order answers the payment made, whatever is asked now
    again = harness.gateway.charge_saved(
        charge_basket(order, Decimal("1.00")), method, ChargeOptions(key)
    )
    assert again.amount == Decimal("1530.45")
    other, key2 = charge_key(uuid.uuid4(), "2026-11")
    harness.gateway._call(
        "Init", harness.gateway._charge_init(charge_basket(other), method, ChargeOptions(key2))
    )
    with pytest.raises(GatewayRefused, match="another amount"):
        harness.gateway.charge_saved(
            charge_basket(other, Decimal("1.00")), method, ChargeOptions(key2)
        )
    assert harness.charges_at_acquirer(method) == 1


@pytest.mark.parametrize(
    ("code", "decline"),
    [
        (ErrorCodes.INSUFFICIENT_FUNDS, Decline.FUNDS),
        ("116", Decline.FUNDS),
        (ErrorCodes.CARD_EXPIRED, Decline.METHOD_GONE),
        ("1057", Decline.METHOD_GONE),
        (ErrorCodes.ISSUER_DECLINED, Decline.OTHER),
        ("1004", Decline.OTHER),
    ],
)
def test_declines_map_to_their_reason(harness: TBankHarness, code: str, decline: Decline) -> None:
    _, method = parent(harness)
    harness.simulator.decline_next_charge(code)
    order, key = charge_key(uuid.uuid4(), "2026-11")
    result = harness.gateway.charge_saved(charge_basket(order), method, ChargeOptions(key))
    assert (result.state, result.decline, result.decline_code) == (S.FAILED, decline, code)
    # the status query and the lookup tell the same reason (CheckOrder's ErrorCode)
    looked = harness.gateway.get_payment(result.gateway_payment_id)
    assert (looked.decline, looked.decline_code) == (decline, code)
    found = harness.gateway.find_payment(order, key)
    assert found is not None and found.decline is decline
    # a repeat of the same charge is the same declined payment, never a second attempt
    again = harness.gateway.charge_saved(charge_basket(order), method, ChargeOptions(key))
    assert (again.gateway_payment_id, again.decline) == (result.gateway_payment_id, decline)
    assert len(sent(harness, "Charge")) == 1
    harness.settle()
    rejected = [
        e.payment
        for r in harness.webhooks()
        for e in harness.gateway.parse_webhook(r)
        if e.payment.gateway_payment_id == result.gateway_payment_id
    ]
    assert rejected and rejected[-1].decline is decline


def test_the_decline_table_is_documented() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "docs" / "gateways.md").read_text("utf-8")
    section = text.split("### Т-Банк", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    for code in DECLINE_CODES:
        assert f"`{code}`" in section, f"ErrorCode {code} is not in docs/gateways.md"


def test_a_charge_the_api_refuses_raises_and_charges_nothing(harness: TBankHarness) -> None:
    """OperationInitiatorType 1 on the Init contradicts a Charge: 1126, nothing charged."""
    _, method = parent(harness)
    order = uuid.uuid4()
    init = {
        "Amount": 153045,
        "OrderId": str(order),
        "Recurrent": "Y",
        "CustomerKey": CUSTOMER,
        "DATA": {"OperationInitiatorType": "1"},
    }
    harness.gateway._call("Init", init)
    with pytest.raises(GatewayRefused) as refused:
        harness.gateway.charge_saved(
            charge_basket(order), method, ChargeOptions("autopay-" + order.hex)
        )
    assert getattr(refused.value, "error_code", None) == ErrorCodes.INITIATOR_MISMATCH
    assert harness.charges_at_acquirer(method) == 0


def test_initiator_type_must_fit_recurrent(harness: TBankHarness) -> None:
    for recurrent, initiator in (("Y", "R"), ("N", "1")):
        answer = harness.gateway._post(
            "Init",
            {
                "Amount": 100,
                "OrderId": uuid.uuid4().hex,
                "Recurrent": recurrent,
                "CustomerKey": CUSTOMER,
                "DATA": {"OperationInitiatorType": initiator},
            },
        )
        assert answer["ErrorCode"] == ErrorCodes.INITIATOR_MISMATCH


def test_a_foreign_method_is_refused_before_any_call(harness: TBankHarness) -> None:
    _, method = parent(harness)
    before = len(harness.simulator.requests)
    for bad in (attrs.evolve(method, gateway="yookassa"), attrs.evolve(method, customer_key="")):
        with pytest.raises(GatewayRefused):
            charge(harness.gateway, bad)
    assert len(harness.simulator.requests) == before


# -- unbinding ---------------------------------------------------------------------------


def test_forget_is_get_card_list_then_remove_card(harness: TBankHarness) -> None:
    _, method = parent(harness)
    _, other = parent(harness)  # a second card of the same customer stays
    assert harness.gateway.forget_method(method) is True
    (removal,) = sent(harness, "RemoveCard")
    card = next(
        c for c in harness.simulator.cards_of(CUSTOMER) if c["RebillId"] == method.method_id
    )
    assert removal["CustomerKey"] == CUSTOMER and removal["CardId"] == card["CardId"]
    assert card["Status"] == "D"
    assert harness.method_at_acquirer(other)
    assert sent(harness, "GetCardList")[0]["CustomerKey"] == CUSTOMER
    # again: the list shows it removed, nothing more is asked
    assert harness.gateway.forget_method(method) is True
    assert len(sent(harness, "RemoveCard")) == 1
    # a removed card is refused before any Init or Charge
    inits = len(sent(harness, "Init"))
    with pytest.raises(GatewayRefused):
        charge(harness.gateway, method)
    assert len(sent(harness, "Init")) == inits and not sent(harness, "Charge")


def test_a_rebill_the_customer_does_not_hold_is_not_charged(harness: TBankHarness) -> None:
    """Charge names only the RebillId: the gateway's GetCardList of the CustomerKey keeps
    another customer's card (or a RebillId never issued) from being charged."""
    _, mine = parent(harness)
    _, theirs = parent(harness, customer="client-other-9")
    for bad in (
        attrs.evolve(mine, method_id=theirs.method_id),
        attrs.evolve(mine, method_id="1"),
    ):
        with pytest.raises(GatewayRefused):
            charge(harness.gateway, bad)
    assert not sent(harness, "Charge")
    assert harness.charges_at_acquirer(theirs) == 0


def test_a_charge_of_an_inactive_rebill_is_rejected_as_gone(harness: TBankHarness) -> None:
    """Where T-Bank itself finds the RebillId inactive (a card removed after the gateway's
    check), the payment is REJECTED with 104: the method is gone."""
    _, method = parent(harness)
    order, key = charge_key(uuid.uuid4(), "2026-11")
    harness.gateway._call(
        "Init", harness.gateway._charge_init(charge_basket(order), method, ChargeOptions(key))
    )
    (payment_id,) = harness.simulator.payments_for(order)
    answer = harness.gateway._post("Charge", {"PaymentId": str(payment_id), "RebillId": "1"})
    assert (answer["Success"], answer["Status"]) == (False, "REJECTED")
    assert answer["ErrorCode"] == ErrorCodes.REBILL_INACTIVE
    result = harness.gateway.get_payment(str(payment_id))
    assert (result.state, result.decline) == (S.FAILED, Decline.METHOD_GONE)


def test_forgetting_for_an_unknown_customer_is_true(harness: TBankHarness) -> None:
    method = SavedMethod("tbank", "1700000001", "nobody-at-all", "*1234")
    assert harness.gateway.forget_method(method) is True
    assert not sent(harness, "RemoveCard")


def test_get_card_list_answers_a_bare_array(harness: TBankHarness) -> None:
    parent(harness)
    answer = harness.gateway._post("GetCardList", {"CustomerKey": CUSTOMER})
    assert isinstance(answer, list) and answer[0]["Status"] == "A"
    assert set(answer[0]) == {"CardId", "Pan", "Status", "RebillId", "CardType", "ExpDate"}
