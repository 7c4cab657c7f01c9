"""T-Bank protocol details, over real HTTP on loopback against the simulator."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pes_sdk_tbank import (
    NotificationReceiver,
    TBankGateway,
    TBankHarness,
    TBankSimulator,
    TBankSwitches,
    make_token,
    notification_handler,
    verify_token,
)
from pes_sdk_tbank.client import (
    STATUS_MAP,
    TBankRefused,
    TBankUnclear,
    from_kopecks,
    to_kopecks,
)

from pes_sdk.errors import ConfigError
from pes_sdk.gateways import (
    CreateOptions,
    GatewayFactory,
    GatewayRefused,
    GatewayTimeout,
    GatewayUnavailable,
    InvalidRefund,
    PaymentProcessor,
    PaymentState,
    RefundRequest,
    RetryPolicy,
    UnknownPayment,
    WebhookRejected,
    WebhookRequest,
    new_idempotency_key,
)
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.models.receipts import Receipt, ReceiptVat, Supplier
from pes_sdk.plugins.manager import PluginHost

S = PaymentState
RETURN = "https://service.example/return"


def basket(method: PaymentMethod = PaymentMethod.CARD) -> Payment:
    lines = [
        PaymentLine(
            "7707083893",
            "001",
            Decimal("100.00"),
            service="Электроснабжение",
            client_fee=Decimal("1.50"),
        ),
        PaymentLine("7736050003", "002", Decimal("125.50"), service="Водоснабжение"),
    ]
    return Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), method, lines)


@pytest.fixture
def harness() -> Iterator[TBankHarness]:
    with TBankHarness(timeout=0.5) as h:
        yield h


def calls(sim: TBankSimulator, method: str) -> list[dict[str, Any]]:
    return [body for name, body in sim.requests if name == method]


def create(h: TBankHarness, payment: Payment, **kw: Any) -> Any:
    return h.gateway.create_payment(payment, CreateOptions(new_idempotency_key(), RETURN, **kw))


# -- requests -------------------------------------------------------------------------------


def test_init_is_signed_and_carries_the_documented_fields(harness: TBankHarness) -> None:
    payment = basket()
    created = create(harness, payment, description="ЖКУ за ноябрь")
    sim = harness.simulator
    for _name, body in sim.requests:
        assert body["TerminalKey"] == sim.terminal_key
        assert verify_token(body, sim.password), "every request carries a valid Token"
        assert "Password" not in body
    init = calls(sim, "Init")[0]
    assert init["Amount"] == 22700 and isinstance(init["Amount"], int)
    assert init["OrderId"] == str(payment.payment_id)
    assert init["Description"] == "ЖКУ за ноябрь"
    assert init["NotificationURL"] == harness.receiver.url
    assert init["SuccessURL"] == RETURN
    items = init["Receipt"]["Items"]
    assert [i["Amount"] for i in items] == [10000, 12550, 150]
    assert items[0]["AgentData"] == {"AgentSign": "paying_agent"}
    assert items[0]["SupplierInfo"] == {"Inn": "7707083893"}
    assert "AgentData" not in items[2], "the client's fee is the service's own position"
    assert created.confirmation.url == f"{sim.base_url}/new/{created.gateway_payment_id}"
    assert (created.state, created.amount) == (S.PENDING, Decimal("227.00"))


def test_receipt_from_the_sdk_model(harness: TBankHarness) -> None:
    payment = basket()
    suppliers = {
        "7707083893": Supplier(
            "7707083893", "ПАО «Энергосбыт»", ("+74951234567",), ReceiptVat.VAT20
        ),
        "7736050003": Supplier("7736050003", "АО «Водоканал»", (), ReceiptVat.VAT22_122),
    }
    receipt = Receipt.for_payment(payment, suppliers, fee_vat=ReceiptVat.VAT20)
    created = create(harness, payment, receipt=receipt)
    sent = harness.simulator.receipt_of(created.gateway_payment_id)
    assert sent is not None
    assert sent["Email"] == "receipts@service.example" and sent["Taxation"] == "usn_income"
    first, second, fee = sent["Items"]
    assert first["SupplierInfo"] == {
        "Inn": "7707083893",
        "Name": "ПАО «Энергосбыт»",
        "Phones": ["+74951234567"],
    }
    assert (first["Tax"], second["Tax"], fee["Tax"]) == ("vat20", "vat122", "vat20")
    assert (first["PaymentMethod"], first["PaymentObject"]) == ("full_payment", "service")
    assert fee["Name"] == "Вознаграждение платёжного агента" and "AgentData" not in fee


def test_without_a_receipt_contact_no_receipt_is_sent() -> None:
    with TBankSimulator() as sim:
        gw = TBankGateway(
            terminal_key=sim.terminal_key, password=sim.password, base_url=sim.base_url, timeout=1
        )
        gw.create_payment(basket(), CreateOptions(new_idempotency_key(), RETURN))
        assert "Receipt" not in calls(sim, "Init")[0]
        gw.close()


def test_sbp_confirmation_is_the_acquirers_payload_untouched(harness: TBankHarness) -> None:
    created = create(harness, basket(PaymentMethod.SBP))
    qr = calls(harness.simulator, "GetQr")
    assert [(q["PaymentId"], q["DataType"]) for q in qr] == [
        (created.gateway_payment_id, "PAYLOAD")
    ]
    assert created.confirmation.qr_payload.startswith("https://qr.nspk.ru/")
    assert created.confirmation.url is None


def test_kopecks_are_exact() -> None:
    assert to_kopecks(Decimal("0.01")) == 1 and to_kopecks(Decimal("1234.50")) == 123450
    assert from_kopecks(123450) == Decimal("1234.50") and from_kopecks("7") == Decimal("0.07")
    with pytest.raises(ValueError):
        from_kopecks(1.5)


# -- authentication and errors --------------------------------------------------------------


def test_a_wrong_password_is_refused_and_creates_nothing() -> None:
    with TBankSimulator() as sim:
        gw = TBankGateway(
            terminal_key=sim.terminal_key, password="wrong", base_url=sim.base_url, timeout=1
        )
        payment = basket()
        with pytest.raises(GatewayRefused) as caught:
            gw.create_payment(payment, CreateOptions(new_idempotency_key(), RETURN))
        assert "204" in str(caught.value)
        assert "wrong" not in str(caught.value) and "wrong" not in repr(gw)
        assert sim.payments_for(payment.payment_id) == []
        gw.close()


def test_a_request_with_a_forged_token_is_refused(harness: TBankHarness) -> None:
    sim = harness.simulator
    body = {"TerminalKey": sim.terminal_key, "Amount": 100, "OrderId": "x"}
    body["Token"] = make_token({**body, "Amount": 1}, sim.password)
    status, raw = sim.handle_api("Init", json.dumps(body).encode())
    answer = json.loads(raw)
    assert status == 200 and answer["Success"] is False and answer["ErrorCode"] == "204"


def test_unknown_payment_is_typed(harness: TBankHarness) -> None:
    with pytest.raises(UnknownPayment):
        harness.gateway.get_payment("1")
    assert harness.gateway.find_payment(uuid.uuid4(), "k" * 16) is None


def test_5xx_and_timeouts_become_gateway_errors(harness: TBankHarness) -> None:
    created = create(harness, basket())
    harness.simulator.switches.fail_next = 1
    with pytest.raises(GatewayUnavailable):
        harness.gateway.get_payment(created.gateway_payment_id)
    harness.simulator.switches.api_delay = 0.8
    harness.simulator.switches.stall_next = 1
    with pytest.raises(GatewayTimeout):
        harness.gateway.get_payment(created.gateway_payment_id)


# -- idempotency ----------------------------------------------------------------------------


@pytest.mark.parametrize("unique", [True, False], ids=["unique-order-ids", "repeatable-order-ids"])
def test_a_repeated_create_never_inits_twice(unique: bool) -> None:
    """CheckOrder before Init: one payment per OrderId even where the terminal allows repeats."""
    with TBankHarness(switches=TBankSwitches(unique_order_ids=unique)) as h:
        payment = basket()
        first = create(h, payment)
        second = create(h, payment)
        assert first.gateway_payment_id == second.gateway_payment_id
        assert len(calls(h.simulator, "Init")) == 1
        assert h.payments_at_acquirer(payment.payment_id) == 1


def test_a_duplicate_order_refusal_is_answered_from_check_order() -> None:
    """Two creates race past CheckOrder; the loser's Init is refused and finds the winner."""
    switches = TBankSwitches(slow_rate=1.0, api_delay=0.2)  # every call waits before working
    with TBankHarness(timeout=2.0, switches=switches) as h:
        payment = basket()
        barrier = threading.Barrier(2)
        results: list[str] = []

        def racer() -> None:
            barrier.wait()
            results.append(create(h, payment).gateway_payment_id)

        threads = [threading.Thread(target=racer) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 2 and results[0] == results[1]
        assert len(calls(h.simulator, "Init")) == 2, "both went past CheckOrder"
        assert h.payments_at_acquirer(payment.payment_id) == 1


def test_after_a_timed_out_init_the_status_is_asked_not_a_second_init(
    harness: TBankHarness,
) -> None:
    processor = PaymentProcessor(harness.gateway, retry=RetryPolicy(4, 0.3, 0.5))
    assert harness.time_out_next_answer()
    payment = basket()
    entry = processor.start(payment, return_url=RETURN)
    assert entry.state is S.PENDING
    assert harness.payments_at_acquirer(payment.payment_id) == 1
    assert len(calls(harness.simulator, "CheckOrder")) >= 2


# -- cancel and refunds ---------------------------------------------------------------------


def paid(h: TBankHarness, payment: Payment | None = None) -> tuple[Payment, str]:
    payment = payment or basket()
    created = create(h, payment)
    h.approve(created)
    assert h.simulator.status(created.gateway_payment_id) == "CONFIRMED"
    return payment, created.gateway_payment_id


def test_cancel_before_payment(harness: TBankHarness) -> None:
    created = create(harness, basket())
    after = harness.gateway.cancel_payment(created.gateway_payment_id, "c" * 16)
    assert after.state is S.CANCELLED
    assert harness.simulator.status(created.gateway_payment_id) == "CANCELED"


def test_partial_refund_is_idempotent_by_external_request_id(harness: TBankHarness) -> None:
    payment, pid = paid(harness)
    request = RefundRequest.for_lines(payment, pid, {1: Decimal("25.50")})
    key = new_idempotency_key()
    first = harness.gateway.refund(request, key)
    again = harness.gateway.refund(request, key)
    assert first.payment.refunded == again.payment.refunded == Decimal("25.50")
    assert first.payment.state is S.PARTIALLY_REFUNDED
    cancel = calls(harness.simulator, "Cancel")[0]
    assert (cancel["Amount"], cancel["ExternalRequestId"]) == (2550, key)
    assert [i["Amount"] for i in cancel["Receipt"]["Items"]] == [2550]
    status = harness.gateway.get_payment(pid)
    assert (status.state, status.refunded) == (S.PARTIALLY_REFUNDED, Decimal("25.50"))


def test_a_refund_beyond_what_is_left_is_invalid(harness: TBankHarness) -> None:
    payment, pid = paid(harness)
    harness.gateway.refund(RefundRequest.for_lines(payment, pid, [1]), new_idempotency_key())
    too_much = RefundRequest.for_lines(payment, pid, {0: Decimal("101.51")})
    with pytest.raises(InvalidRefund):
        harness.gateway.refund(too_much, new_idempotency_key())
    harness.gateway.refund(RefundRequest.for_lines(payment, pid, [0]), new_idempotency_key())
    assert harness.gateway.get_payment(pid).state is S.REFUNDED
    with pytest.raises(GatewayRefused):  # nothing left: T-Bank refuses the status
        harness.gateway.refund(
            RefundRequest.for_lines(payment, pid, {0: Decimal("0.01")}), new_idempotency_key()
        )


def test_a_refused_refund_carries_a_documented_code(harness: TBankHarness) -> None:
    payment, pid = paid(harness)
    harness.simulator.switches.refuse_refunds_next = 1
    with pytest.raises(TBankRefused) as refused:
        harness.gateway.refund(RefundRequest.for_lines(payment, pid, [0]), new_idempotency_key())
    assert refused.value.error_code == "3002"  # the shop's balance does not cover the cancel
    assert harness.gateway.get_payment(pid).state is S.SUCCEEDED


@pytest.mark.parametrize("code", ["5", "9999"])
def test_a_refund_answered_with_an_unknown_code_stays_pending(
    harness: TBankHarness, code: str
) -> None:
    """5 («Обратитесь в поддержку…») or an internal error does not say that nothing was
    given back: the refund is neither a refusal nor an invalid request, so the processor
    keeps it pending and finishes it under the same key."""
    processor = PaymentProcessor(
        harness.gateway,
        retry=RetryPolicy(attempts=1, initial_wait=0.0, max_wait=0.0, sleep=lambda s: None),
    )
    entry = processor.start(basket(), return_url=RETURN)
    assert entry.gateway_payment_id is not None
    harness.simulator.approve(entry.gateway_payment_id)
    processor.refresh(entry.order_id)
    harness.simulator.switches.refuse_refunds_next = 1
    harness.simulator.switches.refuse_refunds_code = code
    with pytest.raises(TBankUnclear) as unclear:
        processor.refund(entry.order_id, {0: Decimal("10.00")})
    assert not isinstance(unclear.value, (GatewayRefused, InvalidRefund))
    assert unclear.value.error_code == code
    pending = processor.entry(entry.order_id).pending_refund
    assert pending is not None
    done = processor.refund(entry.order_id, {0: Decimal("10.00")}).entry
    assert (done.refunded, done.pending_refund, done.refund_count) == (Decimal("10.00"), None, 1)
    assert calls(harness.simulator, "Cancel")[-1]["ExternalRequestId"] == pending[0]


def test_a_refund_the_acquirer_finds_invalid_is_not_left_pending(harness: TBankHarness) -> None:
    processor = PaymentProcessor(harness.gateway)
    entry = processor.start(basket(), return_url=RETURN)
    assert entry.gateway_payment_id is not None
    harness.simulator.approve(entry.gateway_payment_id)
    processor.refresh(entry.order_id)
    harness.simulator.switches.refuse_refunds_next = 1
    harness.simulator.switches.refuse_refunds_code = "308"  # the receipt does not add up
    with pytest.raises(InvalidRefund):
        processor.refund(entry.order_id, {0: Decimal("10.00")})
    assert processor.entry(entry.order_id).pending_refund is None
    done = processor.refund(entry.order_id, {0: Decimal("20.00")}).entry
    assert (done.refunded, done.refund_count) == (Decimal("20.00"), 1)


def test_the_simulator_knows_t_banks_agent_signs_only(harness: TBankHarness) -> None:
    """T-Bank names a payment agent ``paying_agent``; ЮKassa's ``payment_agent`` (or a tag
    1222 number) is refused, as T-Bank's list has no such value."""
    sent = harness.simulator.receipt_of(create(harness, basket()).gateway_payment_id)
    assert sent is not None and sent["Items"][0]["AgentData"] == {"AgentSign": "paying_agent"}
    payment, receipt = basket(), json.loads(json.dumps(sent))
    for wrong in ("payment_agent", 4):
        receipt["Items"][0]["AgentData"]["AgentSign"] = wrong
        body = {
            "TerminalKey": harness.simulator.terminal_key,
            "Amount": to_kopecks(payment.total),
            "OrderId": str(payment.payment_id),
            "Receipt": receipt,
        }
        body["Token"] = make_token(body, harness.simulator.password)
        status, raw = harness.simulator.handle_api("Init", json.dumps(body).encode())
        answer = json.loads(raw)
        assert (status, answer["Success"]) == (200, False)
        assert answer["Details"] == "Items[0].AgentData.AgentSign"
    assert harness.payments_at_acquirer(payment.payment_id) == 0


def _raw_state(h: TBankHarness, pid: str) -> dict[str, Any]:
    """What GetState answers, straight from the simulator over HTTP."""
    body = {"TerminalKey": h.simulator.terminal_key, "PaymentId": pid}
    body["Token"] = make_token(body, h.simulator.password)
    status, raw = h.simulator.handle_api("GetState", json.dumps(body).encode())
    assert status == 200
    answer: dict[str, Any] = json.loads(raw)
    return answer


def test_partial_refunds_read_from_this_gateways_own_record(harness: TBankHarness) -> None:
    """GetState and notifications document no OriginalAmount/NewAmount: a PARTIAL_REFUNDED
    without them is read from the refunds the gateway made, never refused."""
    payment, pid = paid(harness)
    harness.gateway.refund(RefundRequest.for_lines(payment, pid, {1: Decimal("25.50")}), "r-1")
    harness.gateway.refund(RefundRequest.for_lines(payment, pid, {0: Decimal("1.00")}), "r-2")
    raw = _raw_state(harness, pid)
    assert raw["Status"] == "PARTIAL_REFUNDED"
    assert "NewAmount" not in raw and "OriginalAmount" not in raw
    status = harness.gateway.get_payment(pid)
    assert (status.state, status.amount, status.refunded) == (
        S.PARTIALLY_REFUNDED,
        payment.total,
        Decimal("26.50"),
    )
    harness.settle()
    # one snapshot of the notifications (they are sent concurrently, in no fixed order)
    partial = [h for h in harness.webhooks() if json.loads(h.body)["Status"] == "PARTIAL_REFUNDED"]
    assert len(partial) == 2
    last = partial[-1]
    assert "NewAmount" not in json.loads(last.body)
    [event] = harness.gateway.parse_webhook(last)
    assert (event.payment.state, event.payment.refunded) == (S.PARTIALLY_REFUNDED, Decimal("26.50"))


def test_a_cancel_answer_without_sums_reads_the_refund_just_made() -> None:
    switches = TBankSwitches(refund_sums_in_cancel=False)
    with TBankHarness(timeout=0.5, switches=switches) as h:
        payment, pid = paid(h)
        request = RefundRequest.for_lines(payment, pid, {1: Decimal("25.50")})
        first = h.gateway.refund(request, "r-1")
        again = h.gateway.refund(request, "r-1")  # the same key: one refund, counted once
        for result in (first, again):
            assert (result.payment.state, result.payment.refunded) == (
                S.PARTIALLY_REFUNDED,
                Decimal("25.50"),
            )


def test_a_refund_this_gateway_did_not_make_reads_as_paid_and_the_book_keeps_its_own(
    harness: TBankHarness,
) -> None:
    """Another gateway object (a restart, or a refund made in the cabinet) has no record: it
    reads the payment as paid, not an error; a book that made the refund is not moved back."""
    payment = basket()
    processor = PaymentProcessor(harness.gateway)
    entry = processor.start(payment, return_url=RETURN)
    assert entry.gateway_payment_id is not None
    harness.simulator.approve(entry.gateway_payment_id)
    processor.refresh(payment.payment_id)
    refunded = processor.refund(payment.payment_id, [1]).entry
    assert (refunded.state, refunded.refunded) == (S.PARTIALLY_REFUNDED, Decimal("125.50"))
    sim = harness.simulator
    restarted = TBankGateway(
        terminal_key=sim.terminal_key, password=sim.password, base_url=sim.base_url, timeout=2
    )
    status = restarted.get_payment(entry.gateway_payment_id)
    assert (status.state, status.refunded) == (S.SUCCEEDED, Decimal("0.00"))
    after = PaymentProcessor(restarted, store=processor.store).refresh(payment.payment_id)
    assert (after.entry.state, after.entry.refunded) == (S.PARTIALLY_REFUNDED, Decimal("125.50"))


def test_sums_in_a_state_answer_are_believed_over_the_record() -> None:
    with TBankHarness(timeout=0.5, switches=TBankSwitches(refund_sums_in_state=True)) as h:
        payment, pid = paid(h)
        h.gateway.refund(RefundRequest.for_lines(payment, pid, {1: Decimal("25.50")}), "r-1")
        sim = h.simulator
        other = TBankGateway(
            terminal_key=sim.terminal_key, password=sim.password, base_url=sim.base_url, timeout=2
        )
        status = other.get_payment(pid)
        assert (status.state, status.refunded) == (S.PARTIALLY_REFUNDED, Decimal("25.50"))


# -- notifications --------------------------------------------------------------------------


def notification(sim: TBankSimulator, **fields: Any) -> WebhookRequest:
    body = {
        "TerminalKey": sim.terminal_key,
        "OrderId": str(uuid.uuid4()),
        "Success": True,
        "Status": "CONFIRMED",
        "PaymentId": 42,
        "ErrorCode": "0",
        "Amount": 100,
        **fields,
    }
    body["Token"] = make_token(body, sim.password)
    return WebhookRequest(json.dumps(body, ensure_ascii=False).encode())


def test_a_genuine_notification_parses_without_card_data(harness: TBankHarness) -> None:
    hook = notification(harness.simulator, Pan="430000******0777", ExpDate="1230", CardId=1)
    [event] = harness.gateway.parse_webhook(hook)
    assert (event.payment.state, event.payment.amount) == (S.SUCCEEDED, Decimal("1.00"))
    assert event.signed_at is None
    assert "0777" not in repr(event) and "1230" not in repr(event)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"TerminalKey": "another"}, "signature"),  # signed, but for another terminal
        ({"Status": "SOMETHING_NEW"}, "malformed"),
        ({"OrderId": "not-a-uuid"}, "malformed"),
    ],
)
def test_notifications_that_are_refused(
    harness: TBankHarness, change: dict[str, Any], reason: str
) -> None:
    hook = notification(harness.simulator, **change)
    with pytest.raises(WebhookRejected) as caught:
        harness.gateway.parse_webhook(hook)
    assert caught.value.reason == reason


