"""ЮKassa's saved methods (автоплатежи): the recurring family, then the protocol on the wire.

``save_payment_method: true`` on the first payment, ``payment_method_id`` without a
confirmation for each charge, ``cancellation_details.reason`` mapped to :class:`Decline`,
and no call to delete a method (``unbind=False``). Adapter against simulator over loopback
HTTP; the simulator records each request, so the tests read the fields as sent.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pes_sdk_conformance.recurring import RecurringConformance
from pes_sdk_yookassa import YooKassaHarness, basic_auth
from pes_sdk_yookassa.client import _snapshot, _title
from pes_sdk_yookassa.protocol import DECLINES

from pes_sdk.gateways import (
    ChargeOptions,
    CreateOptions,
    Decline,
    GatewayPayment,
    GatewayRefused,
    PaymentState,
    SavedMethod,
    WebhookRequest,
    new_idempotency_key,
)
from pes_sdk.models import Payment, PaymentLine, PaymentMethod
from pes_sdk.models.receipts import Receipt, ReceiptVat, Supplier

S = PaymentState
RETURN = "https://service.example/return"
SUPPLIERS = {"7707083893": Supplier("7707083893", "ПАО «Энергосбыт»", (), ReceiptVat.VAT22)}


class TestYooKassaRecurring(RecurringConformance):
    # ЮKassa keeps no customer for a saved method: the method's id is all there is
    keeps_customer = False

    @pytest.fixture
    def gateway_harness(self) -> Iterator[YooKassaHarness]:
        with YooKassaHarness(timeout=0.5) as harness:
            yield harness


# -- the protocol on the wire -----------------------------------------------------------

CUSTOMER = "client-5b1f0c2e"


@pytest.fixture
def harness() -> Iterator[YooKassaHarness]:
    with YooKassaHarness(timeout=0.5) as h:
        yield h


def raw(h: YooKassaHarness, path: str, body: dict[str, Any], key: str) -> tuple[int, Any]:
    """A POST straight to the simulator, past the adapter (which never sends such a body)."""
    conn = http.client.HTTPConnection("127.0.0.1", int(h.simulator.root_url.rsplit(":", 1)[1]))
    headers = {
        "Authorization": basic_auth(h.simulator.shop_id, h.simulator.secret_key),
        "Idempotence-Key": key,
        "Content-Type": "application/json",
    }
    try:
        conn.request("POST", path, body=json.dumps(body).encode(), headers=headers)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


def basket(total: str = "1530.45", method: PaymentMethod = PaymentMethod.CARD) -> Payment:
    line = PaymentLine("7707083893", "0012345", Decimal(total), "Электроснабжение")
    return Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), method, [line])


def posted(h: YooKassaHarness, path: str = "/v3/payments") -> list[dict[str, Any]]:
    """The JSON bodies POSTed to ``path``, in order."""
    return [body for method, at, body in h.simulator.requests if method == "POST" and at == path]


def saved(h: YooKassaHarness, method: PaymentMethod = PaymentMethod.CARD) -> SavedMethod:
    """A first payment with save_method, paid on the page: the method ЮKassa saved."""
    gateway = h.gateway
    first = gateway.create_payment(
        basket(method=method),
        CreateOptions(new_idempotency_key(), RETURN, save_method=True, customer_key=CUSTOMER),
    )
    h.approve(first)
    found = gateway.get_payment(first.gateway_payment_id).saved_method
    assert found is not None
    return found


def charge(
    h: YooKassaHarness, method: SavedMethod, key: str | None = None, total: str = "1530.45"
) -> GatewayPayment:
    return h.gateway.charge_saved(
        basket(total), method, ChargeOptions(key or new_idempotency_key())
    )


def test_the_first_payment_asks_to_save_and_tells_the_method_once_paid(
    harness: YooKassaHarness,
) -> None:
    gateway = harness.gateway
    p = basket()
    options = CreateOptions(new_idempotency_key(), RETURN, save_method=True, customer_key=CUSTOMER)
    first = gateway.create_payment(p, options)
    [body] = posted(harness)
    assert body["save_payment_method"] is True
    assert body["metadata"] == {"order_id": str(p.payment_id), "autopay": "save"}
    assert body["confirmation"]["type"] == "redirect", "the client confirms the first one"
    assert CUSTOMER not in json.dumps(body), "ЮKassa keeps no customer: the key stays home"
    # not saved while the client has not paid
    at_sim = harness.simulator.payment(first.gateway_payment_id)["payment_method"]
    assert at_sim["saved"] is False
    assert first.saved_method is None
    harness.approve(first)
    at_sim = harness.simulator.payment(first.gateway_payment_id)["payment_method"]
    assert at_sim["saved"] is True and at_sim["status"] == "active"
    assert at_sim["card"]["first6"] == "555555", "ЮKassa shows six digits on the wire"
    method = gateway.get_payment(first.gateway_payment_id).saved_method
    assert method == SavedMethod("yookassa", at_sim["id"], "", "Bank card *4477")
    assert method.method_id != first.gateway_payment_id, "the method's id, not the payment's"
    assert "555555" not in method.title


def test_the_succeeded_notification_carries_the_saved_method(harness: YooKassaHarness) -> None:
    method = saved(harness)
    harness.settle()
    [hook] = [w for w in harness.webhooks() if json.loads(w.body)["event"] == "payment.succeeded"]
    sent = json.loads(hook.body)["object"]["payment_method"]
    assert sent["saved"] is True and sent["id"] == method.method_id
    [event] = harness.gateway.parse_webhook(hook)
    assert event.payment.saved_method == method


def test_without_consent_nothing_is_asked_nor_saved(harness: YooKassaHarness) -> None:
    gateway = harness.gateway
    first = gateway.create_payment(basket(), CreateOptions(new_idempotency_key(), RETURN))
    [body] = posted(harness)
    assert "save_payment_method" not in body
    assert body["metadata"].keys() == {"order_id"}
    harness.approve(first)
    paid = gateway.get_payment(first.gateway_payment_id)
    assert paid.state is S.SUCCEEDED and paid.saved_method is None
    at_sim = harness.simulator.payment(first.gateway_payment_id)["payment_method"]
    assert at_sim["saved"] is False
    assert harness.simulator.method(at_sim["id"]) is None


@pytest.mark.parametrize("method", [PaymentMethod.SBERPAY, PaymentMethod.SBP])
def test_sberpay_and_sbp_methods_are_saved_too(
    harness: YooKassaHarness, method: PaymentMethod
) -> None:
    found = saved(harness, method)
    assert found.title in ("SberPay", "СБП")
    assert charge(harness, found).state is S.SUCCEEDED


def test_a_charge_sends_the_method_id_and_no_confirmation(harness: YooKassaHarness) -> None:
    method = saved(harness)
    p = basket("987.65")
    key = new_idempotency_key()
    result = harness.gateway.charge_saved(p, method, ChargeOptions(key, description="Ноябрь"))
    body = posted(harness)[-1]
    assert body == {
        "amount": {"value": "987.65", "currency": "RUB"},
        "capture": True,
        "payment_method_id": method.method_id,
        "metadata": {"order_id": str(p.payment_id), "autopay": "charge"},
        "description": "Ноябрь",
    }
    assert harness.simulator.calls[-1] == ("POST", "/v3/payments", key)
    assert result.state is S.SUCCEEDED and result.amount == Decimal("987.65")
    assert result.confirmation is None and result.paid_at is not None
    assert result.saved_method is None, "only the first payment tells the method"
    assert result.order_id == p.payment_id


def test_a_charge_takes_its_receipt(harness: YooKassaHarness) -> None:
    method = saved(harness)
    p = basket()
    receipt = Receipt.for_payment(
        p, SUPPLIERS, fee_vat=ReceiptVat.VAT22, customer_email="client@example.ru"
    )
    result = harness.gateway.charge_saved(
        p, method, ChargeOptions(new_idempotency_key(), receipt=receipt)
    )
    sent = harness.simulator.receipt_of(result.gateway_payment_id)
    assert sent is not None and sent["customer"] == {"email": "client@example.ru"}
    assert sent["items"][0]["agent_type"] == "payment_agent"


def test_the_same_key_is_the_same_charge(harness: YooKassaHarness) -> None:
    method = saved(harness)
    p = basket()
    options = ChargeOptions(new_idempotency_key())
    first = harness.gateway.charge_saved(p, method, options)
    again = harness.gateway.charge_saved(p, method, options)
    assert again.gateway_payment_id == first.gateway_payment_id
    assert harness.simulator.charges_of(method.method_id) == [first.gateway_payment_id]
    # the same key for another charge is refused, not a second charge
    with pytest.raises(GatewayRefused) as caught:
        harness.gateway.charge_saved(basket("10.00"), method, options)
    assert caught.value.status == 400
    assert len(harness.simulator.charges_of(method.method_id)) == 1


@pytest.mark.parametrize(
    ("reason", "decline"),
    [
        ("insufficient_funds", Decline.FUNDS),
        ("payment_method_limit_exceeded", Decline.FUNDS),
        ("card_expired", Decline.METHOD_GONE),
        ("permission_revoked", Decline.METHOD_GONE),
        ("payment_method_restricted", Decline.METHOD_GONE),
        ("general_decline", Decline.OTHER),
        ("fraud_suspected", Decline.OTHER),
        ("issuer_unavailable", Decline.OTHER),
        ("a_reason_ЮKassa_adds_later", Decline.OTHER),
    ],
)
def test_a_declined_charge_is_failed_with_the_mapped_reason(
    harness: YooKassaHarness, reason: str, decline: Decline
) -> None:
    method = saved(harness)
    harness.simulator.decline_next_charge(reason)
    result = charge(harness, method)
    at_sim = harness.simulator.payment(result.gateway_payment_id)
    assert at_sim["status"] == "canceled"
    assert at_sim["cancellation_details"]["reason"] == reason
    assert (result.state, result.decline, result.decline_code) == (S.FAILED, decline, reason)
    assert harness.simulator.charges_of(method.method_id) == []
    assert DECLINES.get(reason, Decline.OTHER) is decline


@pytest.mark.parametrize("reason", ["permission_revoked", "card_expired"])
def test_a_revoked_method_declines_every_charge_as_gone(
    harness: YooKassaHarness, reason: str
) -> None:
    method = saved(harness)
    harness.simulator.revoke_method(method.method_id, reason)
    assert harness.simulator.method(method.method_id)["status"] == "inactive"  # type: ignore[index]
    for _ in range(2):
        result = charge(harness, method)
        assert (result.state, result.decline, result.decline_code) == (
            S.FAILED,
            Decline.METHOD_GONE,
            reason,
        )
    assert harness.simulator.charges_of(method.method_id) == []


def test_an_unknown_or_foreign_method_is_refused(harness: YooKassaHarness) -> None:
    method = saved(harness)
    bogus = SavedMethod("yookassa", "2ee3bd9a-000f-5000-9000-1d5dbb1b1e3b")
    with pytest.raises(GatewayRefused) as caught:
        charge(harness, bogus)
    assert caught.value.status == 400 and "payment_method_id" in caught.value.message
    before = len(harness.simulator.requests)
    with pytest.raises(GatewayRefused):
        charge(harness, SavedMethod("tbank", method.method_id, CUSTOMER))
    assert len(harness.simulator.requests) == before, "another acquirer's method is not sent"
    assert harness.simulator.charges_of(method.method_id) == []


def test_a_pending_charge_is_decided_later(harness: YooKassaHarness) -> None:
    method = saved(harness)
    harness.simulator.switches.pend_charges_next = 1
    result = charge(harness, method)
    assert result.state is S.PENDING and result.confirmation is None
    assert "confirmation" not in harness.simulator.payment(result.gateway_payment_id)
    harness.simulator.finish_pending_charges()
    assert harness.gateway.get_payment(result.gateway_payment_id).state is S.SUCCEEDED
    assert len(harness.simulator.charges_of(method.method_id)) == 1


def test_no_call_forgets_a_method(harness: YooKassaHarness) -> None:
    """ЮKassa's API has no call to delete a saved method: forget_method says so (False)
    and asks nothing; the method stays chargeable at ЮKassa."""
    caps = harness.gateway.capabilities
    assert caps.recurring and not caps.unbind
    method = saved(harness)
    before = len(harness.simulator.requests)
    assert harness.gateway.forget_method(method) is False
    assert len(harness.simulator.requests) == before
    assert harness.simulator.method(method.method_id)["status"] == "active"  # type: ignore[index]


def test_a_payment_method_notification_is_acknowledged_with_no_event(
    harness: YooKassaHarness,
) -> None:
    """``payment_method.active`` belongs to saving without a payment, which this adapter
    does not use: acknowledged (so ЮKassa stops resending), nothing to apply."""
    body = {
        "type": "notification",
        "event": "payment_method.active",
        "object": {"type": "bank_card", "id": "2ee3bd9a-000f-5000-9000-1d5dbb1b1e3b"},
    }
    hook = WebhookRequest(json.dumps(body).encode(), [], remote_addr="127.0.0.1")
    assert harness.gateway.parse_webhook(hook) == []


def test_a_shop_without_autopayments_is_refused() -> None:
    with YooKassaHarness(timeout=0.5, recurring=False) as h:
        options = CreateOptions(
            new_idempotency_key(), RETURN, save_method=True, customer_key=CUSTOMER
        )
        with pytest.raises(GatewayRefused) as caught:
            h.gateway.create_payment(basket(), options)
        assert caught.value.status == 403
        assert h.simulator.payments_for(uuid.uuid4()) == []


def test_first_payment_declines_and_expiries() -> None:
    """Outside autopay too: a declined payment says why, an expired one is no decline."""
    with YooKassaHarness(timeout=0.5) as h:
        declined = h.gateway.create_payment(basket(), CreateOptions(new_idempotency_key(), RETURN))
        h.simulator.decline(declined.gateway_payment_id, "insufficient_funds")
        got = h.gateway.get_payment(declined.gateway_payment_id)
        assert (got.state, got.decline, got.decline_code) == (
            S.FAILED,
            Decline.FUNDS,
            "insufficient_funds",
        )
        expired = h.gateway.create_payment(basket(), CreateOptions(new_idempotency_key(), RETURN))
        h.simulator.expire(expired.gateway_payment_id)
        got = h.gateway.get_payment(expired.gateway_payment_id)
        assert (got.state, got.decline, got.decline_code) == (
            S.CANCELLED,
            None,
            "expired_on_confirmation",
        )


@pytest.mark.parametrize(
    ("method", "title"),
    [
        (
            {"title": "Bank card *4477", "card": {"first6": "555555", "last4": "4477"}},
            "Bank card *4477",
        ),
        ({"title": "Card 555555******4477", "card": {"last4": "4477"}}, "*4477"),
        ({"card": {"first6": "555555", "last4": "4477"}}, "*4477"),
        ({"title": "5555554477"}, ""),
        ({"title": "SberPay"}, "SberPay"),
        ({}, ""),
    ],
)
def test_a_title_shows_at_most_four_digits(method: dict[str, Any], title: str) -> None:
    assert _title(method) == title


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"payment_method_data": {"type": "bank_card"}}, "payment_method_data"),
        ({"save_payment_method": True}, "save_payment_method"),
    ],
)
def test_the_simulator_refuses_a_charge_mixed_with_a_new_method(
    harness: YooKassaHarness, body: dict[str, Any], parameter: str
) -> None:
    method = saved(harness)
    request = {
        "amount": {"value": "10.00", "currency": "RUB"},
        "capture": True,
        "payment_method_id": method.method_id,
        "metadata": {"order_id": str(uuid.uuid4())},
        **body,
    }
    status, answer = raw(harness, "/v3/payments", request, new_idempotency_key())
    assert (status, answer["code"], answer["parameter"]) == (400, "invalid_request", parameter)


def _object(autopay: str | None, **extra: Any) -> dict[str, Any]:
    metadata = {"order_id": str(uuid.uuid4())}
    if autopay is not None:
        metadata["autopay"] = autopay
    return {
        "id": "2ee3bd9a-000f-5000-a000-1d5dbb1b1e3b",
        "status": "pending",
        "amount": {"value": "10.00", "currency": "RUB"},
        "metadata": metadata,
        "payment_method": {"type": "bank_card", "id": "2ee3bd9a-000f-5000-9000-1d5dbb1b1e3b"},
        **extra,
    }


def test_a_charge_never_offers_a_confirmation() -> None:
    """Should ЮKassa ask to confirm a charge, nobody is there: it is not passed on."""
    asking = {"type": "redirect", "confirmation_url": "https://yoomoney.ru/checkout/x"}
    assert _snapshot(_object("charge", confirmation=asking)).confirmation is None
    assert _snapshot(_object(None, confirmation=asking)).confirmation is not None


def test_only_a_payment_saved_with_consent_reports_the_method() -> None:
    held = {"type": "bank_card", "id": "m-1", "saved": True, "title": "Bank card *4477"}
    for autopay, reported in ((None, False), ("charge", False), ("save", True)):
        got = _snapshot(_object(autopay, status="succeeded", payment_method=held))
        assert (got.saved_method is not None) is reported, autopay
