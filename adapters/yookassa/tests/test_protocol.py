"""ЮKassa's protocol, adapter against simulator over loopback HTTP: auth, idempotence, errors,
confirmations, refunds with 54-ФЗ receipts, lookup, and the rules for unsigned webhooks."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal

import attrs
import pytest
from pes_sdk_yookassa import (
    DEFAULT_WEBHOOK_NETWORKS,
    Networks,
    YooKassaGateway,
    YooKassaHarness,
    basic_auth,
    receipt_json,
    refund_receipt,
)

from pes_sdk.gateways import (
    ConfirmationKind,
    CreateOptions,
    GatewayRefused,
    GatewayTimeout,
    GatewayUnavailable,
    PaymentState,
    RefundRequest,
    UnknownPayment,
    WebhookRejected,
    WebhookRequest,
    new_idempotency_key,
)
from pes_sdk.models import Payment, PaymentLine, PaymentMethod
from pes_sdk.models.receipts import Receipt, ReceiptVat, Supplier

S = PaymentState
RETURN = "https://service.example/return"
SUPPLIERS = {
    "7707083893": Supplier("7707083893", "ПАО «Энергосбыт»", ("+74951234567",), ReceiptVat.VAT22),
    "7736050003": Supplier("7736050003", "ООО «УК Дом»", (), ReceiptVat.NONE),
}


def payment(method: PaymentMethod = PaymentMethod.CARD) -> Payment:
    return Payment(
        uuid.uuid4(),
        dt.datetime.now(dt.UTC),
        method,
        [
            PaymentLine(
                "7707083893", "0012345", Decimal("1272.26"), "Электроснабжение", client_fee="12.72"
            ),
            PaymentLine("7736050003", "77-001", Decimal("300.00"), "Содержание жилья"),
        ],
    )


def receipt_of(p: Payment) -> Receipt:
    return Receipt.for_payment(p, SUPPLIERS, fee_vat=ReceiptVat.VAT22)


@pytest.fixture
def harness() -> Iterator[YooKassaHarness]:
    with YooKassaHarness(timeout=0.5) as h:
        yield h


def options(key: str | None = None) -> CreateOptions:
    return CreateOptions(key or new_idempotency_key(), RETURN)


def raw(
    h: YooKassaHarness, method: str, path: str, body: bytes = b"", **headers: str
) -> tuple[int, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", int(h.simulator.root_url.rsplit(":", 1)[1]))
    try:
        conn.request(method, path, body=body, headers=headers)
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


# -- auth -------------------------------------------------------------------------------


def test_basic_auth_known_answer() -> None:
    """HTTP Basic over ``shopId:secretKey`` (RFC 7617), computed by hand."""
    assert basic_auth("100500", "test_simulator_secret") == (
        "Basic MTAwNTAwOnRlc3Rfc2ltdWxhdG9yX3NlY3JldA=="
    )
    with pytest.raises(ValueError):
        basic_auth("", "x")


def test_wrong_credentials_are_refused_without_leaking_the_secret(
    harness: YooKassaHarness,
) -> None:
    sim = harness.simulator
    wrong = YooKassaGateway(sim.shop_id, "test_WRONG_secret", base_url=sim.base_url, timeout=1)
    with pytest.raises(GatewayRefused) as caught:
        wrong.create_payment(payment(), options())
    assert caught.value.status == 401
    assert "invalid_credentials" in str(caught.value)
    assert "WRONG" not in str(caught.value) and "WRONG" not in repr(wrong)
    wrong.close()
    status, body = raw(harness, "GET", "/v3/payments/x")
    assert status == 401 and body["type"] == "error" and body["code"] == "invalid_credentials"


# -- create, idempotence, errors --------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "kind", "method_type"),
    [
        (PaymentMethod.CARD, ConfirmationKind.REDIRECT, "bank_card"),
        (PaymentMethod.SBERPAY, ConfirmationKind.REDIRECT, "sberbank"),
        (PaymentMethod.SBP, ConfirmationKind.QR, "sbp"),
    ],
)
def test_create_speaks_yookassa(
    harness: YooKassaHarness, method: PaymentMethod, kind: ConfirmationKind, method_type: str
) -> None:
    p = payment(method)
    opts = options()
    snap = harness.gateway.create_payment(p, opts)
    assert (snap.state, snap.amount, snap.order_id, snap.method) == (
        S.PENDING,
        p.total,
        p.payment_id,
        method,
    )
    assert snap.confirmation is not None and snap.confirmation.kind is kind
    at_sim = harness.simulator.payment(snap.gateway_payment_id)
    assert at_sim["amount"] == {"value": "1584.98", "currency": "RUB"}
    assert at_sim["payment_method"]["type"] == method_type
    assert at_sim["metadata"] == {"order_id": str(p.payment_id)}
    if kind is ConfirmationKind.QR:
        # the opaque confirmation_data is passed on untouched
        assert snap.confirmation.qr_payload == at_sim["confirmation"]["confirmation_data"]
    else:
        assert snap.confirmation.url == at_sim["confirmation"]["confirmation_url"]
        assert at_sim["confirmation"]["return_url"] == RETURN
    assert ("POST", "/v3/payments", opts.idempotency_key) in harness.simulator.calls


def test_same_key_same_body_same_payment_other_body_refused(harness: YooKassaHarness) -> None:
    p = payment()
    opts = options()
    first = harness.gateway.create_payment(p, opts)
    again = harness.gateway.create_payment(p, opts)
    assert first.gateway_payment_id == again.gateway_payment_id
    other = attrs.evolve(p, lines=p.lines[:1])
    with pytest.raises(GatewayRefused) as caught:
        harness.gateway.create_payment(other, opts)
    assert caught.value.status == 400
    assert "invalid_request" in str(caught.value) and "Idempotence-Key" in str(caught.value)
    assert harness.payments_at_acquirer(p.payment_id) == 1


def test_post_without_idempotence_key_is_refused(harness: YooKassaHarness) -> None:
    auth = basic_auth(harness.simulator.shop_id, harness.simulator.secret_key)
    status, body = raw(harness, "POST", "/v3/payments", b"{}", Authorization=auth)
    assert status == 400
    assert (body["type"], body["code"], body["parameter"]) == (
        "error",
        "invalid_request",
        "Idempotence-Key",
    )
    too_long = "k" * 65
    status, body = raw(
        harness, "POST", "/v3/refunds", b"{}", Authorization=auth, **{"Idempotence-Key": too_long}
    )
    assert status == 400 and body["parameter"] == "Idempotence-Key"


def test_error_answers_map_to_typed_errors(harness: YooKassaHarness) -> None:
    gw, sw = harness.gateway, harness.simulator.switches
    with pytest.raises(UnknownPayment):
        gw.get_payment("2f000000-000f-5000-a000-000000000000")
    sw.throttle_next = 1
    with pytest.raises(GatewayUnavailable) as caught:
        gw.get_payment("x")
    assert caught.value.status == 429
    sw.fail_next = 1
    with pytest.raises(GatewayUnavailable) as caught:
        gw.create_payment(payment(), options())
    assert caught.value.status == 500
    harness.time_out_next_answer()
    with pytest.raises(GatewayTimeout):
        gw.get_payment("x")


def test_lost_answer_then_retry_with_the_key_creates_once(harness: YooKassaHarness) -> None:
    p, opts = payment(), options()
    harness.lose_next_answer()
    with pytest.raises(GatewayUnavailable):
        harness.gateway.create_payment(p, opts)
    snap = harness.gateway.create_payment(p, opts)
    assert harness.simulator.payments_for(p.payment_id) == [snap.gateway_payment_id]


def test_find_payment_pages_through_the_list(harness: YooKassaHarness) -> None:
    sim = harness.simulator
    gw = YooKassaGateway(
        sim.shop_id, sim.secret_key, base_url=sim.base_url, timeout=1, lookup_page_size=2
    )
    target = payment()
    made = gw.create_payment(target, options())
    for _ in range(5):  # newer payments push ours to the third page
        gw.create_payment(payment(), options())
    found = gw.find_payment(target.payment_id, "unused-key")
    assert found is not None and found.gateway_payment_id == made.gateway_payment_id
    lists = [c for c in sim.calls if c[:2] == ("GET", "/v3/payments")]
    assert len(lists) == 3
    assert gw.find_payment(uuid.uuid4(), "unused-key") is None
    gw.close()


# -- outcomes and cancel ----------------------------------------------------------------


def test_decline_is_failed_expiry_is_cancelled(harness: YooKassaHarness) -> None:
    gw, sim = harness.gateway, harness.simulator
    declined = gw.create_payment(payment(), options())
    sim.decline(declined.gateway_payment_id, "insufficient_funds")
    assert gw.get_payment(declined.gateway_payment_id).state is S.FAILED
    expired = gw.create_payment(payment(), options())
    sim.expire(expired.gateway_payment_id)
    assert gw.get_payment(expired.gateway_payment_id).state is S.CANCELLED


def test_pending_payment_cannot_be_cancelled(harness: YooKassaHarness) -> None:
    """capture=true: ЮKassa cancels only waiting_for_capture payments."""
    snap = harness.gateway.create_payment(payment(), options())
    with pytest.raises(GatewayRefused) as caught:
        harness.gateway.cancel_payment(snap.gateway_payment_id, new_idempotency_key())
    assert caught.value.status == 400
    assert harness.gateway.get_payment(snap.gateway_payment_id).state is S.PENDING


# -- receipts (54-ФЗ) and refunds -------------------------------------------------------


def test_receipt_json_known_answer() -> None:
    p = payment()
    out = receipt_json(receipt_of(p), {"email": "receipts@service.example"}, 1)
    assert out == {
        "items": [
            {
                "description": "Электроснабжение",
                "quantity": "1",
                "amount": {"value": "1272.26", "currency": "RUB"},
                "vat_code": 11,
                "payment_subject": "service",
                "payment_mode": "full_payment",
                "agent_type": "payment_agent",
                "supplier": {
                    "name": "ПАО «Энергосбыт»",
                    "inn": "7707083893",
                    "phone": "74951234567",
                },
            },
            {
                "description": "Содержание жилья",
                "quantity": "1",
                "amount": {"value": "300.00", "currency": "RUB"},
                "vat_code": 1,
                "payment_subject": "service",
                "payment_mode": "full_payment",
                "agent_type": "payment_agent",
                "supplier": {"name": "ООО «УК Дом»", "inn": "7736050003"},
            },
            {
                "description": "Вознаграждение платёжного агента",
                "quantity": "1",
                "amount": {"value": "12.72", "currency": "RUB"},
                "vat_code": 11,
                "payment_subject": "service",
                "payment_mode": "full_payment",
            },
        ],
        "customer": {"email": "receipts@service.example"},
        "tax_system_code": 1,
    }


def test_the_simulator_knows_yookassas_agent_types_only(harness: YooKassaHarness) -> None:
    """ЮKassa names a payment agent ``payment_agent``; the cloud-register name
    ``paying_agent`` (or a tag 1222 number) is refused, as ЮKassa's list has no such value."""
    p = payment()
    receipt = receipt_json(receipt_of(p), {"email": "receipts@service.example"}, 1)
    auth = basic_auth(harness.simulator.shop_id, harness.simulator.secret_key)
    for wrong in ("paying_agent", "4"):
        receipt["items"][0]["agent_type"] = wrong
        body = {
            "amount": {"value": str(p.total), "currency": "RUB"},
            "capture": True,
            "payment_method_data": {"type": "bank_card"},
            "confirmation": {"type": "redirect", "return_url": RETURN},
            "receipt": receipt,
        }
        status, answer = raw(
            harness,
            "POST",
            "/v3/payments",
            json.dumps(body).encode(),
            Authorization=auth,
            **{"Idempotence-Key": new_idempotency_key(), "Content-Type": "application/json"},
        )
        assert (status, answer["parameter"]) == (400, "receipt.items[0].agent_type")
    assert harness.simulator.totals()[0] == 0


