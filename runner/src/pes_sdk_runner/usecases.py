"""What a client does, with no HTTP in it: find services, accept one, price and pay a basket,
read a payment, send and list meter readings.

The JSON API (:mod:`pes_sdk_runner.api.app`) and the client cabinet call the same
:class:`ClientUseCases`, so a rule (a basket's limits, the fee plans, "accept before you
pay", a reading's dates) is written once. The functions are synchronous (the store and the
processor are): a web front end runs them in its thread pool.

A client is an opaque key chosen by the front end (the API uses ``<app id>:<client id>``);
the use cases only compare it. A payment also has an owner (the API: the app), who alone
may read it, and whose idempotency keys are its own.

A refusal is a :class:`UseCaseError` with a stable ``code``, a message and the ``field`` at
fault, named as the API names it (``lines[0].amount``); its subclass says what kind of
refusal it is, and the front end chooses how to show it (the API: an HTTP status).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import attrs

from pes_sdk.basket import price_line
from pes_sdk.errors import ConfigError
from pes_sdk.gateways import errors as gateway_errors
from pes_sdk.gateways.models import PaymentState
from pes_sdk.gateways.processor import Applied, PaymentEntry, PaymentProcessor
from pes_sdk.models.partners import Partner
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.models.readings import MeterReading, Photo
from pes_sdk.models.receipts import Receipt, Supplier, check_customer_email
from pes_sdk.money import ZERO
from pes_sdk.money import amount as to_amount
from pes_sdk.period import Period
from pes_sdk.plugins.manager import PluginHost
from pes_sdk.qr import PaymentDetails, QrFormatError
from pes_sdk_runner.config.models import RunnerConfig
from pes_sdk_runner.logs import event, mask_account
from pes_sdk_runner.store.autopay import Charge, ChargeState, Consent, ConsentRule
from pes_sdk_runner.store.base import (
    Acceptance,
    DecreaseReason,
    ServiceBalance,
    Store,
    StoredReading,
)
from pes_sdk_runner.store.errors import ReadingRefused

if TYPE_CHECKING:
    from pes_sdk_runner.store.receipts import FiscalReceipt
    from pes_sdk_runner.store.sql import SqlStore

__all__ = [
    "MAX_PHOTO_BYTES",
    "MAX_QR_PIXELS",
    "MAX_QR_TEXT",
    "MAX_READING_AGE_DAYS",
    "MAX_VALUE_DIGITS",
    "AcquirerFailed",
    "AcquirerUnavailable",
    "AmountTooLarge",
    "AutopayCancelled",
    "AutopayTerms",
    "BasketLine",
    "BasketView",
    "BillEntry",
    "ClientUseCases",
    "Conflict",
    "Counters",
    "NotAccepted",
    "NotFound",
    "PayeeNotServed",
    "QrAccountNotFound",
    "QrBill",
    "QrUnreadable",
    "Refused",
    "UseCaseError",
    "check_reading",
    "money",
    "order_id_of",
    "photo_type",
    "split_sum",
]

#: The largest meter photo taken (bytes).
MAX_PHOTO_BYTES = 5 * 1024 * 1024
#: The largest meter value taken: digits before and after the point.
MAX_VALUE_DIGITS = (12, 6)
#: The earliest day a meter reading may be taken: this many days before today (three years,
#: the limitation period, срок исковой давности).
MAX_READING_AGE_DAYS = 3 * 366
# Order ids derive from the payment's owner and its idempotency key: a retry finds the same
# order. Changing it would make a retry after an upgrade pay twice.
#: The longest payment string (ГОСТ Р 56042-2014) taken as text: a QR code holds at most
#: 2953 bytes, and a pasted string may carry blanks around it.
MAX_QR_TEXT = 4096
#: The most pixels of a photo of a QR code read: a phone's 50-megapixel photo fits, and a
#: small PNG that unpacks to gigabytes is refused before it is unpacked.
MAX_QR_PIXELS = 60_000_000
_ORDER_NAMESPACE = uuid.UUID("5b0e6f4e-2a57-4c52-9f0c-7c1d1e0a9a11")
_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


class UseCaseError(Exception):
    """A refusal: a stable ``code``, a message, and the field at fault (or None)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class NotFound(UseCaseError):
    """What was asked for does not exist, or is not the caller's (the two are not told
    apart: another owner's payment is "no such payment")."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__("not-found", message, field)


class Refused(UseCaseError):
    """The request breaks a rule: ``invalid`` input, or a stable code of its own (a reading
    going backwards is ``value-decreased``, …); asking again unchanged is refused again."""


class NotAccepted(Refused):
    """The client has not accepted (ticked) the service or account."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__("not-accepted", message, field)


class AmountTooLarge(Refused):
    """A line or basket above the configured limits (``http.max_line_amount``, …)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__("amount-too-large", message, field)


class QrUnreadable(Refused):
    """A payment QR code that cannot be read or breaks the standard (code ``qr-invalid``).

    ``rule`` is :class:`pes_sdk.qr.Rule`'s value when the string broke the standard, or
    one of the image's own: ``no-code``, ``several-codes``, ``not-image``, ``too-large``,
    ``unavailable`` (the ``qr-image`` extra is not installed); ``field`` the string's key
    at fault (``PayeeINN``), None for the whole."""

    def __init__(self, message: str, rule: str, field: str | None = None) -> None:
        super().__init__("qr-invalid", message, field)
        self.rule = rule


class PayeeNotServed(NotFound):
    """A QR code pays a payee (``PayeeINN``, with its ``KPP``) the service does not serve."""

    def __init__(self, message: str, field: str | None = "PayeeINN") -> None:
        UseCaseError.__init__(self, "payee-not-served", message, field)


class QrAccountNotFound(NotFound):
    """A QR code's account (``PersAcc``) is not in its partner's registries."""

    def __init__(self, message: str, field: str | None = "PersAcc") -> None:
        UseCaseError.__init__(self, "account-not-found", message, field)


class Conflict(UseCaseError):
    """An idempotency key already used for something else."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__("idempotency-key-reused", message, field)


