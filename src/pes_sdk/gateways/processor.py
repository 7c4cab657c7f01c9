"""The service's side of a payment: book, retries, webhooks, polling and crediting once.

:class:`PaymentProcessor` drives one :class:`~pes_sdk.gateways.contract.PaymentGateway`:

* **create**: a payment is written to the book in state ``created`` with an idempotency key
  *before* the first attempt; every retry sends the same key. After a timeout the processor
  first asks the acquirer whether the payment exists (:meth:`PaymentGateway.find_payment`)
  and creates again (same key) only if it does not.
* **retries**: only for idempotent calls (keyed creates, refunds and cancels, status
  queries), only on :class:`GatewayUnavailable` / :class:`GatewayTimeout`, with a stop
  (:class:`RetryPolicy`, on tenacity) and jittered exponential backoff.
* **webhooks**: authenticity is the gateway's check; the processor adds the replay window
  and refuses payment ids not in its book. A snapshot moves the payment only forward
  (:func:`pes_sdk.gateways.state.advance`): a duplicate or an older event is a no-op.
* **polling** (:meth:`PaymentProcessor.refresh`) is the backstop for lost webhooks and goes
  through the same rules.
* **crediting**: ``on_credit`` is called exactly once per payment, when it first reaches a
  paid state, however many times and in whatever order the news arrives. The entry then
  carries ``paid_at``: the acquirer's capture time from the snapshot
  (:attr:`GatewayPayment.paid_at`), or the moment the news came where the protocol has none.

The book (:class:`PaymentStore`) holds no card data and no personal data: ids, amounts,
states and the basket lines as the SDK's models have them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Protocol, TypeVar

import attrs
import tenacity

from pes_sdk.gateways.contract import PaymentGateway
from pes_sdk.gateways.errors import (
    GatewayError,
    GatewayRefused,
    GatewayTimeout,
    GatewayUnavailable,
    InvalidRefund,
    UnknownPayment,
    WebhookRejected,
)
from pes_sdk.gateways.models import (
    ChargeOptions,
    Confirmation,
    CreateOptions,
    Decline,
    GatewayPayment,
    PaymentState,
    RefundRequest,
    SavedMethod,
    WebhookRequest,
)
from pes_sdk.gateways.signing import check_window
from pes_sdk.gateways.state import Move, Outcome, advance
from pes_sdk.models.payments import Payment
from pes_sdk.models.receipts import Receipt
from pes_sdk.money import ZERO

__all__ = [
    "Applied",
    "MemoryPaymentStore",
    "PaymentEntry",
    "PaymentProcessor",
    "PaymentStore",
    "RetryPolicy",
    "new_idempotency_key",
]

log = logging.getLogger("pes_sdk.gateways")
T = TypeVar("T")

#: What a retry may follow: the request may not have run, or its answer was lost.
RETRYABLE = (GatewayUnavailable, GatewayTimeout)


def new_idempotency_key() -> str:
    """A fresh random key (32 hex characters)."""
    return uuid.uuid4().hex


@attrs.frozen
class PaymentEntry:
    """One payment in the service's book."""

    payment: Payment
    idempotency_key: str
    state: PaymentState = PaymentState.CREATED
    gateway_payment_id: str | None = None
    refunded: Decimal = ZERO
    #: refunded per basket line (refunds made through this processor)
    line_refunded: tuple[Decimal, ...] = ()
    confirmation: Confirmation | None = None
    #: a refund sent but not yet confirmed: its key and request, kept for a retry
    pending_refund: tuple[str, RefundRequest] | None = None
    refund_count: int = 0
    #: when the money was captured: the acquirer's time, or else the moment the processor
    #: learned the payment was paid (set once, on the move to a paid state; aware, UTC)
    paid_at: dt.datetime | None = None
    #: the method the acquirer saved for autopay (a payment started with a
    #: ``customer_key``), kept from the first snapshot that tells it
    saved_method: SavedMethod | None = None
    #: why the acquirer declined it (a failed charge), where it told
    decline: Decline | None = None
    decline_code: str = ""

    @property
    def order_id(self) -> uuid.UUID:
        return self.payment.payment_id


