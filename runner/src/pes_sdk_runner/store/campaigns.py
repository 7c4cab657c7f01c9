"""The store's partner campaigns (рассылки партнёров) and the notifications' statistics.

Migration 0012 made ``campaigns`` and the indexes the audience and the statistics read.
:class:`CampaignStore` is their part of the :class:`~pes_sdk_runner.store.base.Store`
protocol and :class:`CampaignsSql` its SQL, mixed into
:class:`~pes_sdk_runner.store.sql.SqlStore`. What a campaign may say and to whom is
:mod:`pes_sdk_runner.campaigns`' business; the store keeps the rows, moves a campaign
between states once (each move is one conditional ``UPDATE``), pages an audience in client
order and counts.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import attrs

if TYPE_CHECKING:
    from pes_sdk_runner.store.dialect import Dialect

__all__ = [
    "AUDIENCES",
    "CAMPAIGN_KINDS",
    "Campaign",
    "CampaignState",
    "CampaignStore",
    "CampaignsSql",
    "Credit",
    "HourCounts",
    "NewCampaign",
    "OpenedMessage",
    "SourceCounts",
]

#: What a campaign says (``campaigns.kind``): the kind its messages carry (opt-outs, order).
CAMPAIGN_KINDS: tuple[str, ...] = ("news", "promo")
#: Who a campaign reaches among the partner's acceptors.
AUDIENCES: tuple[str, ...] = ("all", "debtors", "houses")
#: The most clients one ``IN (…)`` names (SQLite's oldest limit is 999 parameters).
_IN_CHUNK = 400


class CampaignState(enum.StrEnum):
    """Where a campaign stands: draft → scheduled → sending → done, or cancelled."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


@attrs.frozen
class NewCampaign:
    """A campaign to write (already checked by :mod:`pes_sdk_runner.campaigns`)."""

    partner_inn: str
    kind: str
    title: str
    text: str
    image: str | None = None
    buttons: tuple[tuple[str, str], ...] = ()
    audience: str = "all"
    houses: tuple[str, ...] = ()
    starts_at: dt.datetime | None = None


@attrs.frozen
class Campaign:
    """A campaign as stored."""

    id: int
    partner_inn: str
    kind: str
    title: str
    text: str
    image: str | None
    buttons: tuple[tuple[str, str], ...]
    audience: str
    houses: tuple[str, ...]
    starts_at: dt.datetime | None
    state: CampaignState
    targeted: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None

    @property
    def source(self) -> str:
        """Its messages' source (``messages.source``)."""
        return f"campaign:{self.id}"


@attrs.frozen
class SourceCounts:
    """One group of a source's messages: status, reason, channel and how many (with how
    many of them the app reported delivered, opened and clicked)."""

    status: str
    reason: str | None
    channel: str | None
    messages: int
    delivered: int
    opened: int
    clicked: int


@attrs.frozen
class HourCounts:
    """A source's events in one UTC hour (``hour``: its start, aware)."""

    hour: dt.datetime
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0


@attrs.frozen
class OpenedMessage:
    """A message a client opened (for the attribution of payments)."""

    id: int
    client_id: str
    source: str
    sent_at: dt.datetime | None
    opened_at: dt.datetime


@attrs.frozen
class Credit:
    """A payment's credit to one of a client's accepted accounts, with the payment's owner
    (``payment_apps.app_id``: an app's id, or a cabinet's client)."""

    client_id: str
    order_id: str
    owner: str
    ledger_id: int
    at: dt.datetime
    amount: Decimal