class AcquirerUnavailable(UseCaseError):
    """The acquirer did not answer (or timed out): the same request may be retried."""

    def __init__(self, message: str) -> None:
        super().__init__("gateway-unavailable", message)


class AcquirerFailed(UseCaseError):
    """The acquirer answered with an error or refused the payment."""

    def __init__(self, message: str) -> None:
        super().__init__("gateway-error", message)


class Counters(Protocol):
    """Where the use cases count what happened (:class:`pes_sdk_runner.api.Metrics`)."""

    def inc(self, name: str, **labels: str) -> None: ...


@attrs.frozen
class BasketLine:
    """One line of a basket as the app sends it; the rest comes from the accepted service."""

    partner_inn: str
    account: str
    amount: Decimal
    service: str = ""


@attrs.frozen
class BasketView:
    """What a page that shows and prices a client's basket needs, each read once
    (:meth:`ClientUseCases.basket_view`): a page asks the store a few times, not once per
    row, and the answers agree with each other."""

    partners: Mapping[str, Partner]  #: as :meth:`ClientUseCases.partners`
    acceptances: tuple[Acceptance, ...]  #: the client's
    #: the services of each account asked for (``[]`` for one without services)
    services: Mapping[tuple[str, str], list[ServiceBalance]]
    #: every partner's services at the addresses of the chosen account's services
    nearby: tuple[ServiceBalance, ...]
    #: the chosen account's house address as text (:meth:`ClientUseCases.house_address`)
    address: str | None = None

    def ticked_alone(self, partner_inn: str, account: str, service: str) -> bool:
        """Whether ``service`` is accepted by a tick of its own and not by one of the whole
        account (as linking gives): such a tick is withdrawn by unticking it."""
        ticks = {
            a.service
            for a in self.acceptances
            if (a.partner_inn, a.account) == (partner_inn, account)
        }
        return bool(service) and service in ticks and "" not in ticks

    def accepts(self, partner_inn: str, account: str, service: str = "") -> bool:
        """Whether the client accepted the account (``service`` on it, when one is named),
        as :meth:`ClientUseCases.accepted` tells."""
        return any(
            a.partner_inn == partner_inn
            and a.account == account
            and (not service or a.service in ("", service))
            for a in self.acceptances
        )


@attrs.frozen
class AutopayTerms:
    """What a client asks for when paying with "Подключить автоплатёж" ticked: autopay of
    account ``account`` of partner ``partner_inn`` (blank: the basket's one account), by
    ``rule`` (``day`` 1..28 with ``day_of_month``), at most ``limit`` a month."""

    rule: ConsentRule
    limit: Decimal
    day: int | None = None
    partner_inn: str = ""
    account: str = ""


@attrs.frozen
class AutopayCancelled:
    """A cancellation's outcome (:meth:`ClientUseCases.cancel_autopay`)."""

    consent: Consent  #: the version in force after it (cancelled)
    stopped: tuple[Charge, ...]  #: charges noticed but not started: none will be made
    #: charges already with the acquirer when it came: each ends as the acquirer says
    in_progress: tuple[Charge, ...]


@attrs.frozen
class BillEntry:
    """One monthly bill (квитанция) of an account in the client's archive
    (:meth:`ClientUseCases.bills_of`)."""

    partner_inn: str
    account: str
    period: Period
    #: its PDF is there to download; False: the job engine has not made it yet (формируется)
    ready: bool


@attrs.frozen
class QrBill:
    """What a bill's payment QR code pays (:meth:`ClientUseCases.resolve_qr`): a served
    partner's account and its services, with the amount of each to offer."""

    partner: Partner
    account: str
    services: tuple[ServiceBalance, ...]  #: the account's, as the payment page lists them
    #: the code's ``Sum`` (roubles), None when it has none
    amount: Decimal | None
    #: what to offer on each of ``services`` (:func:`split_sum` of ``amount``, or the dues)
    amounts: tuple[Decimal, ...]

    @property
    def total(self) -> Decimal:
        return sum(self.amounts, ZERO)


def split_sum(total: Decimal | None, dues: Sequence[Decimal]) -> tuple[Decimal, ...]:
    """Spread a bill's ``total`` over services with ``dues``: each service's due in turn
    while the total lasts; what is left over (an overpayment, аванс) on the first service.
    Without a total, the dues. The parts sum to ``total`` exactly (both in kopecks)."""
    if total is None:
        return tuple(dues)
    if not dues:
        return ()
    parts: list[Decimal] = []
    left = to_amount(total)
    for due in dues:
        part = min(left, due) if due > 0 else ZERO
        parts.append(part)
        left -= part
    parts[0] += left
    return tuple(parts)


def order_id_of(owner: str, key: str) -> uuid.UUID:
    """The order id of the payment ``owner`` makes under idempotency ``key``."""
    return uuid.uuid5(_ORDER_NAMESPACE, f"{owner}:{key}")


