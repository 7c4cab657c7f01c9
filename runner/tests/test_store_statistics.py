"""A large debt registry leaves PostgreSQL's planner with fresh statistics of ``debts``.

Without them, address look-ups right after a large ingest took 9 ms instead of 0.2 ms
until autovacuum came round (docs/performance.md).
"""

from __future__ import annotations

import pytest
from pes_sdk_runner.store import SqlStore
from runner_data import PARTNERS, many_debts

from pes_sdk.period import Period


def _analyzed(store: SqlStore) -> bool:
    with store._read() as cur:  # a test may look at the server's own bookkeeping
        row = cur.execute(
            "SELECT last_analyze FROM pg_stat_user_tables"
            " WHERE relname = 'debts' AND schemaname = current_schema()"
        ).fetchone()
    return row is not None and row[0] is not None


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_large_ingest_analyzes_the_debts_table(store: SqlStore) -> None:
    store.upsert_partners(PARTNERS)
    inn = PARTNERS[0].inn
    store.ingest_debt_registry(inn, Period(2026, 10), 1, many_debts(100), sha256="small")
    assert not _analyzed(store)  # a small registry changes the statistics little
    store.ingest_debt_registry(inn, Period(2026, 11), 1, many_debts(12_000), sha256="large")
    assert _analyzed(store)
