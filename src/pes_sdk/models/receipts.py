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

These models are not exported from :mod:`pes_sdk.models`: import them from here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from pes_sdk.errors import ConfigError
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


@attrs.frozen
class Receipt:
    """The receipt of one basket payment; its positions sum to the payment's total."""

    positions: tuple[ReceiptPosition, ...] = attrs.field(converter=_positions)

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
    ) -> Receipt:
        """One agent position per line, and the client fees as one position of the service.

        ``suppliers`` maps each line's partner ИНН to its :class:`Supplier`; a missing one is
        a :class:`~pes_sdk.errors.ConfigError` naming the ИНН.
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
        receipt = cls(positions)
        assert receipt.total == payment.total
        return receipt