def test_refund_receipt_splits_service_and_fee() -> None:
    p = payment()
    request = RefundRequest.for_lines(p, "gid", {0: Decimal("1280.00"), 1: Decimal("100.00")})
    back = refund_receipt(p, receipt_of(p), request)
    assert [(pos.name, pos.amount, pos.supplier) for pos in back.positions] == [
        ("Электроснабжение", Decimal("1272.26"), SUPPLIERS["7707083893"]),
        ("Содержание жилья", Decimal("100.00"), SUPPLIERS["7736050003"]),
        ("Вознаграждение платёжного агента", Decimal("7.74"), None),
    ]
    assert back.total == request.amount


def test_receipts_required_and_refunds_per_line() -> None:
    """A 54-ФЗ shop: receipts with payment and refunds; lines refunded in parts sum up."""
    book: dict[str, Payment] = {}

    def refund_for(request: RefundRequest) -> Receipt:
        p = book[request.gateway_payment_id]
        return refund_receipt(p, receipt_of(p), request)

    with YooKassaHarness(
        timeout=1,
        receipts_required=True,
        receipt_for=receipt_of,
        refund_receipt_for=refund_for,
        receipt_customer={"email": "receipts@service.example"},
    ) as h:
        p = payment()
        snap = h.gateway.create_payment(p, options())
        book[snap.gateway_payment_id] = p
        h.simulator.approve(snap.gateway_payment_id)
        at_sim = h.simulator.payment(snap.gateway_payment_id)
        assert at_sim["receipt_registration"] == "pending"
        gid = snap.gateway_payment_id
        first = h.gateway.refund(RefundRequest.for_lines(p, gid, {0: "0.01"}), "refund-key-1")
        assert (first.amount, first.payment.state) == (Decimal("0.01"), S.PARTIALLY_REFUNDED)
        again = h.gateway.refund(RefundRequest.for_lines(p, gid, {0: "0.01"}), "refund-key-1")
        assert again.refund_id == first.refund_id  # the same key: the same refund
        assert again.payment.refunded == Decimal("0.01")
        rest = RefundRequest.for_lines(p, gid, {0: "1284.97", 1: "300.00"})
        last = h.gateway.refund(rest, "refund-key-2")
        assert (last.payment.state, last.payment.refunded) == (S.REFUNDED, p.total)
        with pytest.raises(GatewayRefused):
            h.gateway.refund(RefundRequest.for_lines(p, gid, {1: "0.01"}), "refund-key-3")
        assert h.simulator.totals() == (p.total, p.total)


