"""The runner's notification core: who gets a message, through which channel, exactly once.

Triggers (new charges, a debt reminder, …) and campaigns call one function,
:func:`enqueue_messages` (or :class:`Notifier`): a **source** id (``campaign:42``,
``trigger:charges:7701012342:2026-11``), a **kind** of message (``charges``, ``news``: what
a client opts out of and what ``[notifications] order`` routes), a :class:`Template` and
an **audience** of client ids, streamed. It writes one message row per recipient and
device (push) or transport (SMS, e-mail) in bounded batches, ``INSERT … ON CONFLICT DO
NOTHING`` on the key (source, client, target), and queues one ``notify`` workflow per
batch (:mod:`pes_sdk_runner.jobs.notify`) on the job engine.

The workflow hands its batch to a :class:`Sender`, which for each message: leaves it for
the end of the client's quiet hours; claims it in the store (one claimer per row in the
whole fleet); skips it when the client opted out of its kind or had its messages for the
day (the throttle), or when its campaign was cancelled after it was queued; sends it with
:func:`~pes_sdk.notifications.send_with_retries` (bounded); deletes a device the provider
called dead; and when the message could not reach the client, writes and sends the next
transport's row of the kind's order (push, then SMS). Why a SIGKILL resumes a campaign
without a second copy: docs/runner-crash-safety.md.

Nothing here logs a phone, an address or a token; events name message ids and reasons.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import logging
import string
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from pes_sdk.notifications import (
    Button,
    ChannelError,
    ChannelUnavailable,
    DeadRecipient,
    Notification,
    NotificationChannel,
    RecipientRefused,
    WrongKind,
    send_with_retries,
)
from pes_sdk_runner.logs import event
from pes_sdk_runner.store.campaigns import CampaignState
from pes_sdk_runner.store.notify import (
    Claim,
    Contact,
    Device,
    Ended,
    Message,
    MessageStatus,
    NewMessage,
)

if TYPE_CHECKING:
    from pes_sdk.plugins.manager import PluginHost
    from pes_sdk_runner.config.models import NotificationsConfig, RunnerConfig
    from pes_sdk_runner.store import SqlStore

__all__ = [
    "SEND_CONCURRENCY",
    "Enqueued",
    "Notifier",
    "Recipient",
    "Sender",
    "SentBatch",
    "Template",
    "enqueue_messages",
    "message_key",
]

log = logging.getLogger("pes_sdk_runner.notify")

#: What :func:`enqueue_messages` calls for each batch: a workflow id and the message ids.
Enqueue = Callable[[str, list[int]], None]


@attrs.frozen
class Template:
    """What one source says to everyone: a :class:`~pes_sdk.notifications.Notification`
    without its recipient. ``text`` and ``title`` may name per-recipient fields as
    ``$amount`` (:class:`Recipient` ``params``; ``$$`` is a dollar sign)."""

    text: str
    title: str = ""
    image: str | None = None
    buttons: tuple[Button, ...] = ()
    data: Mapping[str, str] = attrs.field(factory=dict)
    collapse: str | None = None

    def __attrs_post_init__(self) -> None:
        self.render("push", "-", "-", {})  # the contract's checks, now rather than per send

    @classmethod
    def of(cls, notification: Notification) -> Template:
        """The template of a notification (its ``kind``, ``to`` and ``key`` are not used)."""
        n = notification
        return cls(n.text, n.title, n.image, n.buttons, dict(n.data), n.collapse)

    def body(self) -> dict[str, Any]:
        """As the store keeps it (JSON)."""
        return {
            "text": self.text,
            "title": self.title,
            "image": self.image,
            "buttons": [[b.label, b.url] for b in self.buttons],
            "data": dict(self.data),
            "collapse": self.collapse,
        }

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Template:
        return cls(
            body["text"],
            body.get("title", ""),
            body.get("image"),
            tuple(Button(label, url) for label, url in body.get("buttons", ())),
            body.get("data", {}),
            body.get("collapse"),
        )

    def render(
        self,
        transport: str,
        to: str,
        key: str,
        params: Mapping[str, str] | None,
        *,
        data: Mapping[str, str] | None = None,
    ) -> Notification:
        """The notification to one recipient (a push without its own collapse id gets one
        derived from the key: a repeat after a crash replaces the first on the device);
        ``data`` joins the template's data."""
        fields = dict(params or {})
        collapse = self.collapse
        if transport == "push" and collapse is None:
            collapse = hashlib.sha256(key.encode()).hexdigest()[:32]
        return Notification(
            transport,
            to,
            _fill(self.text, fields),
            title=_fill(self.title, fields),
            image=self.image,
            buttons=self.buttons,
            data={**self.data, **(data or {})},
            key=key,
            collapse=collapse,
        )


