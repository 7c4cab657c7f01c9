"""The adapter against the simulator of Sber's documented protocol, over loopback HTTP."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import attrs
import pytest
from pes_sdk_conformance.gateways import basket
from pes_sdk_sber import (
    CallbackReceiver,
    SberError,
    SberGateway,
    SberHarness,
    SberSimulator,
    checksum,
    gateway_for,
    order_bundle,
    state_of,
)
from pes_sdk_sber.client import DEFAULT_TAX_TYPES
from pes_sdk_sber.simulator import Switches

from pes_sdk.errors import ConfigError
from pes_sdk.gateways import (
    ConfirmationKind,
    CreateOptions,
    GatewayTimeout,
    GatewayUnavailable,
    PaymentProcessor,
    PaymentState,
    RefundRequest,
    RetryPolicy,
    UnknownPayment,
    WebhookRejected,
    WebhookRequest,
    new_idempotency_key,
)
from pes_sdk.models.payments import Payment, PaymentMethod
from pes_sdk.models.receipts import AgentType, Receipt, ReceiptPosition, ReceiptVat, Supplier

S = PaymentState
RETURN = "https://service.example/return"


@pytest.fixture
def harness() -> Iterator[SberHarness]:
    with SberHarness(timeout=0.5) as h:
        yield h


def options(receipt: Receipt | None = None) -> CreateOptions:
    return CreateOptions(new_idempotency_key(), RETURN, "Оплата ЖКУ", receipt=receipt)


def paid(harness: SberHarness, lines: int = 2) -> tuple[Payment, str]:
    payment = basket(lines=lines)
    created = harness.gateway.create_payment(payment, options())
    harness.approve(created)
    return payment, created.gateway_payment_id


# -- register.do -----------------------------------------------------------------------


def test_register_sends_kopecks_and_the_order_number(harness: SberHarness) -> None:
    payment = basket()
    created = harness.gateway.create_payment(payment, options())
    answer = harness.simulator.extended(created.gateway_payment_id)
    assert answer["amount"] == int(payment.total * 100)
    assert answer["orderNumber"] == payment.payment_id.hex
    assert len(answer["orderNumber"]) == 32  # register.do's limit
    assert created.state is S.PENDING and created.amount == payment.total
    assert created.confirmation is not None and created.confirmation.url
    assert created.confirmation.url.endswith(f"mdOrder={created.gateway_payment_id}")


def test_duplicate_order_number_finds_the_order_instead(harness: SberHarness) -> None:
    payment = basket()
    first = harness.gateway.create_payment(payment, options())
    second = harness.gateway.create_payment(payment, options())
    assert second.gateway_payment_id == first.gateway_payment_id
    assert harness.simulator.orders_for(payment.payment_id.hex) == 1
    # the second register.do got errorCode 1, then the order was looked up by number
    assert harness.simulator.calls == [
        "register.do",
        "register.do",
        "getOrderStatusExtended.do",
    ]
    assert second.confirmation is not None  # the page again, from form_url_template


def test_lost_register_answer_then_retry_creates_one_order(harness: SberHarness) -> None:
    payment = basket()
    harness.simulator.switches.lose_next = 1
    with pytest.raises(GatewayUnavailable):
        harness.gateway.create_payment(payment, options())
    again = harness.gateway.create_payment(payment, options())
    assert again.state is S.PENDING
    assert harness.simulator.orders_for(payment.payment_id.hex) == 1


def test_timeout_is_typed_and_the_order_is_found_after(harness: SberHarness) -> None:
    payment = basket()
    harness.time_out_next_answer()
    with pytest.raises(GatewayTimeout):
        harness.gateway.create_payment(payment, options())
    deadline = time.monotonic() + 5
    found = None
    while found is None and time.monotonic() < deadline:
        found = harness.gateway.find_payment(payment.payment_id, "unused-key")
        time.sleep(0.02)
    assert found is not None and found.order_id == payment.payment_id


def test_find_payment_of_an_unknown_order_is_none(harness: SberHarness) -> None:
    assert harness.gateway.find_payment(uuid.uuid4(), "k" * 16) is None
    with pytest.raises(UnknownPayment):
        harness.gateway.get_payment(str(uuid.uuid4()))


def test_sbp_gives_the_acquirers_qr_payload(harness: SberHarness) -> None:
    created = harness.gateway.create_payment(basket(PaymentMethod.SBP), options())
    assert created.confirmation is not None
    assert created.confirmation.kind is ConfirmationKind.QR
    assert created.confirmation.qr_payload is not None
    assert "qrId=AS" in created.confirmation.qr_payload  # as issued, never built by us
    assert harness.simulator.calls[-1] == "sbp/c2b/qr/dynamic/get.do"


# -- auth ------------------------------------------------------------------------------


def test_wrong_password_is_refused_with_error_code_5(harness: SberHarness) -> None:
    sim = harness.simulator
    bad = SberGateway(sim.rest_url, user_name=sim.user_name, password="nope", callback_secret=b"x")
    with pytest.raises(SberError) as caught:
        bad.create_payment(basket(), options())
    assert caught.value.code == "5"
    assert "nope" not in str(caught.value)  # credentials never reach messages
    assert sim.orders_for("") == 0


def test_token_auth() -> None:
    with SberSimulator(token="tok-123") as sim:
        gateway = SberGateway(sim.rest_url, token="tok-123", callback_secret=b"x", timeout=2)
        assert gateway.create_payment(basket(), options()).state is S.PENDING
        wrong = SberGateway(sim.rest_url, token="tok-124", callback_secret=b"x", timeout=2)
        with pytest.raises(SberError):
            wrong.create_payment(basket(), options())


def test_missing_credentials_are_a_config_error() -> None:
    with pytest.raises(ConfigError):
        SberGateway("https://securepayments.sberbank.ru/payment/rest", callback_secret=b"x")


# -- statuses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "refunded", "state"),
    [
        (0, "0", S.PENDING),
        (1, "0", S.PENDING),
        (5, "0", S.PENDING),
        (2, "0", S.SUCCEEDED),
        (3, "0", S.CANCELLED),
        (6, "0", S.FAILED),
        (4, "0.01", S.PARTIALLY_REFUNDED),
        (2, "0.01", S.PARTIALLY_REFUNDED),
        (4, "100.00", S.REFUNDED),
        (4, "60.00", S.PARTIALLY_REFUNDED),  # more than half: still partial
    ],
)
def test_order_status_mapping(code: int, refunded: str, state: PaymentState) -> None:
    assert state_of(code, Decimal(refunded), Decimal("100.00")) is state


def test_declined_and_approved_read_back(harness: SberHarness) -> None:
    payment = basket()
    created = harness.gateway.create_payment(payment, options())
    harness.decline(created)
    assert harness.gateway.get_payment(created.gateway_payment_id).state is S.FAILED
    _, gid = paid(harness)
    assert harness.gateway.get_payment(gid).state is S.SUCCEEDED


# -- reverse.do and refund.do ----------------------------------------------------------


def test_cancel_reverses_and_a_repeat_reads_cancelled(harness: SberHarness) -> None:
    created = harness.gateway.create_payment(basket(), options())
    harness.simulator.switches.lose_next = 1
    with pytest.raises(GatewayUnavailable):
        harness.gateway.cancel_payment(created.gateway_payment_id, "key-cancel")
    again = harness.gateway.cancel_payment(created.gateway_payment_id, "key-cancel")
    assert again.state is S.CANCELLED


def test_cancel_declines_an_unpaid_order_with_decline_do(harness: SberHarness) -> None:
    """An unpaid order is ended by decline.do (then Reversed, orderStatus 3); reverse.do is
    the paid-order request, which the acquirer refuses on an unpaid one."""
    created = harness.gateway.create_payment(basket(), options())
    gid = created.gateway_payment_id
    cancelled = harness.gateway.cancel_payment(gid, "key-cancel")
    assert cancelled.state is S.CANCELLED
    assert "decline.do" in harness.simulator.calls
    assert "reverse.do" not in harness.simulator.calls
    assert harness.simulator.extended(gid)["orderStatus"] == 3
    # a second cancel is refused by the acquirer, read back, and answered as cancelled
    assert harness.gateway.cancel_payment(gid, "key-cancel").state is S.CANCELLED


def test_a_paid_order_is_not_cancelled(harness: SberHarness) -> None:
    _, gid = paid(harness)
    with pytest.raises(SberError) as refused:
        harness.gateway.cancel_payment(gid, "key-cancel")
    assert (refused.value.method, refused.value.code) == ("decline.do", "7")
    assert harness.gateway.get_payment(gid).state is S.SUCCEEDED


def test_the_simulator_keeps_decline_and_reverse_apart(harness: SberHarness) -> None:
    sim = harness.simulator
    auth = {"userName": sim.user_name, "password": sim.password}
    unpaid = harness.gateway.create_payment(basket(), options()).gateway_payment_id
    # reverse.do undoes a payment: on an unpaid order it is an invalid operation
    _, answer = sim.handle_api("reverse.do", {**auth, "orderId": unpaid})
    assert answer["errorCode"] == "7"
    assert sim.order_status(unpaid) == 0
    # decline.do takes orderNumber as well as orderId
    number = sim.extended(unpaid)["orderNumber"]
    _, answer = sim.handle_api("decline.do", {**auth, "orderNumber": number})
    assert answer["errorCode"] == "0"
    assert sim.order_status(unpaid) == 3
    _, gid = paid(harness)
    _, answer = sim.handle_api("decline.do", {**auth, "orderId": gid})
    assert answer["errorCode"] == "7"
    _, answer = sim.handle_api("reverse.do", {**auth, "orderId": gid})
    assert answer["errorCode"] == "0"
    assert sim.order_status(gid) == 3
    _, answer = sim.handle_api("reverse.do", {**auth, "orderId": gid})
    assert answer["errorCode"] == "7"  # once only


def test_partial_then_full_refund(harness: SberHarness) -> None:
    payment, gid = paid(harness, lines=2)
    first = harness.gateway.refund(RefundRequest.for_lines(payment, gid, [0]), "refund-key-1")
    whole0 = payment.lines[0].amount + payment.lines[0].client_fee
    assert (first.payment.state, first.payment.refunded) == (S.PARTIALLY_REFUNDED, whole0)
    info = harness.simulator.extended(gid)
    assert info["orderStatus"] == 4  # set by any refund: partial comes from the amounts
    assert info["paymentAmountInfo"]["refundedAmount"] == int(whole0 * 100)
    last = harness.gateway.refund(RefundRequest.for_lines(payment, gid, [1]), "refund-key-2")
    assert (last.payment.state, last.payment.refunded) == (S.REFUNDED, payment.total)


def test_a_bank_that_lowers_deposited_amount_still_reads_partial_refunds() -> None:
    """Some banks report ``depositedAmount`` less what was refunded: a refund of more than
    half then has refundedAmount ≥ depositedAmount. Partial or full is decided against the
    order's ``amount``, which holds either way."""
    with SberHarness(timeout=0.5, switches=Switches(lower_deposited_on_refund=True)) as h:
        payment, gid = paid(h, lines=2)
        big = payment.lines[1].amount  # 125.50 of 227.00: more than half
        first = h.gateway.refund(RefundRequest.for_lines(payment, gid, [1]), "refund-big")
        info = h.simulator.extended(gid)["paymentAmountInfo"]
        assert info["depositedAmount"] < info["refundedAmount"] == int(big * 100)
        assert (first.payment.state, first.payment.refunded) == (S.PARTIALLY_REFUNDED, big)
        got = h.gateway.get_payment(gid)
        assert (got.state, got.refunded) == (S.PARTIALLY_REFUNDED, big)
        # the double-refund guard reads the same: what is left is amount − refunded
        last = h.gateway.refund(RefundRequest.for_lines(payment, gid, [0]), "refund-rest")
        assert (last.payment.state, last.payment.refunded) == (S.REFUNDED, payment.total)
        assert h.simulator.extended(gid)["paymentAmountInfo"]["depositedAmount"] == 0


