"""The store's count of payment QR codes resolved, for the limits on them
(:mod:`pes_sdk_runner.qr_limits`).

Migration 0017 made ``qr_resolutions``: one row per resolution let through, by a digest of
who asked. The count lives in the store, not in a process's memory, so that a limit holds
however many runner processes serve the API and the cabinet: each reads and writes the same
rows, one at a time (the lock below), as the login codes' limits do.

A function over a :class:`~pes_sdk_runner.store.sql.SqlStore`'s connection rather than a
method of it: the limiter's query, used nowhere else (as :mod:`.triggers`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from pes_sdk_runner.store.sql import SqlStore

__all__ = ["QR_KEPT", "QrLimit", "take_qr_resolution"]

#: How long a resolution is kept: the longest window a limit may have (a day).
QR_KEPT = dt.timedelta(days=1)


@attrs.frozen
class QrLimit:
    """At most ``count`` resolutions by one asker within ``window`` before now."""

    window: dt.timedelta
    count: int

    def __attrs_post_init__(self) -> None:
        if not dt.timedelta(0) < self.window <= QR_KEPT:
            raise ValueError(f"a QR limit's window is above 0 and at most {QR_KEPT}")
        if self.count < 1:
            raise ValueError("a QR limit lets at least one resolution through")


def take_qr_resolution(
    store: SqlStore, client: str, at: dt.datetime, limits: Sequence[QrLimit]
) -> dt.datetime | None:
    """Count a resolution by ``client`` (a digest, never a person's key) at ``at``, unless
    one of ``limits`` is reached: then nothing is counted, and the answer is when the
    client may try again (the latest of the limits' times). None: counted, go ahead."""
    ts = store.dialect.ts_in
    with store._tx() as cur:
        # Every process takes its turn here (PostgreSQL: this lock; SQLite: the write lock
        # every write transaction holds), so the counts read are the counts: two requests
        # at once in two processes cannot both take the last place.
        store.dialect.lock_key(cur, "pes_sdk_runner.qr_resolutions")
        store._x(cur, "DELETE FROM qr_resolutions WHERE at < ?", (ts(at - QR_KEPT),))
        retry_at: dt.datetime | None = None
        for limit in limits:
            rows = store._x(
                cur,
                "SELECT at FROM qr_resolutions WHERE client = ? AND at > ?"
                " ORDER BY at DESC LIMIT ?",
                (client, ts(at - limit.window), limit.count),
            ).fetchall()
            if len(rows) >= limit.count:
                # Free again once the oldest of the last `count` leaves the window.
                free = store.dialect.ts_out(rows[-1][0]) + limit.window
                retry_at = free if retry_at is None else max(retry_at, free)
        if retry_at is not None:
            return retry_at
        store._x(cur, "INSERT INTO qr_resolutions (client, at) VALUES (?, ?)", (client, ts(at)))
    return None