class CampaignStore(Protocol):
    """The campaigns' part of the store (every method one transaction)."""

    def create_campaign(self, new: NewCampaign, *, now: dt.datetime | None = None) -> Campaign:
        """Write a campaign: ``scheduled`` when it has a start, else ``draft``."""
        ...

    def campaign(self, campaign_id: int) -> Campaign | None: ...

    def campaigns(
        self, *, partner_inn: str | None = None, limit: int = 200, before: int | None = None
    ) -> list[Campaign]:
        """Campaigns, newest first (``before``: ids below it, for the next page)."""
        ...

    def schedule_campaign(
        self, campaign_id: int, starts_at: dt.datetime, *, now: dt.datetime | None = None
    ) -> Campaign | None:
        """Set a draft's or a scheduled campaign's start (it becomes ``scheduled``); None
        when it is in another state (or there is none): the caller says why."""
        ...

    def cancel_campaign(
        self, campaign_id: int, *, now: dt.datetime | None = None
    ) -> Campaign | None:
        """Cancel a campaign not done (a sending one stops before its next page); None when
        it is done or cancelled already (or there is none)."""
        ...

    def due_campaigns(self, now: dt.datetime) -> list[int]:
        """The scheduled campaigns whose start has come, oldest start first."""
        ...

    def start_campaign(self, campaign_id: int, now: dt.datetime) -> bool:
        """``scheduled`` → ``sending``; True when it is sending now (by this call or an
        earlier one: a re-run after a crash goes on)."""
        ...

    def finish_campaign(self, campaign_id: int, targeted: int, now: dt.datetime) -> bool:
        """``sending`` → ``done`` with its audience's size; False when it was not sending."""
        ...

    def campaign_audience(
        self,
        partner_inn: str,
        audience: str,
        houses: Sequence[str],
        *,
        after: str | None,
        limit: int,
    ) -> list[str]:
        """The next ``limit`` clients (in client order, after ``after``) who accepted one
        of the partner's services, restricted to ``audience``: ``all``; ``debtors`` (an
        accepted account owes the partner); ``houses`` (an acceptance at one of
        ``houses``, FIAS GUIDs)."""
        ...

    def source_counts(self, source: str) -> list[SourceCounts]:
        """A source's messages counted by status, reason and channel."""
        ...

    def source_clients(self, source: str) -> int:
        """How many clients a source's messages were written for (its targeted)."""
        ...

    def source_clicks(self, source: str) -> dict[int, int]:
        """A source's clicks by button (0-based): the first click of each message."""
        ...

    def source_hours(self, source: str) -> list[HourCounts]:
        """A source's sends and the app's reports by UTC hour, oldest first."""
        ...

    def opened_clients(self, source: str, *, after: str | None, limit: int) -> list[str]:
        """The next ``limit`` clients (in order) who opened a message of ``source``."""
        ...

    def opened_messages(self, client_ids: Sequence[str]) -> list[OpenedMessage]:
        """Every message of ``client_ids`` that was opened, of any source."""
        ...

    def client_credits(
        self, client_ids: Sequence[str], partner_inn: str, since: dt.datetime
    ) -> list[Credit]:
        """Credits since ``since`` of payments made through the API to the accounts each
        of ``client_ids`` accepted at the partner (a payment may show under each client
        who accepted its account: the caller matches the owner)."""
        ...

    def notification_facts(
        self, since: dt.datetime
    ) -> tuple[dict[tuple[str, str, str], int], dict[str, int], dict[str, int]]:
        """For ``/metrics``: messages queued since ``since`` by (kind, channel, status);
        their app reports by event; campaigns by state."""
        ...


