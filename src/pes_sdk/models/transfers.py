"""Bank transfers: payment orders (платёжные поручения) out, bank statements (выписки) in.

A :class:`PaymentOrder` is what the service *makes*: every identifier in it is checked,
including the control key of both accounts against their БИК, so that a bank never rejects
an order for a typo. A :class:`StatementEntry` is what the bank *says happened*: its
identifiers are checked for form (digits, lengths, ИНН check digits), but account keys are
not enforced, because refusing a statement line would hide money that really moved (1C's
own sample statement carries an account whose key does not match its БИК).
:attr:`StatementEntry.counterparty_key_ok` tells whether the key holds.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from decimal import Decimal
from typing import Any

import attrs

from pes_sdk import identifiers
from pes_sdk.i18n import tr
from pes_sdk.models.partners import BankDetails
from pes_sdk.money import amount as to_amount

__all__ = ["Direction", "Party", "PaymentOrder", "Statement", "StatementEntry"]

#: Longest purpose of payment (назначение платежа, field 24) a bank accepts.
PURPOSE_MAX = 210
#: Longest party name in 1C DirectBank and on a paper order (field 8 / 16).
NAME_MAX = 160

_ORDER_NUMBER = re.compile(r"[0-9]{1,6}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def _text(what: str, max_len: int, *, required: bool = True) -> Any:
    def validator(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, str):
            raise TypeError(f"{what} is text, not {type(value).__name__}")
        if required and not value.strip():
            raise ValueError(tr("{what} is empty", what=what))
        if len(value) > max_len:
            raise ValueError(
                tr(
                    "{what} is {length} characters, at most {max_len} allowed",
                    what=what,
                    length=len(value),
                    max_len=max_len,
                )
            )
        # One line: 1CClientBankExchange is line-based, and a bank refuses control characters.
        if _CONTROL.search(value):
            raise ValueError(tr("{what} holds a line break or a control character", what=what))

    return validator


def _positive(value: Decimal | int | str) -> Decimal:
    result = to_amount(value)
    if result <= 0:
        raise ValueError(tr("a transfer amount is positive, not {result}", result=result))
    return result


@attrs.frozen
class Party:
    """A payer or payee of a payment order: name, ИНН, КПП and the account with its bank."""

    name: str = attrs.field(validator=_text(tr("a party's name"), NAME_MAX))
    inn: str = attrs.field(converter=identifiers.check_inn)
    bank: BankDetails = attrs.field(validator=attrs.validators.instance_of(BankDetails))
    kpp: str | None = attrs.field(
        default=None, converter=attrs.converters.optional(identifiers.check_kpp)
    )

    @property
    def account(self) -> str:
        """The party's settlement account (р/с), checked against its БИК."""
        return self.bank.account


