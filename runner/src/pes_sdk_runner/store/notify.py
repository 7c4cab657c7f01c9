"""The store's notifications: devices, contacts, opt-outs, templates and messages.

Migration 0011 made the tables; :class:`NotificationStore` is their part of the
:class:`~pes_sdk_runner.store.base.Store` protocol and :class:`NotificationsSql` its SQL,
mixed into :class:`~pes_sdk_runner.store.sql.SqlStore`. What is sent, when and through
which channel is :mod:`pes_sdk_runner.notify`'s business; the store decides who sends a
message (:meth:`NotificationStore.claim_message`: one claimer per row, in any process).

A device token, a phone and an e-mail address are personal data: the values here carry
them, their ``repr`` does not.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import attrs

if TYPE_CHECKING:
    from pes_sdk_runner.store.dialect import Dialect

__all__ = [
    "PROVIDERS",
    "TRANSPORTS",
    "Claim",
    "Contact",
    "Device",
    "Ended",
    "Message",
    "MessageEvent",
    "MessageStatus",
    "NewMessage",
    "NotificationStore",
    "NotificationsSql",
]

#: The push providers a device registers with (``devices.provider``).
PROVIDERS: tuple[str, ...] = ("fcm", "apns", "rustore", "webpush")
#: How a message travels (a :class:`pes_sdk.notifications.Notification`'s ``kind``).
TRANSPORTS: tuple[str, ...] = ("push", "sms", "email")
_T = TypeVar("_T")
#: The most clients one ``IN (…)`` names: far below SQLite's oldest limit of 999 parameters.
_IN_CHUNK = 400


class MessageStatus(enum.StrEnum):
    """Where a message row stands (``messages.status``)."""

    QUEUED = "queued"  #: waiting to be sent (``not_before``: after the quiet hours)
    SENDING = "sending"  #: claimed by one workflow, handed to the channel now
    SENT = "sent"  #: the provider accepted it
    FAILED = "failed"  #: refused, or the channel unavailable after the retries
    DEAD = "dead"  #: the token or address no longer exists
    SKIPPED = "skipped"  #: not sent on purpose: opt-out, throttle, no contact, no channel
    #: a crash between the request and its answer on a channel that cannot take a repeat:
    #: the person may or may not have it (docs/runner-crash-safety.md)
    UNSURE = "unsure"


#: The statuses a message ends in.
FINAL = frozenset(
    {
        MessageStatus.SENT,
        MessageStatus.FAILED,
        MessageStatus.DEAD,
        MessageStatus.SKIPPED,
        MessageStatus.UNSURE,
    }
)


class MessageEvent(enum.StrEnum):
    """What a client app reports of a message it received (``POST /v1/messages/{id}/events``)."""

    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"


class Claim(enum.StrEnum):
    """The answer of :meth:`NotificationStore.claim_message`."""

    CLAIMED = "claimed"  #: this claimer sends it now (the row is ``sending``)
    MINE = "mine"  #: already ``sending`` under this claimer: its send was interrupted
    TAKEN = "taken"  #: not queued (sent, ended, or another claimer's)
    EARLY = "early"  #: queued with a ``not_before`` still ahead
    THROTTLED = "throttled"  #: the client had its messages for the day: skipped now


@attrs.frozen
class Device:
    """A client app's push registration (a token is personal data: not in the ``repr``)."""

    id: int
    client_id: str
    provider: str
    token: str = attrs.field(repr=False)
    app: str
    time_zone: str | None
    created_at: dt.datetime
    last_seen_at: dt.datetime


@attrs.frozen
class Contact:
    """Where SMS and e-mail reach a client, and its time zone (each None: unknown)."""

    client_id: str
    phone: str | None = attrs.field(default=None, repr=False)
    email: str | None = attrs.field(default=None, repr=False)
    time_zone: str | None = None


@attrs.frozen
class NewMessage:
    """A message row to write (:meth:`NotificationStore.add_messages`)."""

    source: str
    client_id: str
    #: ``device:<id>`` for a push, else the transport (``sms``, ``email``)
    target: str
    template_id: int
    kind: str
    transport: str
    device_id: int | None = None
    params: Mapping[str, str] | None = None


