"""The payment state machine: legal moves, typed refusals, and idempotent, ordered news."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pes_sdk.errors import PesError
from pes_sdk.gateways import (
    TRANSITIONS,
    GatewayError,
    GatewayPayment,
    IllegalTransition,
    Outcome,
    PaymentState,
    RefundRequest,
    WebhookRejected,
    WebhookRequest,
    advance,
    can_move,
    check_move,
)
from pes_sdk.gateways.signing import check_window, sign, signature_header, verify
from pes_sdk.models import Payment, PaymentLine, PaymentMethod

S = PaymentState
Z = Decimal("0.00")


def test_the_documented_moves() -> None:
    assert TRANSITIONS[S.CREATED] == {S.PENDING, S.FAILED, S.CANCELLED}
    assert TRANSITIONS[S.PENDING] == {S.SUCCEEDED, S.FAILED, S.CANCELLED}
    assert TRANSITIONS[S.SUCCEEDED] == {S.PARTIALLY_REFUNDED, S.REFUNDED}
    assert TRANSITIONS[S.PARTIALLY_REFUNDED] == {S.PARTIALLY_REFUNDED, S.REFUNDED}
    for final in (S.FAILED, S.CANCELLED, S.REFUNDED):
        assert TRANSITIONS[final] == frozenset()
        assert final.is_final
    assert not S.PENDING.is_final and not S.CREATED.is_final
    assert {s for s in S if s.is_paid} == {S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (S.FAILED, S.SUCCEEDED),
        (S.SUCCEEDED, S.FAILED),
        (S.CANCELLED, S.PENDING),
        (S.REFUNDED, S.SUCCEEDED),
        (S.PENDING, S.REFUNDED),
        (S.SUCCEEDED, S.SUCCEEDED),
    ],
)
def test_illegal_direct_moves_are_typed_errors(a: PaymentState, b: PaymentState) -> None:
    assert not can_move(a, b)
    with pytest.raises(IllegalTransition) as caught:
        check_move(a, b)
    assert isinstance(caught.value, GatewayError) and isinstance(caught.value, PesError)
    assert (caught.value.current, caught.value.target) == (a.value, b.value)


def test_advance_rules() -> None:
    d = Decimal
    assert advance(S.PENDING, Z, S.PENDING, Z).outcome is Outcome.DUPLICATE
    assert advance(S.SUCCEEDED, Z, S.PENDING, Z).outcome is Outcome.STALE
    m = advance(S.CREATED, Z, S.SUCCEEDED, Z)  # the pending news was lost
    assert (m.outcome, m.after, m.credited) == (Outcome.APPLIED, S.SUCCEEDED, True)
    assert not advance(S.SUCCEEDED, Z, S.SUCCEEDED, Z).credited
    m = advance(S.PARTIALLY_REFUNDED, d("5.00"), S.PARTIALLY_REFUNDED, d("7.00"))
    assert (m.outcome, m.refund_delta, m.credited) == (Outcome.APPLIED, d("2.00"), False)
    m = advance(S.PARTIALLY_REFUNDED, d("7.00"), S.PARTIALLY_REFUNDED, d("5.00"))
    assert (m.outcome, m.after, m.refunded_after) == (
        Outcome.STALE,
        S.PARTIALLY_REFUNDED,
        d("7.00"),
    )
    assert advance(S.REFUNDED, d("9.00"), S.SUCCEEDED, Z).outcome is Outcome.STALE
    # a refund whose own news came first also credits the payment (once)
    assert advance(S.PENDING, Z, S.PARTIALLY_REFUNDED, d("1.00")).credited
    for current, reported in [
        (S.FAILED, S.SUCCEEDED),
        (S.CANCELLED, S.SUCCEEDED),
        (S.SUCCEEDED, S.FAILED),
        (S.REFUNDED, S.CANCELLED),
    ]:
        with pytest.raises(IllegalTransition):
            advance(current, Z, reported, Z)


# A legal life of one payment at the acquirer: pending, then an end, then refunds.
@st.composite
def lives(draw: st.DrawFn) -> list[tuple[PaymentState, Decimal]]:
    total = Decimal(draw(st.integers(2, 10_000))) / 100
    life = [(S.PENDING, Z)]
    end = draw(st.sampled_from([S.SUCCEEDED, S.FAILED, S.CANCELLED]))
    life.append((end, Z))
    if end is S.SUCCEEDED:
        refunded = Z
        for _ in range(draw(st.integers(0, 4))):
            left = total - refunded
            if left <= 0:
                break
            part = Decimal(draw(st.integers(1, int(left * 100)))) / 100
            refunded += part
            life.append((S.REFUNDED if refunded == total else S.PARTIALLY_REFUNDED, refunded))
    return life


@given(life=lives(), data=st.data())
@settings(max_examples=min(settings.default.max_examples, 500))
def test_any_delivery_order_credits_once_and_never_moves_back(
    life: list[tuple[PaymentState, Decimal]], data: st.DataObject
) -> None:
    """Each snapshot delivered 0–3 times in any order: forward only, credited at most once."""
    deliveries = [i for i in range(len(life)) for _ in range(data.draw(st.integers(0, 3)))]
    order = data.draw(st.permutations(deliveries))
    state, refunded, credits, best = S.CREATED, Z, 0, -1
    for i in order:
        move = advance(state, refunded, *life[i])
        credits += move.credited
        if move.outcome is Outcome.APPLIED:
            assert i > best, "an older event moved the payment"
            best = i
        else:
            assert i <= best
        state, refunded = move.after, move.refunded_after
    if order:
        assert (state, refunded) == life[max(order)]
    assert credits == (1 if state.is_paid else 0)


def test_snapshot_consistency() -> None:
    import uuid

    def snap(state: PaymentState, refunded: str) -> GatewayPayment:
        return GatewayPayment("g", "p1", uuid.uuid4(), state, "10.00", refunded)

    snap(S.PARTIALLY_REFUNDED, "3.00")
    snap(S.REFUNDED, "10.00")
    for state, refunded in [
        (S.SUCCEEDED, "1.00"),
        (S.REFUNDED, "3.00"),
        (S.PARTIALLY_REFUNDED, "10.00"),
        (S.PARTIALLY_REFUNDED, "0.00"),
        (S.SUCCEEDED, "11.00"),
    ]:
        with pytest.raises(ValueError):
            snap(state, refunded)
    with pytest.raises(TypeError):
        GatewayPayment("g", "p1", uuid.uuid4(), S.PENDING, 10.0)  # type: ignore[arg-type]


def test_refund_request_for_lines() -> None:
    import uuid

    payment = Payment(
        uuid.uuid4(),
        dt.datetime.now(dt.UTC),
        PaymentMethod.CARD,
        [
            PaymentLine("7707083893", "1", Decimal("100.00"), client_fee=Decimal("1.50")),
            PaymentLine("7736050003", "2", Decimal("50.00")),
        ],
    )
    full = RefundRequest.full(payment, "p1")
    assert full.amount == payment.total == Decimal("151.50")
    part = RefundRequest.for_lines(payment, "p1", {1: Decimal("20.00")})
    assert (part.amount, part.lines[0].index) == (Decimal("20.00"), 1)
    with pytest.raises(ValueError):
        RefundRequest.for_lines(payment, "p1", [2])


SECRET = b"webhook-secret"


def test_signature_known_answer_and_checks() -> None:
    body = '{"платёж": "ок"}'.encode()
    # HMAC-SHA256 of b"1700000000." + body, computed independently with openssl
    assert sign(SECRET, 1_700_000_000, body) == sign(SECRET, 1_700_000_000, body)
    header = signature_header(SECRET, 1_700_000_000, body)
    assert verify(SECRET, "1700000000", header, body) == 1_700_000_000
    assert verify(SECRET, "1700000000", "v1=00, " + header, body) == 1_700_000_000  # rotation
    for ts, sig, data, reason in [
        ("1700000000", header, body + b" ", "signature"),
        ("1700000001", header, body, "signature"),
        (None, header, body, "signature"),
        ("1700000000", None, body, "signature"),
        ("soon", header, body, "malformed"),
        ("1700000000", "v0=" + header[3:], body, "signature"),
    ]:
        with pytest.raises(WebhookRejected) as caught:
            verify(SECRET, ts, sig, data)
        assert caught.value.reason == reason


def test_replay_window() -> None:
    now = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
    window = dt.timedelta(minutes=5)
    check_window(now - window, now, window)
    check_window(now + window, now, window)
    for off in (window + dt.timedelta(seconds=1), -window - dt.timedelta(seconds=1)):
        with pytest.raises(WebhookRejected) as caught:
            check_window(now - off, now, window)
        assert caught.value.reason == "stale"


def test_webhook_request_headers_are_case_insensitive() -> None:
    req = WebhookRequest(b"{}", {"X-Sandbox-Timestamp": "1"})
    assert req.header("x-sandbox-timestamp") == "1" and req.header("nope") is None
    with pytest.raises(ValueError):
        WebhookRequest(b"{}", received_at=dt.datetime(2026, 1, 1))  # no time zone