def test_refund_after_a_lost_answer_is_not_made_twice(harness: SberHarness) -> None:
    payment, gid = paid(harness)
    request = RefundRequest.for_lines(payment, gid, {0: Decimal("10.00")})
    harness.simulator.switches.lose_next = 1
    with pytest.raises(GatewayUnavailable):
        harness.gateway.refund(request, "refund-key-lost")
    result = harness.gateway.refund(request, "refund-key-lost")
    assert result.payment.refunded == Decimal("10.00")
    assert harness.simulator.extended(gid)["paymentAmountInfo"]["refundedAmount"] == 1000
    # a new refund (new key) is a new refund
    again = harness.gateway.refund(request, "refund-key-next")
    assert again.payment.refunded == Decimal("20.00")


def test_refund_beyond_what_is_left_is_refused(harness: SberHarness) -> None:
    payment, gid = paid(harness)
    harness.gateway.refund(RefundRequest.full(payment, gid), "refund-key-all")
    with pytest.raises(SberError) as caught:
        harness.gateway.refund(RefundRequest.for_lines(payment, gid, [0]), "refund-key-more")
    assert caught.value.code == "7"


def test_refund_sends_positions_per_line(harness: SberHarness) -> None:
    payment, gid = paid(harness, lines=3)
    seen: list[dict[str, Any]] = []
    original = harness.simulator.handle_api

    def spy(method: str, form: Any) -> Any:
        if method == "refund.do":
            seen.append(json.loads(form["refundItems"]))
        return original(method, form)

    harness.simulator.handle_api = spy  # type: ignore[method-assign]
    request = RefundRequest.for_lines(payment, gid, {0: Decimal("1.00"), 2: Decimal("2.50")})
    harness.gateway.refund(request, "refund-key-lines")
    assert seen == [
        {
            "items": [
                {"positionId": "1", "itemAmount": 100},
                {"positionId": "3", "itemAmount": 250},
            ]
        }
    ]


