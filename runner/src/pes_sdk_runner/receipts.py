"""E-receipts (электронные чеки, 54-ФЗ) on the service's cloud register, and the client's copy.

An acquirer that fiscalises (ЮKassa, Т-Банк, Сбербанк: its gateway's
``capabilities.receipts``) takes the receipt with the payment (:mod:`pes_sdk_runner.usecases`
``receipt_for``); nothing here runs for it. For one that does not, ``[receipts] register``
names a cloud register (``atol``: :mod:`pes_sdk.fiscal`) and, once a payment is paid,
:func:`issue_receipt`:

1. writes the payment's ``sell`` row (``fiscal_receipts``, status ``wait``) with
   ``external_id`` = the order id: every process, every retry sends that key, and the
   register answers a repeated key with the document it already has, never a second one;
2. builds the receipt (:func:`build_receipt`: an agent position per line naming its
   partner as the supplier, the client's fee at ``receipts.fee_vat``) with the buyer's
   contact (tag 1008) and sends it; an unanswered send is sent again later, same key;
3. asks the register's report and stores the fiscal attributes (ФН, ФД, ФП, shift, number,
   time, the check URL); a refused or failed receipt is stored ``failed`` with the
   register's code and the field it named, for an operator;
4. queues the client's e-mail (source ``receipt:<order id>``, kind ``receipts``) through the
   notifications' e-mail transport (:func:`~pes_sdk_runner.notify.enqueue_messages`).

**The buyer's contact.** The e-mail the client gives when paying (``receipt_email``) is
kept with :func:`keep_contact` as the notification contact of a recipient of its own,
``receipt:<order id>``, not the client's: it reaches the register and this one e-mail,
and the client's own contacts stay as they were. Without one, the client's notification
contact is used (its e-mail, else its phone; a cabinet's phone). It is deleted
(:func:`forget_contacts`) once the e-mail has ended (sent or not), when the payment ends
unpaid, and in any case :data:`CONTACT_DAYS` days after it was kept (a failed receipt's
waits for that, for an operator's :func:`resend`). It is never logged:
events name the order id, the register's uuid and codes.

Every function takes the time it is (``now``, aware): the job engine passes its own.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.fiscal import (
    FiscalError,
    FiscalRegister,
    FiscalUnavailable,
    ReceiptFailed,
    ReceiptRefused,
)
from pes_sdk.gateways.models import GatewayCapabilities
from pes_sdk.models.partners import Partner
from pes_sdk.models.payments import Payment
from pes_sdk.models.receipts import (
    Receipt,
    ReceiptPosition,
    Supplier,
    check_customer_email,
    check_customer_phone,
)
from pes_sdk.russian import rubles
from pes_sdk_runner.logs import event
from pes_sdk_runner.notify import Enqueue, Enqueued, Template, enqueue_messages
from pes_sdk_runner.store.notify import MessageStatus
from pes_sdk_runner.store.receipts import FiscalReceipt, ReceiptOperation, ReceiptStatus

if TYPE_CHECKING:
    from pes_sdk.plugins.manager import PluginHost
    from pes_sdk_runner.config.models import RunnerConfig
    from pes_sdk_runner.store.sql import SqlStore

__all__ = [
    "CONTACT_DAYS",
    "CONTACT_PREFIX",
    "RECEIPTS",
    "RECEIPT_WITHIN",
    "Resent",
    "Swept",
    "build_receipt",
    "contact_id",
    "forget_contacts",
    "issue_receipt",
    "issue_refund_receipt",
    "keep_contact",
    "open_register",
    "receipt_of",
    "receipt_source",
    "receipt_text",
    "refund_external_id",
    "refund_receipt",
    "registers_receipts",
    "resend",
    "sweep",
]

log = logging.getLogger("pes_sdk_runner.receipts")

#: The kind of the client's receipt e-mail (what ``[notifications] order`` would route;
#: a receipt goes by e-mail only, see :func:`mail_receipt`).
RECEIPTS = "receipts"
#: The prefix of the recipient a payment's receipt contact is kept under, and of the
#: e-mail's source: ``receipt:<order id>``.
CONTACT_PREFIX = "receipt:"
#: Payments created longer ago than this get no receipt from the sweep (a receipt is
#: due at the payment; a forgotten one is the operator's, not a surprise weeks later).
RECEIPT_WITHIN = dt.timedelta(days=3)
#: The longest a receipt contact is kept, whatever became of its payment.
CONTACT_DAYS = 7
#: The channels' limit of a message's text (pes_sdk.notifications.MAX_TEXT_LENGTH).
_TEXT_LIMIT = 1000


def contact_id(order_id: uuid.UUID) -> str:
    """The recipient the payment's receipt contact is kept under: ``receipt:<order id>``."""
    return f"{CONTACT_PREFIX}{order_id}"


