"""The store's reads for the runner's triggers (:mod:`pes_sdk_runner.triggers`).

A partner's **clients** are those who ticked one of its services on an account
(``acceptances``) and the cabinets that linked one of its accounts (``cabinet_accounts``,
client ``cabinet:<id>``). The audiences here are read a page at a time (keyset on client
and account), never whole: memory stays flat however many clients a partner has.

Functions over a :class:`~pes_sdk_runner.store.sql.SqlStore`'s connection rather than
methods of it: they are the triggers' queries, used nowhere else.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pes_sdk_runner.store.sql import SqlStore

__all__ = [
    "charged_clients",
    "client_accounts",
    "clients_with_meters",
    "paid_since",
    "payment_client",
    "record_payment_client",
]

#: Rows one page of an audience reads.
PAGE = 1000

#: (client, account) of every client of a partner: its ticks and its cabinets' links.
_CLIENTS = (
    "SELECT client_id, account FROM acceptances WHERE partner_inn = ?"
    " UNION SELECT 'cabinet:' || CAST(cabinet_id AS TEXT), account FROM cabinet_accounts"
    " WHERE partner_inn = ?"
)
_AFTER = "(c.client_id > ? OR (c.client_id = ? AND c.account > ?))"


def _pages(
    store: SqlStore, query: str, params: Sequence[Any], page: int
) -> Iterator[Sequence[Any]]:
    """The rows of ``query`` (its first two columns: client, account; ``{after}`` where
    the page's keyset condition goes), a page at a time."""
    from pes_sdk_runner.store.sql import SqlStore as _Sql

    assert isinstance(store, _Sql)
    last: tuple[str, str] | None = None
    while True:
        after = _AFTER if last is not None else "1 = 1"
        keys = [last[0], last[0], last[1]] if last is not None else []
        with store._read() as cur:
            rows = store._x(
                cur, query.format(after=after) + f" LIMIT {int(page)}", [*params, *keys]
            ).fetchall()
        yield from rows
        if len(rows) < page:
            return
        last = (rows[-1][0], rows[-1][1])


def _grouped(rows: Iterator[Sequence[Any]]) -> Iterator[tuple[str, list[Sequence[Any]]]]:
    """Consecutive rows of one client together (the rows come ordered by client)."""
    client: str | None = None
    group: list[Sequence[Any]] = []
    for row in rows:
        if row[0] != client:
            if client is not None:
                yield client, group
            client, group = row[0], []
        group.append(row)
    if client is not None:
        yield client, group


def client_accounts(
    store: SqlStore, partner_inn: str, *, page: int = PAGE
) -> Iterator[tuple[str, list[str]]]:
    """Each client of the partner with its accounts there, ordered by client."""
    query = (
        f"SELECT c.client_id, c.account FROM ({_CLIENTS}) c WHERE {{after}}"
        " ORDER BY c.client_id, c.account"
    )
    rows = _pages(store, query, [partner_inn, partner_inn], page)
    for client, group in _grouped(rows):
        yield client, [str(r[1]) for r in group]


def charged_clients(
    store: SqlStore, partner_inn: str, registry_id: int, *, page: int = PAGE
) -> Iterator[tuple[str, list[tuple[str, Decimal]]]]:
    """Each client of the partner whose accounts the debt registry charges, with what it
    charges on each (the sum of the account's services), ordered by client."""
    from pes_sdk_runner.store.sql import from_kopecks

    query = (
        f"SELECT c.client_id, c.account, SUM(d.amount) FROM ({_CLIENTS}) c"
        " JOIN debts d ON d.account = c.account"
        " WHERE d.registry_id = ? AND d.partner_inn = ? AND {after}"
        " GROUP BY c.client_id, c.account ORDER BY c.client_id, c.account"
    )
    rows = _pages(store, query, [partner_inn, partner_inn, registry_id, partner_inn], page)
    for client, group in _grouped(rows):
        yield client, [(str(r[1]), from_kopecks(int(r[2]))) for r in group]


def clients_with_meters(
    store: SqlStore, partner_inn: str, *, page: int = PAGE
) -> Iterator[tuple[str, list[str]]]:
    """Each client of the partner at an account with a meter (one whose readings were
    ever sent), with those accounts, ordered by client."""
    query = (
        f"SELECT c.client_id, c.account FROM ({_CLIENTS}) c WHERE EXISTS"
        " (SELECT 1 FROM meter_readings r WHERE r.partner_inn = ? AND r.account = c.account)"
        " AND {after} ORDER BY c.client_id, c.account"
    )
    rows = _pages(store, query, [partner_inn, partner_inn, partner_inn], page)
    for client, group in _grouped(rows):
        yield client, [str(r[1]) for r in group]


def paid_since(
    store: SqlStore, partner_inns: Sequence[str], since: dt.datetime, source_prefix: str
) -> list[uuid.UUID]:
    """Payments to the partners credited at or after ``since`` (their capture time) without
    a message of source ``<source_prefix><order id>`` yet.

    Read from the ledger's credits by partner and time (its index ``ledger_by_partner``),
    not from ``payments``: an index on ``payments.paid_at`` would be one more write on
    every confirmation."""
    found: dict[str, None] = {}
    for start in range(0, len(partner_inns), 400):
        chunk = list(partner_inns[start : start + 400])
        marks = ", ".join("?" for _ in chunk)
        with store._read() as cur:
            rows = store._x(
                cur,
                "SELECT l.order_id, MIN(l.at) FROM ledger l WHERE l.kind = 'credit'"
                f" AND l.partner_inn IN ({marks}) AND l.at >= ? AND l.order_id IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM messages m"
                " WHERE m.source = CAST(? AS TEXT) || l.order_id)"
                " GROUP BY l.order_id ORDER BY MIN(l.at), l.order_id",
                [*chunk, store.dialect.ts_in(since), source_prefix],
            ).fetchall()
        found.update((str(r[0]), None) for r in rows)
    return [uuid.UUID(o) for o in found]


def record_payment_client(store: SqlStore, order_id: uuid.UUID, client_id: str) -> None:
    """Record the client a payment is made for (the first one stays: a repeat is a no-op)."""
    with store._tx() as cur:
        store._x(
            cur,
            "INSERT INTO payment_clients (order_id, client_id) VALUES (?, ?)"
            " ON CONFLICT (order_id) DO NOTHING",
            (str(order_id), client_id),
        )


def payment_client(store: SqlStore, order_id: uuid.UUID) -> str | None:
    """Who a payment was made for: its app's client, or its cabinet; None: unknown."""
    key = str(order_id)
    with store._read() as cur:
        row = store._x(
            cur, "SELECT client_id FROM payment_clients WHERE order_id = ?", (key,)
        ).fetchone()
        if row is not None:
            return str(row[0])
        row = store._x(cur, "SELECT app_id FROM payment_apps WHERE order_id = ?", (key,)).fetchone()
    if row is not None and str(row[0]).startswith("cabinet:"):
        return str(row[0])  # a cabinet pays for itself
    return None
