"""The monthly debt registry (реестр задолженности) a partner sends to the service."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

import attrs

from pes_sdk.errors import Issue
from pes_sdk.i18n import tr
from pes_sdk.identifiers import check_inn
from pes_sdk.models._fields import optional_guid, tags_converter, valid_account, valid_inn
from pes_sdk.models.registry import ControlTotals
from pes_sdk.money import ZERO
from pes_sdk.money import amount as to_amount
from pes_sdk.period import Period
from pes_sdk.premises import Premises

__all__ = ["DebtRecord", "DebtRegistry"]


def _premises(value: Premises | str) -> Premises:
    return value if isinstance(value, Premises) else Premises(value)


@attrs.frozen
class DebtRecord:
    """What is owed for one service on one personal account at one address.

    A negative ``amount`` is an advance (the client overpaid): valid, and nothing is due.

    ``service`` is the service as the partner names it (наименование услуги), or its only
    identifier when the registry gives one text; it tells the account's debts apart (a
    registry names each (account, service) once). ``service_code`` is the partner's code of
    the service (код услуги) when its registry gives one beside the name; ``""`` otherwise.
    Both travel unchanged to the payment registry, so the partner can book each payment
    to the service it was for.

    Where the house is: ``house_id`` (ФИАС HOUSEGUID / ГАР OBJECTGUID) when the registry
    gives it; otherwise ``address``, the house's address as the partner's file writes it
    ("г. Пермь, ул. Ленина, д. 10"), which the runner resolves to a house through its
    house directory (справочник домов). A record with neither is found by its account
    only (a client links the account in the cabinet), never at an address.
    """

    account: str = attrs.field(validator=valid_account)
    #: ФИАС HOUSEGUID / ГАР OBJECTGUID, lower case; opaque. None: the file gives the
    #: address as text (``address``) or no address at all.
    house_id: str | None = attrs.field(converter=optional_guid)
    premises: Premises = attrs.field(converter=_premises)
    amount: Decimal = attrs.field(converter=to_amount)
    period: Period | None = None  #: when the row names its own period
    service: str = ""  #: the partner's name (or only code) of the service; "" when it has one
    tags: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=tags_converter)
    service_code: str = ""  #: the partner's code of the service, when given beside the name
    #: the house's address as text, when the file gives no house GUID; "" otherwise
    address: str = ""

    @property
    def due(self) -> Decimal:
        """What the client can be asked to pay: the debt, or zero for an advance."""
        return self.amount if self.amount > 0 else ZERO

    @classmethod
    def from_checked(
        cls,
        account: str,
        house_id: str | None,
        premises: Premises,
        amount: Decimal,
        period: Period | None = None,
        service: str = "",
        tags: tuple[tuple[str, str], ...] = (),
        service_code: str = "",
        address: str = "",
    ) -> DebtRecord:
        """Build a record from values a parser has already checked, skipping the checks.

        For hot loops only: a registry reader builds a million records and has validated
        every value while parsing it. The caller guarantees what the validators and
        converters would: ``account`` passes
        :func:`~pes_sdk.identifiers.check_personal_account`, ``house_id`` is a lower-case
        GUID or None, ``premises`` is a :class:`~pes_sdk.premises.Premises`, ``amount`` a Decimal
        with exactly two places, ``tags`` a tuple of ``(key, value)`` string pairs,
        ``service``, ``service_code`` and ``address`` strings. Given
        anything else, it builds a record that breaks the model's invariants.
        """
        self = _new(cls)
        _DEBT_SET_ACCOUNT(self, account)
        _DEBT_SET_HOUSE_ID(self, house_id)
        _DEBT_SET_PREMISES(self, premises)
        _DEBT_SET_AMOUNT(self, amount)
        _DEBT_SET_PERIOD(self, period)
        _DEBT_SET_SERVICE(self, service)
        _DEBT_SET_TAGS(self, tags)
        _DEBT_SET_SERVICE_CODE(self, service_code)
        _DEBT_SET_ADDRESS(self, address)
        return self


# The slots' own setters: assigning through them skips the frozen-class guard and the
# attribute lookup by name, which is what makes from_checked cheap.
_new = object.__new__
(
    _DEBT_SET_ACCOUNT,
    _DEBT_SET_HOUSE_ID,
    _DEBT_SET_PREMISES,
    _DEBT_SET_AMOUNT,
    _DEBT_SET_PERIOD,
    _DEBT_SET_SERVICE,
    _DEBT_SET_TAGS,
    _DEBT_SET_SERVICE_CODE,
    _DEBT_SET_ADDRESS,
) = (getattr(DebtRecord, a.name).__set__ for a in attrs.fields(DebtRecord))


def _records(value: Iterable[DebtRecord]) -> tuple[DebtRecord, ...]:
    return tuple(value)


@attrs.frozen
class DebtRegistry:
    """A partner's debt registry for one period, with the control totals it declares."""

    partner_inn: str = attrs.field(validator=valid_inn)
    period: Period = attrs.field(validator=attrs.validators.instance_of(Period))
    number: int = attrs.field(validator=attrs.validators.ge(1))
    created_at: dt.datetime | None = None
    records: tuple[DebtRecord, ...] = attrs.field(default=(), converter=_records)
    control: ControlTotals | None = None

    @classmethod
    def build(
        cls,
        partner_inn: str,
        period: Period,
        number: int,
        records: Iterable[DebtRecord],
        created_at: dt.datetime | None = None,
    ) -> DebtRegistry:
        """A registry whose control totals are computed from its records."""
        recs = tuple(records)
        return cls(
            check_inn(partner_inn),
            period,
            number,
            created_at,
            recs,
            ControlTotals(len(recs), {"amount": sum((r.amount for r in recs), ZERO)}),
        )

    @property
    def total(self) -> Decimal:
        return sum((r.amount for r in self.records), ZERO)

    def problems(self) -> list[Issue]:
        """What is wrong with this registry as a whole: totals and duplicate lines.

        Two records with the same (account, service) are an error: the partner would be
        telling two different debts for one thing. Lines are 1-based record positions.
        """
        issues: list[Issue] = []
        seen: dict[tuple[str, str], int] = {}
        for i, r in enumerate(self.records, start=1):
            first = seen.setdefault((r.account, r.service), i)
            if first != i:
                issues.append(
                    Issue(
                        i,
                        "account",
                        tr(
                            "account {account!r} and service {service!r} repeat record {first}",
                            account=r.account,
                            service=r.service,
                            first=first,
                        ),
                    )
                )
        if self.control is not None:
            for problem in self.control.mismatches(len(self.records), {"amount": self.total}):
                issues.append(Issue(0, "control", problem))
        return issues