def receipt_source(order_id: uuid.UUID, refund_no: int = 0) -> str:
    """The source of the client's e-mail of the payment's receipt: ``receipt:<order id>``;
    of its n-th refund's: ``receipt:<order id>:refund:<n>``."""
    if refund_no:
        return f"{CONTACT_PREFIX}{order_id}:refund:{refund_no}"
    return f"{CONTACT_PREFIX}{order_id}"


def registers_receipts(config: RunnerConfig, capabilities: GatewayCapabilities) -> bool:
    """Whether this runner registers receipts itself: receipts on, a register configured,
    and a gateway that does not fiscalise."""
    receipts = config.receipts
    return receipts.enabled and receipts.register is not None and not capabilities.receipts


def open_register(config: RunnerConfig, host: PluginHost) -> FiscalRegister:
    """The configured cloud register (``[receipts] register``); :class:`ConfigError` when
    none is configured or its settings are wrong. Touches no network."""
    name = config.receipts.register
    if name is None:
        raise ConfigError("receipts.register: no fiscal register is configured")
    factories = host.fiscal_registers()
    if name not in factories:
        raise ConfigError(f"receipts.register: no fiscal register named {name!r} is installed")
    return factories[name].create(config.receipts.adapter.merged())


def keep_contact(store: SqlStore, order_id: uuid.UUID, email: str | None) -> None:
    """Keep the e-mail the client gave for the payment's receipt until it is used (the
    use case ``pay`` calls it when the runner registers receipts itself); blank: nothing.
    A bad address is a :class:`ValueError` that does not repeat it."""
    if email:
        store.set_contact(contact_id(order_id), email=check_customer_email(email))


def build_receipt(
    config: RunnerConfig,
    known: Iterable[Partner],
    payment: Payment,
    *,
    email: str | None = None,
    phone: str | None = None,
) -> Receipt:
    """The receipt of ``payment`` as the use cases build it for an acquirer: an agent
    position per line naming its partner as the supplier (the configured one; a partner
    served before and no longer configured by its name and ИНН), the client's fees at
    ``receipts.fee_vat``; ``email`` / ``phone`` the buyer's contact (tag 1008).
    :class:`ConfigError` / :class:`ValueError` for a line the receipt cannot name."""
    configured = {p.inn: p.supplier for p in config.partners}
    suppliers: dict[str, Supplier] = {p.inn: Supplier(p.inn, p.name) for p in known}
    suppliers.update(configured)
    return Receipt.for_payment(
        payment,
        suppliers,
        fee_vat=config.receipts.fee_vat,
        customer_email=email,
        customer_phone=phone,
    )


def _rubles(amount: Decimal) -> str:
    return rubles(amount)