# -- 54-ФЗ orderBundle -----------------------------------------------------------------

SUPPLIERS = {
    "7707083893": Supplier("7707083893", "ПАО «Энергосбыт»", ("+74951234567",), ReceiptVat.VAT20),
    "7736050003": Supplier("7736050003", "АО «Водоканал»", (), ReceiptVat.NONE),
}


def test_order_bundle_carries_agent_and_supplier() -> None:
    payment = basket(lines=2)
    receipt = Receipt.for_payment(payment, SUPPLIERS, fee_vat=ReceiptVat.VAT20)
    items = order_bundle(receipt, DEFAULT_TAX_TYPES)["cartItems"]["items"]
    assert [i["positionId"] for i in items] == ["1", "2", "3"]
    assert sum(i["itemAmount"] for i in items) == int(payment.total * 100)
    first = {a["name"]: a["value"] for a in items[0]["itemAttributes"]["attributes"]}
    assert first == {
        "paymentMethod": "4",
        "paymentObject": "4",
        "agent_info.type": "3",
        "supplier_info.name": "ПАО «Энергосбыт»",
        "supplier_info.inn": "7707083893",
        "supplier_info.phones": "+74951234567",
    }
    assert items[0]["tax"] == {"taxType": 6}
    assert items[1]["tax"] == {"taxType": 0}
    fee = {a["name"] for a in items[2]["itemAttributes"]["attributes"]}
    assert "agent_info.type" not in fee  # the service's own position