def _fill(text: str, fields: Mapping[str, str]) -> str:
    """``text`` with its ``$fields`` filled in (one without a ``$`` as it is: most
    campaigns' texts, and a :class:`string.Template` per message is not free)."""
    return string.Template(text).safe_substitute(fields) if "$" in text else text


@attrs.frozen
class Recipient:
    """A client of an audience, with the fields its message's text names (``$amount``)."""

    client_id: str
    params: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Enqueued:
    """What :func:`enqueue_messages` wrote and queued."""

    clients: int
    messages: int
    batches: int
    workflows: tuple[str, ...] = attrs.field(repr=False, default=())


def message_key(source: str, client_id: str, target: str) -> str:
    """The notification key of a message: the same for (source, client, target) forever.

    A hash, not the ids themselves: a client id is whatever an app chose (it may be long or
    hold spaces), and a key reaches the provider."""
    digest = hashlib.sha256(f"{source}\x1f{client_id}\x1f{target}".encode()).hexdigest()
    return f"pes-{digest[:40]}"


def _batches(audience: Iterable[str | Recipient], size: int) -> Iterator[list[Recipient]]:
    it = iter(audience)
    while True:
        chunk = [
            r if isinstance(r, Recipient) else Recipient(r) for r in itertools.islice(it, size)
        ]
        if not chunk:
            return
        yield chunk


def _plan(
    config: NotificationsConfig,
    transports: Sequence[str],
    recipient: Recipient,
    devices: Sequence[Device],
    contact: Contact | None,
    source: str,
    template_id: int,
    kind: str,
) -> tuple[list[NewMessage], bool]:
    """The rows of the first transport of ``transports`` that can reach the recipient, and
    True; none reaching, one row of the first (skipped as ``no-contact`` when its turn
    comes: the statistics count it as targeted) and False."""
    client = recipient.client_id
    params = dict(recipient.params) or None
    for transport in transports:
        if transport == "push":
            usable = [d for d in devices if config.via.get(d.provider)]
            if usable:
                rows = [
                    NewMessage(
                        source, client, f"device:{d.id}", template_id, kind, "push", d.id, params
                    )
                    for d in usable
                ]
                return rows, True
            continue
        address = None if contact is None else getattr(contact, _ADDRESS[transport])
        if address and config.via.get(transport):
            row = NewMessage(source, client, transport, template_id, kind, transport, None, params)
            return [row], True
    first = transports[0] if transports else "push"
    return [NewMessage(source, client, first, template_id, kind, first, None, params)], False


#: The contact's field of each transport but push.
_ADDRESS = {"sms": "phone", "email": "email"}