def _priority(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValueError(
            tr("a payment priority (очередность) is 1 to 5, not {value!r}", value=value)
        )
    return value


def _two_digits(value: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{2}", value, re.ASCII):
        raise ValueError(
            tr("an operation kind (вид операции) is two digits, not {value!r}", value=value)
        )
    return value


@attrs.frozen
class PaymentOrder:
    """A payment order (платёжное поручение, form 0401060) from the service to a partner.

    ``purpose`` (назначение платежа) is one line of at most 210 characters and, as Bank of
    Russia rules require, states VAT: either the VAT amount or «НДС не облагается»; an order
    whose purpose does not mention «НДС» is refused. ``priority`` (очередность) is 5 for
    ordinary commercial payments; ``kind`` (вид операции / ВидОплаты) is ``01`` for a
    payment order.
    """

    number: str
    date: dt.date = attrs.field(validator=attrs.validators.instance_of(dt.date))
    amount: Decimal = attrs.field(converter=_positive)
    payer: Party = attrs.field(validator=attrs.validators.instance_of(Party))
    payee: Party = attrs.field(validator=attrs.validators.instance_of(Party))
    purpose: str = attrs.field(validator=_text(tr("the purpose of payment"), PURPOSE_MAX))
    priority: int = attrs.field(default=5, converter=_priority)
    kind: str = attrs.field(default="01", converter=_two_digits)
    #: Unique payment identifier (УИП, field 22); ``"0"`` when there is none.
    code: str = attrs.field(default="0", validator=_text(tr("the payment code (УИП)"), 25))
    #: Payment method (вид платежа, field 5): usually empty for electronic orders.
    payment_kind: str = attrs.field(
        default="", validator=_text(tr("the payment method"), 15, required=False)
    )

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.number, str) or not _ORDER_NUMBER.fullmatch(self.number):
            raise ValueError(
                tr("a payment order number is 1 to 6 digits, not {number!r}", number=self.number)
            )
        if self.number.strip("0") == "":
            raise ValueError(tr("a payment order number is not zero"))
        if "НДС" not in self.purpose.upper():
            raise ValueError(
                tr(
                    "the purpose of payment must state VAT"
                    " (the amount of НДС, or «НДС не облагается»)"
                )
            )
        if self.payer.account == self.payee.account and self.payer.bank.bik == self.payee.bank.bik:
            raise ValueError(tr("payer and payee are the same account"))


class Direction(enum.StrEnum):
    """Which way money moved on our account."""

    IN = "in"  #: поступление: credited to our account
    OUT = "out"  #: списание: debited from our account


def _account_form(value: str) -> str:
    if not isinstance(value, str) or not _DIGITS.fullmatch(value) or len(value) != 20:
        raise ValueError(tr("a bank account is 20 digits, not {value!r}", value=value))
    return value


def _optional_inn(value: str | None) -> str | None:
    return None if value is None or value == "" else identifiers.check_inn(value)


def _optional_kpp(value: str | None) -> str | None:
    return None if value is None or value == "" else identifiers.check_kpp(value)


def _optional_bik(value: str | None) -> str | None:
    return None if value is None or value == "" else identifiers.check_bik(value)


def _optional_account(value: str | None) -> str | None:
    return None if value is None or value == "" else _account_form(value)


@attrs.frozen
class StatementEntry:
    """One operation of a bank statement, seen from our account (``account``).

    ``direction`` is :attr:`Direction.OUT` when our account paid, :attr:`Direction.IN`
    when it received. The counterparty fields describe the other side; any of them may be
    unknown (``None``), as banks leave out an individual's ИНН (or write ``0``).
    ``value_date`` is when the money left or reached the account (ДатаСписано /
    ДатаПоступило), which may differ from the document's own date.
    """

    direction: Direction = attrs.field(converter=Direction)
    account: str = attrs.field(converter=_account_form)
    doc_number: str = attrs.field(validator=_text(tr("a document number"), 30, required=False))
    doc_date: dt.date | None
    amount: Decimal = attrs.field(converter=_positive)
    counterparty_name: str = ""
    counterparty_inn: str | None = attrs.field(default=None, converter=_optional_inn)
    counterparty_kpp: str | None = attrs.field(default=None, converter=_optional_kpp)
    counterparty_account: str | None = attrs.field(default=None, converter=_optional_account)
    counterparty_bik: str | None = attrs.field(default=None, converter=_optional_bik)
    counterparty_bank: str = ""
    purpose: str = ""
    value_date: dt.date | None = None
    #: The document's kind as the bank names it (``Платежное поручение``, docKind ``01``…).
    doc_kind: str = ""

    @property
    def day(self) -> dt.date | None:
        """The day the money moved: the value date, else the document's date."""
        return self.value_date or self.doc_date

    @property
    def counterparty_key_ok(self) -> bool | None:
        """Whether the counterparty's account passes its control key (None: not known)."""
        if self.counterparty_account is None or self.counterparty_bik is None:
            return None
        try:
            identifiers.check_bank_account(self.counterparty_account, self.counterparty_bik)
        except ValueError:
            return False
        return True


def _optional_amount(value: Decimal | int | str | None) -> Decimal | None:
    return None if value is None else to_amount(value)


@attrs.frozen
class Statement:
    """The facts a bank statement states about one account over a period.

    Balances and totals are ``None`` when the statement leaves them out. ``total_in`` is
    ВсегоПоступило / credits, ``total_out`` ВсегоСписано / debits.
    """

    account: str = attrs.field(converter=_account_form)
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    opening_balance: Decimal | None = attrs.field(default=None, converter=_optional_amount)
    total_in: Decimal | None = attrs.field(default=None, converter=_optional_amount)
    total_out: Decimal | None = attrs.field(default=None, converter=_optional_amount)
    closing_balance: Decimal | None = attrs.field(default=None, converter=_optional_amount)
    bik: str | None = attrs.field(default=None, converter=_optional_bik)

    def balance_problem(self) -> str | None:
        """Why opening + in − out ≠ closing, when every figure is known; else None."""
        figures = (self.opening_balance, self.total_in, self.total_out, self.closing_balance)
        if any(f is None for f in figures):
            return None
        opening, total_in, total_out, closing = figures
        assert opening is not None and total_in is not None  # for mypy
        assert total_out is not None and closing is not None
        if opening + total_in - total_out != closing:
            return tr(
                "account {account}: opening balance {opening} + received {total_in} "
                "- paid {total_out} is {result}, not the closing balance {closing}",
                account=self.account,
                opening=opening,
                total_in=total_in,
                total_out=total_out,
                result=opening + total_in - total_out,
                closing=closing,
            )
        return None