def receipt_text(config: RunnerConfig, receipt: Receipt, row: FiscalReceipt) -> tuple[str, str]:
    """The client's e-mail of a registered receipt: its subject and text, in Russian.

    The seller, the positions (each supplier named, as the receipt does), the total, the
    fiscal attributes and the link to the receipt at the ОФД. A basket too long for one
    message names its first positions and how many more there are."""
    a = row.attributes
    assert a is not None, "only a registered receipt is mailed"
    zone = config.service.time_zone
    when = a.registered_at.astimezone(zone).strftime("%d.%m.%Y %H:%M")
    kind = "Приход" if row.operation is ReceiptOperation.SELL else "Возврат прихода"
    head = [
        f"Кассовый чек ({kind.lower()}) {config.service.details.name}, ИНН"
        f" {config.service.details.inn}",
        f"Платёж {row.order_id}",
    ]
    tail = [
        f"Итого: {_rubles(a.total)}",
        f"{kind} {when}, смена {a.shift}, чек {a.receipt_number}",
        f"ФН {a.fn}, ФД {a.fd}, ФП {a.fp}",
    ]
    if a.kkt_registration_number:
        tail.append(f"РН ККТ {a.kkt_registration_number}")
    if a.check_url:
        tail.append(f"Чек на сайте ОФД: {a.check_url}")
    tail.append("Проверить чек можно по ФН, ФД и ФП на сайте ФНС nalog.gov.ru")
    lines: list[str] = []
    for p in receipt.positions:
        who = f" (поставщик {p.supplier.name}, ИНН {p.supplier.inn})" if p.supplier else ""
        lines.append(f"{p.name}: {_rubles(p.amount * p.quantity)}{who}")

    def whole(shown: int) -> str:
        rest = len(lines) - shown
        more = [f"…и ещё позиций: {rest}"] if rest else []
        return "\n".join([*head, "", *lines[:shown], *more, "", *tail])

    shown = len(lines)
    text = whole(shown)
    while len(text) > _TEXT_LIMIT and shown > 0:
        shown -= 1
        text = whole(shown)
    # A dollar sign in a name or a URL is text, not one of the template's $fields.
    return "Кассовый чек", text.replace("$", "$$")


@attrs.frozen
class _Contact:
    email: str | None = attrs.field(default=None, repr=False)
    phone: str | None = attrs.field(default=None, repr=False)


def _contact(store: SqlStore, order_id: uuid.UUID, client: str | None) -> _Contact:
    """The buyer's contact: the e-mail given for the receipt, else the client's own
    notification contact (its e-mail, else its phone). Each checked: a contact the
    register would refuse is no contact."""
    ids = [contact_id(order_id), *([client] if client else [])]
    found = store.contacts_of(ids)
    given = found.get(ids[0])
    own = found.get(client) if client else None
    email = (given.email if given else None) or (own.email if own else None)
    phone = own.phone if own and not email else None
    try:
        email = check_customer_email(email) if email else None
    except ValueError:
        email = None
    try:
        phone = check_customer_phone(phone) if phone else None
    except ValueError:
        phone = None
    return _Contact(email, phone)


def issue_receipt(
    store: SqlStore,
    config: RunnerConfig,
    register: FiscalRegister,
    order_id: uuid.UUID,
    now: dt.datetime,
    *,
    enqueue: Enqueue | None = None,
) -> FiscalReceipt | None:
    """Bring the payment's sale receipt (приход) one step as far as it goes now; its row
    (None: the payment is not paid, or unknown).

    Idempotent, and safe in any number of processes at once: the row and its
    ``external_id`` (the order id) are written once; a send whose answer was lost is sent
    again with that key (the register answers the document it has); a report is read
    until it is done; the e-mail's rows are keyed by their source. ``enqueue``: how the
    e-mail's batch is queued (default: the job engine's ``notify`` queue)."""
    from pes_sdk_runner.store.triggers import payment_client

    entry = store.get(order_id)
    if entry is None or not entry.state.is_paid:
        return None
    row = store.fiscal_receipt(order_id, 0)
    if row is None:
        row = store.add_fiscal_receipt(
            order_id,
            0,
            external_id=str(order_id),
            register=register.name,
            client_id=payment_client(store, order_id),
            total=entry.payment.total,
            now=now,
        )
    return _issue(store, config, register, row, entry.payment, now, enqueue)


