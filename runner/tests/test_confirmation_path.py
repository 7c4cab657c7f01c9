"""What a payment's confirmation costs, and that the cheaper path keeps its guarantees.

Issue 16's figure (docs/performance.md, "Fleet"): every confirmation is the acquirer's
webhook through the HTTP stack into ``PaymentProcessor.apply`` (``Store.locked``, ``get``,
``put`` with the payment's credits). On PostgreSQL each statement is a round trip, paid
for by the API process and the server alike, so the statements are counted here; the
lock's own read of the row must still give what another process committed while this
one waited for it. Stores: a SQLite file and a fresh PostgreSQL schema.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from api_harness import serve
from example_inputs import UK_DOM, VODOKANAL, basket_lines
from pes_sdk_runner import logs
from pes_sdk_runner.api import app as api_app
from pes_sdk_runner.store import SqlStore, open_store

from pes_sdk.gateways.models import GatewayPayment, PaymentState
from pes_sdk.gateways.processor import PaymentEntry, PaymentProcessor
from pes_sdk.models.payments import Payment, PaymentMethod


def _pending(store: SqlStore, *amounts: str) -> PaymentEntry:
    lines = basket_lines(UK_DOM, amounts[:1]) + basket_lines(VODOKANAL, amounts[1:])
    payment = Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), PaymentMethod.CARD, lines)
    entry = PaymentEntry(
        payment,
        uuid.uuid4().hex,
        state=PaymentState.PENDING,
        gateway_payment_id=f"gw-{payment.payment_id.hex}",
        line_refunded=tuple(Decimal(0) for _ in lines),
    )
    store.add(entry)
    return entry


@contextmanager
def _statements(store: SqlStore) -> Iterator[list[str]]:
    """Every statement the store's PostgreSQL connection sends while the block runs, by its
    first word: a cursor class of the driver's that notes each statement before running it
    (the server's statistics are shared by every test on the database; SQLite, where a
    statement is a function call and not a round trip, is not counted)."""
    import psycopg

    seen: list[str] = []
    conn: Any = store._conn  # the store's one connection: its statements are the cost

    class Noting(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
            seen.append(str(query).split()[0].upper())
            return super().execute(query, params, **kw)

        def executemany(self, query: Any, params_seq: Any, **kw: Any) -> None:
            rows = list(params_seq)
            seen.extend(str(query).split()[0].upper() for _ in rows)  # one a row
            super().executemany(query, rows, **kw)

    before = conn.cursor_factory
    conn.cursor_factory = Noting
    try:
        yield seen
    finally:
        conn.cursor_factory = before


def _succeeded(entry: PaymentEntry) -> GatewayPayment:
    assert entry.gateway_payment_id is not None
    return GatewayPayment(
        "sandbox",
        entry.gateway_payment_id,
        entry.order_id,
        PaymentState.SUCCEEDED,
        entry.payment.total,
        paid_at=dt.datetime.now(dt.UTC),
    )


def test_a_confirmation_is_six_statements_with_the_credits_in_one_insert(pg_url: str) -> None:
    """On PostgreSQL: the lock reads the payment's row (no second look at it, before or in
    ``put``), its lines are read once, and both lines' credits go in one INSERT: begin, two
    reads, one update, one insert, commit. Before: nine statements, a credit a line."""
    store = open_store(pg_url)
    try:
        entry = _pending(store, "100.00", "55.50")
        processor = PaymentProcessor(object(), store=store)  # type: ignore[arg-type]
        with _statements(store) as seen:
            applied = processor.apply(_succeeded(entry))
        assert applied.move.credited
        assert seen == ["BEGIN", "SELECT", "SELECT", "UPDATE", "INSERT", "COMMIT"]
        with _statements(store) as seen:
            again = processor.apply(_succeeded(entry))  # a repeated webhook: nothing to do
        assert not again.move.credited
        assert seen == ["BEGIN", "SELECT", "SELECT", "COMMIT"]
    finally:
        store.close()


def test_a_confirmation_writes_the_entry_and_a_credit_a_line(store: SqlStore) -> None:
    """What the fewer statements write is what the old ones wrote: the entry as the
    processor made it, a credit a line at the capture time, and no more on a repeat."""
    entry = _pending(store, "100.00", "55.50")
    processor = PaymentProcessor(object(), store=store)  # type: ignore[arg-type]
    applied = processor.apply(_succeeded(entry))
    assert store.get(entry.order_id) == applied.entry
    credits = store.ledger_entries()
    assert sorted((c.ref, c.amount) for c in credits) == [
        (f"credit:{entry.order_id}:0", Decimal("100.00")),
        (f"credit:{entry.order_id}:1", Decimal("55.50")),
    ]
    assert {c.at for c in credits} == {applied.entry.paid_at}
    assert not processor.apply(_succeeded(entry)).move.credited
    assert len(store.ledger_entries()) == 2


def test_the_lock_gives_what_another_process_wrote_while_this_one_waited(
    store: SqlStore, open_more: Callable[[], SqlStore]
) -> None:
    """The row the lock reads is the one committed by the writer the lock waited for, and
    so are its lines (read after the lock, not with it: a statement that waits for a row
    lock on PostgreSQL sees the newest version of the locked row, but the other tables
    as they were when it began). ``put`` books only the refund that is new since."""
    other = open_more()
    entry = _pending(store, "100.00", "55.50")
    paid = PaymentProcessor(object(), store=store).apply(_succeeded(entry)).entry  # type: ignore[arg-type]
    refunded = attrs.evolve(
        paid,
        state=PaymentState.PARTIALLY_REFUNDED,
        refunded=Decimal("30.00"),
        line_refunded=(Decimal("30.00"), Decimal(0)),
    )
    waiting, seen = threading.Event(), []

    def second_process() -> None:
        waiting.wait(10)
        with store.locked(entry.order_id):  # waits for the other's block to commit
            held = store.get(entry.order_id)
            assert held is not None
            seen.append(held)
            store.put(
                attrs.evolve(
                    held,
                    refunded=Decimal("40.00"),
                    line_refunded=(Decimal("30.00"), Decimal("10.00")),
                )
            )

    thread = threading.Thread(target=second_process)
    thread.start()
    with other.locked(entry.order_id):
        assert other.get(entry.order_id) == paid
        waiting.set()
        # the second one asks for the lock meanwhile (SQLite: the write lock)
        threading.Event().wait(0.3)
        other.put(refunded)
    thread.join(20)
    assert not thread.is_alive()
    (held,) = seen
    assert (held.refunded, held.line_refunded) == (refunded.refunded, refunded.line_refunded)
    after = store.get(entry.order_id)
    assert after is not None and after.line_refunded == (Decimal("30.00"), Decimal("10.00"))
    # 30 booked by the first writer, 10 by the second: the second's put compared with the
    # refunded sum its lock read (30), not with what it saw before the wait (0)
    refunds = sorted(e.amount for e in store.ledger_entries() if e.kind == "refund")
    assert sum(refunds) == Decimal("40.00"), refunds


def test_a_put_after_the_lock_s_block_reads_the_row_again(
    store: SqlStore, open_more: Callable[[], SqlStore]
) -> None:
    """The lock's row serves only its own block: a later ``put`` compares with the row as
    the database has it then (another process may have written it since), not with a row
    kept from a block that ended."""
    other = open_more()
    entry = _pending(store, "100.00", "55.50")
    paid = PaymentProcessor(object(), store=store).apply(_succeeded(entry)).entry  # type: ignore[arg-type]
    with store.locked(entry.order_id):
        assert store.get(entry.order_id) == paid  # read with the lock, then nothing written
    other.put(
        attrs.evolve(
            paid,
            state=PaymentState.PARTIALLY_REFUNDED,
            refunded=Decimal("30.00"),
            line_refunded=(Decimal("30.00"), Decimal(0)),
        )
    )
    store.put(
        attrs.evolve(
            paid,
            state=PaymentState.PARTIALLY_REFUNDED,
            refunded=Decimal("40.00"),
            line_refunded=(Decimal("30.00"), Decimal("10.00")),
        )
    )
    refunds = [e.amount for e in store.ledger_entries() if e.kind == "refund"]
    assert sum(refunds) == Decimal("40.00"), refunds  # 30, then the 10 new since


# -- the per-request work of the HTTP stack -------------------------------------------------


def test_a_top_level_route_is_named_without_matching_the_path_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``_Observe`` names a request's route by the one Starlette's router chose; only a
    request no top-level route took (an unknown path; the cabinet's mounted pages, whose
    labels test_cabinet_pages.py checks) is matched again to find its template."""
    matched: list[str] = []
    template = api_app._template

    def spy(routes: Any, scope: Any, prefix: str = "") -> str | None:
        matched.append(scope["path"])
        return template(routes, scope, prefix)

    monkeypatch.setattr(api_app, "_template", spy)
    with serve(f"sqlite:///{tmp_path / 'runner.db'}", tmp_path, {}) as r:
        hook = r.config.http.webhook_path
        assert r.call("GET", "/healthz").status == 200
        assert r.call("POST", hook, raw=b"{}").status in (400, 403)  # unsigned
        assert r.call("GET", hook).status == 405  # the route, another method
        assert matched == []
        assert r.call("GET", "/nowhere").status == 404
        assert matched == ["/nowhere"]
        text = r.call("GET", "/metrics").body.decode()
    assert 'route="/healthz",status="200"' in text
    assert f'route="{hook}",status="405"' in text
    assert 'route="unmatched",status="404"' in text


def test_an_event_is_written_as_json_once_and_still_reads_as_json_text(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The JSON formatter takes an event's facts as they are (two events a confirmation),
    not by parsing the text it would write first; a plain handler still gets the text."""
    formatted: list[str] = []
    text_of = logs._Event.__str__

    def spy(self: logs._Event) -> str:
        formatted.append("text")
        return text_of(self)

    monkeypatch.setattr(logs._Event, "__str__", spy)
    logger = logging.getLogger("pes_sdk_runner.test.confirmation")
    record = logger.makeRecord(
        logger.name,
        logging.INFO,
        __file__,
        0,
        logs._Event({"event": "payment.credited", "total": Decimal("155.50")}),
        (),
        None,
    )
    line = json.loads(logs.JsonFormatter().format(record))
    assert formatted == []
    assert (line["event"], line["total"]) == ("payment.credited", "155.50")
    with caplog.at_level(logging.INFO, logger=logger.name):
        logs.event(logger, "payment.credited", order_id="o-1")
    assert json.loads(caplog.records[-1].getMessage()) == {
        "event": "payment.credited",
        "order_id": "o-1",
    }