class PaymentStore(Protocol):
    """Where the processor keeps its book. A durable one (SQL) comes with the runner."""

    def add(self, entry: PaymentEntry) -> None:
        """Store a new entry; raise ``KeyError`` if its order id is taken."""
        ...

    def get(self, order_id: uuid.UUID) -> PaymentEntry | None: ...

    def put(self, entry: PaymentEntry) -> None:
        """Replace the entry with the same order id."""
        ...

    # A store that several processes share may also have ``locked(order_id)``, a context
    # manager in which that entry's reads and writes are one transaction no other process
    # interleaves with (the runner's SQL store: a row-level lock); the processor then holds
    # it around every read-modify-write of an entry. Without it, ``_lock`` is all there is.

    def __iter__(self) -> Iterator[PaymentEntry]: ...


class MemoryPaymentStore:
    """An in-memory book, for tests, the demo and the sandbox."""

    def __init__(self) -> None:
        self._entries: dict[uuid.UUID, PaymentEntry] = {}

    def add(self, entry: PaymentEntry) -> None:
        if entry.order_id in self._entries:
            raise KeyError(f"payment {entry.order_id} is already in the book")
        self._entries[entry.order_id] = entry

    def get(self, order_id: uuid.UUID) -> PaymentEntry | None:
        return self._entries.get(order_id)

    def put(self, entry: PaymentEntry) -> None:
        self._entries[entry.order_id] = entry

    def __iter__(self) -> Iterator[PaymentEntry]:
        return iter(list(self._entries.values()))


@attrs.frozen
class RetryPolicy:
    """How often and how patiently an idempotent call is retried (always with a stop)."""

    attempts: int = attrs.field(default=4, validator=attrs.validators.ge(1))
    initial_wait: float = 0.1
    max_wait: float = 2.0
    #: the sleep function (tests may pass a no-op)
    sleep: Callable[[float], None] = attrs.field(factory=lambda: _sleep)

    def call(self, fn: Callable[[], T]) -> T:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            # exponential from initial_wait, capped, plus up to initial_wait of jitter
            wait=tenacity.wait_exponential(multiplier=self.initial_wait, max=self.max_wait)
            + tenacity.wait_random(0, self.initial_wait),
            retry=tenacity.retry_if_exception_type(RETRYABLE),
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(fn)


def _fingerprint(request: RefundRequest) -> str:
    """Eight hex characters that tell refund requests of one payment apart."""
    parts = ",".join(f"{line.index}:{line.amount}" for line in request.lines)
    return hashlib.sha256(parts.encode()).hexdigest()[:8]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _sleep(seconds: float) -> None:
    threading.Event().wait(seconds)


@attrs.frozen
class Applied:
    """A snapshot applied to the book: the entry after, and what the move was."""

    entry: PaymentEntry
    move: Move