def refund_external_id(order_id: uuid.UUID, refund_no: int) -> str:
    """The register's key of the payment's ``refund_no``-th refund receipt: its own, since
    a register keys documents by ``external_id`` whatever the operation."""
    return f"refund:{order_id}:{refund_no}"


def issue_refund_receipt(
    store: SqlStore,
    config: RunnerConfig,
    register: FiscalRegister,
    order_id: uuid.UUID,
    refund_no: int,
    parts: Mapping[int, Decimal],
    now: dt.datetime,
    *,
    enqueue: Enqueue | None = None,
) -> FiscalReceipt | None:
    """Bring the receipt of the payment's ``refund_no``-th refund (возврат прихода) one
    step, as :func:`issue_receipt`; None while the payment has no such refund.

    ``parts``: the amount given back on each payment line (by index), fee included, as the
    refund's :class:`~pes_sdk.gateways.models.RefundRequest` lines say; kept with the row
    at its first call (a later call's are not read: the sweep has none)."""
    from pes_sdk_runner.store.triggers import payment_client

    if refund_no < 1:
        raise ValueError("a refund's number is 1 or more")
    entry = store.get(order_id)
    if entry is None or not entry.state.is_paid:
        return None
    row = store.fiscal_receipt(order_id, refund_no)
    if row is None:
        total = sum(parts.values(), Decimal(0))
        if not parts or total <= 0:
            raise ValueError("a refund's receipt gives back a positive amount on some line")
        # Made, as the book knows: counted by the processor's refunds, or (one made at the
        # acquirer's dashboard, which the processor does not count) covered by the total
        # given back.
        if entry.refund_count < refund_no and entry.refunded < total:
            return None
        row = store.add_fiscal_receipt(
            order_id,
            refund_no,
            external_id=refund_external_id(order_id, refund_no),
            register=register.name,
            client_id=payment_client(store, order_id),
            total=total,
            now=now,
            parts=parts,
        )
    return _issue(store, config, register, row, entry.payment, now, enqueue)


def _issue(
    store: SqlStore,
    config: RunnerConfig,
    register: FiscalRegister,
    row: FiscalReceipt,
    payment: Payment,
    now: dt.datetime,
    enqueue: Enqueue | None,
) -> FiscalReceipt:
    if row.status is ReceiptStatus.WAIT:
        _advance(store, config, register, row, payment, now)
        found = store.fiscal_receipt(row.order_id, row.refund_no)
        assert found is not None
        row = found
    if row.status is ReceiptStatus.DONE and row.mailed_at is None:
        mail_receipt(store, config, row, payment, now, enqueue=enqueue)
        found = store.fiscal_receipt(row.order_id, row.refund_no)
        assert found is not None
        row = found
    return row


def receipt_of(
    config: RunnerConfig,
    known: Iterable[Partner],
    row: FiscalReceipt,
    payment: Payment,
    *,
    email: str | None = None,
    phone: str | None = None,
) -> Receipt:
    """The receipt ``row`` registers: the payment's (:func:`build_receipt`) for a sale,
    its refunded part (:func:`refund_receipt`) for a refund."""
    receipt = build_receipt(config, known, payment, email=email, phone=phone)
    if row.operation is ReceiptOperation.SELL:
        return receipt
    return refund_receipt(payment, receipt, row.parts)