def test_receipt_without_customer_is_not_sent() -> None:
    """ЮKassa refuses a receipt without ``receipt.customer`` (see test_receipt_customer), so
    the adapter sends none when neither the receipt nor the shop names a contact: a shop
    that requires receipts then refuses the payment for the missing receipt."""
    with YooKassaHarness(timeout=1, receipts_required=True, receipt_for=receipt_of) as h:
        with pytest.raises(GatewayRefused) as caught:
            h.gateway.create_payment(payment(), options())
        assert "(receipt)" in str(caught.value)
        with pytest.raises(GatewayRefused) as caught:
            YooKassaGateway(
                h.simulator.shop_id,
                h.simulator.secret_key,
                base_url=h.simulator.base_url,
                timeout=1,
            ).create_payment(payment(), options())
        assert caught.value.status == 400 and "(receipt)" in str(caught.value)


# -- webhooks: source network, then re-fetch --------------------------------------------


def test_default_networks_are_yookassas_not_loopback() -> None:
    nets = Networks(DEFAULT_WEBHOOK_NETWORKS)
    for inside in (
        "185.71.76.1",
        "185.71.77.31",
        "77.75.153.127",
        "77.75.156.11",
        "77.75.156.35",
        "77.75.154.200",
        "2a02:5180::1",
        "::ffff:185.71.76.5",
    ):
        assert inside in nets, inside
    for outside in (
        "185.71.76.32",
        "77.75.156.12",
        "127.0.0.1",
        "10.0.0.1",
        "2a02:5181::1",
        "",
        "185.71.76.1, 127.0.0.1",
    ):
        assert outside not in nets, outside
    with pytest.raises(ValueError):
        Networks([])
    with pytest.raises(ValueError):
        Networks(["185.71.76.1/27"])  # host bits set: a typo, not a network