class CampaignsSql:
    """:class:`CampaignStore` in the store's SQL (a mixin of ``SqlStore``)."""

    if TYPE_CHECKING:  # what SqlStore provides
        dialect: Dialect

        def _tx(self) -> AbstractContextManager[Any]: ...
        def _read(self) -> AbstractContextManager[Any]: ...
        def _x(self, cur: Any, query: str, params: Sequence[Any] = ()) -> Any: ...

    _CAMPAIGN = (
        "SELECT id, partner_inn, kind, title, text, image, buttons, audience, houses,"
        " starts_at, state, targeted, created_at, updated_at, started_at, finished_at"
        " FROM campaigns"
    )

    def _campaign(self, r: Sequence[Any]) -> Campaign:
        def ts(value: Any) -> dt.datetime | None:
            return None if value is None else self.dialect.ts_out(value)

        created, updated = ts(r[12]), ts(r[13])
        assert created is not None and updated is not None
        return Campaign(
            int(r[0]),
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            tuple((str(label), str(url)) for label, url in json.loads(r[6])),
            r[7],
            tuple(json.loads(r[8])),
            ts(r[9]),
            CampaignState(r[10]),
            None if r[11] is None else int(r[11]),
            created,
            updated,
            ts(r[14]),
            ts(r[15]),
        )

    def create_campaign(self, new: NewCampaign, *, now: dt.datetime | None = None) -> Campaign:
        at = self.dialect.ts_in(now or dt.datetime.now(dt.UTC))
        state = CampaignState.DRAFT if new.starts_at is None else CampaignState.SCHEDULED
        starts = None if new.starts_at is None else self.dialect.ts_in(new.starts_at)
        with self._tx() as cur:
            row = self._x(
                cur,
                "INSERT INTO campaigns (partner_inn, kind, title, text, image, buttons,"
                " audience, houses, starts_at, state, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    new.partner_inn,
                    new.kind,
                    new.title,
                    new.text,
                    new.image,
                    json.dumps([list(b) for b in new.buttons], ensure_ascii=False),
                    new.audience,
                    json.dumps(list(new.houses)),
                    starts,
                    str(state),
                    at,
                    at,
                ),
            ).fetchone()
            found = self._x(cur, self._CAMPAIGN + " WHERE id = ?", (int(row[0]),)).fetchone()
        return self._campaign(found)

    def campaign(self, campaign_id: int) -> Campaign | None:
        with self._read() as cur:
            row = self._x(cur, self._CAMPAIGN + " WHERE id = ?", (campaign_id,)).fetchone()
        return None if row is None else self._campaign(row)

    def campaigns(
        self, *, partner_inn: str | None = None, limit: int = 200, before: int | None = None
    ) -> list[Campaign]:
        where: list[str] = []
        args: list[Any] = []
        if partner_inn is not None:
            where.append("partner_inn = ?")
            args.append(partner_inn)
        if before is not None:
            where.append("id < ?")
            args.append(before)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._read() as cur:
            rows = self._x(
                cur, self._CAMPAIGN + clause + " ORDER BY id DESC LIMIT ?", (*args, limit)
            ).fetchall()
        return [self._campaign(r) for r in rows]

    def _move(
        self, campaign_id: int, sets: str, args: Sequence[Any], states: Sequence[str]
    ) -> Campaign | None:
        marks = ", ".join("?" for _ in states)
        with self._tx() as cur:
            moved = self._x(
                cur,
                f"UPDATE campaigns SET {sets} WHERE id = ? AND state IN ({marks})",
                (*args, campaign_id, *states),
            ).rowcount
            if not moved:
                return None
            row = self._x(cur, self._CAMPAIGN + " WHERE id = ?", (campaign_id,)).fetchone()
        return self._campaign(row)

    def schedule_campaign(
        self, campaign_id: int, starts_at: dt.datetime, *, now: dt.datetime | None = None
    ) -> Campaign | None:
        at = self.dialect.ts_in(now or dt.datetime.now(dt.UTC))
        return self._move(
            campaign_id,
            "state = 'scheduled', starts_at = ?, updated_at = ?",
            (self.dialect.ts_in(starts_at), at),
            ("draft", "scheduled"),
        )

    def cancel_campaign(
        self, campaign_id: int, *, now: dt.datetime | None = None
    ) -> Campaign | None:
        at = self.dialect.ts_in(now or dt.datetime.now(dt.UTC))
        return self._move(
            campaign_id,
            "state = 'cancelled', updated_at = ?, finished_at = ?",
            (at, at),
            ("draft", "scheduled", "sending"),
        )

    def due_campaigns(self, now: dt.datetime) -> list[int]:
        with self._read() as cur:
            rows = self._x(
                cur,
                "SELECT id FROM campaigns WHERE state = 'scheduled' AND starts_at <= ?"
                " ORDER BY starts_at, id",
                (self.dialect.ts_in(now),),
            ).fetchall()
        return [int(r[0]) for r in rows]

    def start_campaign(self, campaign_id: int, now: dt.datetime) -> bool:
        at = self.dialect.ts_in(now)
        with self._tx() as cur:
            self._x(
                cur,
                "UPDATE campaigns SET state = 'sending', started_at = ?, updated_at = ?"
                " WHERE id = ? AND state = 'scheduled'",
                (at, at, campaign_id),
            )
            row = self._x(
                cur, "SELECT state FROM campaigns WHERE id = ?", (campaign_id,)
            ).fetchone()
        return row is not None and row[0] == CampaignState.SENDING

    def finish_campaign(self, campaign_id: int, targeted: int, now: dt.datetime) -> bool:
        at = self.dialect.ts_in(now)
        with self._tx() as cur:
            moved = self._x(
                cur,
                "UPDATE campaigns SET state = 'done', targeted = ?, finished_at = ?,"
                " updated_at = ? WHERE id = ? AND state = 'sending'",
                (targeted, at, at, campaign_id),
            ).rowcount
        return bool(moved)

    def campaign_audience(
        self,
        partner_inn: str,
        audience: str,
        houses: Sequence[str],
        *,
        after: str | None,
        limit: int,
    ) -> list[str]:
        if audience not in AUDIENCES:
            raise ValueError(f"an audience is one of {', '.join(AUDIENCES)}")
        if audience == "houses" and not houses:
            return []
        if len(houses) > _IN_CHUNK:
            raise ValueError(f"a campaign names at most {_IN_CHUNK} houses")
        # Keyset pages in client order on acceptances_by_partner: each page one short read,
        # however large the partner (no cursor held open across the campaign).
        query = "SELECT DISTINCT a.client_id FROM acceptances a WHERE a.partner_inn = ?"
        args: list[Any] = [partner_inn]
        if after is not None:
            query += " AND a.client_id > ?"
            args.append(after)
        if audience == "debtors":
            query += (
                " AND EXISTS (SELECT 1 FROM debts d WHERE d.partner_inn = a.partner_inn"
                " AND d.account = a.account AND d.amount > 0)"
            )
        elif audience == "houses":
            query += f" AND a.house_id IN ({', '.join('?' for _ in houses)})"
            args += [h.lower() for h in houses]
        query += " ORDER BY a.client_id LIMIT ?"
        args.append(limit)
        with self._read() as cur:
            return [str(r[0]) for r in self._x(cur, query, args).fetchall()]

    # -- statistics ------------------------------------------------------------------------

    def source_counts(self, source: str) -> list[SourceCounts]:
        with self._read() as cur:
            rows = self._x(
                cur,
                "SELECT status, reason, channel, COUNT(*), COUNT(delivered_at),"
                " COUNT(opened_at), COUNT(clicked_at) FROM messages WHERE source = ?"
                " GROUP BY status, reason, channel",
                (source,),
            ).fetchall()
        return [
            SourceCounts(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5]), int(r[6])) for r in rows
        ]

    def source_clients(self, source: str) -> int:
        with self._read() as cur:
            (count,) = self._x(
                cur, "SELECT COUNT(DISTINCT client_id) FROM messages WHERE source = ?", (source,)
            ).fetchone()
        return int(count)

    def source_clicks(self, source: str) -> dict[int, int]:
        with self._read() as cur:
            rows = self._x(
                cur,
                "SELECT clicked_button, COUNT(*) FROM messages WHERE source = ?"
                " AND clicked_at IS NOT NULL AND clicked_button IS NOT NULL"
                " GROUP BY clicked_button",
                (source,),
            ).fetchall()
        return {int(b): int(n) for b, n in rows}

    def _hour(self, column: str) -> str:
        if self.dialect.name == "postgresql":
            return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24')"
        return f"substr({column}, 1, 13)"  # ISO text in UTC: 2026-12-07T09

    def source_hours(self, source: str) -> list[HourCounts]:
        hours: dict[str, dict[str, int]] = {}
        with self._read() as cur:
            for name, column in (
                ("sent", "sent_at"),
                ("delivered", "delivered_at"),
                ("opened", "opened_at"),
                ("clicked", "clicked_at"),
            ):
                hour = self._hour(column)
                rows = self._x(
                    cur,
                    f"SELECT {hour}, COUNT(*) FROM messages WHERE source = ?"
                    f" AND {column} IS NOT NULL GROUP BY {hour}",
                    (source,),
                ).fetchall()
                for h, n in rows:
                    hours.setdefault(str(h), {})[name] = int(n)
        return [
            HourCounts(dt.datetime.strptime(h, "%Y-%m-%dT%H").replace(tzinfo=dt.UTC), **counts)
            for h, counts in sorted(hours.items())
        ]

    def opened_clients(self, source: str, *, after: str | None, limit: int) -> list[str]:
        # On the unique key (source, client_id, target): a page reads its clients only.
        query = "SELECT DISTINCT client_id FROM messages WHERE source = ? AND opened_at IS NOT NULL"
        args: list[Any] = [source]
        if after is not None:
            query += " AND client_id > ?"
            args.append(after)
        with self._read() as cur:
            rows = self._x(cur, query + " ORDER BY client_id LIMIT ?", (*args, limit))
            return [str(r[0]) for r in rows.fetchall()]

    def opened_messages(self, client_ids: Sequence[str]) -> list[OpenedMessage]:
        out: list[OpenedMessage] = []
        ts = self.dialect.ts_out
        for chunk in _chunks(client_ids):
            marks = ", ".join("?" for _ in chunk)
            with self._read() as cur:
                rows = self._x(
                    cur,
                    "SELECT id, client_id, source, sent_at, opened_at FROM messages"
                    f" WHERE client_id IN ({marks}) AND opened_at IS NOT NULL",
                    chunk,
                ).fetchall()
            out += [
                OpenedMessage(int(r[0]), r[1], r[2], None if r[3] is None else ts(r[3]), ts(r[4]))
                for r in rows
            ]
        return out

    def client_credits(
        self, client_ids: Sequence[str], partner_inn: str, since: dt.datetime
    ) -> list[Credit]:
        from pes_sdk_runner.store.sql import from_kopecks

        out: list[Credit] = []
        ts = self.dialect.ts_out
        for chunk in _chunks(client_ids):
            marks = ", ".join("?" for _ in chunk)
            with self._read() as cur:
                # A ledger credit is money that reached the partner's book: a payment
                # refused or never captured has none. One row per (client, entry).
                rows = self._x(
                    cur,
                    "SELECT DISTINCT a.client_id, l.order_id, p.app_id, l.id, l.at, l.amount"
                    " FROM acceptances a"
                    " JOIN ledger l ON l.partner_inn = a.partner_inn AND l.account = a.account"
                    " JOIN payment_apps p ON p.order_id = l.order_id"
                    f" WHERE a.client_id IN ({marks}) AND a.partner_inn = ?"
                    " AND l.kind = 'credit' AND l.at >= ?",
                    (*chunk, partner_inn, self.dialect.ts_in(since)),
                ).fetchall()
            out += [
                Credit(r[0], str(r[1]), r[2], int(r[3]), ts(r[4]), from_kopecks(int(r[5])))
                for r in rows
            ]
        return out

    def notification_facts(
        self, since: dt.datetime
    ) -> tuple[dict[tuple[str, str, str], int], dict[str, int], dict[str, int]]:
        at = self.dialect.ts_in(since)
        with self._read() as cur:
            rows = self._x(
                cur,
                "SELECT kind, COALESCE(channel, ''), status, COUNT(*), COUNT(delivered_at),"
                " COUNT(opened_at), COUNT(clicked_at) FROM messages WHERE queued_at >= ?"
                " GROUP BY kind, COALESCE(channel, ''), status",
                (at,),
            ).fetchall()
            states = self._x(cur, "SELECT state, COUNT(*) FROM campaigns GROUP BY state")
            campaigns = {str(s): int(n) for s, n in states.fetchall()}
        messages: dict[tuple[str, str, str], int] = {}
        events = {"delivered": 0, "opened": 0, "clicked": 0}
        for kind, channel, status, n, delivered, opened, clicked in rows:
            messages[(str(kind), str(channel), str(status))] = int(n)
            events["delivered"] += int(delivered)
            events["opened"] += int(opened)
            events["clicked"] += int(clicked)
        return messages, events, campaigns


def _chunks(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield list(items[start : start + _IN_CHUNK])