def test_a_notification_signed_with_another_password_is_refused(harness: TBankHarness) -> None:
    other = TBankSimulator(terminal_key=harness.simulator.terminal_key, password="other")
    with pytest.raises(WebhookRejected) as caught:
        harness.gateway.parse_webhook(notification(other))
    assert caught.value.reason == "signature"
    other.stop()
    for body in (b"not json", b"[]", b'{"Status": "CONFIRMED"}'):
        with pytest.raises(WebhookRejected):
            harness.gateway.parse_webhook(WebhookRequest(body))


def test_notifications_are_resent_until_answered_ok() -> None:
    answers = iter([(200, b"fine"), (500, b""), (200, b"OK")])
    seen: list[WebhookRequest] = []
    lock = threading.Lock()

    def handler(request: WebhookRequest) -> tuple[int, bytes]:
        with lock:
            seen.append(request)
            return next(answers, (200, b"OK"))

    with NotificationReceiver(handler) as receiver, TBankSimulator() as sim:
        gw = TBankGateway(
            terminal_key=sim.terminal_key,
            password=sim.password,
            base_url=sim.base_url,
            notification_url=receiver.url,
            timeout=1,
        )
        created = gw.create_payment(basket(), CreateOptions(new_idempotency_key(), RETURN))
        sim.decline(created.gateway_payment_id)
        assert sim.flush()
        assert len(seen) == 3 and len({r.body for r in seen}) == 1
        [event] = gw.parse_webhook(seen[0])
        assert event.payment.state is S.FAILED
        assert sim.webhooks_sent == 1
        gw.close()