def refund_receipt(payment: Payment, receipt: Receipt, parts: Mapping[int, Decimal]) -> Receipt:
    """The receipt of a refund: the part given back of each line's positions.

    ``receipt`` is the payment's (one position per line, in order, then the fees, as
    :meth:`Receipt.for_payment` builds it); ``parts`` the amount given back on each line
    (its index), fee included. A line's part goes to its service position first, up to
    the line's amount, and the rest to the fee position, as the acquirers' refund
    receipts do (``pes_sdk_yookassa.client.refund_receipt``)."""
    positions = list(receipt.positions)
    fee = positions[len(payment.lines)] if len(positions) > len(payment.lines) else None
    out: list[ReceiptPosition] = []
    fee_back = Decimal(0)
    for index, amount in sorted(parts.items()):
        if not 0 <= index < len(payment.lines):
            raise ValueError(f"the payment has no line {index}")
        line = payment.lines[index]
        service = min(amount, line.amount)
        if service > 0:
            out.append(attrs.evolve(positions[index], amount=service, quantity=1))
        fee_back += amount - service
    if fee_back > 0:
        if fee is None:
            raise ValueError("a refund beyond the lines' amounts needs the fee position")
        out.append(attrs.evolve(fee, amount=fee_back, quantity=1))
    return Receipt(
        out, customer_email=receipt.customer_email, customer_phone=receipt.customer_phone
    )


def _advance(
    store: SqlStore,
    config: RunnerConfig,
    register: FiscalRegister,
    row: FiscalReceipt,
    payment: Payment,
    now: dt.datetime,
) -> None:
    order_id, refund_no = row.order_id, row.refund_no
    document = row.uuid
    if document is None:
        contact = _contact(store, order_id, row.client_id)
        if not contact.email and not contact.phone:
            # A receipt of a payment on the Internet goes to the buyer's address or phone
            # (54-ФЗ ст. 1.2 п. 5); the registers refuse one without either.
            _failed(store, row, "no-contact", "receipt.client", now)
            return
        try:
            receipt = receipt_of(
                config, store.partners(), row, payment, email=contact.email, phone=contact.phone
            )
        except (ConfigError, ValueError) as exc:
            event(log, "receipt.invalid", logging.WARNING, order_id=order_id, error=str(exc))
            _failed(store, row, "invalid", None, now)
            return
        try:
            send = register.register if refund_no == 0 else register.refund
            document = send(receipt, row.external_id)
        except ReceiptRefused as exc:
            _failed(store, row, exc.code or "refused", exc.field, now)
            return
        except FiscalError as exc:  # unavailable, or the settings: the receipt is not at fault
            _later(store, row, exc, now)
            return
        store.sent_fiscal_receipt(order_id, refund_no, uuid=document, now=now)
        event(log, "receipt.sent", order_id=order_id, uuid=document, register=register.name)
    try:
        attributes = register.report(document)
    except ReceiptFailed as exc:
        _failed(store, row, exc.code or "failed", None, now)
        return
    except FiscalError as exc:
        _later(store, row, exc, now)
        return
    if attributes is None:
        return  # the register has not registered it yet: the next pass asks again
    if attributes.total != row.total:
        # Not this receipt: the register answered its key with a document of another total
        # (a key sent before with other content: ATOL keys by external_id alone). Storing
        # it done would give the client another payment's receipt: an operator's.
        event(
            log,
            "receipt.total-differs",
            logging.WARNING,
            order_id=order_id,
            uuid=document,
            total=row.total,
            registered=attributes.total,
        )
        _failed(store, row, "total-differs", "receipt.total", now)
        return
    store.done_fiscal_receipt(order_id, refund_no, attributes, now=now)
    event(log, "receipt.done", order_id=order_id, uuid=document, fd=attributes.fd)


def _failed(
    store: SqlStore, row: FiscalReceipt, code: str, field: str | None, now: dt.datetime
) -> None:
    store.failed_fiscal_receipt(row.order_id, row.refund_no, code=code, field=field, now=now)
    event(
        log,
        "receipt.failed",
        logging.WARNING,
        order_id=row.order_id,
        uuid=row.uuid,
        code=code,
        field=field,
    )


