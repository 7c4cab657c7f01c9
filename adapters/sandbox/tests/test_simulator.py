"""The simulator and the sandbox gateway over real loopback HTTP: API, page, webhooks, switches."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from decimal import Decimal

import attrs
import pytest
from pes_sdk_sandbox import AcquirerSimulator, SandboxGateway, WebhookReceiver
from pes_sdk_sandbox.simulator import SIGNATURE_HEADER, TIMESTAMP_HEADER

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
from pes_sdk.gateways.http import HttpTransport
from pes_sdk.gateways.signing import signature_header
from pes_sdk.models import Payment, PaymentLine, PaymentMethod


def basket(method: PaymentMethod = PaymentMethod.CARD) -> Payment:
    lines = [
        PaymentLine("7707083893", "0001", Decimal("1272.26"), client_fee=Decimal("12.50")),
        PaymentLine("7736050003", "0002", Decimal("300.00"), service="Вывоз ТКО"),
    ]
    return Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), method, lines)


class Capture:
    def __init__(self) -> None:
        self.requests: list[WebhookRequest] = []
        self.arrived = threading.Condition()

    def __call__(self, request: WebhookRequest) -> int:
        with self.arrived:
            self.requests.append(request)
            self.arrived.notify_all()
        return 200


@pytest.fixture
def capture() -> Capture:
    return Capture()


@pytest.fixture
def sim(capture: Capture) -> Iterator[AcquirerSimulator]:
    with WebhookReceiver(capture) as receiver, AcquirerSimulator(seed=3) as sim:
        sim.webhook_url = receiver.url
        yield sim


@pytest.fixture
def gateway(sim: AcquirerSimulator) -> Iterator[SandboxGateway]:
    gw = SandboxGateway.for_simulator(sim, timeout=0.5)
    yield gw
    gw.close()


def options() -> CreateOptions:
    return CreateOptions(new_idempotency_key(), "https://service.example/return")


def fetch(url: str, data: bytes | None = None) -> tuple[int, str, dict[str, str]]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect())
    try:
        with opener.open(urllib.request.Request(url, data=data), timeout=2) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def test_card_payment_confirmation_page_pay(
    sim: AcquirerSimulator, gateway: SandboxGateway
) -> None:
    payment = basket()
    created = gateway.create_payment(payment, options())
    assert created.state is PaymentState.PENDING
    assert created.amount == Decimal("1584.76")  # lines + the client fee
    assert created.confirmation is not None
    assert created.confirmation.kind is ConfirmationKind.REDIRECT
    assert created.confirmation.url is not None
    status, page, _ = fetch(created.confirmation.url)
    assert status == 200
    assert 'value="pay"' in page and 'value="decline"' in page
    assert "1584.76" in page
    assert "card number" not in page.lower() and "cvc" not in page.lower()
    status, _, headers = fetch(created.confirmation.url, b"action=pay")
    assert (status, headers["Location"]) == (303, "https://service.example/return")
    assert gateway.get_payment(created.gateway_payment_id).state is PaymentState.SUCCEEDED
    status, page, _ = fetch(created.confirmation.url)
    assert "succeeded" in page and 'value="pay"' not in page
    # a second press is refused: a paid payment is not paid again
    assert fetch(created.confirmation.url, b"action=decline")[0] == 409


def test_sbp_gets_an_opaque_qr_payload(sim: AcquirerSimulator, gateway: SandboxGateway) -> None:
    created = gateway.create_payment(basket(PaymentMethod.SBP), options())
    assert created.confirmation is not None
    assert created.confirmation.kind is ConfirmationKind.QR
    payload = created.confirmation.qr_payload
    assert payload is not None and payload.startswith(sim.base_url + "/qr/")
    assert fetch(payload, b"action=decline")[0] == 303
    assert gateway.get_payment(created.gateway_payment_id).state is PaymentState.FAILED


def test_sberpay_redirects(gateway: SandboxGateway) -> None:
    created = gateway.create_payment(basket(PaymentMethod.SBERPAY), options())
    assert created.method is PaymentMethod.SBERPAY
    assert created.confirmation is not None and created.confirmation.url


def test_same_key_same_payment_other_body_refused(
    sim: AcquirerSimulator, gateway: SandboxGateway
) -> None:
    payment = basket()
    opts = options()
    first = gateway.create_payment(payment, opts)
    assert gateway.create_payment(payment, opts) == first
    assert len(sim.payments_for(payment.payment_id)) == 1
    with pytest.raises(GatewayRefused) as caught:
        gateway.create_payment(basket(), opts)
    assert caught.value.status == 422


def test_wrong_api_key_is_refused(sim: AcquirerSimulator) -> None:
    bad = SandboxGateway(sim.base_url, api_key="wrong", webhook_secret=b"x", timeout=0.5)
    with pytest.raises(GatewayRefused) as caught:
        bad.create_payment(basket(), options())
    assert caught.value.status == 401
    assert sim.report().payments == 0


def test_unknown_payment_id(gateway: SandboxGateway) -> None:
    with pytest.raises(UnknownPayment):
        gateway.get_payment("sbx_nope")


def test_failures_map_to_typed_errors(sim: AcquirerSimulator, gateway: SandboxGateway) -> None:
    sim.switches.fail_next = 1
    with pytest.raises(GatewayUnavailable) as caught:
        gateway.create_payment(basket(), options())
    assert caught.value.status == 500
    assert sim.report().payments == 0  # failed before doing anything
    sim.switches.lose_next = 1
    payment, opts = basket(), options()
    with pytest.raises(GatewayUnavailable):
        gateway.create_payment(payment, opts)
    assert len(sim.payments_for(payment.payment_id)) == 1  # done, answer lost
    assert gateway.create_payment(payment, opts).order_id == payment.payment_id
    assert len(sim.payments_for(payment.payment_id)) == 1
    sim.switches.stall_next = 1
    sim.switches.api_delay = 0.8
    with pytest.raises(GatewayTimeout):
        gateway.find_payment(payment.payment_id, opts.idempotency_key)
    # the connection was dropped on the timeout; the next call opens a fresh one
    assert gateway.find_payment(payment.payment_id, opts.idempotency_key) is not None


def test_refund_partial_then_rest(sim: AcquirerSimulator, gateway: SandboxGateway) -> None:
    payment = basket()
    created = gateway.create_payment(payment, options())
    sim.approve(created.gateway_payment_id)
    request = RefundRequest.for_lines(payment, created.gateway_payment_id, [1])
    result = gateway.refund(request, "refund-key-1")
    assert result.amount == Decimal("300.00")
    assert result.payment.state is PaymentState.PARTIALLY_REFUNDED
    assert gateway.refund(request, "refund-key-1") == result  # a retry: nothing twice
    rest = RefundRequest.for_lines(payment, created.gateway_payment_id, [0])
    final = gateway.refund(rest, "refund-key-2").payment
    assert (final.state, final.refunded) == (PaymentState.REFUNDED, payment.total)
    with pytest.raises(GatewayRefused):
        gateway.refund(rest, "refund-key-3")
    assert sim.report().refunded == payment.total


def test_cancel_pending_only(sim: AcquirerSimulator, gateway: SandboxGateway) -> None:
    created = gateway.create_payment(basket(), options())
    assert gateway.cancel_payment(created.gateway_payment_id, "cancel-key-1").state is (
        PaymentState.CANCELLED
    )
    with pytest.raises(GatewayRefused):
        gateway.cancel_payment(created.gateway_payment_id, "cancel-key-2")


def wait_for(capture: Capture, count: int) -> list[WebhookRequest]:
    with capture.arrived:
        assert capture.arrived.wait_for(lambda: len(capture.requests) >= count, timeout=5)
        return list(capture.requests)


def test_webhooks_are_signed_snapshots(
    sim: AcquirerSimulator, gateway: SandboxGateway, capture: Capture
) -> None:
    created = gateway.create_payment(basket(), options())
    sim.approve(created.gateway_payment_id)
    hooks = wait_for(capture, 2)
    states = []
    for hook in hooks:
        assert hook.header(TIMESTAMP_HEADER) and hook.header(SIGNATURE_HEADER)
        assert hook.remote_addr == "127.0.0.1"
        (event,) = gateway.parse_webhook(hook)
        assert event.signed_at is not None
        assert abs(event.signed_at - hook.received_at) < dt.timedelta(seconds=5)
        states.append(event.payment.state)
    assert sorted(states) == [PaymentState.PENDING, PaymentState.SUCCEEDED]
    # the signature covers the timestamp: moving it breaks the signature
    hook = hooks[0]
    moved = [
        (k, str(int(v) - 1000) if k.lower() == TIMESTAMP_HEADER.lower() else v)
        for k, v in hook.headers
    ]
    with pytest.raises(WebhookRejected) as caught:
        gateway.parse_webhook(WebhookRequest(hook.body, moved))
    assert caught.value.reason == "signature"
    # another secret does not verify
    other = SandboxGateway(sim.base_url, api_key=sim.api_key, webhook_secret=b"other", timeout=1)
    with pytest.raises(WebhookRejected):
        other.parse_webhook(hook)
    # a well-signed body that is not a payment event is malformed
    garbage = b'{"hello": "world"}'
    ts = hook.header(TIMESTAMP_HEADER)
    assert ts is not None
    signature = signature_header(sim.webhook_secret, int(ts), garbage)
    signed = [(TIMESTAMP_HEADER, ts), (SIGNATURE_HEADER, signature)]
    with pytest.raises(WebhookRejected) as caught:
        gateway.parse_webhook(WebhookRequest(garbage, signed))
    assert caught.value.reason == "malformed"


def test_webhook_switches(
    sim: AcquirerSimulator, gateway: SandboxGateway, capture: Capture
) -> None:
    sim.switches.webhook_duplicate_rate = 1.0
    created = gateway.create_payment(basket(), options())
    assert sim.flush()
    bodies = [json.loads(r.body)["event_id"] for r in wait_for(capture, 2)]
    assert len(bodies) == 2 and bodies[0] == bodies[1]  # the same event twice
    sim.switches.webhook_duplicate_rate = 0.0
    sim.switches.webhook_drop_rate = 1.0
    sim.approve(created.gateway_payment_id)
    assert sim.flush()
    assert len(capture.requests) == 2
    assert sim.report().webhooks_dropped == 1


def test_switches_over_http(sim: AcquirerSimulator) -> None:
    transport = HttpTransport(sim.base_url, timeout=1)
    transport.request("POST", "/_sandbox/switches", json_body={"webhook_drop_rate": 0.5})
    assert sim.switches.webhook_drop_rate == 0.5
    with pytest.raises(GatewayRefused):
        transport.request("POST", "/_sandbox/switches", json_body={"no_such_switch": 1})


def test_transport_refuses_a_missing_timeout() -> None:
    for bad in (0, -1, None, True):
        with pytest.raises(ValueError):
            HttpTransport("http://127.0.0.1:9", timeout=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        HttpTransport("ftp://example.org", timeout=1)


def test_connection_refused_is_unavailable() -> None:
    sim = AcquirerSimulator()
    url = sim.base_url
    sim.stop()  # bound, then closed: nothing listens there now
    gateway = SandboxGateway(url, api_key="k", webhook_secret=b"s", timeout=0.5)
    with pytest.raises(GatewayUnavailable):
        gateway.get_payment("sbx_1")


def test_receipt_positions_reach_the_acquirer(
    sim: AcquirerSimulator, gateway: SandboxGateway
) -> None:
    from pes_sdk.models.receipts import Receipt, ReceiptVat, Supplier

    payment = basket()
    suppliers = {
        "7707083893": Supplier("7707083893", "ООО «УК»", "+74951234567", ReceiptVat.VAT22),
        "7736050003": Supplier("7736050003", "АО «РСО»", (), ReceiptVat.NONE),
    }
    receipt = Receipt.for_payment(payment, suppliers, fee_vat=ReceiptVat.VAT22)
    opts = attrs.evolve(options(), receipt=receipt)
    created = gateway.create_payment(payment, opts)
    items = sim._payments[created.gateway_payment_id].lines
    assert [i.get("agent_type") for i in items] == ["payment_agent", "payment_agent", None]
    assert items[0]["supplier_name"] == "ООО «УК»" and items[2]["vat"] == "vat22"


def test_transport_always_verifies_tls() -> None:
    # There is no way to ask for less than a verified certificate; that an untrusted one is
    # really refused is shown with a loopback HTTPS server in tests/test_http_client.py.
    import ssl

    lax = ssl.create_default_context()
    lax.check_hostname = False
    lax.verify_mode = ssl.CERT_NONE
    for verify in (lax, False):
        with pytest.raises(ValueError, match="verify"):
            HttpTransport("https://acquirer.example", timeout=1, verify=verify)  # type: ignore[arg-type]