def test_an_agent_commission_is_payment_object_11(harness: SberHarness) -> None:
    """Tag 1212 "агентское вознаграждение" is 11 (12 is another subject), as registered."""
    payment = basket(lines=1)
    line = payment.lines[0]
    supplier = SUPPLIERS["7707083893"]
    receipt = Receipt(
        [
            ReceiptPosition(
                "Электроснабжение",
                line.amount,
                supplier.vat,
                agent=AgentType.PAYMENT_AGENT,
                supplier=supplier,
            ),
            ReceiptPosition(
                "Вознаграждение платёжного агента",
                line.client_fee,
                ReceiptVat.VAT20,
                subject="agent_commission",
            ),
        ]
    )
    created = harness.gateway.create_payment(payment, options(receipt))
    registered = harness.simulator.item_attributes(created.gateway_payment_id)
    assert registered["2"]["paymentObject"] == "11"
    assert registered["1"]["paymentObject"] == "4"  # a service
    # Sber's own agent list (3 платёжный агент), not tag 1222's bit value 4 (a subagent here)
    assert registered["1"]["agent_info.type"] == "3"


def test_the_simulator_refuses_an_agent_type_outside_sbers_list(harness: SberHarness) -> None:
    payment = basket(lines=1)
    receipt = Receipt.for_payment(payment, SUPPLIERS, fee_vat=ReceiptVat.VAT20)
    bundle = order_bundle(receipt, DEFAULT_TAX_TYPES)
    bundle["cartItems"]["items"][0]["itemAttributes"]["attributes"][2]["value"] = "64"
    answer = harness.simulator.handle_api(
        "register.do",
        {
            "userName": harness.simulator.user_name,
            "password": harness.simulator.password,
            "orderNumber": payment.payment_id.hex,
            "amount": str(int(payment.total * 100)),
            "returnUrl": RETURN,
            "orderBundle": json.dumps(bundle, ensure_ascii=False),
        },
    )
    assert answer[1]["errorCode"] == "4" and "agent_info.type" in answer[1]["errorMessage"]


