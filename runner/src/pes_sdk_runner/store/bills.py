"""The store's reads for monthly bills (квитанции): a registry's debts, a page at a time.

:class:`BillsSql` is mixed into :class:`~pes_sdk_runner.store.sql.SqlStore`. Bills are made
from an active registry's rows in the ``debts`` table, account by account; a registry can
hold a million rows, so they are read in pages after a cursor (keyset pagination on
``(account, service)``, the key a registry names each debt by), never all at once. The
cabinet's archive asks which periods an account has a bill of
(:meth:`BillsSql.account_bill_periods`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import attrs

from pes_sdk.money import from_kopecks
from pes_sdk.period import Period

if TYPE_CHECKING:
    from decimal import Decimal

    from pes_sdk_runner.store.dialect import Dialect

__all__ = ["BillRow", "BillsSql"]


@attrs.frozen
class BillRow:
    """One debt of a registry as a bill shows it, with the house's address when the house
    directory has it ("" otherwise)."""

    account: str
    service: str
    service_code: str
    house_id: str | None
    premises: str
    amount: Decimal
    period: Period | None
    address: str


class BillsSql:
    """The SQL of the bills' reads (needs the store's ``_read``, ``_x`` and ``dialect``)."""

    if TYPE_CHECKING:
        dialect: Dialect

        def _read(self) -> AbstractContextManager[Any]: ...
        def _x(self, cur: Any, query: str, params: Sequence[Any] = ()) -> Any: ...

    def registry_debts_page(
        self,
        registry_id: int,
        partner_inn: str,
        after: tuple[str, str | None] | None,
        limit: int,
    ) -> list[BillRow]:
        """Up to ``limit`` debts of the registry after ``(account, service)`` (None: from
        the first; ``(account, None)``: after all of that account's), ordered by account
        then service: read page after page, each account's debts come together.

        Found through the ``(partner_inn, account)`` index, walked in its order and filtered
        by the registry, so a page costs its own rows (and the partner's other periods'
        rows between them), not a sort of the whole registry."""
        query = (
            "SELECT d.account, d.service, d.service_code, d.house_id, d.premises, d.amount,"
            " d.period, h.address FROM debts d LEFT JOIN houses h ON h.guid = d.house_id"
            " WHERE d.partner_inn = ? AND d.registry_id + 0 = ?"
        )
        params: list[Any] = [partner_inn, registry_id]
        if after is not None and after[1] is None:
            query += " AND d.account > ?"
            params.append(after[0])
        elif after is not None:
            # Row values would be shorter, but this form lets both databases seek the
            # index on account first.
            query += " AND d.account >= ? AND (d.account > ? OR d.service > ?)"
            params += [after[0], after[0], after[1]]
        query += " ORDER BY d.account, d.service LIMIT ?"
        params.append(limit)
        with self._read() as cur:
            rows = self._x(cur, query, params).fetchall()
        return [
            BillRow(
                account=r[0],
                service=r[1],
                service_code=r[2],
                house_id=r[3],
                premises=r[4],
                amount=from_kopecks(int(r[5])),
                period=Period.parse(r[6]) if r[6] else None,
                address=r[7] or "",
            )
            for r in rows
        ]

    def registry_accounts_among(
        self, registry_id: int, partner_inn: str, accounts: Sequence[str]
    ) -> set[str]:
        """Which of ``accounts`` the registry has debts on (a few hundred at a time)."""
        if not accounts:
            return set()
        marks = ", ".join("?" * len(accounts))
        with self._read() as cur:
            rows = self._x(
                cur,
                "SELECT DISTINCT account FROM debts WHERE partner_inn = ? AND registry_id = ?"
                f" AND account IN ({marks})",
                [partner_inn, registry_id, *accounts],
            ).fetchall()
        return {r[0] for r in rows}

    def account_bill_periods(self, partner_inn: str, account: str) -> list[Period]:
        """The periods of the partner's active registries with debts on the account, newest
        first: the periods the job engine makes (or has made) the account's bills of.

        Only active registries' debts are in the table (a superseded one's go with the
        swap); the status is checked all the same, as the bills are only of active ones."""
        with self._read() as cur:
            rows = self._x(
                cur,
                "SELECT DISTINCT r.period FROM debts d"
                " JOIN debt_registries r ON r.id = d.registry_id"
                " WHERE d.partner_inn = ? AND d.account = ? AND r.status = 'active'"
                " ORDER BY r.period DESC",
                [partner_inn, account],
            ).fetchall()
        return [Period.parse(r[0]) for r in rows]