class PaymentProcessor:
    """The service's book of payments through one gateway.

    :param gateway: the configured adapter.
    :param store: the book; in memory by default.
    :param retry: the retry policy of idempotent calls.
    :param replay_window: how far a webhook's signed time may be from its arrival.
    :param on_credit: called once per payment when it is first paid (e.g. the ledger).
    :param on_refund: called with the entry and the amount each time money is given back.
    """

    def __init__(
        self,
        gateway: PaymentGateway,
        *,
        store: PaymentStore | None = None,
        retry: RetryPolicy | None = None,
        replay_window: dt.timedelta = dt.timedelta(minutes=5),
        on_credit: Callable[[PaymentEntry], object] | None = None,
        on_refund: Callable[[PaymentEntry, Decimal], None] | None = None,
    ) -> None:
        self.gateway = gateway
        self.store: PaymentStore = store if store is not None else MemoryPaymentStore()
        self.retry = retry or RetryPolicy()
        self.replay_window = replay_window
        self._on_credit = on_credit
        self._on_refund = on_refund
        # one lock for every read-modify-write of the book: webhooks and polling race
        self._lock = threading.RLock()

    # -- create --------------------------------------------------------------------------

    def start(
        self,
        payment: Payment,
        *,
        return_url: str,
        description: str = "",
        receipt: Receipt | None = None,
        customer_key: str | None = None,
    ) -> PaymentEntry:
        """Create the gateway payment for a basket (or resume an unfinished create).

        ``receipt`` (54-ФЗ, e.g. :meth:`Receipt.for_payment
        <pes_sdk.models.receipts.Receipt.for_payment>`) goes to the acquirer's receipt
        fields where its protocol has them. ``customer_key`` asks the acquirer to save the
        method for autopay (:attr:`CreateOptions.save_method`), for that client; the
        method it saved comes with the paid snapshot (:attr:`PaymentEntry.saved_method`).

        Returns the entry with its confirmation. Raises :class:`GatewayTimeout` /
        :class:`GatewayUnavailable` when every attempt failed: the entry stays ``created``
        with its key, and :meth:`start` or :meth:`refresh` may be called again later.
        Raises :class:`GatewayRefused` when the acquirer refused the payment: the entry
        ends ``failed``, and a later :meth:`start` returns it without asking again.
        """
        entry = self.book(payment)
        if entry.payment != payment:
            raise GatewayError(f"payment {payment.payment_id} is in the book with other lines")
        if entry.gateway_payment_id is not None or entry.state is PaymentState.FAILED:
            return entry  # created before, or refused before: never asked again
        options = CreateOptions(
            entry.idempotency_key,
            return_url,
            description,
            receipt,
            save_method=customer_key is not None,
            customer_key=customer_key or "",
        )

        def create() -> GatewayPayment:
            return self.gateway.create_payment(payment, options)

        return self._attempt(payment, options.idempotency_key, create)

    def charge_saved(
        self,
        payment: Payment,
        method: SavedMethod,
        *,
        idempotency_key: str,
        description: str = "",
        receipt: Receipt | None = None,
    ) -> PaymentEntry:
        """Charge a saved method once for ``payment`` (an autopay charge), or resume it.

        The caller derives both ``payment.payment_id`` and ``idempotency_key`` from what
        the charge is for (the consent and the period), so a second call, from any
        process and after any crash, finds the same entry and the acquirer the same
        charge: one charge per key, whatever happens. An entry that already has the
        acquirer's id, or was refused, is returned without asking again; its later news
        comes by webhook or :meth:`refresh`, and a success is credited once, as for any
        payment. Errors as :meth:`start`.
        """
        resumed = self.store.get(payment.payment_id) is not None
        entry = self.book(payment, idempotency_key=idempotency_key)
        if entry.payment != payment:
            raise GatewayError(f"payment {payment.payment_id} is in the book with other lines")
        if entry.idempotency_key != idempotency_key:
            raise GatewayError(f"payment {payment.payment_id} is in the book with another key")
        if entry.gateway_payment_id is not None or entry.state is PaymentState.FAILED:
            return entry
        options = ChargeOptions(entry.idempotency_key, description, receipt)

        def charge() -> GatewayPayment:
            return self.gateway.charge_saved(payment, method, options)

        # A charge booked before and never answered (a crash, a run that gave up) may have
        # reached the acquirer: ask first, rather than lean on the key alone (an acquirer
        # forgets keys: ЮKassa after 24 hours).
        return self._attempt(payment, options.idempotency_key, charge, look_first=resumed)

    def _attempt(
        self,
        payment: Payment,
        key: str,
        send: Callable[[], GatewayPayment],
        *,
        look_first: bool = False,
    ) -> PaymentEntry:
        """``send`` under the retry policy; after a timeout (or at once, ``look_first``),
        ask the acquirer first."""
        timed_out = look_first

        def attempt() -> GatewayPayment:
            nonlocal timed_out
            if timed_out:
                found = self.gateway.find_payment(payment.payment_id, key)
                if found is not None:
                    return found
            try:
                return send()
            except GatewayTimeout:
                timed_out = True
                raise

        try:
            snapshot = self.retry.call(attempt)
        except GatewayRefused:
            # The acquirer said no (a 4xx): no payment exists there, and the same request
            # cannot change its answer. The entry ends ``failed``, not ``created`` for ever
            # (checked for news it can never have). A timeout or 5xx leaves it ``created``.
            with self._lock:
                current = self.store.get(payment.payment_id)
                if current is not None and current.gateway_payment_id is None:
                    self.store.put(attrs.evolve(current, state=PaymentState.FAILED))
            raise
        return self.apply(snapshot).entry

    def book(self, payment: Payment, *, idempotency_key: str | None = None) -> PaymentEntry:
        """The book's entry for ``payment``'s order id: the one there, or ``payment`` booked
        now with a fresh idempotency key (the key is in the book before the first attempt).

        The store decides who books an order id first (its ``add`` raises ``KeyError`` when
        the id is taken, by another thread or process too); the loser reads the winner's
        entry. That entry may hold another :class:`Payment` (another ``created_at``, or
        other lines): the caller compares what matters to it and passes the booked
        ``entry.payment`` to :meth:`start`. ``idempotency_key`` is the key to book a new
        entry with (a charge's, derived from what it is for); a random one by default.
        """
        with self._lock:
            entry = self.store.get(payment.payment_id)
            if entry is not None:
                return entry
            entry = PaymentEntry(
                payment,
                idempotency_key or new_idempotency_key(),
                line_refunded=tuple(ZERO for _ in payment.lines),
            )
            try:
                self.store.add(entry)
            except KeyError:
                booked = self.store.get(payment.payment_id)
                if booked is None:  # pragma: no cover - a book never drops an entry
                    raise
                return booked
            return entry

    # -- news from the acquirer ----------------------------------------------------------

    def apply(self, snapshot: GatewayPayment) -> Applied:
        """Apply a snapshot (from a status query or a verified webhook) to the book."""
        with self._lock, self._locked(snapshot.order_id):
            return self._apply_to(self._known(snapshot), snapshot)

    def _locked(self, order_id: uuid.UUID) -> AbstractContextManager[object]:
        """The store's own lock of the entry, if it has one (``locked``, see
        :class:`PaymentStore`): ``self._lock`` keeps out this process's threads only."""
        locked = getattr(self.store, "locked", None)
        return contextlib.nullcontext() if locked is None else locked(order_id)

    def _apply_to(self, entry: PaymentEntry, snapshot: GatewayPayment) -> Applied:
        # ``entry`` is the book's current entry for the snapshot, read under the lock.
        with self._lock:
            move = advance(entry.state, entry.refunded, snapshot.state, snapshot.refunded)
            new = entry
            learned_method = snapshot.saved_method is not None and entry.saved_method is None
            if (
                move.outcome is Outcome.APPLIED
                or entry.gateway_payment_id is None
                or learned_method
            ):
                paid_at = entry.paid_at
                if move.credited:
                    # The acquirer's capture time decides the partner-day, however late the
                    # news came (a lost webhook found by polling after the cut-off); where
                    # its protocol tells none, the moment we learned it is the best we know.
                    paid_at = (snapshot.paid_at or _utc_now()).astimezone(dt.UTC)
                new = attrs.evolve(
                    entry,
                    state=move.after,
                    refunded=move.refunded_after,
                    gateway_payment_id=snapshot.gateway_payment_id,
                    confirmation=snapshot.confirmation or entry.confirmation,
                    paid_at=paid_at,
                    # the method may come with a later, otherwise duplicate, snapshot
                    # (Т-Банк tells ``RebillId`` in its notification only)
                    saved_method=entry.saved_method or snapshot.saved_method,
                    decline=snapshot.decline if move.after is snapshot.state else entry.decline,
                    decline_code=(
                        snapshot.decline_code
                        if move.after is snapshot.state
                        else entry.decline_code
                    ),
                )
                self.store.put(new)
            if move.outcome is not Outcome.DUPLICATE:
                log.debug(
                    "payment %s: %s -> %s (%s)",
                    entry.order_id,
                    move.before,
                    move.after,
                    move.outcome,
                )
            if move.credited and self._on_credit is not None:
                self._on_credit(new)
            if move.refund_delta and self._on_refund is not None:
                self._on_refund(new, move.refund_delta)
            return Applied(new, move)

    def _known(self, snapshot: GatewayPayment) -> PaymentEntry:
        entry = self.store.get(snapshot.order_id)
        if entry is None:
            raise UnknownPayment(f"order {snapshot.order_id} is not in the book")
        if entry.gateway_payment_id not in (None, snapshot.gateway_payment_id):
            raise UnknownPayment(
                f"order {snapshot.order_id} is booked as another gateway payment",
                gateway=snapshot.gateway,
            )
        if snapshot.amount != entry.payment.total:
            # never credit a sum other than the basket's
            raise GatewayError(
                f"order {snapshot.order_id}: acquirer amount {snapshot.amount} "
                f"!= basket total {entry.payment.total}",
                gateway=snapshot.gateway,
            )
        return entry

    def handle_webhook(self, request: WebhookRequest) -> list[Applied]:
        """Verify a notification and apply it; :class:`WebhookRejected` if it must be refused.

        Checks, in order: authenticity (the gateway's), the replay window on the signed
        time, and that every payment it names is in the book. Nothing is applied unless
        all of them pass.
        """
        events = self.gateway.parse_webhook(request)
        caps = self.gateway.capabilities
        for event in events:
            if event.signed_at is not None:
                check_window(event.signed_at, request.received_at, self.replay_window)
            elif caps.webhook_timestamps:
                raise WebhookRejected("malformed", "no signed timestamp", gateway=self.gateway.name)
        with self._lock, contextlib.ExitStack() as held:
            # Every payment named, in one order (two notifications never wait on each other).
            for order_id in sorted({e.payment.order_id for e in events}, key=str):
                held.enter_context(self._locked(order_id))
            entries = []
            for event in events:
                try:
                    entries.append(self._known(event.payment))
                except UnknownPayment as exc:
                    raise WebhookRejected(
                        "unknown-payment", exc.message, gateway=self.gateway.name
                    ) from None
            applied: list[Applied] = []
            seen: set[uuid.UUID] = set()
            for event, entry in zip(events, entries, strict=True):
                # The entry read for the check is applied to, not read again; a payment
                # named twice in one notification is read again, after its first move.
                if entry.order_id in seen:
                    applied.append(self.apply(event.payment))
                else:
                    applied.append(self._apply_to(entry, event.payment))
                seen.add(entry.order_id)
            return applied

    def refresh(self, order_id: uuid.UUID) -> Applied:
        """Ask the acquirer for the payment's state and apply it (the webhook backstop)."""
        entry = self.entry(order_id)
        if entry.gateway_payment_id is None:
            found = self.retry.call(
                lambda: self.gateway.find_payment(order_id, entry.idempotency_key)
            )
            if found is None:
                raise UnknownPayment(f"the acquirer has no payment for order {order_id}")
            return self.apply(found)
        gid = entry.gateway_payment_id
        return self.apply(self.retry.call(lambda: self.gateway.get_payment(gid)))

    # -- the service's own moves ---------------------------------------------------------

    def cancel(self, order_id: uuid.UUID) -> Applied:
        """Cancel a payment the client has not paid (the key derives from the stored one)."""
        entry = self.entry(order_id)
        if entry.gateway_payment_id is None:
            raise UnknownPayment(f"order {order_id} has no gateway payment yet")
        gid, key = entry.gateway_payment_id, f"{entry.idempotency_key}-c"
        return self.apply(self.retry.call(lambda: self.gateway.cancel_payment(gid, key)))

    def refund(
        self, order_id: uuid.UUID, lines: Mapping[int, Decimal] | list[int] | None = None
    ) -> Applied:
        """Refund the whole payment (``lines=None``) or some lines (indices or amounts).

        A line can be refunded up to its amount plus its client fee, in several parts. The
        refund's key is stored with the entry before the first attempt; if the attempts
        fail, call again with the same lines to finish it.
        """
        with self._lock, self._locked(order_id):
            entry = self.entry(order_id)
            if not entry.state.is_paid or entry.state is PaymentState.REFUNDED:
                raise InvalidRefund(f"order {order_id} is {entry.state}: nothing to refund")
            assert entry.gateway_payment_id is not None
            gid = entry.gateway_payment_id
            if lines is None:
                left = {
                    i: ln.amount + ln.client_fee - entry.line_refunded[i]
                    for i, ln in enumerate(entry.payment.lines)
                }
                lines = {i: v for i, v in left.items() if v > 0}
            request = RefundRequest.for_lines(entry.payment, gid, lines)
            for part in request.lines:
                line = entry.payment.lines[part.index]
                left_on_line = line.amount + line.client_fee - entry.line_refunded[part.index]
                if part.amount > left_on_line:
                    raise InvalidRefund(
                        f"line {part.index}: {part.amount} asked, {left_on_line} left to refund"
                    )
            if entry.pending_refund is not None:
                key, pending = entry.pending_refund
                if pending != request:
                    raise InvalidRefund("another refund of this payment is unfinished")
            else:
                # The request's fingerprint is in the key: after a refusal the same number
                # may be asked again with other lines, and an acquirer refuses a key reused
                # for another body. So is a random part: after a refusal the same request
                # may be asked again, and an acquirer answers a key it has seen with its
                # first answer (ЮKassa: the canceled refund, for 24 hours). The key is
                # stored before the first attempt, so every retry still sends the same one.
                key = (
                    f"{entry.idempotency_key}-r{entry.refund_count + 1}"
                    f"-{_fingerprint(request)}{secrets.token_hex(2)}"
                )
                self.store.put(attrs.evolve(entry, pending_refund=(key, request)))
        try:
            result = self.retry.call(lambda: self.gateway.refund(request, key))
        except (GatewayRefused, InvalidRefund):
            # The acquirer said no (a 4xx), or found the request itself wrong (more than is
            # left, a receipt that does not add up): nothing was given back, and retrying
            # the same request cannot change that. Forget it, or it would block every later
            # refund of the payment as "unfinished". A timeout, a 5xx or an answer that does
            # not say keeps it: that one may have been carried out, and a retry with the
            # same key finishes it.
            with self._lock, self._locked(order_id):
                current = self.entry(order_id)
                if current.pending_refund is not None and current.pending_refund[0] == key:
                    self.store.put(attrs.evolve(current, pending_refund=None))
            raise
        with self._lock, self._locked(order_id):
            applied = self.apply(result.payment)
            entry = self.entry(order_id)
            if entry.pending_refund is not None and entry.pending_refund[0] == key:
                per_line = list(entry.line_refunded)
                for part in request.lines:
                    per_line[part.index] += part.amount
                entry = attrs.evolve(
                    entry,
                    line_refunded=tuple(per_line),
                    pending_refund=None,
                    refund_count=entry.refund_count + 1,
                )
                self.store.put(entry)
            return Applied(entry, applied.move)

    # -- reading the book ----------------------------------------------------------------

    def entry(self, order_id: uuid.UUID) -> PaymentEntry:
        """The booked entry; :class:`UnknownPayment` when there is none."""
        entry = self.store.get(order_id)
        if entry is None:
            raise UnknownPayment(f"order {order_id} is not in the book")
        return entry