def test_end_to_end_with_the_notification_handler() -> None:
    credited = threading.Event()
    with TBankSimulator() as sim:
        gw = TBankGateway(
            terminal_key=sim.terminal_key, password=sim.password, base_url=sim.base_url, timeout=1
        )
        processor = PaymentProcessor(gw, on_credit=lambda entry: credited.set())
        with NotificationReceiver(notification_handler(processor)) as receiver:
            gw.notification_url = receiver.url
            entry = processor.start(basket(), return_url=RETURN)
            assert entry.gateway_payment_id is not None
            sim.approve(entry.gateway_payment_id)
            assert credited.wait(5)
            assert sim.flush() and sim.webhooks_sent == 2  # AUTHORIZED, CONFIRMED: both "OK"
        other = basket()
        created = gw.create_payment(other, CreateOptions(new_idempotency_key(), RETURN))
        sim.expire(created.gateway_payment_id)
        assert gw.get_payment(created.gateway_payment_id).state is S.CANCELLED
        gw.close()


def test_every_documented_status_is_mapped() -> None:
    documented = {
        "NEW",
        "FORM_SHOWED",
        "AUTHORIZING",
        "3DS_CHECKING",
        "3DS_CHECKED",
        "AUTHORIZED",
        "CONFIRMING",
        "CONFIRMED",
        "REVERSING",
        "PARTIAL_REVERSED",
        "REVERSED",
        "REFUNDING",
        "PARTIAL_REFUNDED",
        "REFUNDED",
        "REJECTED",
        "AUTH_FAIL",
        "CANCELED",
        "DEADLINE_EXPIRED",
    }
    assert documented <= set(STATUS_MAP)
    assert {k for k, v in STATUS_MAP.items() if v.is_paid} == {
        "CONFIRMED",
        "REFUNDING",
        "PARTIAL_REFUNDED",
        "REFUNDED",
    }