def test_default_gateway_refuses_loopback_webhooks(harness: YooKassaHarness) -> None:
    sim = harness.simulator
    gw = YooKassaGateway(sim.shop_id, sim.secret_key, base_url=sim.base_url, timeout=1)
    snap = gw.create_payment(payment(), options())
    hook = harness.forge_webhook("payment.succeeded", snap.gateway_payment_id)
    with pytest.raises(WebhookRejected) as caught:
        gw.parse_webhook(hook)
    assert caught.value.reason == "source"
    # from ЮKassa's network it is accepted, and what counts is the re-fetched payment
    events = gw.parse_webhook(attrs.evolve(hook, remote_addr="185.71.76.10"))
    assert [e.payment.state for e in events] == [S.PENDING]
    assert [e.signed_at for e in events] == [None]
    gw.close()


def test_refund_notification_refetches_the_payment(harness: YooKassaHarness) -> None:
    p = payment()
    snap = harness.gateway.create_payment(p, options())
    harness.simulator.approve(snap.gateway_payment_id)
    harness.gateway.refund(RefundRequest.full(p, snap.gateway_payment_id), "refund-key-x")
    harness.settle()
    events = [e for r in harness.webhooks() for e in harness.gateway.parse_webhook(r)]
    kinds = sorted(e.event_id.split(":")[0] for e in events)
    assert kinds == ["payment.succeeded", "refund.succeeded"]
    assert {(e.payment.state, e.payment.refunded) for e in events} == {(S.REFUNDED, p.total)}
    # the raw notification of the payment still says "succeeded": the body was not trusted
    first = next(r for r in harness.webhooks() if b"payment.succeeded" in r.body)
    assert json.loads(first.body)["object"].get("refunded_amount", {}).get("value") == "0.00"


def test_malformed_unknown_and_foreign_notifications(harness: YooKassaHarness) -> None:
    gw = harness.gateway

    def hook(body: object) -> WebhookRequest:
        return WebhookRequest(json.dumps(body).encode(), remote_addr="127.0.0.1")

    for bad in (b"not json", b"[]"):
        with pytest.raises(WebhookRejected) as caught:
            gw.parse_webhook(WebhookRequest(bad, remote_addr="127.0.0.1"))
        assert caught.value.reason == "malformed"
    with pytest.raises(WebhookRejected) as caught:
        gw.parse_webhook(hook({"type": "notification", "event": "payment.succeeded"}))
    assert caught.value.reason == "malformed"
    with pytest.raises(WebhookRejected) as caught:
        gw.parse_webhook(
            hook({"type": "notification", "event": "payment.succeeded", "object": {"id": "nope"}})
        )
    assert caught.value.reason == "unknown-payment"
    # an event the gateway does not use is acknowledged with nothing to apply
    payout = {"type": "notification", "event": "payout.succeeded", "object": {"id": "po-1"}}
    assert gw.parse_webhook(hook(payout)) == []
