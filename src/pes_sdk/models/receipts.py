"""Electronic receipts (кассовый чек, 54-ФЗ) for a basket payment made as a payment agent.

One position per paid service: the agent sign "payment agent" (платёжный агент, tag 1222),
the supplier's name, ИНН and phone (tag 1224 with 1225, 1226, 1171) and the **supplier's**
VAT rate (tag 1199). A fee the client pays is the service's own position, with the
service's VAT rate and no agent sign.

Gateways pass a :class:`Receipt` to the acquirer's receipt fields where it has them
(YooKassa ``receipt.items[].agent_type`` / ``supplier``, T-Bank ``Receipt.Items[].AgentData`` /
``SupplierInfo``). The numeric codes of VAT rates differ between acquirers' APIs and were
extended for 22% from 2026, so rates are named here (:class:`ReceiptVat`) and each adapter
maps them to its API's codes.

The buyer's contact (tag 1008: the e-mail address or phone the receipt is sent to) is
:attr:`Receipt.customer_email` / :attr:`Receipt.customer_phone`; each adapter puts it where
its acquirer takes it (ЮKassa ``receipt.customer.email`` / ``phone``, T-Bank
``Receipt.Email`` / ``Phone``, Sber ``orderBundle.customerDetails.email`` / ``phone``).

These models are not exported from :mod:`pes_sdk.models`: import them from here.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.i18n import tr
from pes_sdk.models._fields import valid_inn
from pes_sdk.models.payments import Payment
from pes_sdk.money import ZERO
from pes_sdk.money import amount as to_amount

__all__ = [
    "TAG_1222_PAYMENT_AGENT",
    "AgentType",
    "Receipt",
    "ReceiptPosition",
    "ReceiptVat",
    "Supplier",
    "check_customer_email",
    "check_customer_phone",
]

#: The value of tag 1222 (признак агента) for a payment agent. The tag is a bit field (ФФД
#: 1.05: банковский платёжный агент 1, банковский платёжный субагент 2, платёжный агент 4,
#: платёжный субагент 8, поверенный 16, комиссионер 32, иной агент 64), so a payment agent
#: is 4; 3 would claim "bank payment agent and bank payment subagent". Only a raw tag takes
#: this number: acquirers' APIs take their own names or codes for the same sign (ЮKassa
#: ``payment_agent``, T-Bank and ATOL-style cloud registers ``paying_agent``, Sber's
#: ``agent_info.type`` its own list where 3 is платёжный агент), mapped by each adapter
#: from :attr:`AgentType.PAYMENT_AGENT`.
TAG_1222_PAYMENT_AGENT = 4


class AgentType(enum.StrEnum):
    """The agent sign of a position (tag 1222), by name; see :data:`TAG_1222_PAYMENT_AGENT`."""

    PAYMENT_AGENT = "payment_agent"  #: платёжный агент


class ReceiptVat(enum.StrEnum):
    """VAT rates of receipt positions (tag 1199), by name. ``VAT22*`` apply from 2026-01-01."""

    NONE = "none"  #: без НДС
    VAT0 = "vat0"
    VAT5 = "vat5"
    VAT7 = "vat7"
    VAT10 = "vat10"
    VAT20 = "vat20"
    VAT22 = "vat22"
    VAT5_105 = "vat5_105"
    VAT7_107 = "vat7_107"
    VAT10_110 = "vat10_110"
    VAT20_120 = "vat20_120"
    VAT22_122 = "vat22_122"


# What every acquirer takes and a mail server delivers: an ASCII address (no quoted local
# parts, no address literals, no comments), its local part at most 64 characters and the
# whole at most 254 (RFC 5321). An internationalised domain is written in punycode.
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")


def check_customer_email(value: str) -> str:
    """``value`` when it is an e-mail address a receipt can be sent to (tag 1008); a
    :class:`ValueError` saying why not otherwise. See :attr:`Receipt.customer_email`."""
    local, at, domain = value.rpartition("@")
    labels = domain.split(".")
    if (
        not at
        or len(value) > 254
        or len(local) > 64
        or not _EMAIL_LOCAL.fullmatch(local)
        or len(labels) < 2
        or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        # The address is personal data: the message does not repeat it (it may be logged).
        raise ValueError(
            tr("an e-mail address is name@domain.tld in ASCII (the domain in punycode)")
        )
    return value


def check_customer_phone(value: str) -> str:
    """``value`` when it is a phone number in E.164 (``+79161234567``); a
    :class:`ValueError` otherwise. See :attr:`Receipt.customer_phone`."""
    if not _E164.fullmatch(value):
        raise ValueError(tr("a phone number is + and 8 to 15 digits (E.164)"))
    return value


def _phones(value: Any) -> tuple[str, ...]:
    phones = (value,) if isinstance(value, str) else tuple(value)
    for phone in phones:
        if not phone.startswith("+") or not phone[1:].isdigit() or not 8 <= len(phone) <= 16:
            raise ValueError(f"a supplier phone is +digits, not {phone!r}")
    return phones


@attrs.frozen
class Supplier:
    """The supplier of a service (поставщик: the УК or РСО) as a receipt names it."""

    inn: str = attrs.field(validator=valid_inn)
    name: str
    phones: tuple[str, ...] = attrs.field(default=(), converter=_phones)
    vat: ReceiptVat = ReceiptVat.NONE

    def __attrs_post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a supplier has a name")


@attrs.frozen
class ReceiptPosition:
    """One position of a receipt: a service paid on behalf of a supplier, or the fee."""

    name: str
    amount: Decimal = attrs.field(converter=to_amount)
    vat: ReceiptVat
    agent: AgentType | None = None
    supplier: Supplier | None = None
    quantity: int = 1
    #: tag 1212 (признак предмета расчёта) and 1214 (признак способа расчёта)
    subject: str = "service"
    mode: str = "full_payment"

    def __attrs_post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError("a receipt position is positive")
        if (self.agent is None) != (self.supplier is None):
            raise ValueError("an agent position names its supplier, and only it does")


def _positions(value: Any) -> tuple[ReceiptPosition, ...]:
    return tuple(value)


def _optional(check: Any) -> Any:
    def validator(instance: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
        if value is not None:
            check(value)

    return validator


@attrs.frozen
class Receipt:
    """The receipt of one basket payment; its positions sum to the payment's total.

    ``customer_email`` / ``customer_phone`` are the buyer's contact (tag 1008, "телефон или
    электронный адрес покупателя"): where the acquirer's cloud register sends the electronic
    receipt. 54-ФЗ (ст. 1.2 п. 5) has a receipt of a payment on the Internet sent to the
    number or address the buyer gave before paying; the acquirers refuse a receipt with
    neither (ЮKassa ``receipt.customer``, T-Bank ``Receipt.Email`` / ``Phone``), so an adapter
    sends a receipt without one only with a contact of its own configuration, or not at all
    (see each adapter and ``docs/gateways.md``). The address is an ASCII e-mail address
    (:func:`check_customer_email`), the phone E.164 (:func:`check_customer_phone`). Both are
    personal data: nothing in the SDK logs or stores them.
    """

    positions: tuple[ReceiptPosition, ...] = attrs.field(converter=_positions)
    customer_email: str | None = attrs.field(
        default=None, validator=_optional(check_customer_email), repr=False
    )
    customer_phone: str | None = attrs.field(
        default=None, validator=_optional(check_customer_phone), repr=False
    )

    @property
    def has_contact(self) -> bool:
        """Whether the receipt says where to send it (an e-mail address or a phone)."""
        return bool(self.customer_email or self.customer_phone)

    @property
    def total(self) -> Decimal:
        return sum((p.amount * p.quantity for p in self.positions), ZERO)

    @classmethod
    def for_payment(
        cls,
        payment: Payment,
        suppliers: Mapping[str, Supplier],
        *,
        fee_vat: ReceiptVat,
        fee_name: str = "Вознаграждение платёжного агента",
        customer_email: str | None = None,
        customer_phone: str | None = None,
    ) -> Receipt:
        """One agent position per line, and the client fees as one position of the service.

        ``suppliers`` maps each line's partner ИНН to its :class:`Supplier`; a missing one is
        a :class:`~pes_sdk.errors.ConfigError` naming the ИНН. ``customer_email`` /
        ``customer_phone``: the buyer's contact (tag 1008), see :class:`Receipt`; a bad one
        is a :class:`ValueError`.
        """
        positions = []
        for line in payment.lines:
            supplier = suppliers.get(line.partner_inn)
            if supplier is None:
                raise ConfigError(f"no receipt supplier for partner ИНН {line.partner_inn}")
            positions.append(
                ReceiptPosition(
                    name=line.service or "Оплата услуг ЖКХ",
                    amount=line.amount,
                    vat=supplier.vat,
                    agent=AgentType.PAYMENT_AGENT,
                    supplier=supplier,
                )
            )
        fees = sum((line.client_fee for line in payment.lines), ZERO)
        if fees:
            positions.append(ReceiptPosition(name=fee_name, amount=fees, vat=fee_vat))
        receipt = cls(positions, customer_email=customer_email, customer_phone=customer_phone)
        assert receipt.total == payment.total
        return receipt
