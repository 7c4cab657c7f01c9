"""A monthly bill (квитанция): who is paid, for which account and period, and how much.

A :class:`Bill` is built from a partner (:class:`~pes_sdk.models.partners.Partner`: its name,
ИНН, КПП and bank details) and one account's debt records of a period; it knows its total,
what is due and the ГОСТ Р 56042-2014 payment details of its QR code
(:meth:`Bill.payment_details`). Rendering it is :mod:`pes_sdk.bills.pdf`'s business.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from decimal import Decimal

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.i18n import tr
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.partners import Partner
from pes_sdk.money import ZERO
from pes_sdk.money import amount as to_amount
from pes_sdk.period import Period
from pes_sdk.qr import FIELDS, PaymentDetails, TechCode
from pes_sdk.russian import month_year, rubles

__all__ = [
    "Bill",
    "BillError",
    "BillLine",
    "bills_from_records",
    "month_year",
    "rubles",
]

_LIMITS = {spec.key: spec.max_length for spec in FIELDS}


class BillError(ConfigError):
    """A bill that cannot be made from what it was given (a partner without a bank name,
    records of two accounts); the message names the partner and the field."""


@attrs.frozen
class BillLine:
    """One service on the bill with what the registry charges for it (negative: an advance).

    ``period`` is the row's own period when the registry names one other than the bill's.
    """

    service: str
    amount: Decimal = attrs.field(converter=to_amount)
    service_code: str = ""
    period: Period | None = None


def _lines(value: Iterable[BillLine]) -> tuple[BillLine, ...]:
    return tuple(value)


@attrs.frozen
class Bill:
    """One account's bill for one period (квитанция на оплату).

    ``payee`` is the partner the money goes to; ``premises`` the premises as the registry
    wrote it; ``address`` the house's address when the house directory knows it ("" when
    not). ``lines`` keep the registry's order.
    """

    payee: Partner
    period: Period
    account: str
    premises: str
    lines: tuple[BillLine, ...] = attrs.field(converter=_lines)
    address: str = ""
    #: ФИАС HOUSEGUID / ГАР OBJECTGUID of the house, when the registry gave one
    house_id: str | None = None
    #: the registry's number, printed on the bill (so a corrected one can be told apart)
    registry_number: int | None = None

    @property
    def total(self) -> Decimal:
        """The sum of the lines: negative when the advances outweigh the debts."""
        return to_amount(sum((line.amount for line in self.lines), ZERO))

    @property
    def due(self) -> Decimal:
        """What is to be paid: the total, or zero when it is an advance."""
        total = self.total
        return total if total > 0 else ZERO

    @property
    def purpose(self) -> str:
        """The payment's purpose, as the QR code and the bill say it."""
        return f"Оплата ЖКУ за {month_year(self.period)}, л/с {self.account}"

    @property
    def payer_address(self) -> str:
        """The premises' address for the QR code's ``PayerAddress``: "" without the house's."""
        if not self.address:
            return ""
        if not self.premises:
            return self.address
        # "12" alone reads as a house number after an address: say it is a premises
        premises = f"пом. {self.premises}" if self.premises[0].isdigit() else self.premises
        return f"{self.address}, {premises}"

    def payment_details(self) -> PaymentDetails:
        """The bill's QR content: the payee's bank details, ``PersAcc``, ``PaymPeriod``
        (MMYYYY), ``Sum`` in kopecks only when something is due, ``Purpose``, ``TechCode``
        02 (housing). Raises :class:`BillError` when the payee has no bank name."""
        bank = self.payee.bank
        if not bank.bank_name:
            raise BillError(
                tr(
                    "partner {inn}: bank.bank_name is empty, and a bill's QR code needs it",
                    inn=self.payee.inn,
                )
            )
        due = self.due
        address = self.payer_address
        limit = _LIMITS.get("PayerAddress")
        if limit is not None and len(address) > limit:
            address = ""  # a truncated address would point elsewhere: better none
        return PaymentDetails(
            _clip(self.payee.name, "Name"),
            bank.account,
            _clip(bank.bank_name, "BankName"),
            bank.bik,
            bank.corr_account or "0",
            sum=due if due > 0 else None,
            purpose=_clip(self.purpose, "Purpose"),
            payee_inn=self.payee.inn,
            kpp=self.payee.kpp,
            pers_acc=self.account,
            paym_period=self.period.format_mmyyyy(),
            payer_address=address or None,
            tech_code=TechCode.HOUSING_AND_UTILITIES,
        )

    @classmethod
    def from_records(
        cls,
        payee: Partner,
        period: Period,
        records: Iterable[DebtRecord],
        *,
        address: str = "",
        registry_number: int | None = None,
    ) -> Bill:
        """The bill of one account's records (all of one account; at least one)."""
        rows = list(records)
        if not rows:
            raise BillError(tr("a bill needs at least one debt record"))
        first = rows[0]
        if any(r.account != first.account for r in rows):
            raise BillError(tr("a bill is of one account; the records name several"))
        return cls(
            payee=payee,
            period=period,
            account=first.account,
            premises=first.premises.text,
            lines=[
                BillLine(
                    r.service,
                    r.amount,
                    r.service_code,
                    r.period if r.period is not None and r.period != period else None,
                )
                for r in rows
            ],
            address=address or first.address,
            house_id=first.house_id,
            registry_number=registry_number,
        )


def _clip(text: str, key: str) -> str:
    limit = _LIMITS.get(key)
    return text if limit is None or len(text) <= limit else text[:limit]


def bills_from_records(
    payee: Partner,
    period: Period,
    records: Iterable[DebtRecord],
    *,
    registry_number: int | None = None,
) -> Iterator[Bill]:
    """One bill per account, lazily, from records **grouped by account** (a registry
    sorted by account, or the runner's store, which streams them so): one account's
    records are in memory at a time. An account that comes back later gets a second bill;
    sort first (``sorted(records, key=lambda r: r.account)``) when the order is unknown."""
    for _, group in itertools.groupby(records, key=lambda r: r.account):
        yield Bill.from_records(payee, period, group, registry_number=registry_number)