def _later(store: SqlStore, row: FiscalReceipt, exc: FiscalError, now: dt.datetime) -> None:
    code = exc.code or ("unavailable" if isinstance(exc, FiscalUnavailable) else "error")
    store.tried_fiscal_receipt(row.order_id, row.refund_no, code=code, now=now)
    event(
        log,
        "receipt.later",
        logging.WARNING,
        order_id=row.order_id,
        uuid=row.uuid,
        code=code,
        unavailable=isinstance(exc, FiscalUnavailable),
    )


def mail_receipt(
    store: SqlStore,
    config: RunnerConfig,
    row: FiscalReceipt,
    payment: Payment,
    now: dt.datetime,
    *,
    enqueue: Enqueue | None = None,
) -> Enqueued | None:
    """Queue the client's e-mail of a registered receipt (once: its rows are keyed by the
    source ``receipt:<order id>``), to the receipt's contact; None when there is no
    e-mail address to send it to (a phone only: the register's own SMS, if any)."""
    recipient = contact_id(row.order_id)
    found = store.contacts_of([recipient, *([row.client_id] if row.client_id else [])])
    given = found.get(recipient)
    own = found.get(row.client_id) if row.client_id else None
    address = (given.email if given else None) or (own.email if own else None)
    if not address:
        store.mailed_fiscal_receipt(row.order_id, row.refund_no, now=now)
        return None
    if given is None or not given.email:
        store.set_contact(recipient, email=address)  # this message's own, forgotten after
    receipt = receipt_of(config, store.partners(), row, payment)
    title, text = receipt_text(config, receipt, row)
    # A receipt goes by e-mail, whatever [notifications] order says of other kinds: the
    # address is the one given for it, and a push or an SMS cannot carry the receipt.
    notifications = attrs.evolve(
        config.notifications, order={**config.notifications.order, RECEIPTS: ("email",)}
    )
    done = enqueue_messages(
        store,
        attrs.evolve(config, notifications=notifications),
        source=receipt_source(row.order_id, row.refund_no),
        kind=RECEIPTS,
        template=Template(text, title=title),
        audience=[recipient],
        enqueue=enqueue,
    )
    store.mailed_fiscal_receipt(row.order_id, row.refund_no, now=now)
    event(log, "receipt.mailed", order_id=row.order_id, messages=done.messages)
    return done


_ENDED = frozenset(
    {MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.DEAD, MessageStatus.SKIPPED}
    | {MessageStatus.UNSURE}
)


def forget_contacts(store: SqlStore, now: dt.datetime, *, limit: int = 1000) -> int:
    """Delete the receipt contacts no longer needed; how many.

    A contact goes once its e-mail has ended (sent, failed, skipped or unsure: none is
    sent again), once its payment ended unpaid, once its receipt was mailed with no
    address, and :data:`CONTACT_DAYS` days after it was kept in any case (a failed
    receipt's is kept until then: an operator may send the receipt again)."""
    gone = 0
    oldest = now - dt.timedelta(days=CONTACT_DAYS)
    for client in store.receipt_contacts(CONTACT_PREFIX, limit):
        try:
            order_id = uuid.UUID(client.removeprefix(CONTACT_PREFIX))
        except ValueError:
            continue
        if _done_with(store, order_id, oldest):
            gone += store.forget_contact(client)
    if gone:
        event(log, "receipt.contacts-forgotten", contacts=gone)
    return gone


def _done_with(store: SqlStore, order_id: uuid.UUID, oldest: dt.datetime) -> bool:
    entry = store.get(order_id)
    if entry is None:
        return True
    if entry.state.is_final and not entry.state.is_paid:
        return True
    if entry.payment.created_at < oldest:
        return True
    row = store.fiscal_receipt(order_id, 0)
    if row is None or row.status is ReceiptStatus.FAILED:
        # A failed receipt is an operator's to send again (`pes runner receipts resend`)
        # once its cause is gone: its address is kept for that, :data:`CONTACT_DAYS` at most.
        return False
    if row.mailed_at is None:
        return False
    messages = store.messages(receipt_source(order_id))
    return all(m.status in _ENDED for m in messages)