@attrs.frozen
class Message:
    """A message row as stored."""

    id: int
    source: str
    client_id: str
    target: str
    template_id: int
    kind: str
    transport: str
    device_id: int | None
    params: Mapping[str, str] | None
    channel: str | None
    status: MessageStatus
    reason: str | None
    provider_id: str | None
    attempts: int
    claimed_by: str | None
    not_before: dt.datetime | None
    queued_at: dt.datetime
    sent_at: dt.datetime | None
    delivered_at: dt.datetime | None = None
    opened_at: dt.datetime | None = None
    clicked_at: dt.datetime | None = None
    clicked_button: int | None = None


@attrs.frozen
class Ended:
    """How one message ended (:meth:`NotificationStore.finish_messages`)."""

    message_id: int
    status: MessageStatus
    channel: str | None = None
    reason: str | None = None
    provider_id: str | None = None
    at: dt.datetime | None = None


class NotificationStore(Protocol):
    """The notifications' part of the store (every method one transaction)."""

    # -- devices and contacts

    def register_device(
        self,
        client_id: str,
        provider: str,
        token: str,
        app: str,
        *,
        time_zone: str | None = None,
        now: dt.datetime | None = None,
    ) -> Device:
        """Record a client app's push token; the same (provider, token) again moves its row
        to this client and app and renews ``last_seen_at`` (one row per token)."""
        ...

    def device(self, device_id: int) -> Device | None: ...

    def delete_device(self, device_id: int, client_id: str | None = None) -> bool:
        """Delete a device (only the client's own, when ``client_id`` is given)."""
        ...

    def devices_of(self, client_ids: Sequence[str]) -> dict[str, list[Device]]:
        """The devices of each of ``client_ids`` that has any, oldest first."""
        ...

    def set_contact(
        self,
        client_id: str,
        *,
        phone: str | None = None,
        email: str | None = None,
        time_zone: str | None = None,
    ) -> None:
        """Set what is given of a client's contact (None leaves a value as it was)."""
        ...

    def contacts_of(self, client_ids: Sequence[str]) -> dict[str, Contact]:
        """The contacts of ``client_ids`` (a cabinet client's phone is its cabinet's)."""
        ...

    def set_opt_out(self, client_id: str, kind: str, opted_out: bool) -> None:
        """Record a client's choice about one kind of message."""
        ...

    def opted_out(self, client_id: str, kind: str) -> bool: ...

    # -- messages

    def message_template(self, source: str, kind: str, body: Mapping[str, Any]) -> int:
        """The id of ``source``'s template, written now unless it was (its first body stays)."""
        ...

    def template(self, template_id: int) -> tuple[str, dict[str, Any]]:
        """A template's kind of message and body."""
        ...

    def add_messages(self, rows: Sequence[NewMessage]) -> list[int]:
        """Write the rows whose key (source, client, target) is new; the ids of all of
        ``rows``, new or already there, in their order."""
        ...

    def message(self, message_id: int) -> Message | None: ...

    def messages(self, source: str) -> list[Message]:
        """Every message of ``source``, by id."""
        ...

    def messages_of_client(self, source: str, client_id: str) -> list[Message]:
        """A client's messages of ``source`` (its devices and transports), by id."""
        ...

    def claim_message(
        self,
        message_id: int,
        claimer: str,
        now: dt.datetime,
        *,
        per_day: int | None = None,
    ) -> Claim:
        """Take a queued message for sending (``sending``, under ``claimer``), once.

        Two claimers in any processes never both get :attr:`Claim.CLAIMED`. With
        ``per_day``, a client that had that many other sources' messages sent in the day
        before ``now`` is not claimed: the row is skipped (``throttle``) and the answer is
        :attr:`Claim.THROTTLED`."""
        ...

    def claim_messages(
        self,
        message_ids: Sequence[int],
        claimer: str,
        now: dt.datetime,
        *,
        per_day: int | None = None,
    ) -> dict[int, Claim]:
        """:meth:`claim_message` for each of ``message_ids``, in one transaction: each row
        answers as it would alone (the same conditional update, row by row), and two
        claimers in any processes never both get :attr:`Claim.CLAIMED` for one row."""
        ...

    def defer_message(self, message_id: int, until: dt.datetime) -> None:
        """Leave a queued message for ``until`` (the end of quiet hours)."""
        ...

    def finish_messages(self, ends: Sequence[Ended]) -> None:
        """:meth:`finish_message` for each of ``ends``, in one transaction."""
        ...

    def messages_by_id(self, message_ids: Sequence[int]) -> dict[int, Message]:
        """The messages of ``message_ids`` that exist, by id."""
        ...

    def devices_by_id(self, device_ids: Sequence[int]) -> dict[int, Device]:
        """The devices of ``device_ids`` that exist, by id."""
        ...

    def opted_out_of(self, client_ids: Sequence[str], kind: str) -> set[str]:
        """Those of ``client_ids`` who opted out of ``kind``."""
        ...

    def finish_message(
        self,
        message_id: int,
        status: MessageStatus,
        *,
        channel: str | None = None,
        reason: str | None = None,
        provider_id: str | None = None,
        at: dt.datetime | None = None,
    ) -> None:
        """Record how a message ended (``at``: when sent, for :attr:`MessageStatus.SENT`)."""
        ...

    def record_message_event(
        self,
        message_id: int,
        event: MessageEvent,
        at: dt.datetime,
        *,
        client_id: str | None = None,
        button: int | None = None,
    ) -> bool:
        """Record what the app reports (the first time of each event counts); False when
        there is no such message (of ``client_id``, when given)."""
        ...