# -- the plugin -----------------------------------------------------------------------------


def test_entry_point_provides_tbank() -> None:
    host = PluginHost()
    factory = host.gateways()["tbank"]
    assert isinstance(factory, GatewayFactory)
    info = {p.name: p for p in host.plugins()}["tbank"]
    assert info.distribution == "pes-sdk-tbank"
    with TBankSimulator() as sim:
        gw = factory.create(
            {
                "terminal_key": sim.terminal_key,
                "password": sim.password,
                "url": sim.base_url,
                "timeout": "1.5",
            }
        )
        assert gw.timeout == 1.5
        assert gw.find_payment(uuid.uuid4(), "k" * 16) is None
        gw.close()
    with pytest.raises(ConfigError, match="password"):
        factory.create({"terminal_key": "T"})
    with pytest.raises(ConfigError):
        factory.create({"terminal_key": "T", "password": "p", "fee_vat": "vat99"})


def test_tls_is_never_switched_off() -> None:
    gw = TBankGateway(terminal_key="T", password="p")
    context = gw._http.ssl_context
    assert context.verify_mode.name == "CERT_REQUIRED" and context.check_hostname


def test_the_error_tables_duplicate_order_code_is_read_as_a_duplicate() -> None:
    """T-Bank's error table names 20 «Ошибка повторного идентификатора заказа»: a gateway
    built from settings without ``duplicate_order_codes`` must recover the order on it."""
    from pes_sdk_tbank.plugin import TBankFactory

    gateway = TBankFactory().create({"terminal_key": "T", "password": "p"})
    assert "20" in gateway._duplicate  # the default is the contract here