def enqueue_messages(
    store: SqlStore,
    config: RunnerConfig,
    *,
    source: str,
    kind: str,
    template: Template | Notification,
    audience: Iterable[str | Recipient],
    enqueue: Enqueue | None = None,
    batch_size: int | None = None,
) -> Enqueued:
    """Write ``source``'s message rows for ``audience`` and queue a ``notify`` per batch.

    The audience is read ``batch_size`` clients at a time (``notifications.batch_size``),
    never whole: a generator of 800,000 ids costs one batch of memory. Calling it again
    for the same source (a trigger re-run after a crash) writes no row twice and sends
    nothing twice: the rows' key is unique, and a row already sent is never claimed again.
    ``enqueue`` queues one batch (default: :func:`queue_batch` on the configured job
    engine). Returns the counts.
    """
    from pes_sdk_runner.store.notify import TRANSPORTS

    if not source.strip() or not kind.strip():
        raise ValueError("a message's source and kind are non-empty")
    tpl = template if isinstance(template, Template) else Template.of(template)
    notifications = config.notifications
    transports = [t for t in notifications.order_of(kind) if t in TRANSPORTS]
    size = batch_size or notifications.batch_size
    send = enqueue or (lambda wid, ids: queue_batch(config, wid, ids))
    template_id = store.message_template(source, kind, tpl.body())
    clients = messages = batches = 0
    workflows: list[str] = []
    for batch in _batches(audience, size):
        ids_of = [r.client_id for r in batch]
        devices = store.devices_of(ids_of)
        contacts = store.contacts_of(ids_of)
        rows: list[NewMessage] = []
        for r in batch:
            rows += _plan(
                notifications,
                transports,
                r,
                devices.get(r.client_id, ()),
                contacts.get(r.client_id),
                source,
                template_id,
                kind,
            )[0]
        ids = store.add_messages(rows)
        # Named by its content: the same batch queued again (a re-run) is the same workflow.
        digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:24]
        wid = f"notify:{hashlib.sha256(source.encode()).hexdigest()[:16]}:{digest}"
        send(wid, ids)
        workflows.append(wid)
        clients += len(batch)
        messages += len(ids)
        batches += 1
    event(log, "notify.enqueued", kind=kind, clients=clients, messages=messages, batches=batches)
    return Enqueued(clients, messages, batches, tuple(workflows))


# -- queueing on the job engine ----------------------------------------------------------

_clients: dict[tuple[str, str | None], Any] = {}
_clients_lock = threading.Lock()


def queue_batch(
    config: RunnerConfig, workflow_id: str, ids: list[int], *, delay: float | None = None
) -> None:
    """Queue ``pes.notify`` for ``ids`` under ``workflow_id`` (a second time: a no-op).

    Through a DBOS client on the engine's system database, so that any process may queue
    (the API's, a CLI command's, a workflow's step), whether its engine runs or not."""
    from dbos import DBOSClient, EnqueueOptions

    from pes_sdk_runner.jobs.engine import APP_VERSION, system_database
    from pes_sdk_runner.jobs.registry import NOTIFY

    system = system_database(config)
    with _clients_lock:
        client = _clients.get((system.url, system.schema))
        if client is None:
            kwargs: dict[str, Any] = {"system_database_url": system.url}
            if system.schema is not None:
                kwargs["dbos_system_schema"] = system.schema
            client = _clients[(system.url, system.schema)] = DBOSClient(**kwargs)
    options: EnqueueOptions = {
        "queue_name": NOTIFY,
        "workflow_name": "pes.notify",
        "workflow_id": workflow_id,
        "app_version": APP_VERSION,
    }
    if delay:
        options["delay_seconds"] = delay
    client.enqueue(options, ids)


