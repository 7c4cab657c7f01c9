"""From a payment registry to payment orders, and from a bank statement back to them.

**Settlement.** The records of a payment registry (реестр оплат) of one partner are grouped
by day (the date of ``paid_at`` in the service's zone); each partner-day is settled
once with :func:`pes_sdk.fees.settle_day` under the partner's fee plan, and becomes one
:class:`~pes_sdk.models.PaymentOrder`: payer the service, payee the partner (both accounts
checked against their БИК), amount the transfer, and a purpose of payment that names the
day, the registry and what was withheld::

    Перечисление платежей за 27.11.2026 по реестру № 5 от 28.11.2026. Принято 1372,26 руб.,
    удержано вознаграждение 22,77 руб., в т.ч. НДС 22% 4,11 руб.

(one line in the order). When nothing is withheld the purpose ends «Вознаграждение не
удержано. Без налога (НДС)». ``PARTNERS.toml`` may replace the text with its own template
(``service.purpose``); see ``docs/1c-bank.md``.

**Reconciliation.** :func:`reconcile` matches the transfers expected from registries with
the outgoing lines of a bank statement: by the partner's ИНН and the day and registry named
in the purpose, then by ИНН and amount; see :class:`Reconciliation` for the verdicts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs

from pes_sdk.fees import FeePlan, Settlement, settle_day
from pes_sdk.models.partners import Partner
from pes_sdk.models.payments import PaymentRecord
from pes_sdk.models.transfers import PURPOSE_MAX, Direction, Party, PaymentOrder, StatementEntry
from pes_sdk.money import ZERO
from pes_sdk.partners_file import DEFAULT_TIME_ZONE, ServiceDetails
from pes_sdk.vat import DEFAULT_VAT_SCHEDULE, VatSchedule

__all__ = [
    "DEFAULT_PURPOSE",
    "DEFAULT_PURPOSE_NO_FEE",
    "ExpectedTransfer",
    "Mismatch",
    "PartnerDay",
    "Reconciliation",
    "RegistryRef",
    "format_rub",
    "payment_order",
    "purpose_refs",
    "purpose_text",
    "reconcile",
    "settle_records",
]

#: The purpose of payment when a fee is withheld (placeholders: see ``PURPOSE_FIELDS``).
DEFAULT_PURPOSE = (
    "Перечисление платежей за {day} по реестру № {registry_number} от {registry_date}. "
    "Принято {paid} руб., удержано вознаграждение {fee} руб., в т.ч. НДС {vat_rate} {vat} руб."
)
#: The purpose of payment when nothing is withheld (the subscription plan).
DEFAULT_PURPOSE_NO_FEE = (
    "Перечисление платежей за {day} по реестру № {registry_number} от {registry_date}. "
    "Принято {paid} руб. Вознаграждение не удержано. Без налога (НДС)"
)


def format_rub(value: Decimal) -> str:
    """An amount the Russian way, for text read by people: ``1272,26``."""
    return f"{value:.2f}".replace(".", ",")


def _ru_date(day: dt.date) -> str:
    return day.strftime("%d.%m.%Y")


@attrs.frozen
class RegistryRef:
    """Which registry a transfer pays: its number and date as the partner knows them."""

    number: str
    date: dt.date


@attrs.frozen
class PartnerDay:
    """One partner-day settled: what was paid and withheld, and what the registry said.

    ``registry_fee`` and ``registry_transfer`` sum the registry's own ``fee`` and
    ``transfer`` columns for the day; :attr:`registry_disagrees` tells whether they differ
    from what the fee plan gives.
    """

    partner: Partner
    settlement: Settlement
    registry_fee: Decimal
    registry_transfer: Decimal
    vat_rate: Decimal

    @property
    def day(self) -> dt.date:
        return self.settlement.day

    @property
    def registry_disagrees(self) -> str | None:
        """Why the registry's own figures differ from the fee plan's, or None."""
        s = self.settlement
        if self.registry_fee == s.fee and self.registry_transfer == s.transfer:
            return None
        return (
            f"partner {self.partner.inn}, {_ru_date(s.day)}: the registry withholds "
            f"{self.registry_fee} and transfers {self.registry_transfer}; fee plan "
            f"{s.plan!r} gives {s.fee} (commission {s.commission} + VAT {s.vat}) and "
            f"{s.transfer}"
        )


def settle_records(
    records: Iterable[PaymentRecord],
    partner: Partner,
    plan: FeePlan,
    vat: VatSchedule = DEFAULT_VAT_SCHEDULE,
    *,
    zone: dt.tzinfo | None = None,
) -> list[PartnerDay]:
    """Settle a partner's registry records, one :class:`PartnerDay` per day, in day order.

    A record's day is the date of its ``paid_at`` in the service's ``zone`` (default
    Europe/Moscow, ``service.time_zone``): a ``paid_at`` without a zone is already a wall
    time of that zone, one with a zone is converted first, so 21:30 UTC on 31.12 is
    a payment of 01.01 in Moscow.
    """
    tz = zone if zone is not None else ZoneInfo(DEFAULT_TIME_ZONE)
    by_day: dict[dt.date, list[PaymentRecord]] = defaultdict(list)
    for record in records:
        paid = record.paid_at
        day = (paid.astimezone(tz) if paid.tzinfo is not None else paid).date()
        by_day[day].append(record)
    out = []
    for day in sorted(by_day):
        recs = by_day[day]
        settlement = settle_day(plan, partner.fee, day, [r.amount for r in recs], vat)
        out.append(
            PartnerDay(
                partner=partner,
                settlement=settlement,
                registry_fee=sum((r.fee for r in recs), ZERO),
                registry_transfer=sum((r.transfer for r in recs), ZERO),
                vat_rate=vat.rate_on(day),
            )
        )
    return out


def _percent(rate: Decimal) -> str:
    text = f"{(rate * 100).normalize():f}"
    return text.replace(".", ",") + "%"


def purpose_text(day: PartnerDay, ref: RegistryRef, template: str | None = None) -> str:
    """The purpose of payment of a partner-day's transfer (at most 210 characters).

    Raises :class:`ValueError` when the text would be too long for a bank.
    """
    s = day.settlement
    if template is None:
        template = DEFAULT_PURPOSE if s.fee > 0 else DEFAULT_PURPOSE_NO_FEE
    text = template.format(
        registry_number=ref.number,
        registry_date=_ru_date(ref.date),
        day=_ru_date(s.day),
        paid=format_rub(s.paid),
        commission=format_rub(s.commission),
        vat=format_rub(s.vat),
        vat_rate=_percent(day.vat_rate),
        fee=format_rub(s.fee),
    )
    if len(text) > PURPOSE_MAX:
        raise ValueError(
            f"the purpose of payment is {len(text)} characters, a bank takes {PURPOSE_MAX}: "
            f"{text!r}"
        )
    return text


def payment_order(
    service: ServiceDetails,
    day: PartnerDay,
    ref: RegistryRef,
    *,
    number: str,
    date: dt.date,
    template: str | None = None,
) -> PaymentOrder:
    """The payment order of one partner-day: from the service's account to the partner's.

    Raises :class:`ValueError` for a day with nothing to transfer (a zero transfer is no
    order) and whatever :class:`~pes_sdk.models.PaymentOrder` refuses.
    """
    if day.settlement.transfer <= 0:
        raise ValueError(f"nothing to transfer to {day.partner.inn} for {_ru_date(day.day)}")
    partner = day.partner
    return PaymentOrder(
        number=number,
        date=date,
        amount=day.settlement.transfer,
        payer=service.party,
        payee=Party(partner.name, partner.inn, partner.bank, partner.kpp),
        purpose=purpose_text(day, ref, template if template is not None else service.purpose),
    )


# -- reconciliation ----------------------------------------------------------------------


@attrs.frozen
class ExpectedTransfer:
    """A transfer that should appear in a statement: to whom, how much, for which day."""

    partner: Partner
    day: dt.date
    amount: Decimal
    registry: RegistryRef | None = None
    source: Path | None = None

    def describe(self) -> str:
        reg = ""
        if self.registry is not None:
            reg = f" (registry № {self.registry.number} of {_ru_date(self.registry.date)})"
        return (
            f"{self.partner.inn} {self.partner.name}: {self.amount} for {_ru_date(self.day)}"
            + reg
            + (f" [{self.source.name}]" if self.source else "")
        )


@attrs.frozen
class Mismatch:
    """An expected transfer and the statement line that pays it, with what differs."""

    expected: ExpectedTransfer
    entry: StatementEntry
    problems: tuple[str, ...]


@attrs.frozen
class Reconciliation:
    """The verdict of :func:`reconcile`.

    ``found``: paid as expected. ``mismatched``: a line to the partner for that day or
    registry, but with another amount or account. ``missing``: no line at all.
    ``unexpected``: outgoing lines to partners that no expected transfer explains (e.g. a
    registry not among those given); listed, not counted as a failure.
    """

    found: tuple[tuple[ExpectedTransfer, StatementEntry], ...]
    mismatched: tuple[Mismatch, ...]
    missing: tuple[ExpectedTransfer, ...]
    unexpected: tuple[StatementEntry, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatched and not self.missing


_REF = re.compile(r"реестр\w*\s*№\s*([^\s,;]+?)[.,;]?\s+от\s+(\d{2})\.(\d{2})\.(\d{4})", re.I)
_DAY = re.compile(r"\bза\s+(\d{2})\.(\d{2})\.(\d{4})", re.I)


def _date(d: str, m: str, y: str) -> dt.date | None:
    try:
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        return None


def purpose_refs(purpose: str) -> tuple[dt.date | None, RegistryRef | None]:
    """The day («за ДД.ММ.ГГГГ») and registry («реестр № N от ДД.ММ.ГГГГ») a purpose names."""
    day = None
    if m := _DAY.search(purpose):
        day = _date(*m.groups())
    ref = None
    if m := _REF.search(purpose):
        when = _date(m.group(2), m.group(3), m.group(4))
        if when is not None:
            ref = RegistryRef(m.group(1), when)
    return day, ref


def _differences(exp: ExpectedTransfer, entry: StatementEntry) -> tuple[str, ...]:
    problems = []
    if entry.amount != exp.amount:
        problems.append(f"amount {entry.amount}, expected {exp.amount}")
    if entry.counterparty_account is not None and entry.counterparty_account != (
        exp.partner.bank.account
    ):
        problems.append(
            f"paid to account {entry.counterparty_account}, the partner's is "
            f"{exp.partner.bank.account}"
        )
    if entry.counterparty_bik is not None and entry.counterparty_bik != exp.partner.bank.bik:
        problems.append(
            f"paid to БИК {entry.counterparty_bik}, the partner's is {exp.partner.bank.bik}"
        )
    return tuple(problems)


def _names(entry: StatementEntry, exp: ExpectedTransfer) -> bool:
    """Whether a line's purpose points at this expected transfer (day and registry)."""
    day, ref = purpose_refs(entry.purpose)
    if day is None and ref is None:
        return False
    if day is not None and day != exp.day:
        return False
    return not (ref is not None and exp.registry is not None and ref != exp.registry)