def money(value: Decimal, field: str) -> Decimal:
    """A positive amount with at most two decimals written (``"1.000"`` is refused too);
    :class:`Refused` (``invalid``) naming ``field`` otherwise."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -2:
        raise Refused("invalid", f"an amount has at most two decimals, not {value}", field)
    try:
        amount = to_amount(value)
    except (ValueError, TypeError) as exc:
        raise Refused("invalid", str(exc), field) from None
    if amount <= 0:
        raise Refused("invalid", "an amount must be positive", field)
    return amount


def check_reading(reading: MeterReading, today: dt.date | None = None) -> None:
    """Refuse (:class:`Refused`) a reading no meter gives: one with a photo filled in (the
    runner fills it from the photo's bytes), a value with more digits than
    :data:`MAX_VALUE_DIGITS`, a day after tomorrow (a day of slack: the client's date is in
    its own time zone) or more than :data:`MAX_READING_AGE_DAYS` ago. ``today`` is UTC's."""
    if reading.photo is not None:
        raise Refused(
            "invalid",
            "send the photo's bytes in photo; the runner fills reading.photo",
            "reading.photo",
        )
    for i, value in enumerate(reading.values):
        _check_value(value, f"reading.values[{i}]")
    today = today or dt.datetime.now(dt.UTC).date()
    if reading.taken_on > today + dt.timedelta(days=1):
        raise Refused("invalid", "a reading is not taken in the future", "reading.taken_on")
    if reading.taken_on < today - dt.timedelta(days=MAX_READING_AGE_DAYS):
        raise Refused(
            "invalid",
            f"a reading is taken within the last {MAX_READING_AGE_DAYS} days",
            "reading.taken_on",
        )


def _check_value(value: Decimal, field: str) -> None:
    before, after = MAX_VALUE_DIGITS
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # the model refused NaN and infinities
    places = max(-exponent, 0)
    whole = max(len(digits) + exponent, 0)
    if places > after or whole > before:
        raise Refused(
            "invalid",
            f"a meter value has at most {before} digits before the point and {after} after",
            field,
        )


def photo_type(data: bytes) -> str:
    """The media type of a meter photo (JPEG or PNG, by its magic bytes); :class:`Refused`
    for anything else or more than :data:`MAX_PHOTO_BYTES` (code ``too-large``)."""
    if len(data) > MAX_PHOTO_BYTES:
        raise Refused("too-large", f"a photo is at most {MAX_PHOTO_BYTES} bytes", "photo")
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    raise Refused("invalid", "a photo is a JPEG or PNG image", "photo")


class ClientUseCases:
    """The client's use cases over one store, configuration, plugin host and processor.

    ``processor`` keeps its book in ``store`` (:func:`pes_sdk_runner.api.processor_for`).
    Events go to ``log`` (the front end's logger: the API's is ``pes_sdk_runner.api``),
    with accounts masked and no client key; payments made and credited are counted in
    ``counters`` when one is given. Thread-safe: the store and processor are.
    """

    def __init__(
        self,
        store: Store,
        config: RunnerConfig,
        host: PluginHost,
        processor: PaymentProcessor,
        *,
        log: logging.Logger | None = None,
        counters: Counters | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.host = host
        self.processor = processor
        self.log = log or logging.getLogger("pes_sdk_runner.usecases")
        self.counters = counters
        # Creates with the same key are serialised (striped locks: different keys run freely).
        self._locks = [threading.Lock() for _ in range(64)]

    def order_lock(self, order_id: uuid.UUID) -> threading.Lock:
        """The lock this process's threads take to create or change the order (refunds take
        it too, so a payment and its refund in one process take turns)."""
        return self._locks[order_id.int % len(self._locks)]

    def _event(self, name: str, **fields: object) -> None:
        event(self.log, name, **fields)

    def _inc(self, name: str) -> None:
        if self.counters is not None:
            self.counters.inc(name)

    # -- services and acceptances -------------------------------------------------------------

    def services_at(self, house_id: str, premises: str) -> list[ServiceBalance]:
        """Every partner's services at the premises of the house (its ФИАС/ГАР GUID, in any
        case; ``premises`` as the registries write it, ``""`` for the house itself), with
        what is left to pay on each."""
        return self.store.find_services(house_id.lower(), premises)

    def services_on(self, partner_inn: str, account: str) -> list[ServiceBalance]:
        """The services on a partner's account, with what is left to pay on each."""
        found = self.store.find_by_account(partner_inn, account)
        self._event("services.by_account", partner=partner_inn, account=mask_account(account))
        return found

    def accept(self, client: str, partner_inn: str, account: str, service: str = "") -> Acceptance:
        """Record the client's tick (галочка-акцепт) on ``service`` of the account (every
        service on it when ``service`` is ``""``) and return it, with the address the
        registry gave; accepting again changes nothing. :class:`NotFound` when the
        partner's registries have no such service on the account."""
        found = [
            s
            for s in self.store.find_by_account(partner_inn, account)
            if not service or s.service == service
        ]
        if not found:
            raise NotFound("no such service on the partner's account", "account")
        first = found[0]
        acceptance = self.store.record_acceptance(
            Acceptance(
                client,
                partner_inn,
                account,
                service,
                house_id=first.house_id,
                premises=first.premises,
            )
        )
        self._event("acceptance", partner=partner_inn, account=mask_account(account))
        return acceptance

    def withdraw(self, client: str, partner_inn: str, account: str, service: str) -> bool:
        """Withdraw the client's tick of ``service`` on the account, given on its own (the
        cabinet: unticking a service it ticked at its address): it counts no more for the
        future, and the store keeps it as history. A tick of the whole account (made by
        linking it) is not withdrawn this way. False when there was no such tick."""
        withdrawn = self.store.withdraw_acceptance(client, partner_inn, account, service)
        if withdrawn:
            self._event("acceptance.withdrawn", partner=partner_inn, account=mask_account(account))
        return withdrawn

    def accepted(
        self, client: str, partner_inn: str, account: str, service: str = ""
    ) -> Acceptance | None:
        """The client's acceptance of the account (of ``service`` on it, when one is named)."""
        return next(
            (
                a
                for a in self.store.acceptances(client)
                if a.partner_inn == partner_inn
                and a.account == account
                and (not service or a.service in ("", service))
            ),
            None,
        )

    def basket_view(
        self, client: str, accounts: Iterable[tuple[str, str]], chosen: tuple[str, str]
    ) -> BasketView:
        """The client's acceptances, the partners, the services of ``accounts`` and of
        ``chosen`` (partner ИНН, account), and the services found at the addresses of
        ``chosen``, the services found at the addresses of ``chosen``, and the address of
        its house: what a payment page shows, in five store reads whatever its size, taken
        as one turn at the store (:meth:`Store.reads_together`)."""
        with self.store.reads_together():
            services = self.store.find_by_accounts([*accounts, chosen])
            places = [(s.house_id, s.premises) for s in services[chosen] if s.house_id is not None]
            nearby = self.store.find_services_at(places) if places else []
            address = self.house_address(places[0][0]) if places else None
            acceptances = tuple(self.store.acceptances(client))
            partners = self.partners()
        partner_inn, account = chosen
        self._event("services.by_account", partner=partner_inn, account=mask_account(account))
        return BasketView(partners, acceptances, services, tuple(nearby), address)

    def charges(self, partner_inn: str, account: str) -> list[ServiceBalance]:
        """What each registry period charged on the account (every active debt registry of
        the partner, newest period first): the client's charges history."""
        found = self.store.account_charges(partner_inn, account)
        self._event("charges.by_account", partner=partner_inn, account=mask_account(account))
        return found

    def house_address(self, house_id: str) -> str | None:
        """The house's address as text, when the operator loaded the house directory."""
        return self.store.house_address(house_id.lower())

    def partners(self) -> dict[str, Partner]:
        """The partners served, by ИНН: the configuration's, and the store's from before."""
        # The configuration is the source of truth; the store has what was configured before.
        found = {p.inn: p for p in self.store.partners()}
        found.update({p.inn: p.partner for p in self.config.partners})
        return found

    # -- baskets and payments -----------------------------------------------------------------

    def price(
        self, client: str, lines: Sequence[BasketLine], view: BasketView | None = None
    ) -> tuple[PaymentLine, ...]:
        """The basket's payment lines, each priced by its partner's fee plan (the fee the
        client pays on top, or the partner's, to the kopeck), with the address, period and
        service code of the service it pays.

        Refused: an empty basket, an amount not positive or with more than two decimals, a
        line above ``http.max_line_amount`` or a basket above ``http.max_basket_amount``
        (:class:`AmountTooLarge`), a service the client has not accepted
        (:class:`NotAccepted`), a partner not served or a service not on the account. The
        amounts are checked before the services; the first fault found is the one told.

        ``view`` (of the same client, just read) spares the store reads it holds: the
        acceptances, the partners, and its accounts' services."""
        if not lines:
            raise Refused("invalid", "a basket has at least one line", "lines")
        accepted = view.acceptances if view is not None else self.store.acceptances(client)
        plans = self.host.fee_plans()
        partners = view.partners if view is not None else self.partners()
        values: list[Decimal] = []
        line_limit = self.config.http.max_line_amount
        for i, line in enumerate(lines):
            value = money(line.amount, f"lines[{i}].amount")
            if value > line_limit:
                raise AmountTooLarge(
                    f"a line is at most {line_limit} (http.max_line_amount)", f"lines[{i}].amount"
                )
            values.append(value)
        basket_limit = self.config.http.max_basket_amount
        if sum(values) > basket_limit:
            raise AmountTooLarge(
                f"a basket is at most {basket_limit} (http.max_basket_amount)", "lines"
            )
        # Each account's services once (every account the view lacks in one read, when
        # the first line needs it), not once per line.
        on_account = dict(view.services) if view is not None else {}
        priced: list[PaymentLine] = []
        for i, (line, value) in enumerate(zip(lines, values, strict=True)):
            where = f"lines[{i}]"
            if not any(
                a.partner_inn == line.partner_inn
                and a.account == line.account
                and a.service in ("", line.service)
                for a in accepted
            ):
                raise NotAccepted("the client has not accepted this service", where)
            partner = partners.get(line.partner_inn)
            if partner is None:
                raise Refused(
                    "invalid", "the runner serves no such partner", f"{where}.partner_inn"
                )
            if (line.partner_inn, line.account) not in on_account:
                missing = {(ln.partner_inn, ln.account) for ln in lines} - on_account.keys()
                on_account.update(self.store.find_by_accounts(sorted(missing)))
            service = next(
                (
                    s
                    for s in on_account[(line.partner_inn, line.account)]
                    if s.service == line.service
                ),
                None,
            )
            if service is None:
                raise Refused("invalid", "no such service on the account", f"{where}.service")
            try:
                paid = PaymentLine(
                    line.partner_inn,
                    line.account,
                    value,
                    service=line.service,
                    house_id=service.house_id,
                    premises=service.premises,
                    period=service.period,
                    # the code as the debt registry gave it: the payment registry returns it
                    service_code=service.service_code,
                )
                priced.append(price_line(paid, partner.fee, plans))
            except (ValueError, TypeError, KeyError) as exc:
                raise Refused("invalid", str(exc), where) from None
        return tuple(priced)

    def pay(
        self,
        client: str,
        lines: Sequence[BasketLine],
        *,
        owner: str,
        key: str,
        return_url: str,
        method: PaymentMethod = PaymentMethod.CARD,
        description: str = "",
        receipt_email: str | None = None,
        autopay: AutopayTerms | None = None,
    ) -> PaymentEntry:
        """Book the basket (priced by :meth:`price`) as the payment of ``owner`` under
        idempotency ``key`` and start it at the acquirer; its entry tells where to send
        the client (``confirmation``).

        Idempotent: the same owner, key and basket give the same payment (its order id is
        :func:`order_id_of`), here or in another process on the store, and it is booked
        before the acquirer is called. :class:`Conflict` for another basket or method under
        a used key; :class:`AcquirerUnavailable` when the acquirer did not answer (retry
        with the key); :class:`AcquirerFailed` when it answered with an error or refused
        the payment at creation (then the payment is failed, each time it is asked).

        ``receipt_email`` is where the acquirer sends the client's electronic receipt
        (tag 1008); :class:`Refused` (``invalid``, field ``receipt_email``) when it is not an
        e-mail address. Blank is none. With ``[receipts] enabled`` the payment starts with
        its 54-ФЗ receipt (:meth:`receipt_for`); without an address the receipt names no
        contact of the client's and the gateway decides (its own mailbox, or no receipt: see
        ``docs/gateways.md``). The address is never logged: it goes to the acquirer with
        the request that creates the payment there; when the runner registers receipts
        itself (:meth:`keep_receipt_contact`), it is kept until the receipt's e-mail.

        ``autopay``: the client agrees to autopay (автоплатёж) by paying. Its request is
        kept for the order before the acquirer is called, and the payment asks the
        acquirer to save the card (:func:`~pes_sdk_runner.autopay.customer_key_of`); the
        consent comes into force when the payment is recorded paid with the saved method.
        Refused (field ``autopay…``) when the gateway cannot save methods, autopay is off,
        the terms are bad or name an account the basket does not pay."""
        order_id = order_id_of(owner, key)
        receipt_email = self.check_receipt_email(receipt_email)
        priced = self.price(client, lines)
        if autopay is not None:
            autopay = self.check_autopay(autopay, priced)
        # The lock only spares this process's threads a race; across processes on one
        # store the book decides: the first to book the order id wins, and every other
        # request with the key (here or in another process) reads its entry and answers
        # with it.
        with self.order_lock(order_id):
            # The owner first: a payment is never in the book without the owner that made it
            # (its order id derives from the owner, so it is known before the payment exists).
            self.store.record_payment_app(order_id, owner)
            if client != owner:
                # An app pays for its clients: who this one is, for "Платёж зачислен"
                # (pes_sdk_runner.triggers); a cabinet is its own client.
                from pes_sdk_runner.store.sql import SqlStore
                from pes_sdk_runner.store.triggers import record_payment_client

                if isinstance(self.store, SqlStore):
                    record_payment_client(self.store, order_id, client)
            mine = Payment(order_id, dt.datetime.now(dt.UTC), method, priced)
            payment = self.processor.book(mine).payment
            created = payment is mine  # booked by this request: it counts the payment
            if payment.lines != priced or payment.method != method:
                raise Conflict(
                    "this Idempotency-Key was used for another basket", "Idempotency-Key"
                )
            receipt = self.receipt_for(payment, receipt_email)
            if receipt_email:
                self.keep_receipt_contact(order_id, receipt_email)
            customer_key = None
            if autopay is not None:
                customer_key = self._request_autopay(client, order_id, autopay)
            try:
                entry = self.processor.start(
                    payment,
                    return_url=return_url,
                    description=description,
                    receipt=receipt,
                    customer_key=customer_key,
                )
            except (gateway_errors.GatewayTimeout, gateway_errors.GatewayUnavailable) as exc:
                raise AcquirerUnavailable(f"{exc.message}; retry with the same key") from None
            except gateway_errors.GatewayError as exc:
                raise AcquirerFailed(exc.message) from None
            if entry.state is PaymentState.FAILED and entry.gateway_payment_id is None:
                # Refused at creation (by this request or an earlier one with the key): the
                # same answer each time; the payment stays failed.
                raise AcquirerFailed(
                    "the acquirer refused this payment; it is failed (pay with a new key)"
                )
        if created:
            self._inc("pes_payments_created_total")
            self._event(
                "payment.created",
                order_id=order_id,
                total=payment.total,
                lines=len(priced),
                accounts=[mask_account(ln.account) for ln in priced],
            )
        return entry

    # -- autopay (автоплатёж) ---------------------------------------------------------------------

    @property
    def autopay_available(self) -> bool:
        """Whether a client may connect autopay here: it is on (``[autopay] enabled``), the
        store keeps consents, and the gateway saves methods (``capabilities.recurring``)."""
        from pes_sdk_runner.store.sql import SqlStore

        return (
            self.config.autopay.enabled
            and isinstance(self.store, SqlStore)
            and bool(self.processor.gateway.capabilities.recurring)
        )

    def _autopay_store(self) -> SqlStore:
        from pes_sdk_runner.store.sql import SqlStore

        if not isinstance(self.store, SqlStore):
            raise Refused("autopay-unavailable", "this store keeps no autopay", "autopay")
        return self.store

    def check_autopay(
        self, terms: AutopayTerms, lines: Sequence[PaymentLine | BasketLine]
    ) -> AutopayTerms:
        """The terms as :meth:`pay` takes them, the account filled in from the basket when
        it has one; :class:`Refused` naming the field at fault (``autopay.limit``, …)."""
        if not self.autopay_available:
            raise Refused(
                "autopay-unavailable",
                "autopay is off here, or the payment gateway cannot save a card for it",
                "autopay",
            )
        limit = money(terms.limit, "autopay.limit")
        if limit > self.config.http.max_basket_amount:
            # a charge is one payment: a limit above the largest one would promise nothing
            raise AmountTooLarge(
                f"a monthly limit is at most {self.config.http.max_basket_amount}"
                " (http.max_basket_amount)",
                "autopay.limit",
            )
        rule = terms.rule
        if rule is ConsentRule.DAY_OF_MONTH:
            if terms.day is None or not 1 <= terms.day <= 28:
                raise Refused("invalid", "a day of the month is 1 to 28", "autopay.day")
        elif terms.day is not None:
            raise Refused("invalid", "a day is named with rule day_of_month only", "autopay.day")
        accounts = sorted({(ln.partner_inn, ln.account) for ln in lines})
        inn, account = terms.partner_inn, terms.account
        if not inn and not account:
            if len(accounts) != 1:
                raise Refused(
                    "invalid",
                    "the basket pays several accounts: name the autopay's partner_inn and account",
                    "autopay.account",
                )
            inn, account = accounts[0]
        elif (inn, account) not in accounts:
            raise Refused(
                "invalid", "autopay is connected to an account the payment pays", "autopay.account"
            )
        return attrs.evolve(terms, limit=limit, partner_inn=inn, account=account)

    def consent_text(
        self, partner_inn: str, account: str, rule: ConsentRule, day: int | None, limit: Decimal
    ) -> str:
        """The consent text the client reads and agrees to by paying with these terms,
        word for word as the consent keeps it."""
        from pes_sdk_runner.autopay import render_consent_text

        partner = self.partners().get(partner_inn)
        return render_consent_text(
            self.config,
            partner_name=partner.name if partner else partner_inn,
            account=account,
            rule=rule,
            day=day,
            limit=limit,
        )

    def _request_autopay(self, client: str, order_id: uuid.UUID, terms: AutopayTerms) -> str:
        """Keep the client's autopay request for ``order_id``; the customer key to start
        the payment with (the acquirer then saves the card)."""
        from pes_sdk_runner.autopay import customer_key_of, request_consent

        store = self._autopay_store()
        try:
            request_consent(
                store,
                self.config,
                order_id=order_id,
                client_id=client,
                partner_inn=terms.partner_inn,
                account=terms.account,
                rule=terms.rule,
                day=terms.day,
                limit=terms.limit,
                now=dt.datetime.now(dt.UTC),
            )
        except (KeyError, ValueError) as exc:
            raise Refused("invalid", str(exc), "autopay") from None
        self._event("autopay.requested", order_id=order_id, rule=str(terms.rule))
        return customer_key_of(client)

    def autopay_of(self, client: str) -> list[Consent]:
        """The client's autopay consents as they stand (cancelled ones too), by the time of
        their latest version."""
        from pes_sdk_runner.store.sql import SqlStore

        if not isinstance(self.store, SqlStore):
            return []
        return self.store.consents_of(client)

    def autopay_history(self, client: str, consent_id: uuid.UUID) -> list[Consent]:
        """Every version of one of the client's consents, oldest first (the text as agreed
        each time); :class:`NotFound` for another client's."""
        store = self._autopay_store()
        versions = store.consent_history(consent_id)
        if not versions or versions[-1].client_id != client:
            raise NotFound("no such autopay", "consent_id")
        return versions

    def autopay_charges(self, client: str, limit: int = 100) -> list[Charge]:
        """The client's autopay charges, the latest first."""
        from pes_sdk_runner.store.sql import SqlStore

        if not isinstance(self.store, SqlStore):
            return []
        return self.store.charges_of(client, limit)

    def cancel_autopay(self, client: str, consent_id: uuid.UUID) -> AutopayCancelled:
        """Cancel one of the client's consents at once (a repeat: the same, nothing more
        stopped). A charge noticed but not started is stopped with it; one already with the
        acquirer is told as ``in_progress``. :class:`NotFound` for another client's."""
        store = self._autopay_store()
        found = store.consent(consent_id)
        if found is None or found.client_id != client:
            raise NotFound("no such autopay", "consent_id")
        consent, stopped = store.cancel_consent(consent_id)
        from pes_sdk_runner.autopay import forget_if_unused

        # the card unbound at the acquirer where it can be and nothing else uses it: a
        # withdrawn consent must stop every use of the card, not only ours (docs/autopay.md)
        forget_if_unused(store, self.processor.gateway, consent)
        going = tuple(
            c
            for c in store.charges_of(client)
            if c.consent_id == consent_id and c.state is ChargeState.CHARGING
        )
        self._event("autopay.cancelled", stopped=len(stopped), in_progress=len(going))
        return AutopayCancelled(consent, tuple(stopped), going)

    def receipt_for(self, payment: Payment, email: str | None = None) -> Receipt | None:
        """The 54-ФЗ receipt of ``payment`` (None unless ``[receipts] enabled``): an agent
        position per line naming its partner as the supplier, the client's fees at
        ``receipts.fee_vat``, ``email`` as the buyer's contact."""
        if not self.config.receipts.enabled:
            return None
        try:
            return self.build_receipt(payment, email)
        except (ConfigError, ValueError) as exc:  # a partner the receipt cannot name
            raise AcquirerFailed(str(exc)) from None

    def build_receipt(self, payment: Payment, email: str | None = None) -> Receipt:
        """The receipt of ``payment`` as :meth:`receipt_for` builds it, whether or not
        receipts are sent (``ConfigError`` / ``ValueError`` for a partner it cannot name)."""
        receipts = self.config.receipts
        configured = {p.inn: p.supplier for p in self.config.partners}
        # A partner served before but no longer configured keeps its name and ИНН.
        suppliers = {
            inn: configured.get(inn) or Supplier(inn, partner.name)
            for inn, partner in self.partners().items()
        }
        return Receipt.for_payment(
            payment, suppliers, fee_vat=receipts.fee_vat, customer_email=email
        )

    def keep_receipt_contact(self, order_id: uuid.UUID, email: str) -> None:
        """Keep the client's receipt address for the payment when this runner registers
        receipts on its own cloud register (``[receipts] register``, a gateway that does
        not fiscalise): it is needed after the payment is paid, and only until the
        receipt's e-mail (:func:`pes_sdk_runner.receipts.keep_contact`, docs/receipts.md)."""
        from pes_sdk_runner.receipts import keep_contact, registers_receipts
        from pes_sdk_runner.store.sql import SqlStore

        capabilities = self.processor.gateway.capabilities
        if isinstance(self.store, SqlStore) and registers_receipts(self.config, capabilities):
            keep_contact(self.store, order_id, email)

    @staticmethod
    def check_receipt_email(value: str | None) -> str | None:
        """The client's address for the receipt as :meth:`pay` takes it: stripped, ``None``
        when blank; :class:`Refused` naming ``receipt_email`` when not an address."""
        value = (value or "").strip()
        if not value:
            return None
        try:
            return check_customer_email(value)
        except ValueError as exc:
            raise Refused("invalid", str(exc), "receipt_email") from None

    def payment(self, order_id: uuid.UUID, owner: str, *, refresh: bool = False) -> PaymentEntry:
        """The payment ``owner`` made, as the book has it; with ``refresh``, as the acquirer
        has it now (a credit found is booked and counted). :class:`NotFound` for another
        owner's payment too; :class:`AcquirerUnavailable` / :class:`AcquirerFailed` when the
        refresh fails (a payment the acquirer has not seen yet is returned as booked)."""
        entry = self.store.get(order_id)
        if entry is None or self.store.payment_app(order_id) != owner:
            raise NotFound("no such payment", "order_id")
        if refresh:
            try:
                applied = self.processor.refresh(order_id)
            except gateway_errors.UnknownPayment:
                return entry  # the acquirer has not seen it yet
            except (gateway_errors.GatewayTimeout, gateway_errors.GatewayUnavailable) as exc:
                raise AcquirerUnavailable(exc.message) from None
            except gateway_errors.GatewayError as exc:
                raise AcquirerFailed(exc.message) from None
            self.count_credits([applied])
            entry = applied.entry
        return entry

    def owner_of(self, order_id: uuid.UUID) -> str | None:
        """The owner :meth:`pay` recorded for the payment, or None. For a front end that
        proves the right to a payment by other means than the owner's identity (the
        cabinet's return address after the acquirer); it then reads it as that owner."""
        return self.store.payment_app(order_id)

    def payments_of(self, owner: str, limit: int = 200) -> list[PaymentEntry]:
        """The newest ``limit`` payments ``owner`` made, newest first (no one else's)."""
        return self.store.payments_of_app(owner, limit)

    def receipts_of(self, owner: str, limit: int = 200) -> list[tuple[PaymentEntry, Receipt]]:
        """The receipt of each paid payment ``owner`` made, newest first.

        The runner keeps no receipt data of its own yet: each is built again as the kit
        builds it for the acquirer (:meth:`build_receipt`, from today's configuration),
        without the client's e-mail, which is never stored. A payment whose receipt cannot
        be built (a partner no longer named) is left out."""
        out = []
        for entry in self.payments_of(owner, limit):
            if not entry.state.is_paid:
                continue
            try:
                out.append((entry, self.build_receipt(entry.payment)))
            except (ConfigError, ValueError):
                continue
        return out

    def fiscal_receipts_of(self, owner: str, limit: int = 200) -> dict[uuid.UUID, FiscalReceipt]:
        """The sale receipts (чек прихода) this runner registered on its cloud register for
        ``owner``'s payments, by order id (docs/receipts.md); none when the store is not SQL
        (the register's table is in the SQL store) or the runner registers none."""
        from pes_sdk_runner.store.receipts import ReceiptOperation
        from pes_sdk_runner.store.sql import SqlStore

        if not isinstance(self.store, SqlStore):
            return {}
        found: dict[uuid.UUID, FiscalReceipt] = {}
        for r in self.store.fiscal_receipts_of(owner, limit):
            if r.operation is ReceiptOperation.SELL:
                found.setdefault(r.order_id, r)
        return found

    # -- monthly bills (квитанции, docs/bills.md) ----------------------------------------------

    def bill_accounts(self, client: str) -> list[tuple[str, str]]:
        """The accounts (partner ИНН, account) whose bills ``client`` may read when a front
        end has no list of its own: those it accepted (ticked), in the order it did."""
        seen: dict[tuple[str, str], None] = {}
        for a in self.store.acceptances(client):
            seen.setdefault((a.partner_inn, a.account), None)
        return list(seen)

    def bills_of(self, accounts: Iterable[tuple[str, str]]) -> list[BillEntry]:
        """The bills of ``accounts`` (partner ИНН, account), each account's newest period
        first: the period of its partner's newest active registry with the account, made
        or not yet made (``ready`` False), and the earlier periods whose file is there (an
        earlier period's bill that was never made, as before bills existed, is left out).
        The caller names only accounts its client may see: nothing here checks whose they
        are. None on a store that is not SQL (bills are made from the SQL store's rows)."""
        from pes_sdk_runner.bills import bill_path
        from pes_sdk_runner.store.sql import SqlStore

        if not isinstance(self.store, SqlStore):
            return []
        data = self.config.service.data
        out: list[BillEntry] = []
        with self.store.reads_together():
            for partner_inn, account in dict.fromkeys(accounts):
                periods = self.store.account_bill_periods(partner_inn, account)
                for i, period in enumerate(periods):
                    ready = bill_path(data, partner_inn, period, account).is_file()
                    if ready or i == 0:
                        out.append(BillEntry(partner_inn, account, period, ready))
        return out

    def bill_file(
        self,
        accounts: Iterable[tuple[str, str]],
        partner_inn: str,
        account: str,
        period: str,
    ) -> tuple[BillEntry, Path]:
        """The file of the account's bill of ``period`` (``YYYY-MM``), for a client that may
        see ``accounts``; :class:`NotFound` for an account not among them, a period not
        written as ``YYYY-MM`` or without a bill of the account, and a bill not made yet.

        The path is built by :func:`pes_sdk_runner.bills.bill_path` from the account as
        listed and the period parsed, never from the request's text: whatever the request
        says, no path outside the bills' folder is named."""
        if (partner_inn, account) not in set(accounts):
            raise NotFound("no such account among the client's", "account")
        try:
            wanted = Period.parse(period)
        except ValueError:
            raise NotFound("no bill of this period", "period") from None
        if str(wanted) != period:
            raise NotFound("no bill of this period", "period")
        found = next(
            (b for b in self.bills_of([(partner_inn, account)]) if b.period == wanted), None
        )
        if found is None or not found.ready:
            raise NotFound("no bill of this period", "period")
        from pes_sdk_runner.bills import bill_path

        path = bill_path(self.config.service.data, partner_inn, wanted, account)
        self._event("bill.read", partner=partner_inn, account=mask_account(account))
        return found, path

    # -- paying from a paper bill's QR code (ГОСТ Р 56042-2014) -----------------------------

    def resolve_qr(self, data: str | bytes) -> QrBill:
        """The bill a payment string pays (the text of a bill's QR code, or its bytes):
        read tolerantly, as real bills print it (the deviations forgiven are not told);
        the partner by ``PayeeINN`` among the configured ones (and its ``KPP`` when both
        have one), the account by ``PersAcc`` in its registries; the amount from ``Sum``,
        else what is due. :class:`QrUnreadable`, :class:`PayeeNotServed`,
        :class:`QrAccountNotFound`."""
        if len(data) > MAX_QR_TEXT:
            raise QrUnreadable(f"a payment string is at most {MAX_QR_TEXT} characters", "form")
        from pes_sdk.qr import decode

        try:
            decoded = decode(data, tolerant=True)
        except QrFormatError as exc:
            raise QrUnreadable(str(exc), exc.rule.value, exc.field or None) from None
        return self.bill_of(decoded.details)

    def read_qr_image(self, data: bytes) -> QrBill:
        """:meth:`resolve_qr` of the one QR code in a photo (JPEG, PNG, …): zxing-cpp reads
        it (the ``qr-image`` extra). Slow for a big photo: a web front end calls it in its
        thread pool."""
        import io

        from pes_sdk.qr import read_image_bytes

        try:
            from PIL import Image  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise QrUnreadable("reading images needs pes-sdk[qr-image]", "unavailable") from None
        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
        except Image.DecompressionBombError:
            raise QrUnreadable("the image is too large", "too-large") from None
        except (OSError, ValueError):
            raise QrUnreadable("not an image that can be read", "not-image") from None
        if width * height > MAX_QR_PIXELS:
            raise QrUnreadable("the image is too large", "too-large")
        try:
            found = read_image_bytes(io.BytesIO(data))
        except ConfigError:
            raise QrUnreadable("reading images needs pes-sdk[qr-image]", "unavailable") from None
        except QrFormatError:
            raise QrUnreadable("not an image that can be read", "not-image") from None
        if not found:
            raise QrUnreadable("no QR code in the image", "no-code")
        if len(found) > 1:
            raise QrUnreadable(
                f"{len(found)} QR codes in the image, one is needed", "several-codes"
            )
        return self.resolve_qr(found[0])

    def bill_of(self, details: PaymentDetails) -> QrBill:
        """The served partner's account a payment string's details pay (:meth:`resolve_qr`)."""
        if not details.payee_inn:
            raise QrUnreadable("the payment string has no PayeeINN", "required", "PayeeINN")
        if not details.pers_acc:
            raise QrUnreadable("the payment string has no PersAcc", "required", "PersAcc")
        partner = next(
            (p.partner for p in self.config.partners if p.partner.inn == details.payee_inn), None
        )
        if partner is None or (details.kpp and partner.kpp and details.kpp != partner.kpp):
            raise PayeeNotServed("the service does not serve this payee")
        account = details.pers_acc
        services = tuple(self.store.find_by_account(partner.inn, account))
        self._event("qr.resolved", partner=partner.inn, account=mask_account(account))
        if not services:
            raise QrAccountNotFound("no such account in the partner's registries")
        amounts = split_sum(details.sum, [s.due for s in services])
        return QrBill(partner, account, services, details.sum, amounts)

    def count_credits(self, applied: Iterable[Applied]) -> None:
        """Count and log each payment a confirmation credited (a webhook's or a refresh's)."""
        for a in applied:
            if a.move.credited:
                self._inc("pes_payments_confirmed_total")
                self._event(
                    "payment.credited", order_id=a.entry.order_id, total=a.entry.payment.total
                )

    # -- meter readings (показания приборов учёта) ----------------------------------------------

    def record_reading(
        self,
        client: str,
        partner_inn: str,
        reading: MeterReading,
        *,
        photo: bytes | None = None,
        decrease: DecreaseReason | None = None,
    ) -> StoredReading:
        """Record the client's meter reading on an account they accepted, with its photo's
        bytes (JPEG or PNG; ``reading.photo`` is filled with their hash) and the house the
        acceptance gave when the reading names none. ``StoredReading.new`` is false for a
        repeat of a reading already recorded.

        Refused: what :func:`check_reading` and :func:`photo_type` refuse, a partner not
        served, an account not accepted (:class:`NotAccepted`), and a value below the
        meter's previous one without ``decrease`` saying why (or above a later one): the
        store's codes (``value-decreased``, ``value-above-later``, ``tariffs-changed``)."""
        check_reading(reading)
        media_type = photo_type(photo) if photo is not None else ""
        if partner_inn not in self.partners():
            raise Refused("invalid", "the runner serves no such partner", "partner_inn")
        acceptance = self.accepted(client, partner_inn, reading.account, reading.service)
        if acceptance is None:
            raise NotAccepted("the client has not accepted this account", "reading.account")
        if reading.house_id is None and acceptance.house_id is not None:
            reading = attrs.evolve(reading, house_id=acceptance.house_id)
        if photo is not None:
            reading = attrs.evolve(
                reading, photo=Photo(hashlib.sha256(photo).hexdigest(), media_type)
            )
        try:
            stored = self.store.record_reading(
                client, partner_inn, reading, photo=photo, decrease=decrease
            )
        except ReadingRefused as exc:
            raise Refused(exc.code, str(exc), exc.field) from None
        # No photo, value, name or address in the log: the masked account and what happened.
        self._event(
            "reading.recorded",
            partner=partner_inn,
            account=mask_account(reading.account),
            meter_type=int(reading.meter_type),
            new=stored.new,
            decrease=decrease,
            photo=photo is not None,
        )
        return stored

    def readings(self, client: str, partner_inn: str, account: str) -> list[StoredReading]:
        """Every reading of the account's meters (every client's), newest date first,
        corrections marked ``superseded``; :class:`NotAccepted` unless the client accepted
        the account."""
        if self.accepted(client, partner_inn, account) is None:
            raise NotAccepted("the client has not accepted this account", "account")
        self._event("readings.listed", partner=partner_inn, account=mask_account(account))
        return self.store.readings(partner_inn, account)
