"""Payments after their creation, over real HTTP on both stores: who may see a payment, and
an operator's refunds (возвраты) through the sandbox acquirer into the ledger.

Each test runs on SQLite and PostgreSQL (``store_url``); the app runs in uvicorn on a
loopback port with the processor of :func:`pes_sdk_runner.api.processor_for`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from api_harness import (
    ACCOUNT,
    CLIENT,
    ENV,
    HOUSE,
    OPERATOR,
    OTHER_APP,
    Running,
    accept,
    basket,
    serve,
)
from pes_sdk_runner.config import example_config_path, load_runner_config
from pes_sdk_runner.store import LedgerKind, SqlStore, open_store

from pes_sdk.gateways.models import PaymentState
from pes_sdk.gateways.processor import PaymentEntry
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod


@pytest.fixture
def running(store_url: str, tmp_path: Path) -> Iterator[Running]:
    with serve(store_url, tmp_path) as r:
        yield r


def _pay(r: Running, key: str, token: str = CLIENT) -> dict[str, Any]:
    """A basket of two lines: 1000.00 to the subscription partner (a client fee on top)
    and 500.00 to a percent partner."""
    body = basket(r, (1, "1000.00"), (0, "500.00"))
    answer = r.call("POST", "/v1/payments", body, token=token, headers={"Idempotency-Key": key})
    assert answer.status == 200, answer.body
    return dict(answer.json)


def _paid(r: Running) -> dict[str, Any]:
    accept(r, r.inns[1], "Отопление")
    accept(r, r.inns[0], "Отопление")
    view = _pay(r, "basket-1")
    entry = r.store.get(uuid.UUID(view["order_id"]))
    assert entry is not None and entry.gateway_payment_id is not None
    r.gateway.simulator.approve(entry.gateway_payment_id)  # type: ignore[attr-defined]
    paid = r.call("GET", f"/v1/payments/{view['order_id']}?refresh=true")
    assert paid.json["state"] == "succeeded"
    return dict(paid.json)


def _refund(r: Running, order: str, lines: object, key: str, token: str = OPERATOR) -> Any:
    return r.call(
        "POST",
        f"/v1/operator/payments/{order}/refunds",
        {"lines": lines},
        token=token,
        headers={"Idempotency-Key": key},
    )


def _refunds(store: SqlStore) -> dict[str, list[Decimal]]:
    out: dict[str, list[Decimal]] = {}
    for e in store.ledger_entries(kind=LedgerKind.REFUND):
        out.setdefault(e.partner_inn, []).append(e.amount)
    return out


# -- who may see a payment ----------------------------------------------------------------------


def test_a_payment_is_seen_only_by_the_app_that_made_it(running: Running) -> None:
    r = running
    accept(r, r.inns[1], "Отопление")
    accept(r, r.inns[0], "Отопление")
    view = _pay(r, "key-1")
    order = view["order_id"]
    mine = r.call("GET", f"/v1/payments/{order}")
    assert mine.status == 200 and mine.json["order_id"] == order

    theirs = r.call("GET", f"/v1/payments/{order}", token=OTHER_APP)
    unknown = r.call("GET", f"/v1/payments/{uuid.uuid4()}", token=OTHER_APP)
    # Told apart from a payment that does not exist by nothing at all: not a 403.
    assert theirs.status == unknown.status == 404
    assert (
        theirs.json
        == unknown.json
        == {
            "error": "not-found",
            "message": "no such payment",
            "field": "order_id",
        }
    )
    # refresh=true does not reach the acquirer for someone else's payment either.
    assert r.call("GET", f"/v1/payments/{order}?refresh=true", token=OTHER_APP).status == 404

    # The owner is recorded as the token's digest, never the token.
    app = r.store.payment_app(uuid.UUID(order))
    assert app == hashlib.sha256(CLIENT.encode()).hexdigest()[:12]
    conn = r.store.dialect.connect()
    try:
        rows = conn.execute("SELECT order_id, app_id FROM payment_apps").fetchall()
    finally:
        conn.close()
    assert [tuple(map(str, row)) for row in rows] == [(order, app)]
    assert CLIENT not in repr(rows)


def test_a_payment_booked_without_an_owner_is_shown_to_no_app(running: Running) -> None:
    # A payment made before migration 0002 has no owner on record: fail closed.
    r = running
    line = PaymentLine(r.inns[0], ACCOUNT, Decimal("10.00"), service="Отопление", house_id=HOUSE)
    payment = Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), PaymentMethod.CARD, [line])
    r.store.add(PaymentEntry(payment, "legacy-key"))
    for token in (CLIENT, OTHER_APP):
        assert r.call("GET", f"/v1/payments/{payment.payment_id}", token=token).status == 404


# -- refunds ---------------------------------------------------------------------------------


def test_refunds_by_line_and_whole_reach_the_acquirer_and_the_ledger_once(
    running: Running,
) -> None:
    r = running
    sub, pct = r.inns[1], r.inns[0]
    accept(r, sub, "Отопление")
    accept(r, pct, "Отопление")
    unpaid = _pay(r, "unpaid")
    early = _refund(r, unpaid["order_id"], {"0": "1.00"}, "r-early")
    assert early.status == 409 and early.json["error"] == "not-refundable"
    assert set(early.json) == {"error", "message", "field"}

    view = _paid(r)
    order = view["order_id"]
    fee = Decimal(view["lines"][0]["client_fee"])
    assert fee > 0  # the subscription partner's client fee: the service's own money
    assert Decimal(view["total"]) == Decimal("1500.00") + fee

    assert _refund(r, order, {"0": "100.00"}, "r1", token=CLIENT).status == 403
    first = _refund(r, order, {"0": "100.00"}, "r1")
    assert first.status == 200, first.body
    assert first.json["state"] == "partially_refunded"
    assert first.json["refunded"] == "100.00"
    assert first.json["line_refunded"] == ["100.00", "0.00"]
    assert first.json["refund_no"] == 1
    [entry] = r.store.ledger_entries(kind=LedgerKind.REFUND)
    assert (entry.partner_inn, entry.account, entry.service) == (sub, ACCOUNT, "Отопление")
    assert entry.amount == Decimal("100.00") and entry.order_id == uuid.UUID(order)
    assert entry.ref is not None and entry.ref.startswith(f"refund:{order}:")
    # refund 1 of the payment, line 0: fingerprint (8 hex) + random part (4 hex)
    assert re.search(r"-r1-[0-9a-f]{12}:0$", entry.ref)
    [service] = [s for s in r.store.find_by_account(sub, ACCOUNT) if s.service == "Отопление"]
    assert service.paid == Decimal("900.00")  # credits − refunds
    assert service.balance == Decimal("600.50")

    # The same key again is the same refund: nothing more given back or booked.
    again = _refund(r, order, {"0": "100.00"}, "r1")
    assert again.status == 200 and again.json == first.json
    assert r.gateway.simulator.report().refunded == Decimal("100.00")  # type: ignore[attr-defined]
    assert len(r.store.ledger_entries(kind=LedgerKind.REFUND)) == 1
    reused = _refund(r, order, {"0": "50.00"}, "r1")
    assert reused.status == 409 and reused.json["field"] == "Idempotency-Key"

    # Refused before anything moves, naming the line.
    too_much = _refund(r, order, {"1": "500.01"}, "r2")
    assert too_much.status == 422 and too_much.json["error"] == "refund-exceeds"
    assert too_much.json["field"] == "lines.1"
    for lines, field in (
        ({"x": "1.00"}, "lines.x"),
        ({"2": "1.00"}, "lines.2"),
        ({"0": "1.005"}, "lines.0"),
        ({"0": "0.00"}, "lines.0"),
        ({}, "lines"),
    ):
        bad = _refund(r, order, lines, "r2")
        assert (bad.status, bad.json["field"]) == (422, field), bad.body
    assert (
        r.call(
            "POST",
            f"/v1/operator/payments/{order}/refunds",
            {},
            token=OPERATOR,
            headers={"Idempotency-Key": "r2"},
        ).json["field"]
        == "lines"
    )  # the whole payment is asked for explicitly (null)

    # A cent, exactly.
    cent = _refund(r, order, {"1": "0.01"}, "r3")
    assert cent.json["line_refunded"] == ["100.00", "0.01"]

    rest = _refund(r, order, None, "r4")
    assert rest.status == 200, rest.body
    assert rest.json["state"] == "refunded"
    assert Decimal(rest.json["refunded"]) == Decimal(view["total"])
    assert rest.json["line_refunded"] == [str(Decimal("1000.00") + fee), "500.00"]
    assert rest.json["refund_no"] == 3
    # The partners' ledger gets back what they were credited, not the service's fee.
    refunds = _refunds(r.store)
    assert refunds == {
        sub: [Decimal("100.00"), Decimal("900.00")],
        pct: [Decimal("0.01"), Decimal("499.99")],
    }
    for inn in (sub, pct):
        totals = r.store.ledger_totals(inn)
        assert totals.credits == totals.refunds and totals.owed == 0
    [service] = [s for s in r.store.find_by_account(sub, ACCOUNT) if s.service == "Отопление"]
    assert (service.paid, service.due) == (Decimal("0.00"), Decimal("1500.50"))
    status = r.call("GET", f"/v1/payments/{order}")
    assert status.json["state"] == "refunded"
    done = _refund(r, order, None, "r5")
    assert done.status == 409 and done.json["error"] == "not-refundable"
    assert r.call("GET", "/metrics", token=None).body.decode().count("pes_refunds_total 3") == 1


def test_a_refund_while_the_acquirer_is_down_is_503_and_finished_by_a_retry(
    running: Running,
) -> None:
    r = running
    order = _paid(r)["order_id"]
    sim = r.gateway.simulator  # type: ignore[attr-defined]
    sim.switches.fail_next = 50  # every attempt of the processor's bounded retries fails
    down = _refund(r, order, {"1": "200.00"}, "retry-me")
    assert down.status == 503 and down.json["error"] == "gateway-unavailable"
    assert set(down.json) == {"error", "message", "field"}
    assert r.store.ledger_entries(kind=LedgerKind.REFUND) == []
    # Another refund must wait for the unfinished one.
    blocked = _refund(r, order, {"0": "1.00"}, "other")
    assert blocked.status == 409 and blocked.json["error"] == "not-refundable"

    sim.switches.fail_next = 0
    sim.switches.lose_next = 1  # the acquirer refunds, then its answer is lost: a retry
    finished = _refund(r, order, {"1": "200.00"}, "retry-me")
    assert finished.status == 200, finished.body
    assert finished.json["refunded"] == "200.00" and finished.json["refund_no"] == 1
    assert sim.report().refunded == Decimal("200.00")
    assert [e.amount for e in r.store.ledger_entries(kind=LedgerKind.REFUND)] == [Decimal("200.00")]
    # The key refused earlier was released: it may be used now.
    assert _refund(r, order, {"0": "1.00"}, "other").json["refund_no"] == 2


def test_a_refund_the_acquirer_refuses_is_409_and_blocks_nothing(running: Running) -> None:
    r = running
    order = _paid(r)["order_id"]
    sim = r.gateway.simulator  # type: ignore[attr-defined]
    sim.switches.refuse_refunds_next = 1  # the shop's balance does not cover it
    refused = _refund(r, order, {"1": "200.00"}, "too-early")
    assert refused.status == 409 and refused.json["error"] == "refund-refused"
    assert r.store.ledger_entries(kind=LedgerKind.REFUND) == []
    assert sim.report().refunded == Decimal(0)
    # Another refund goes through and takes refund number 1.
    other = _refund(r, order, {"0": "10.00"}, "later")
    assert other.status == 200 and other.json["refund_no"] == 1
    # The refused key was released: asked again, it is a new refund (number 2), never
    # mistaken for the one made under another key.
    again = _refund(r, order, {"1": "200.00"}, "too-early")
    assert again.status == 200 and again.json["refund_no"] == 2
    assert sorted(e.amount for e in r.store.ledger_entries(kind=LedgerKind.REFUND)) == [
        Decimal("10.00"),
        Decimal("200.00"),
    ]


def test_a_refund_the_processor_did_not_make_is_spread_over_the_lines(
    store_url: str, tmp_path: Path
) -> None:
    # The acquirer's dashboard: the webhook says more was refunded, with no request of ours.
    store = open_store(store_url)
    try:
        config = load_runner_config(example_config_path(), env=ENV, data=tmp_path)
        store.upsert_partners(p.partner for p in config.partners)
        a, b = config.partners[1].inn, config.partners[0].inn
        lines = [
            PaymentLine(a, ACCOUNT, Decimal("100.00"), service="x", client_fee=Decimal("5.00")),
            PaymentLine(b, ACCOUNT, Decimal("50.00"), service="y"),
        ]
        payment = Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), PaymentMethod.CARD, lines)
        entry = PaymentEntry(payment, "k", line_refunded=(Decimal(0), Decimal(0)))
        store.add(entry)
        paid = attrs.evolve(entry, state=PaymentState.SUCCEEDED, gateway_payment_id="g")
        store.put(paid)
        refunded = attrs.evolve(
            paid, state=PaymentState.PARTIALLY_REFUNDED, refunded=Decimal("120.00")
        )
        store.put(refunded)  # booked with the entry, in its transaction
        booked = [(e.partner_inn, e.amount) for e in store.ledger_entries(kind=LedgerKind.REFUND)]
        # Line 0 takes 105.00 (100.00 is the partner's, 5.00 the fee), line 1 the 15.00 left.
        assert booked == [(a, Decimal("100.00")), (b, Decimal("15.00"))]
        store.put(refunded)  # the same news again books nothing more
        assert len(store.ledger_entries(kind=LedgerKind.REFUND)) == 2
        more = attrs.evolve(paid, state=PaymentState.REFUNDED, refunded=Decimal("155.00"))
        store.put(more)
        assert store.ledger_totals(b).refunds == Decimal("50.00")
        assert store.ledger_totals(a).refunds == Decimal("100.00")
    finally:
        store.close()