class Resent(enum.StrEnum):
    """What :func:`resend` did with one receipt."""

    RESENT = "resent"  #: back to ``wait``: the next pass sends it, under its own key
    UNKNOWN = "unknown"  #: no such receipt
    NOT_FAILED = "not-failed"  #: waiting or registered: nothing to resend
    #: the register took it (its ``uuid``) and then failed it: it keeps that document under
    #: the key, and answers the same key again with it (:func:`resend` sends no new key)
    HELD = "held"


def resend(
    store: SqlStore, order_id: uuid.UUID, now: dt.datetime, refund_no: int = 0
) -> tuple[Resent, FiscalReceipt | None]:
    """Put a failed receipt (the sale's, or the ``refund_no``-th refund's) back to ``wait``
    after an operator removed its cause: the next pass (the sweep) builds it afresh and
    sends it under the **same** ``external_id``, so the register cannot register it twice
    however often this and the pass run. What was done, and the row as it was found.

    Refused (nothing changes): an unknown receipt, one that is not ``failed``, and one the
    register took and then failed (``uuid`` known): its key would be answered with that
    failed document again (ATOL error 33)."""
    row = store.fiscal_receipt(order_id, refund_no)
    if row is None:
        return Resent.UNKNOWN, None
    if row.status is not ReceiptStatus.FAILED:
        return Resent.NOT_FAILED, row
    if row.uuid is not None:
        return Resent.HELD, row
    if not store.resend_fiscal_receipt(order_id, refund_no, now=now):
        # Changed since it was read (another operator, a pass): as it is now.
        found = store.fiscal_receipt(order_id, refund_no)
        return (Resent.HELD if found and found.uuid else Resent.NOT_FAILED), found
    event(
        log,
        "receipt.resend",
        order_id=order_id,
        refund_no=refund_no,
        code=row.error_code,
        field=row.error_field,
    )
    return Resent.RESENT, row


@attrs.frozen
class Swept:
    """What one :func:`sweep` did: receipts by the status they ended the pass in, and the
    contacts it deleted."""

    statuses: Mapping[str, int]
    forgotten: int


def sweep(
    store: SqlStore,
    config: RunnerConfig,
    register: FiscalRegister,
    now: dt.datetime,
    *,
    enqueue: Enqueue | None = None,
    limit: int = 500,
) -> Swept:
    """One pass: each payment paid within :data:`RECEIPT_WITHIN` without a receipt gets
    one; each receipt still waiting is asked about; each registered one not yet mailed is
    mailed; contacts no longer needed are deleted. What the job's periodic step runs."""
    counts: dict[str, int] = {}
    orders = dict.fromkeys(store.paid_without_receipt(now - RECEIPT_WITHIN, limit))
    waiting = store.fiscal_receipts_by_status(ReceiptStatus.WAIT, limit)
    orders.update(dict.fromkeys(r.order_id for r in waiting if not r.refund_no))
    orders.update(
        dict.fromkeys(r.order_id for r in store.fiscal_receipts_to_mail(limit) if not r.refund_no)
    )
    refunds = {
        (r.order_id, r.refund_no): r
        for r in [*waiting, *store.fiscal_receipts_to_mail(limit)]
        if r.refund_no
    }
    rows: list[FiscalReceipt | None] = [
        issue_receipt(store, config, register, order_id, now, enqueue=enqueue)
        for order_id in orders
    ]
    rows += [
        issue_refund_receipt(
            store, config, register, r.order_id, r.refund_no, r.parts, now, enqueue=enqueue
        )
        for r in refunds.values()
    ]
    for row in rows:
        if row is not None:
            counts[str(row.status)] = counts.get(str(row.status), 0) + 1
    return Swept(counts, forget_contacts(store, now))