def test_register_with_a_receipt_is_accepted_and_cyrillic_round_trips(
    harness: SberHarness,
) -> None:
    payment = basket(lines=2)
    receipt = Receipt.for_payment(payment, SUPPLIERS, fee_vat=ReceiptVat.VAT20)
    created = harness.gateway.create_payment(payment, options(receipt))
    assert set(harness.simulator.positions(created.gateway_payment_id)) == {"1", "2", "3"}


def test_a_vat_rate_without_a_code_is_a_config_error(harness: SberHarness) -> None:
    payment = basket(lines=1)
    suppliers = {"7707083893": attrs.evolve(SUPPLIERS["7707083893"], vat=ReceiptVat.VAT22)}
    receipt = Receipt.for_payment(payment, suppliers, fee_vat=ReceiptVat.VAT20)
    with pytest.raises(ConfigError, match="vat22"):
        harness.gateway.create_payment(payment, options(receipt))
    sim = harness.simulator
    configured = SberGateway(
        sim.rest_url,
        user_name=sim.user_name,
        password=sim.password,
        callback_secret=sim.callback_secret,
        tax_types={ReceiptVat.VAT22: 10},
    )
    assert configured.create_payment(payment, options(receipt)).state is S.PENDING


# -- callbacks -------------------------------------------------------------------------


def _callback(sim: SberSimulator, params: dict[str, str]) -> WebhookRequest:
    signed = {**params, "checksum": checksum(sim.callback_secret, params)}
    return WebhookRequest(body=b"", query=urllib.parse.urlencode(signed))


def test_callback_is_verified_then_confirmed_by_a_status_query(harness: SberHarness) -> None:
    payment, gid = paid(harness)
    hook = _callback(
        harness.simulator,
        {
            "mdOrder": gid,
            "orderNumber": payment.payment_id.hex,
            "operation": "deposited",
            "status": "1",
        },
    )
    calls = len(harness.simulator.calls)
    [event] = harness.gateway.parse_webhook(hook)
    assert event.payment.state is S.SUCCEEDED and event.signed_at is None
    assert harness.simulator.calls[calls:] == ["getOrderStatusExtended.do"]


def test_a_callback_claiming_more_than_the_acquirer_says_is_not_believed(
    harness: SberHarness,
) -> None:
    """A genuine but early-read callback: the snapshot is the status, not the claim."""
    payment = basket()
    created = harness.gateway.create_payment(payment, options())
    hook = _callback(
        harness.simulator,
        {
            "mdOrder": created.gateway_payment_id,
            "orderNumber": payment.payment_id.hex,
            "operation": "deposited",
            "status": "1",
        },
    )
    [event] = harness.gateway.parse_webhook(hook)
    assert event.payment.state is S.PENDING


def test_callback_about_an_unknown_order_is_refused(harness: SberHarness) -> None:
    hook = _callback(
        harness.simulator,
        {
            "mdOrder": str(uuid.uuid4()),
            "orderNumber": uuid.uuid4().hex,
            "operation": "deposited",
            "status": "1",
        },
    )
    with pytest.raises(WebhookRejected) as caught:
        harness.gateway.parse_webhook(hook)
    assert caught.value.reason == "unknown-payment"


def test_callback_naming_another_order_number_is_refused(harness: SberHarness) -> None:
    _, gid = paid(harness)
    hook = _callback(
        harness.simulator,
        {"mdOrder": gid, "orderNumber": uuid.uuid4().hex, "operation": "deposited", "status": "1"},
    )
    with pytest.raises(WebhookRejected) as caught:
        harness.gateway.parse_webhook(hook)
    assert caught.value.reason == "malformed"


def test_a_parameter_given_twice_is_refused(harness: SberHarness) -> None:
    payment, gid = paid(harness)
    hook = _callback(
        harness.simulator,
        {
            "mdOrder": gid,
            "orderNumber": payment.payment_id.hex,
            "operation": "deposited",
            "status": "1",
        },
    )
    doubled = attrs.evolve(hook, query=hook.query + "&status=0")
    with pytest.raises(WebhookRejected) as caught:
        harness.gateway.parse_webhook(doubled)
    assert caught.value.reason == "malformed"


def test_callback_checksum_with_another_secret_is_refused(harness: SberHarness) -> None:
    payment, gid = paid(harness)
    params = {
        "mdOrder": gid,
        "orderNumber": payment.payment_id.hex,
        "operation": "deposited",
        "status": "1",
    }
    params["checksum"] = checksum(b"not-the-secret", params)
    hook = WebhookRequest(body=b"", query=urllib.parse.urlencode(params))
    with pytest.raises(WebhookRejected) as caught:
        harness.gateway.parse_webhook(hook)
    assert caught.value.reason == "signature"