class NotificationsSql:
    """:class:`NotificationStore` in the store's SQL (a mixin of ``SqlStore``)."""

    if TYPE_CHECKING:  # what SqlStore provides
        dialect: Dialect

        def _tx(self) -> AbstractContextManager[Any]: ...
        def _read(self) -> AbstractContextManager[Any]: ...
        def _x(self, cur: Any, query: str, params: Sequence[Any] = ()) -> Any: ...

    # -- devices and contacts --------------------------------------------------------------

    _DEVICE = (
        "SELECT id, client_id, provider, token, app, time_zone, created_at, last_seen_at"
        " FROM devices"
    )

    def _device(self, r: Sequence[Any]) -> Device:
        ts = self.dialect.ts_out
        return Device(int(r[0]), r[1], r[2], r[3], r[4], r[5], ts(r[6]), ts(r[7]))

    def register_device(
        self,
        client_id: str,
        provider: str,
        token: str,
        app: str,
        *,
        time_zone: str | None = None,
        now: dt.datetime | None = None,
    ) -> Device:
        if provider not in PROVIDERS:
            raise ValueError(f"a device's provider is one of {', '.join(PROVIDERS)}")
        at = self.dialect.ts_in(now or dt.datetime.now(dt.UTC))
        with self._tx() as cur:
            self._x(
                cur,
                "INSERT INTO devices (client_id, provider, token, app, time_zone, created_at,"
                " last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (provider, token) DO UPDATE SET client_id = excluded.client_id,"
                " app = excluded.app, time_zone = excluded.time_zone,"
                " last_seen_at = excluded.last_seen_at",
                (client_id, provider, token, app, time_zone, at, at),
            )
            row = self._x(
                cur, self._DEVICE + " WHERE provider = ? AND token = ?", (provider, token)
            ).fetchone()
        return self._device(row)

    def device(self, device_id: int) -> Device | None:
        with self._read() as cur:
            row = self._x(cur, self._DEVICE + " WHERE id = ?", (device_id,)).fetchone()
        return None if row is None else self._device(row)

    def delete_device(self, device_id: int, client_id: str | None = None) -> bool:
        with self._tx() as cur:
            if client_id is None:
                cur = self._x(cur, "DELETE FROM devices WHERE id = ?", (device_id,))
            else:
                cur = self._x(
                    cur,
                    "DELETE FROM devices WHERE id = ? AND client_id = ?",
                    (device_id, client_id),
                )
            return int(cur.rowcount) > 0

    def devices_of(self, client_ids: Sequence[str]) -> dict[str, list[Device]]:
        out: dict[str, list[Device]] = {}
        for chunk in _chunks(client_ids):
            marks = ", ".join("?" for _ in chunk)
            with self._read() as cur:
                rows = self._x(
                    cur, self._DEVICE + f" WHERE client_id IN ({marks}) ORDER BY id", chunk
                ).fetchall()
            for r in rows:
                out.setdefault(r[1], []).append(self._device(r))
        return out

    def set_contact(
        self,
        client_id: str,
        *,
        phone: str | None = None,
        email: str | None = None,
        time_zone: str | None = None,
    ) -> None:
        at = self.dialect.ts_in(dt.datetime.now(dt.UTC))
        with self._tx() as cur:
            self._x(
                cur,
                "INSERT INTO notification_contacts (client_id, phone, email, time_zone,"
                " updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (client_id) DO UPDATE SET"
                " phone = COALESCE(excluded.phone, notification_contacts.phone),"
                " email = COALESCE(excluded.email, notification_contacts.email),"
                " time_zone = COALESCE(excluded.time_zone, notification_contacts.time_zone),"
                " updated_at = excluded.updated_at",
                (client_id, phone, email, time_zone, at),
            )

    def contacts_of(self, client_ids: Sequence[str]) -> dict[str, Contact]:
        out: dict[str, Contact] = {}
        for chunk in _chunks(client_ids):
            marks = ", ".join("?" for _ in chunk)
            with self._read() as cur:
                rows = self._x(
                    cur,
                    "SELECT client_id, phone, email, time_zone FROM notification_contacts"
                    f" WHERE client_id IN ({marks})",
                    chunk,
                ).fetchall()
                out.update({r[0]: Contact(r[0], r[1], r[2], r[3]) for r in rows})
                # A cabinet client (``cabinet:<id>``) is reached by its cabinet's phone.
                cabinets = {
                    int(c.removeprefix("cabinet:")): c
                    for c in chunk
                    if c.startswith("cabinet:")
                    and c.removeprefix("cabinet:").isdigit()
                    and (c not in out or out[c].phone is None)
                }
                if cabinets:
                    ids = list(cabinets)
                    rows = self._x(
                        cur,
                        "SELECT id, phone FROM cabinets"
                        f" WHERE id IN ({', '.join('?' for _ in ids)})",
                        ids,
                    ).fetchall()
                    for cabinet_id, phone in rows:
                        client = cabinets[int(cabinet_id)]
                        out[client] = attrs.evolve(
                            out.get(client, Contact(client)), phone=str(phone)
                        )
        return out

    def set_opt_out(self, client_id: str, kind: str, opted_out: bool) -> None:
        at = self.dialect.ts_in(dt.datetime.now(dt.UTC))
        with self._tx() as cur:
            self._x(
                cur,
                "INSERT INTO notification_preferences (client_id, kind, opted_out, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (client_id, kind) DO UPDATE SET"
                " opted_out = excluded.opted_out, updated_at = excluded.updated_at",
                (client_id, kind, int(opted_out), at),
            )

    def opted_out(self, client_id: str, kind: str) -> bool:
        with self._read() as cur:
            row = self._x(
                cur,
                "SELECT opted_out FROM notification_preferences WHERE client_id = ? AND kind = ?",
                (client_id, kind),
            ).fetchone()
        return bool(row and int(row[0]))

    # -- templates and messages ------------------------------------------------------------

    def message_template(self, source: str, kind: str, body: Mapping[str, Any]) -> int:
        at = self.dialect.ts_in(dt.datetime.now(dt.UTC))
        text = json.dumps(dict(body), ensure_ascii=False, sort_keys=True)
        with self._tx() as cur:
            self._x(
                cur,
                "INSERT INTO message_templates (source, kind, body, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (source) DO NOTHING",
                (source, kind, text, at),
            )
            row = self._x(
                cur, "SELECT id FROM message_templates WHERE source = ?", (source,)
            ).fetchone()
        return int(row[0])

    def template(self, template_id: int) -> tuple[str, dict[str, Any]]:
        with self._read() as cur:
            row = self._x(
                cur, "SELECT kind, body FROM message_templates WHERE id = ?", (template_id,)
            ).fetchone()
        if row is None:
            raise KeyError(f"no message template {template_id}")
        body: dict[str, Any] = json.loads(row[1])
        return str(row[0]), body

    def add_messages(self, rows: Sequence[NewMessage]) -> list[int]:
        if not rows:
            return []
        at = self.dialect.ts_in(dt.datetime.now(dt.UTC))
        values = [
            (
                m.source,
                m.client_id,
                m.target,
                m.template_id,
                m.kind,
                m.transport,
                m.device_id,
                None if m.params is None else json.dumps(dict(m.params), ensure_ascii=False),
                at,
            )
            for m in rows
        ]
        ids: dict[tuple[str, str, str], int] = {}
        with self._tx() as cur:
            cur.executemany(
                self.dialect.sql(
                    "INSERT INTO messages (source, client_id, target, template_id, kind,"
                    " transport, device_id, params, status, queued_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?)"
                    " ON CONFLICT (source, client_id, target) DO NOTHING"
                ),
                values,
            )
            by_source: dict[str, list[str]] = {}
            for m in rows:
                by_source.setdefault(m.source, []).append(m.client_id)
            for source, clients in by_source.items():
                for chunk in _chunks(sorted(set(clients))):
                    marks = ", ".join("?" for _ in chunk)
                    found = self._x(
                        cur,
                        "SELECT id, client_id, target FROM messages"
                        f" WHERE source = ? AND client_id IN ({marks})",
                        (source, *chunk),
                    ).fetchall()
                    ids.update({(source, c, t): int(i) for i, c, t in found})
        return [ids[(m.source, m.client_id, m.target)] for m in rows]

    _MESSAGE = (
        "SELECT id, source, client_id, target, template_id, kind, transport, device_id,"
        " params, channel, status, reason, provider_id, attempts, claimed_by, not_before,"
        " queued_at, sent_at, delivered_at, opened_at, clicked_at, clicked_button"
        " FROM messages"
    )

    def _message(self, r: Sequence[Any]) -> Message:
        def ts(value: Any) -> dt.datetime | None:
            return None if value is None else self.dialect.ts_out(value)

        queued = ts(r[16])
        assert queued is not None
        return Message(
            int(r[0]),
            r[1],
            r[2],
            r[3],
            int(r[4]),
            r[5],
            r[6],
            None if r[7] is None else int(r[7]),
            None if r[8] is None else json.loads(r[8]),
            r[9],
            MessageStatus(r[10]),
            r[11],
            r[12],
            int(r[13]),
            r[14],
            ts(r[15]),
            queued,
            ts(r[17]),
            ts(r[18]),
            ts(r[19]),
            ts(r[20]),
            None if r[21] is None else int(r[21]),
        )

    def message(self, message_id: int) -> Message | None:
        with self._read() as cur:
            row = self._x(cur, self._MESSAGE + " WHERE id = ?", (message_id,)).fetchone()
        return None if row is None else self._message(row)

    def messages(self, source: str) -> list[Message]:
        with self._read() as cur:
            rows = self._x(cur, self._MESSAGE + " WHERE source = ? ORDER BY id", (source,))
            return [self._message(r) for r in rows.fetchall()]

    def messages_of_client(self, source: str, client_id: str) -> list[Message]:
        with self._read() as cur:
            rows = self._x(
                cur,
                self._MESSAGE + " WHERE source = ? AND client_id = ? ORDER BY id",
                (source, client_id),
            )
            return [self._message(r) for r in rows.fetchall()]

    _CLAIMED = "SELECT id, status, claimed_by, not_before, client_id, source FROM messages"

    def claim_message(
        self,
        message_id: int,
        claimer: str,
        now: dt.datetime,
        *,
        per_day: int | None = None,
    ) -> Claim:
        with self._tx() as cur:
            row = self._x(
                cur, self._CLAIMED + " WHERE id = ?" + self.dialect.row_lock, (message_id,)
            ).fetchone()
            if row is None:
                raise KeyError(f"no message {message_id}")
            return self._claim_row(cur, row, claimer, now, per_day)

    def claim_messages(
        self,
        message_ids: Sequence[int],
        claimer: str,
        now: dt.datetime,
        *,
        per_day: int | None = None,
    ) -> dict[int, Claim]:
        ids = sorted(set(message_ids))
        if not ids:
            return {}
        rows: dict[int, Sequence[Any]] = {}
        with self._tx() as cur:
            # Every row locked first, in id order (PostgreSQL locks them as sorted), then
            # the clients' keys in their order: two batches that share rows or clients wait
            # for each other, never in a cycle.
            for chunk in _chunks(ids):
                marks = ", ".join("?" for _ in chunk)
                found = self._x(
                    cur,
                    self._CLAIMED + f" WHERE id IN ({marks}) ORDER BY id" + self.dialect.row_lock,
                    chunk,
                ).fetchall()
                rows.update({int(r[0]): r for r in found})
            missing = [i for i in ids if i not in rows]
            if missing:
                raise KeyError(f"no message {missing[0]}")
            if per_day is not None:
                for client in sorted({str(r[4]) for r in rows.values()}):
                    self.dialect.lock_key(cur, f"pes.notify.client:{client}")
            # Row by row, as claim_message decides: a throttle's count sees the rows this
            # transaction claimed before it.
            return {i: self._claim_row(cur, rows[i], claimer, now, per_day) for i in ids}

    def _claim_row(
        self,
        cur: Any,
        row: Sequence[Any],
        claimer: str,
        now: dt.datetime,
        per_day: int | None,
    ) -> Claim:
        """Claim one locked row (``_CLAIMED``'s columns) inside the caller's transaction."""
        message_id, status, owner, not_before, client, source = row
        if status == MessageStatus.SENDING and owner == claimer:
            return Claim.MINE
        if status != MessageStatus.QUEUED:
            return Claim.TAKEN
        if not_before is not None and self.dialect.ts_out(not_before) > now:
            return Claim.EARLY
        if per_day is not None:
            # One client's messages take turns here (PostgreSQL: a lock of the
            # transaction; SQLite: its write lock), so that two processes sending to
            # one client at once cannot both pass the count.
            self.dialect.lock_key(cur, f"pes.notify.client:{client}")
            since = self.dialect.ts_in(now - dt.timedelta(days=1))
            (count,) = self._x(
                cur,
                "SELECT COUNT(DISTINCT source) FROM messages WHERE client_id = ?"
                " AND source <> ? AND ((status = 'sent' AND sent_at > ?)"
                " OR (status = 'sending' AND claimed_at > ?))",
                (client, source, since, since),
            ).fetchone()
            if int(count) >= per_day:
                self._x(
                    cur,
                    "UPDATE messages SET status = 'skipped', reason = 'throttle' WHERE id = ?",
                    (message_id,),
                )
                return Claim.THROTTLED
        self._x(
            cur,
            "UPDATE messages SET status = 'sending', claimed_by = ?, claimed_at = ?,"
            " attempts = attempts + 1 WHERE id = ? AND status = 'queued'",
            (claimer, self.dialect.ts_in(now), message_id),
        )
        return Claim.CLAIMED

    def defer_message(self, message_id: int, until: dt.datetime) -> None:
        with self._tx() as cur:
            self._x(
                cur,
                "UPDATE messages SET not_before = ? WHERE id = ? AND status = 'queued'",
                (self.dialect.ts_in(until), message_id),
            )

    def finish_message(
        self,
        message_id: int,
        status: MessageStatus,
        *,
        channel: str | None = None,
        reason: str | None = None,
        provider_id: str | None = None,
        at: dt.datetime | None = None,
    ) -> None:
        if status not in FINAL:
            raise ValueError(f"a message does not end {status}")
        sent = self.dialect.ts_in(at) if at is not None and status == "sent" else None
        with self._tx() as cur:
            self._x(
                cur,
                "UPDATE messages SET status = ?, channel = COALESCE(?, channel), reason = ?,"
                " provider_id = ?, sent_at = ? WHERE id = ?",
                (str(status), channel, reason, provider_id, sent, message_id),
            )

    def finish_messages(self, ends: Sequence[Ended]) -> None:
        for e in ends:
            if e.status not in FINAL:
                raise ValueError(f"a message does not end {e.status}")
        if not ends:
            return
        values = [
            (
                str(e.status),
                e.channel,
                e.reason,
                e.provider_id,
                self.dialect.ts_in(e.at) if e.at is not None and e.status == "sent" else None,
                e.message_id,
            )
            for e in ends
        ]
        with self._tx() as cur:
            cur.executemany(
                self.dialect.sql(
                    "UPDATE messages SET status = ?, channel = COALESCE(?, channel), reason = ?,"
                    " provider_id = ?, sent_at = ? WHERE id = ?"
                ),
                values,
            )

    def messages_by_id(self, message_ids: Sequence[int]) -> dict[int, Message]:
        out: dict[int, Message] = {}
        for chunk in _chunks(sorted(set(message_ids))):
            marks = ", ".join("?" for _ in chunk)
            with self._read() as cur:
                rows = self._x(cur, self._MESSAGE + f" WHERE id IN ({marks})", chunk).fetchall()
            out.update({int(r[0]): self._message(r) for r in rows})
        return out

    def devices_by_id(self, device_ids: Sequence[int]) -> dict[int, Device]:
        out: dict[int, Device] = {}
        for chunk in _chunks(sorted(set(device_ids))):
            marks = ", ".join("?" for _ in chunk)
            with self._read() as cur:
                rows = self._x(cur, self._DEVICE + f" WHERE id IN ({marks})", chunk).fetchall()
            out.update({int(r[0]): self._device(r) for r in rows})
        return out

    def opted_out_of(self, client_ids: Sequence[str], kind: str) -> set[str]:
        out: set[str] = set()
        for chunk in _chunks(sorted(set(client_ids))):
            marks = ", ".join("?" for _ in chunk)
            with self._read() as cur:
                rows = self._x(
                    cur,
                    "SELECT client_id FROM notification_preferences WHERE kind = ?"
                    f" AND opted_out <> 0 AND client_id IN ({marks})",
                    (kind, *chunk),
                ).fetchall()
            out.update(str(r[0]) for r in rows)
        return out

    def record_message_event(
        self,
        message_id: int,
        event: MessageEvent,
        at: dt.datetime,
        *,
        client_id: str | None = None,
        button: int | None = None,
    ) -> bool:
        when = self.dialect.ts_in(at)
        column = {"delivered": "delivered_at", "opened": "opened_at", "clicked": "clicked_at"}[
            MessageEvent(event)
        ]
        mine = "" if client_id is None else " AND client_id = ?"
        args: tuple[Any, ...] = (message_id,) if client_id is None else (message_id, client_id)
        with self._tx() as cur:
            row = self._x(cur, f"SELECT id FROM messages WHERE id = ?{mine}", args).fetchone()
            if row is None:
                return False
            # An opened or clicked message was delivered, whether the app said so or not.
            also = "" if column == "delivered_at" else ", delivered_at = COALESCE(delivered_at, ?)"
            self._x(
                cur,
                f"UPDATE messages SET {column} = COALESCE({column}, ?){also} WHERE id = ?",
                (when, message_id) if not also else (when, when, message_id),
            )
            if event == MessageEvent.CLICKED and button is not None:
                self._x(
                    cur,
                    "UPDATE messages SET clicked_button = COALESCE(clicked_button, ?) WHERE id = ?",
                    (button, message_id),
                )
        return True


def _chunks(items: Sequence[_T]) -> Iterator[list[_T]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield list(items[start : start + _IN_CHUNK])
