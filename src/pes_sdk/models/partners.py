"""Partners (УК and РСО): who they are, where their money goes, and what they pay."""

from __future__ import annotations

from decimal import Decimal

import attrs

from pes_sdk import identifiers
from pes_sdk.i18n import tr
from pes_sdk.models._fields import valid_inn
from pes_sdk.money import amount as to_amount

__all__ = ["BankDetails", "FeeTerms", "Partner"]


@attrs.frozen
class BankDetails:
    """A settlement account: БИК, р/с (checked against the БИК) and к/с, and the bank.

    ``bank_name`` and ``city`` (the bank's settlement, «г. Москва») are what a payment
    order shows as the bank (fields 10/13 and 14/11 of form 0401060); a file sent to a bank
    needs both, so the bank writers refuse an order without them. They are optional here
    because details read back from a bank's statement or a partner's file may lack them.
    """

    bik: str = attrs.field(converter=identifiers.check_bik)
    account: str
    corr_account: str = ""
    bank_name: str = ""
    city: str = ""

    def __attrs_post_init__(self) -> None:
        identifiers.check_bank_account(self.account, self.bik)
        if self.corr_account:
            identifiers.check_corr_account(self.corr_account, self.bik)


def _rate(value: Decimal) -> Decimal:
    if isinstance(value, float | bool) or not isinstance(value, Decimal):
        raise TypeError(f"a rate is a Decimal fraction (0.0136 for 1.36%), not {value!r}")
    if not Decimal(0) <= value < Decimal(1):
        raise ValueError(tr("a rate is a fraction in [0, 1), not {value}", value=value))
    return value


@attrs.frozen
class FeeTerms:
    """A partner's fee plan and its contract figures.

    ``plan`` names a fee plan (``percent``, ``subscription`` or one a plugin adds).
    ``rate`` is the percent plan's commission rate, or the subscription plan's client agent
    fee rate; ``monthly_fee`` is the subscription's flat monthly fee before VAT.
    """

    plan: str = "percent"
    rate: Decimal = attrs.field(default=Decimal("0.0136"), converter=_rate)
    monthly_fee: Decimal = attrs.field(default=Decimal("100.00"), converter=to_amount)
    params: dict[str, str] = attrs.field(factory=dict, hash=False)


@attrs.frozen
class Partner:
    """A partner company with its bank details and fee terms."""

    inn: str = attrs.field(validator=valid_inn)
    name: str
    bank: BankDetails
    kpp: str | None = attrs.field(
        default=None, converter=attrs.converters.optional(identifiers.check_kpp)
    )
    fee: FeeTerms = attrs.field(factory=FeeTerms)