def test_post_callbacks_are_read_from_the_form_body() -> None:
    with SberHarness(timeout=0.5, callback_method="POST") as h:
        payment, gid = paid(h)
        h.settle()
        [hook] = h.webhooks()
        assert hook.body and not hook.query
        [event] = h.gateway.parse_webhook(hook)
        assert (event.payment.gateway_payment_id, event.payment.state) == (gid, S.SUCCEEDED)
        assert event.payment.order_id == payment.payment_id


# -- end to end, with a bad network ----------------------------------------------------


def test_many_payments_with_chaos_are_credited_once() -> None:
    """Duplicated, reordered and dropped callbacks plus 5xx: one credit per paid order."""
    credits: dict[uuid.UUID, int] = {}
    lock = threading.Lock()

    def credit(entry: Any) -> None:
        with lock:
            credits[entry.order_id] = credits.get(entry.order_id, 0) + 1

    sim = SberSimulator(seed=7)
    sim.switches.callback_duplicate_rate = 0.3
    sim.switches.callback_reorder_rate = 0.3
    sim.switches.callback_drop_rate = 0.2
    sim.switches.api_error_rate = 0.1
    sim.switches.lost_answer_rate = 0.1
    with sim:
        gateway = gateway_for(sim, timeout=2)
        processor = PaymentProcessor(
            gateway,
            retry=RetryPolicy(attempts=8, initial_wait=0.001, max_wait=0.01, sleep=lambda s: None),
            on_credit=credit,
        )

        def handle(request: WebhookRequest) -> int:
            try:
                processor.handle_webhook(request)
            except WebhookRejected:
                return 400
            except Exception:
                return 500
            return 200

        receiver = CallbackReceiver(handle).start()
        sim.callback_url = receiver.url
        try:
            entries = [processor.start(basket(), return_url=RETURN) for _ in range(60)]
            for i, entry in enumerate(entries):
                assert entry.gateway_payment_id is not None
                (sim.approve if i % 3 else sim.decline)(entry.gateway_payment_id)
            sim.flush()
            for entry in entries:  # polling, the backstop for dropped callbacks
                processor.refresh(entry.order_id)
        finally:
            receiver.stop()
    assert sim.callbacks_duplicated and sim.callbacks_reordered and sim.callbacks_dropped
    paid_ids = {e.order_id for i, e in enumerate(entries) if i % 3}
    assert credits == dict.fromkeys(paid_ids, 1)
    for i, entry in enumerate(entries):
        assert processor.entry(entry.order_id).state is (S.SUCCEEDED if i % 3 else S.FAILED)
        assert sim.orders_for(entry.order_id.hex) == 1


def test_callbacks_carry_no_time_so_there_is_no_window(harness: SberHarness) -> None:
    assert harness.gateway.capabilities.webhook_timestamps is False
    payment, _ = paid(harness)
    processor = PaymentProcessor(harness.gateway, replay_window=dt.timedelta(seconds=1))
    processor.start(payment, return_url=RETURN)
    harness.settle()
    [hook] = harness.webhooks()
    late = attrs.evolve(hook, received_at=hook.received_at + dt.timedelta(days=1))
    # a replayed callback is harmless: it only makes the processor ask for the status
    [applied] = processor.handle_webhook(late)
    assert applied.entry.state is S.SUCCEEDED


def test_two_partial_refunds_callbacks_are_two_events(harness: SberHarness) -> None:
    """A refund callback carries no refund id: the second partial refund's callback has the
    same fields as the first's, yet it is a new event, not a repeat."""
    payment, gid = paid(harness, lines=2)
    fields = {
        "mdOrder": gid,
        "orderNumber": payment.payment_id.hex,
        "operation": "refunded",
        "status": "1",
    }
    harness.gateway.refund(RefundRequest.for_lines(payment, gid, [0]), "refund-key-1")
    [first] = harness.gateway.parse_webhook(_callback(harness.simulator, fields))
    [repeat] = harness.gateway.parse_webhook(_callback(harness.simulator, fields))
    assert repeat.event_id == first.event_id  # the same delivery again is a repeat
    harness.gateway.refund(RefundRequest.for_lines(payment, gid, [1]), "refund-key-2")
    [second] = harness.gateway.parse_webhook(_callback(harness.simulator, fields))
    assert second.event_id != first.event_id
    assert second.payment.state is S.REFUNDED
