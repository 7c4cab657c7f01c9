"""``Store.get_many``: a day's close looks up every credited line's payment at once (a few
queries per 500 ids, not two per payment), the same entries as ``Store.get`` one by one.
Both stores, real databases (``store_url``: a SQLite file and a fresh PostgreSQL schema).
"""

from __future__ import annotations

import datetime as dt
import uuid

from example_inputs import TEPLOSET, UK_DOM, basket_lines, paid_entry
from pes_sdk_runner.store import open_store


def test_get_many_gives_what_get_gives_for_each_id_past_one_query_s_worth(
    store_url: str,
) -> None:
    store = open_store(store_url)
    try:
        at = dt.datetime(2026, 10, 20, 9, 0, tzinfo=dt.UTC)
        entries = []
        for n in range(1, 1203):  # past two chunks of 500 ids
            lines = basket_lines(UK_DOM if n % 2 else TEPLOSET, ["10.00", "2.50"][: 1 + n % 2])
            entries.append(paid_entry(at + dt.timedelta(seconds=n), lines, n))
        for e in entries:
            store.add(e)
        wanted = [e.payment.payment_id for e in entries] + [uuid.UUID(int=10**9)]
        got = store.get_many(wanted + wanted[:3])  # repeated ids and an unknown one
        assert set(got) == {e.payment.payment_id for e in entries}
        for e in entries[:5] + entries[-5:]:
            assert got[e.payment.payment_id] == store.get(e.payment.payment_id)
        assert store.get_many([]) == {}
    finally:
        store.close()