def close_queue_clients() -> None:
    """Close the DBOS clients :func:`queue_batch` opened (tests, a process's end)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.destroy()


# -- sending -------------------------------------------------------------------------------


@attrs.frozen
class SentBatch:
    """What :meth:`Sender.send_batch` did: counts by status, and the earliest time a
    message of the batch waits for (quiet hours), or None."""

    counts: Mapping[str, int]
    deferred_until: dt.datetime | None = None
    deferred: tuple[int, ...] = ()


@attrs.define
class _Tally:
    """What a batch did so far (:class:`SentBatch`'s parts)."""

    counts: dict[str, int] = attrs.field(factory=dict)
    deferred: list[int] = attrs.field(factory=list)
    until: dt.datetime | None = None

    def count(self, status: str) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1

    def defer(self, message_id: int, until: dt.datetime) -> None:
        self.deferred.append(message_id)
        self.until = until if self.until is None else min(self.until, until)


@attrs.frozen
class _Job:
    """A claimed message ready for its channel."""

    message: Message
    channel: str
    kind: str
    notification: Notification
    device: Device | None


#: Sends of one process in flight at once (messages a repeat cannot harm): enough to hide
#: a provider's round trip, few enough for one HTTP/2 connection (FCM: 100 streams).
SEND_CONCURRENCY = 32

#: Templates a sender keeps read (one per source being sent).
_TEMPLATES_KEPT = 256


class Sender:
    """Sends messages through the configured channels (one per process, thread-safe).

    ``sleep`` is the wait between retries (tests pass one that does not wait);
    ``concurrency`` the sends in flight at once (:data:`SEND_CONCURRENCY`)."""

    def __init__(
        self,
        config: RunnerConfig,
        host: PluginHost,
        *,
        sleep: Callable[[float], None] | None = None,
        concurrency: int = SEND_CONCURRENCY,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"a sender sends at least one message at a time, not {concurrency}")
        #: sends in flight at once, across the batches this sender sends
        self.concurrency = concurrency
        self._pool: ThreadPoolExecutor | None = None
        self.config = config
        self.notifications = config.notifications
        self.host = host
        self._sleep = sleep
        self._channels: dict[str, NotificationChannel] = {}
        self._templates: dict[int, tuple[str, Template | None]] = {}
        self._lock = threading.Lock()

    def channel(self, name: str) -> NotificationChannel:
        """The channel configured as ``name``, built at its first use."""
        with self._lock:
            channel = self._channels.get(name)
            if channel is None:
                spec = self.notifications.channel(name)
                if spec is None:
                    raise KeyError(f"no notification channel {name!r} is configured")
                factory = self.host.notification_channel(spec.plugin)
                channel = self._channels[name] = factory.create(spec.adapter.merged())
            return channel

    def _template(self, store: SqlStore, template_id: int) -> tuple[str, Template | None]:
        """A source's kind and template, read and checked once: it never changes once
        written (None: its body is not a valid template)."""
        with self._lock:
            found = self._templates.get(template_id)
        if found is None:
            kind, body = store.template(template_id)
            try:
                found = (kind, Template.from_body(body))
            except ValueError:
                found = (kind, None)
            with self._lock:
                if len(self._templates) >= _TEMPLATES_KEPT:
                    self._templates.clear()
                self._templates[template_id] = found
        return found

    def close(self) -> None:
        with self._lock:
            channels, self._channels = list(self._channels.values()), {}
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        for channel in channels:
            channel.close()

    # -- one batch

    def send_batch(
        self,
        store: SqlStore,
        ids: Sequence[int],
        claimer: str,
        *,
        now: Callable[[], dt.datetime] | None = None,
    ) -> SentBatch:
        """Send each message of ``ids`` that is still to be sent, as ``claimer``.

        ``claimer`` names the run (the workflow's id): a message it finds ``sending`` under
        its own name is one its previous life was sending when it died.

        Messages a repeat cannot harm (a push: the device shows one per collapse id; a
        channel with ``dedup_by_key``) go :attr:`concurrency` at a time: claimed in one
        transaction, sent at once, their ends recorded in one. The others (an SMS, an
        e-mail) one at a time, so that a crash leaves at most the one in flight
        ``unsure``."""
        clock = now or (lambda: dt.datetime.now(dt.UTC))
        tally = _Tally()
        pending = list(ids)
        seen: set[int] = set()
        while pending:
            round_ids = [i for i in dict.fromkeys(pending) if i not in seen]
            pending = []
            seen.update(round_ids)
            found = store.messages_by_id(round_ids)
            todo: list[Message] = []
            for message_id in round_ids:
                m = found.get(message_id)
                if m is None:
                    continue
                if m.status in (MessageStatus.FAILED, MessageStatus.DEAD, MessageStatus.SKIPPED):
                    # Its fallback may not have been written or sent before a crash.
                    pending += self._fallback(store, m)
                    continue
                if m.status is MessageStatus.QUEUED or (
                    m.status is MessageStatus.SENDING and m.claimed_by == claimer
                ):
                    todo.append(m)
            if not todo:
                continue
            contacts = store.contacts_of(sorted({m.client_id for m in todo}))
            devices = store.devices_by_id([m.device_id for m in todo if m.device_id is not None])
            together = [m for m in todo if self._repeatable(m)]
            groups = [
                together[k : k + self.concurrency]
                for k in range(0, len(together), self.concurrency)
            ]
            groups += [[m] for m in todo if not self._repeatable(m)]
            for group in groups:
                pending += self._send_group(store, group, claimer, clock, contacts, devices, tally)
        return SentBatch(tally.counts, tally.until, tuple(tally.deferred))

    def _repeatable(self, m: Message) -> bool:
        """Whether sending ``m`` again after a crash shows the person one message."""
        if m.transport == "push":
            return True
        name = self.notifications.via.get(m.transport)
        spec = self.notifications.channel(name) if name else None
        return spec is not None and spec.dedup_by_key

    def _send_group(
        self,
        store: SqlStore,
        group: Sequence[Message],
        claimer: str,
        clock: Callable[[], dt.datetime],
        contacts: Mapping[str, Contact],
        devices: Mapping[int, Device],
        tally: _Tally,
    ) -> list[int]:
        """Claim, send and record ``group``; the ids of the fallbacks it wrote."""
        moment = clock()
        claimable: list[Message] = []
        for m in group:
            if m.status is MessageStatus.QUEUED:
                device = devices.get(m.device_id) if m.device_id is not None else None
                wait = self._quiet_until(m, contacts.get(m.client_id), device, moment)
                if wait is not None:
                    store.defer_message(m.id, wait)
                    tally.defer(m.id, wait)
                    continue
            claimable.append(m)
        if not claimable:
            return []
        per_day = self.notifications.per_day
        if len(claimable) == 1:
            (only,) = claimable
            claims = {only.id: store.claim_message(only.id, claimer, moment, per_day=per_day)}
        else:
            claims = store.claim_messages(
                [m.id for m in claimable], claimer, moment, per_day=per_day
            )
        work: list[tuple[Message, bool]] = []
        for m in claimable:
            claim = claims[m.id]
            if claim is Claim.EARLY:
                assert m.not_before is not None
                tally.defer(m.id, m.not_before)
            elif claim is Claim.THROTTLED:
                tally.count("skipped")
                event(log, "notify.skipped", message=m.id, reason="throttle")
            elif claim is not Claim.TAKEN:
                work.append((m, claim is Claim.MINE))
        if not work:
            return []
        cancelled = _cancelled_campaigns(store, {m.source for m, _ in work})
        opted: set[str] = set()
        for kind in sorted({m.kind for m, _ in work}):
            opted |= {
                f"{kind}\x1f{c}"
                for c in store.opted_out_of([m.client_id for m, _ in work if m.kind == kind], kind)
            }
        ends: dict[int, Ended] = {}
        jobs: list[_Job] = []
        for m, interrupted in work:
            if m.source in cancelled and not interrupted:
                # queued before the operator cancelled: checked per group, so that at most
                # the group in flight goes out after the cancel. One a crash interrupted
                # takes its usual way (it may have gone already: unsure, not skipped).
                ends[m.id] = Ended(m.id, MessageStatus.SKIPPED, reason="cancelled")
                continue
            device = devices.get(m.device_id) if m.device_id is not None else None
            planned = self._plan_send(
                store,
                m,
                contacts.get(m.client_id),
                device,
                interrupted=interrupted,
                opted_out=f"{m.kind}\x1f{m.client_id}" in opted,
            )
            if isinstance(planned, Ended):
                ends[m.id] = planned
            else:
                jobs.append(planned)
        # Several at once only through a channel that says it is safe (its own connection
        # per thread: httpx's sync client does not share an HTTP/2 connection between
        # threads safely), and in the sender's threads only, even one: those are few and
        # live long, so are the connections a channel keeps per thread.
        together = [n for n, job in enumerate(jobs) if self._concurrent(job.channel)]
        sent = self._executor().map(self._deliver, [jobs[n] for n in together])
        outcomes: dict[int, Ended] = dict(zip(together, sent, strict=True))
        for n, job in enumerate(jobs):
            if n not in outcomes:
                outcomes[n] = self._deliver(job)
        # "Sent" is when the service handed the message over, by the service's clock (the
        # one its schedules read: an autopay charge waits notice_days after its notice),
        # not by a channel's: the two must not disagree by a provider's skew.
        handed = clock()
        for n, ended in outcomes.items():
            if ended.status is MessageStatus.SENT:
                outcomes[n] = attrs.evolve(ended, at=handed)
        from pes_sdk_runner.crashpoints import crashpoint

        for n, job in enumerate(jobs):
            ended = outcomes[n]
            ends[job.message.id] = ended
            if ended.status is MessageStatus.SENT:
                crashpoint("notify.sent-not-recorded")
            elif ended.status is MessageStatus.DEAD and job.device is not None:
                store.delete_device(job.device.id)  # at the first: FCM and APNs ask it of senders
        store.finish_messages([ends[m.id] for m, _ in work])
        kinds = {job.message.id: job.kind for job in jobs}
        fallbacks: list[int] = []
        for m, _ in work:
            ended = ends[m.id]
            tally.count(str(ended.status))
            if ended.status is MessageStatus.SENT:
                crashpoint("notify.recorded")
                event(log, "notify.sent", message=m.id, channel=ended.channel, kind=kinds[m.id])
                continue
            event(
                log,
                "notify.ended",
                message=m.id,
                status=str(ended.status),
                reason=ended.reason,
                channel=ended.channel,
            )
            if ended.status is not MessageStatus.UNSURE:
                gone = attrs.evolve(
                    m,
                    status=ended.status,
                    reason=ended.reason,
                    channel=ended.channel or m.channel,
                )
                fallbacks += self._fallback(store, gone)
        return fallbacks

    def _concurrent(self, name: str) -> bool:
        """Whether channel ``name`` takes sends from many threads at once."""
        try:
            return bool(getattr(self.channel(name), "concurrent_sends", False))
        except Exception:  # not buildable: _deliver records why, one at a time
            return False

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="pes-notify")
            return self._pool

    def _quiet_until(
        self, m: Message, contact: Contact | None, device: Device | None, now: dt.datetime
    ) -> dt.datetime | None:
        quiet = self.notifications.quiet_hours
        if quiet is None:
            return None
        zone = _zone(contact, device, self.config.service.time_zone)
        local = now.astimezone(zone)
        if not quiet.contains(local.time()):
            return None
        return quiet.end_after(local).astimezone(dt.UTC)

    def _plan_send(
        self,
        store: SqlStore,
        m: Message,
        contact: Contact | None,
        device: Device | None,
        *,
        interrupted: bool,
        opted_out: bool,
    ) -> Ended | _Job:
        """A claimed message's end when it is not to be sent, else what to send."""
        if opted_out:
            return Ended(m.id, MessageStatus.SKIPPED, reason="opt-out")
        if m.transport == "push":
            if m.device_id is None:  # written for the statistics: nothing reached the client
                return Ended(m.id, MessageStatus.SKIPPED, reason="no-contact")
            if device is None:  # deleted since (dead at another source's send, or by the app)
                return Ended(m.id, MessageStatus.SKIPPED, reason="no-device")
            via, to = device.provider, device.token
        else:
            via = m.transport
            address = None if contact is None else getattr(contact, _ADDRESS[m.transport])
            if not address:
                return Ended(m.id, MessageStatus.SKIPPED, reason="no-contact")
            to = address
        name = self.notifications.via.get(via)
        if not name:
            return Ended(m.id, MessageStatus.SKIPPED, reason="no-channel")
        spec = self.notifications.channel(name)
        if interrupted and not (m.transport == "push" or (spec is not None and spec.dedup_by_key)):
            # Handed over or not, nobody can tell: a second SMS or e-mail would be a second
            # copy. Left for an operator's decision (docs/runner-crash-safety.md).
            return Ended(m.id, MessageStatus.UNSURE, name, "interrupted")
        kind, template = self._template(store, m.template_id)
        if template is None:
            return Ended(m.id, MessageStatus.FAILED, name, "invalid")
        key = message_key(m.source, m.client_id, m.target)
        try:
            # The push's data names its row: the app reports delivered, opened and clicked
            # by it (POST /v1/messages/{id}/events).
            extra = {"pes_message": str(m.id)} if m.transport == "push" else None
            notification = template.render(m.transport, to, key, m.params, data=extra)
        except ValueError:  # a field made the text too long, say
            return Ended(m.id, MessageStatus.FAILED, name, "invalid")
        return _Job(m, name, kind, notification, device)

    def _deliver(self, job: _Job) -> Ended:
        """Hand one message to its channel (bounded retries); how it ended. Never raises
        for a channel's answer or bug: one message must not stop the others."""
        m, name = job.message, job.channel
        try:
            channel = self.channel(name)
            kwargs: dict[str, Any] = {}
            if self._sleep is not None:
                kwargs["sleep"] = self._sleep
            result = send_with_retries(
                channel,
                job.notification,
                attempts=self.notifications.attempts,
                max_wait=self.notifications.max_wait,
                **kwargs,
            )
        except DeadRecipient as exc:
            return Ended(m.id, MessageStatus.DEAD, name, exc.code or "dead")
        except RecipientRefused as exc:
            return Ended(m.id, MessageStatus.FAILED, name, exc.code or "refused")
        except ChannelUnavailable as exc:
            return Ended(m.id, MessageStatus.FAILED, name, exc.code or "unavailable")
        except WrongKind:
            return Ended(m.id, MessageStatus.FAILED, name, "wrong-kind")
        except ChannelError as exc:
            return Ended(m.id, MessageStatus.FAILED, name, exc.code or "channel-error")
        except Exception as exc:  # a channel's bug must not stop the batch
            return Ended(m.id, MessageStatus.FAILED, name, f"error:{type(exc).__name__}")
        return Ended(
            m.id,
            MessageStatus.SENT,
            name,
            provider_id=result.message_id,
            at=result.accepted_at,
        )

    def _fallback(self, store: SqlStore, m: Message) -> list[int]:
        """The next transport's row when ``m`` could not reach its client (written once)."""
        if m.status is MessageStatus.SKIPPED and m.reason in ("opt-out", "throttle", "cancelled"):
            return []  # the client's choice or limit, or the operator's: not a failure to reach
        order = list(self.notifications.order_of(m.kind))
        if m.transport not in order:
            return []
        others = [o for o in store.messages_of_client(m.source, m.client_id) if o.id != m.id]
        if any(
            o.status in (MessageStatus.SENT, MessageStatus.QUEUED, MessageStatus.SENDING)
            or o.status is MessageStatus.UNSURE
            for o in others
        ):
            # reached (or maybe reached, or still to be tried) another way
            return [o.id for o in others if o.status is MessageStatus.QUEUED]
        tried = {o.transport for o in others} | {m.transport}
        rest = [t for t in order[order.index(m.transport) + 1 :] if t not in tried]
        if not rest:
            return []
        recipient = Recipient(m.client_id, dict(m.params or {}))
        devices = store.devices_of([m.client_id]).get(m.client_id, [])
        contact = store.contacts_of([m.client_id]).get(m.client_id)
        rows, reachable = _plan(
            self.notifications, rest, recipient, devices, contact, m.source, m.template_id, m.kind
        )
        return store.add_messages(rows) if reachable else []