def reconcile(
    expected: Sequence[ExpectedTransfer],
    entries: Iterable[StatementEntry],
    *,
    partner_inns: Iterable[str] | None = None,
) -> Reconciliation:
    """Match expected transfers with the outgoing lines of a statement.

    A line is *to a partner* when its counterparty ИНН is the partner's or, when the bank
    left the ИНН out, when its account is the partner's. Three passes, each taking the
    lines it uses out of play:

    1. a line to the partner whose purpose names the same day (and registry, when both
       are known) pays that transfer: found when amount and account agree, else
       mismatched;
    2. a line to the partner with the same amount and account, whatever its purpose, is
       found;
    3. a line left to the partner is paired, in day order, with a transfer left, as
       mismatched.

    What is left of ``expected`` is missing; lines left to a partner (``partner_inns``,
    default the expected partners) are unexpected.
    """
    outgoing = [e for e in entries if e.direction is Direction.OUT]
    used: set[int] = set()
    found: list[tuple[ExpectedTransfer, StatementEntry]] = []
    mismatched: list[Mismatch] = []
    left: list[ExpectedTransfer] = []

    def paid_to(e: StatementEntry, partner: Partner) -> bool:
        if e.counterparty_inn is not None:
            return e.counterparty_inn == partner.inn
        # Some banks leave the payee's ИНН out: the account (with its БИК) then tells.
        return e.counterparty_account == partner.bank.account and e.counterparty_bik in (
            None,
            partner.bank.bik,
        )

    def candidates(exp: ExpectedTransfer) -> list[int]:
        return [i for i, e in enumerate(outgoing) if i not in used and paid_to(e, exp.partner)]

    for exp in expected:  # pass 1: the purpose names it
        hit = next((i for i in candidates(exp) if _names(outgoing[i], exp)), None)
        if hit is None:
            left.append(exp)
            continue
        used.add(hit)
        problems = _differences(exp, outgoing[hit])
        if problems:
            mismatched.append(Mismatch(exp, outgoing[hit], problems))
        else:
            found.append((exp, outgoing[hit]))
    still: list[ExpectedTransfer] = []
    for exp in left:  # pass 2: same amount and account
        hit = next((i for i in candidates(exp) if not _differences(exp, outgoing[i])), None)
        if hit is None:
            still.append(exp)
            continue
        used.add(hit)
        found.append((exp, outgoing[hit]))
    missing: list[ExpectedTransfer] = []
    for exp in sorted(still, key=lambda x: x.day):  # pass 3: something went to them
        pool = sorted(candidates(exp), key=lambda i: outgoing[i].day or dt.date.min)
        if not pool:
            missing.append(exp)
            continue
        used.add(pool[0])
        mismatched.append(Mismatch(exp, outgoing[pool[0]], _differences(exp, outgoing[pool[0]])))
    inns = set(partner_inns) if partner_inns is not None else {x.partner.inn for x in expected}
    unexpected = tuple(
        e for i, e in enumerate(outgoing) if i not in used and e.counterparty_inn in inns
    )
    return Reconciliation(tuple(found), tuple(mismatched), tuple(missing), unexpected)