def _cancelled_campaigns(store: SqlStore, sources: Iterable[str]) -> set[str]:
    """Those of ``sources`` that are campaigns (``campaign:<id>``) now cancelled."""
    gone: set[str] = set()
    for source in sources:
        prefix, _, number = source.partition(":")
        if prefix != "campaign" or not number.isascii() or not number.isdigit():
            continue
        campaign = store.campaign(int(number))
        if campaign is not None and campaign.state is CampaignState.CANCELLED:
            gone.add(source)
    return gone


def _zone(contact: Contact | None, device: Device | None, service: ZoneInfo) -> ZoneInfo:
    """The client's zone: its contact's, else its device's, else the service's."""
    for name in (contact.time_zone if contact else None, device.time_zone if device else None):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return service


class Notifier:
    """The use case triggers and campaigns call: :meth:`notify` an audience once."""

    def __init__(
        self, store: SqlStore, config: RunnerConfig, *, enqueue: Enqueue | None = None
    ) -> None:
        self.store = store
        self.config = config
        self.enqueue = enqueue

    def notify(
        self,
        source: str,
        kind: str,
        template: Template | Notification,
        audience: Iterable[str | Recipient],
    ) -> Enqueued:
        """:func:`enqueue_messages` with this notifier's store and configuration."""
        return enqueue_messages(
            self.store,
            self.config,
            source=source,
            kind=kind,
            template=template,
            audience=audience,
            enqueue=self.enqueue,
        )
