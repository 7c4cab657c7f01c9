"""Conformance checks of the **transfers** family: payment orders out, bank statements in.

A transfer format writes :class:`~pes_sdk.models.PaymentOrder` records (платёжные
поручения) for the daily transfers to partners and/or reads bank statements (выписки) as
:class:`~pes_sdk.models.StatementEntry` records. The checks prove what issue 4 asks of
such a format: *the sum of the orders equals the sum of the transfers settled*, to the
kopeck, with every payee's БИК and р/с key intact and the Cyrillic purpose of payment
unchanged; a failed write leaves no partial file; a statement's figures (opening +
received − paid = closing, and the totals against its documents) are checked and a
tampered statement refused; malformed statements give the SDK's typed errors; an XML
statement with a DOCTYPE or entities is refused.

An adapter author activates the plugin and subclasses :class:`TransferFormatConformance`::

    # conftest.py
    pytest_plugins = ["pes_sdk_conformance.plugin"]

    # test_conformance.py
    from pes_sdk_conformance.transfers import TransferFormatConformance

    class TestMyBankFormat(TransferFormatConformance):
        format_name = "my-bank"

        def statement_for(self, fmt, folder, owner, statement, entries):
            # write a statement your reader reads, stating exactly these figures
            ...

The orders come from a payment sample settled with
:func:`pes_sdk.settlement_orders.settle_records` (hence :func:`pes_sdk.fees.settle_day`)
under both built-in fee plans, one order per partner-day; a format that writes one order
per file (``one_record_per_file = True``) gets one file each. How a statement is made is
the format's business: the author's :meth:`~TransferFormatConformance.statement_for`
writes one (with the format's own statement writer, if it has one, or as a bank would).
Orders written are read back with :meth:`~TransferFormatConformance.read_back` (by default
the format's own reader, which must then give them as outgoing entries; a format whose
reader reads only statements overrides it).

Checks are gated by the format's :class:`~pes_sdk.formats.base.FormatCapabilities`
(``write`` for the order checks, ``read`` for the statement checks) and skipped with the
reason, like the format family; the XML checks run when the statement is XML.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest

from pes_sdk import identifiers
from pes_sdk.errors import PesError, RegistryRefused
from pes_sdk.fees import FeePlan, PercentPlan, SubscriptionPlan
from pes_sdk.formats.base import FormatCapabilities, Policy, Record, RegistryFormat, WriteReport
from pes_sdk.models.partners import BankDetails, FeeTerms, Partner
from pes_sdk.models.payments import PaymentRecord
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.models.transfers import Direction, Party, PaymentOrder, Statement, StatementEntry
from pes_sdk.money import ZERO
from pes_sdk.partners_file import ServiceDetails
from pes_sdk.plugins import get_host
from pes_sdk.settlement_orders import (
    ExpectedTransfer,
    PartnerDay,
    RegistryRef,
    payment_order,
    reconcile,
    settle_records,
)
from pes_sdk_conformance import records as samples
from pes_sdk_conformance.corpus import MalformedSample, NotApplicable, invalid_bytes
from pes_sdk_conformance.formats import error_lines
from pes_sdk_conformance.levels import ConformanceSettings

__all__ = [
    "ACQUIRER",
    "PARTNERS",
    "SERVICE",
    "STATEMENT_SAMPLES",
    "XML_HOSTILE_SAMPLES",
    "SettledSample",
    "TransferFormatConformance",
    "settled_sample",
    "statement_entries",
]

#: The service (платёжный агент), payer of every order: accounts pass their БИК keys.
SERVICE = ServiceDetails(
    name="ООО «Энергосбыт-Платежи»",
    inn="7701012342",
    bank=BankDetails(
        "044525225", "40702810500000001234", "30101810400000000225", "ПАО Сбербанк", "г. Москва"
    ),
    kpp="770101001",
)
#: Two partners: a УК on the percent plan, a РСО on the subscription plan (no КПП).
PARTNERS = (
    Partner(
        inn="5003012349",
        name="ООО «УК Дом» (ёлки №5)",
        bank=BankDetails(
            "044525974", "40702810200000005678", "30101810145250000974", "АО «ТБанк»", "г. Москва"
        ),
        kpp="500301001",
        fee=FeeTerms("percent"),
    ),
    Partner(
        inn="7720123457",
        name="АО «Водоканал»",
        bank=BankDetails(
            "044525225", "40702810300000009999", "30101810400000000225", "ПАО Сбербанк", "г. Москва"
        ),
        fee=FeeTerms("subscription", Decimal("0.01")),
    ),
)
#: Who pays the service (the acquirer's payout): the incoming line of a sample statement.
ACQUIRER = Party(
    "ИП Ёлкин Пётр Петрович",
    "771234560099",
    BankDetails("044525225", "40802810008000000077", "30101810400000000225", "ПАО Сбербанк"),
)
_PLANS: dict[str, FeePlan] = {"percent": PercentPlan(), "subscription": SubscriptionPlan()}
_MSK = samples.MSK
#: The payments of the sample, per partner ИНН: (day, amounts). Awkward on purpose: a
#: kopeck, ten kopecks, a day of almost a hundred million, a commission that rounds.
_PAYMENTS: dict[str, tuple[tuple[dt.date, tuple[str, ...]], ...]] = {
    "5003012349": (
        (dt.date(2026, 11, 27), ("1272.26", "100.00", "0.01")),
        (dt.date(2026, 11, 28), ("98765432.10",)),
    ),
    "7720123457": ((dt.date(2026, 11, 27), ("0.10", "5.00")),),
}
#: Text every Cyrillic check uses: ё, №, «», slashes, as partners and banks write them.
CYRILLIC_PURPOSE = (
    "Оплата по договору № 12/1-ё от 01.11.2026 «Ёлки-палки», за ноябрь. НДС не облагается"
)
#: Amounts the kopeck check writes (orders are positive: no zero, no advance).
KOPECK_AMOUNTS = ("0.01", "0.10", "1.00", "1272.26", "5000", "98765432.10", "999999999999.99")


@attrs.frozen
class SettledSample:
    """Payments of the sample settled into partner-days, and their payment orders."""

    days: tuple[PartnerDay, ...]
    orders: tuple[PaymentOrder, ...]

    @property
    def transfers(self) -> Decimal:
        """What the settlement says goes to the partners: the sum of the transfers."""
        return sum((d.settlement.transfer for d in self.days), ZERO)

    @property
    def paid(self) -> Decimal:
        return sum((d.settlement.paid for d in self.days), ZERO)

    @property
    def withheld(self) -> Decimal:
        return sum((d.settlement.fee for d in self.days), ZERO)

    def expected(self) -> list[ExpectedTransfer]:
        """The transfers a statement must show, for :func:`pes_sdk.settlement_orders.reconcile`."""
        return [
            ExpectedTransfer(d.partner, d.day, d.settlement.transfer, _ref(d)) for d in self.days
        ]


def _ref(day: PartnerDay) -> RegistryRef:
    # One payment registry per partner-day, dated the next day (as the service sends it).
    return RegistryRef(str(day.day.day), day.day + dt.timedelta(days=1))


def settled_sample(service: ServiceDetails = SERVICE) -> SettledSample:
    """Settle the sample payments (pes_sdk.settlement_orders) and make one order a day."""
    days: list[PartnerDay] = []
    for partner in PARTNERS:
        records = [
            PaymentRecord(
                paid_at=dt.datetime.combine(day, dt.time(10, i), _MSK),
                operation_id=f"{partner.inn}-{day:%Y%m%d}-{i}",
                account=f"{i:06d}",
                amount=Decimal(a),
                transfer=Decimal(a),
                fee=ZERO,
            )
            for day, amounts in _PAYMENTS[partner.inn]
            for i, a in enumerate(amounts)
        ]
        days += settle_records(records, partner, _PLANS[partner.fee.plan])
    orders = [
        payment_order(service, d, _ref(d), number=str(n), date=d.day + dt.timedelta(days=1))
        for n, d in enumerate(days, 1)
    ]
    return SettledSample(tuple(days), tuple(orders))


def statement_entries(
    orders: Iterable[PaymentOrder], *, incoming: Decimal | None = None
) -> list[StatementEntry]:
    """The lines a bank statement of the payer's account shows for ``orders`` (outgoing),
    after one incoming line of ``incoming`` from :data:`ACQUIRER` when given."""
    out: list[StatementEntry] = []
    orders = list(orders)
    if incoming is not None and orders:
        payer = orders[0].payer
        first = min(o.date for o in orders)
        out.append(
            StatementEntry(
                direction=Direction.IN,
                account=payer.account,
                doc_number="901",
                doc_date=first,
                amount=incoming,
                counterparty_name=ACQUIRER.name,
                counterparty_inn=ACQUIRER.inn,
                counterparty_account=ACQUIRER.account,
                counterparty_bik=ACQUIRER.bank.bik,
                counterparty_bank=ACQUIRER.bank.bank_name,
                purpose="Возмещение по операциям эквайринга за 27.11.2026. НДС не облагается",
                value_date=first,
                doc_kind="Платежное поручение",
            )
        )
    for o in orders:
        out.append(
            StatementEntry(
                direction=Direction.OUT,
                account=o.payer.account,
                doc_number=o.number,
                doc_date=o.date,
                amount=o.amount,
                counterparty_name=o.payee.name,
                counterparty_inn=o.payee.inn,
                counterparty_kpp=o.payee.kpp,
                counterparty_account=o.payee.account,
                counterparty_bik=o.payee.bank.bik,
                counterparty_bank=o.payee.bank.bank_name,
                purpose=o.purpose,
                value_date=o.date,
                doc_kind="Платежное поручение",
            )
        )
    return out


def _balanced(account: str, entries: Sequence[StatementEntry], bik: str) -> Statement:
    total_in = sum((e.amount for e in entries if e.direction is Direction.IN), ZERO)
    total_out = sum((e.amount for e in entries if e.direction is Direction.OUT), ZERO)
    opening = Decimal("1000000.00")
    days = [e.day for e in entries if e.day is not None]
    return Statement(
        account=account,
        date_from=min(days) if days else None,
        date_to=max(days) if days else None,
        opening_balance=opening,
        total_in=total_in,
        total_out=total_out,
        closing_balance=opening + total_in - total_out,
        bik=bik,
    )


#: Malformed statements, built from a valid one the author's statement_for() wrote, by
#: breaking the line that holds the amount of the first order.
STATEMENT_SAMPLES: dict[str, str] = {
    "truncated": "the statement cut off in the middle of its last document",
    "truncated_at_line_end": "the statement cut off exactly at the end of its last line with "
    "a figure (its end marker or trailer lost)",
    "data_after_end": "an amount line after the end marker or trailer that ends the file",
    "nul_byte": "a NUL byte inside an amount",
    "invalid_encoding": "bytes that are invalid in the declared encoding",
    "long_line": "a line of more than 1 MB (an amount with a million more digits)",
    "bad_amount": "an amount written `12,3,4`",
    "amount_three_decimals": "an amount with a third decimal place (never rounded silently)",
    "huge_amount": "an amount of 40 digits, more than any Decimal context or account holds",
    "garbage_line": "a line of text that belongs to no part of the format",
}
#: Hostile XML: a reader refuses every one with a PesError, expands nothing, fetches nothing.
XML_HOSTILE_SAMPLES: dict[str, str] = {
    "doctype": "a bare DOCTYPE",
    "internal_entity": "an internal entity standing for the amount",
    "external_file_entity": "an external entity reading a local file (XXE)",
    "external_http_entity": "an external entity fetched over HTTP (XXE, SSRF)",
    "parameter_entity": "a parameter entity pulling in a local DTD",
    "billion_laughs": "nested entities that expand exponentially",
}


class _HalfWayFailure(Exception):
    """Raised by the orders iterable of the failed-write check."""


def _raise_after(records: Iterable[Record], after: int) -> Iterator[Record]:
    for i, r in enumerate(records):
        if i == after:
            raise _HalfWayFailure(f"the orders iterable raised after {after} orders")
        yield r


@attrs.frozen
class _View:
    """What an order and the statement line paying it must agree on."""

    number: str
    date: dt.date | None
    amount: Decimal
    payee_name: str
    payee_inn: str | None
    payee_kpp: str | None
    payee_account: str | None
    payee_bik: str | None
    purpose: str


def _view(item: PaymentOrder | StatementEntry) -> _View:
    if isinstance(item, PaymentOrder):
        p = item.payee
        return _View(
            item.number, item.date, item.amount, p.name, p.inn, p.kpp, p.account, p.bank.bik,
            item.purpose,
        )  # fmt: skip
    return _View(
        item.doc_number, item.doc_date, item.amount, item.counterparty_name,
        item.counterparty_inn, item.counterparty_kpp, item.counterparty_account,
        item.counterparty_bik, item.purpose,
    )  # fmt: skip


def _is_xml(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


class TransferFormatConformance:
    """The checks every transfer format passes. Subclass it as ``Test<YourFormat>``.

    Set :attr:`format_name` (the format is then found through the public plugin host) or
    override the ``transfer_format`` fixture. Override :meth:`statement_for` so the
    statement checks can run, and :meth:`read_back` when the format's reader does not read
    the orders it writes.
    """

    #: The format's name as installed plugins provide it; or override ``transfer_format``.
    format_name: ClassVar[str | None] = None
    #: Pin the strictness level for this class (``None``: the ini option or the default).
    conformance_level: ClassVar[int | str | None] = None
    #: File name used when the format has no naming convention (``filename()`` is None).
    default_file_name: ClassVar[str] = "orders"
    #: The statement states an opening and closing balance and the totals received and
    #: paid, and the reader checks them. False skips the balance checks with this reason.
    statement_totals: ClassVar[bool] = True
    #: The format has lines, so errors in a malformed statement name one (XML: lxml's line).
    errors_name_lines: ClassVar[bool] = True
    #: A regular expression matching the line that opens a document of the statement
    #: (``СекцияДокумент``, ``<OperationInfo``): a reader that names the line its broken
    #: document starts on, rather than the broken value's own, then passes the exact-line
    #: check. ``None``: the value's own line is required.
    document_start: ClassVar[str | None] = None

    # -- fixtures --------------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _pes_conformance_active(self, pes_conformance: ConformanceSettings) -> None:
        """Fails with "fixture 'pes_conformance' not found" when the plugin is not active."""

    @pytest.fixture
    def transfer_format(self) -> RegistryFormat:
        """The format under test."""
        if self.format_name is None:
            pytest.fail(
                f"{type(self).__name__}: set format_name or override the transfer_format fixture"
            )
        return get_host().format(self.format_name)

    # -- hooks an author may override --------------------------------------------------------

    def service(self) -> ServiceDetails:
        """The payer of every order (its account must pass the key check with its БИК)."""
        return SERVICE

    def settled(self, fmt: RegistryFormat) -> SettledSample:
        """The sample payments, settled, and their orders (one per partner-day)."""
        return settled_sample(self.service())

    def header_for(self, fmt: RegistryFormat, orders: Sequence[PaymentOrder]) -> RegistryHeader:
        """The header written with ``orders`` (number and date: the first order's)."""
        first = orders[0] if orders else None
        return RegistryHeader(
            kind=fmt.kind,
            partner_inn=self.service().inn,
            partner_account=self.service().bank.account,
            number=int(first.number) if first is not None else 1,
            date=first.date if first is not None else dt.date(2026, 11, 28),
            created_at=dt.datetime(2026, 11, 28, 9, 30, 0),
        )

    def path_for(self, fmt: RegistryFormat, folder: Path, header: RegistryHeader) -> Path:
        """Where orders with ``header`` are written: the format's own name if it has one."""
        return folder / (fmt.filename(header) or self.default_file_name)

    def read_back(self, fmt: RegistryFormat, paths: Sequence[Path]) -> list[Any]:
        """The orders in files the format wrote, as ``PaymentOrder`` or outgoing
        ``StatementEntry`` records, in order.

        The default opens each file with the format's own reader and keeps the outgoing
        entries. Override it when the format's reader reads only statements (e.g. with
        the adapter's own function that reads an order document).
        """
        out: list[Any] = []
        for path in paths:
            try:
                with fmt.open(path) as reader:
                    out += [
                        r
                        for r in reader
                        if isinstance(r, PaymentOrder)
                        or (isinstance(r, StatementEntry) and r.direction is Direction.OUT)
                    ]
            except PesError as exc:
                pytest.fail(
                    f"{fmt.name} cannot read the orders it wrote ({exc}); override "
                    "read_back() to read them the way the format does"
                )
        return out

    def statement_for(
        self,
        fmt: RegistryFormat,
        folder: Path,
        owner: Party,
        statement: Statement,
        entries: Sequence[StatementEntry],
    ) -> Path:
        """Write, into ``folder``, a statement of ``owner``'s account that the format reads:
        stating exactly ``statement``'s figures (balances and totals, even when they do
        not add up: the tamper checks rely on it) and ``entries`` in order. Return its path.

        The default skips: override it with the format's own statement writer, or write
        the file as a bank would.
        """
        pytest.skip(
            f"{type(self).__name__} does not override statement_for(): the statement checks "
            "need a statement the format reads"
        )

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def require(fmt: RegistryFormat, *capabilities: str) -> None:
        """Skip unless ``fmt`` declares every one of ``capabilities``."""
        for cap in capabilities:
            if not getattr(fmt.capabilities, cap):
                pytest.skip(f"{fmt.name} does not declare capability {cap!r}")

    def write_orders(
        self, fmt: RegistryFormat, folder: Path, orders: Sequence[PaymentOrder]
    ) -> list[tuple[Path, WriteReport]]:
        """Write ``orders``: one file, or one file each when ``fmt.one_record_per_file``."""
        folder.mkdir(parents=True, exist_ok=True)
        groups = (
            [[o] for o in orders] if getattr(fmt, "one_record_per_file", False) else [list(orders)]
        )
        out = []
        for group in groups:
            header = self.header_for(fmt, group)
            path = self.path_for(fmt, folder, header)
            out.append((path, fmt.write(path, header, group)))
        return out

    def round_trip_orders(
        self, fmt: RegistryFormat, folder: Path, orders: Sequence[PaymentOrder]
    ) -> tuple[list[WriteReport], list[Any]]:
        written = self.write_orders(fmt, folder, orders)
        return [w for _, w in written], self.read_back(fmt, [p for p, _ in written])

    def write_statement(
        self,
        fmt: RegistryFormat,
        folder: Path,
        orders: Sequence[PaymentOrder],
        **figures: Any,
    ) -> tuple[Path, Statement, list[StatementEntry]]:
        """A statement paying ``orders`` after an incoming payout, its figures balanced
        unless ``figures`` (``closing_balance=…``, ``total_out=…``) say otherwise."""
        sample = self.settled(fmt)
        entries = statement_entries(orders, incoming=sample.paid)
        service = self.service()
        statement = attrs.evolve(
            _balanced(service.bank.account, entries, service.bank.bik), **figures
        )
        folder.mkdir(parents=True, exist_ok=True)
        path = self.statement_for(fmt, folder, service.party, statement, entries)
        return path, statement, entries

    def read_statement(
        self, fmt: RegistryFormat, path: Path, policy: Policy = Policy.STRICT
    ) -> list[StatementEntry]:
        with fmt.open(path, policy=policy, rejects_path=path.with_name("rejects.csv")) as reader:
            got = list(reader)
        assert all(isinstance(e, StatementEntry) for e in got), (
            f"a statement reader yields StatementEntry records, not {type(got[0]).__name__}"
        )
        return got  # type: ignore[return-value]

    # -- checks: the declaration ----------------------------------------------------------

    def test_capabilities_are_declared(self, transfer_format: RegistryFormat) -> None:
        """A transfer format names itself, is of kind transfers or statements, declares
        what it does, and every encoding it declares exists."""
        fmt = transfer_format
        assert isinstance(fmt.name, str) and fmt.name, "a format has a non-empty name"
        assert fmt.kind in (RegistryKind.TRANSFERS, RegistryKind.STATEMENTS), (
            f"a transfer format is of kind transfers or statements, not {fmt.kind!r}"
        )
        caps = fmt.capabilities
        assert isinstance(caps, FormatCapabilities), "capabilities is a FormatCapabilities"
        assert caps.read or caps.write, "a format reads, writes, or both"
        assert caps.encodings, "a format declares at least one encoding"
        for enc in caps.encodings:
            codecs.lookup(enc)

    # -- checks: writing orders -----------------------------------------------------------

    def test_sum_of_orders_equals_sum_of_transfers(
        self, transfer_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """The orders written for a settled sample sum to the transfers settled (paid −
        withheld), one order per partner-day, in the reports and in the files."""
        fmt = transfer_format
        self.require(fmt, "write")
        sample = self.settled(fmt)
        assert sample.transfers + sample.withheld == sample.paid  # the sample itself
        reports, got = self.round_trip_orders(fmt, tmp_path, sample.orders)
        reported = sum((r.total for r in reports), ZERO)
        count = sum(r.records for r in reports)
        assert count == len(sample.days), (
            f"the writer reports {count} orders for {len(sample.days)} partner-days"
        )
        assert reported == sample.transfers, (
            f"the writer reports orders summing to {reported}; the transfers settled sum "
            f"to {sample.transfers}"
        )
        read = sum((r.amount for r in got), ZERO)
        assert len(got) == len(sample.orders), (
            f"wrote {len(sample.orders)} orders, read back {len(got)}"
        )
        assert read == sample.transfers, (
            f"the orders in the files sum to {read}; the transfers settled sum to "
            f"{sample.transfers} (paid {sample.paid} − withheld {sample.withheld})"
        )

    def test_orders_read_back_field_for_field(
        self, transfer_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """Each order read back names the same number, date, amount, payee and purpose."""
        fmt = transfer_format
        self.require(fmt, "write")
        orders = self.settled(fmt).orders
        _, got = self.round_trip_orders(fmt, tmp_path, orders)
        assert [_view(o) for o in got] == [_view(o) for o in orders]

    def test_amounts_exact_to_the_kopeck(
        self, transfer_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """Amounts from a kopeck to a trillion are written and read back exactly, with two
        places, never through a float or a rounding."""
        fmt = transfer_format
        self.require(fmt, "write")
        template = self.settled(fmt).orders[0]
        orders = [
            attrs.evolve(template, number=str(100 + i), amount=Decimal(a))
            for i, a in enumerate(KOPECK_AMOUNTS)
        ]
        _, got = self.round_trip_orders(fmt, tmp_path, orders)
        wrong = [
            f"order {o.number}: wrote {o.amount}, read {g.amount!r}"
            for o, g in zip(orders, got, strict=False)
            if not (g.amount == o.amount and g.amount.as_tuple().exponent == -2)
        ]
        assert len(got) == len(orders), f"wrote {len(orders)} orders, read back {len(got)}"
        assert not wrong, "amounts changed: " + "; ".join(wrong)

    def test_payee_details_pass_key_checks(
        self, transfer_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """Every payee read back has a valid ИНН and БИК, and its р/с (and к/с) pass the
        control key computed with the БИК: a bank would refuse nothing."""
        fmt = transfer_format
        self.require(fmt, "write")
        _, got = self.round_trip_orders(fmt, tmp_path, self.settled(fmt).orders)
        assert got, "no order was read back"
        wrong = []
        for g in got:
            v = _view(g)
            try:
                identifiers.check_inn(v.payee_inn or "")
                identifiers.check_bik(v.payee_bik or "")
                identifiers.check_bank_account(v.payee_account or "", v.payee_bik or "")
                if isinstance(g, PaymentOrder) and g.payee.bank.corr_account:
                    identifiers.check_corr_account(g.payee.bank.corr_account, g.payee.bank.bik)
            except ValueError as exc:
                wrong.append(f"order {v.number}: {exc}")
        assert not wrong, "payee bank details fail their checks: " + "; ".join(wrong)

    def test_cyrillic_purpose_survives(
        self, transfer_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """The purpose of payment and the payee's name, in Cyrillic with ё, № and «»,
        read back exactly as written."""
        fmt = transfer_format
        self.require(fmt, "write")
        orders = [attrs.evolve(o, purpose=CYRILLIC_PURPOSE) for o in self.settled(fmt).orders]
        _, got = self.round_trip_orders(fmt, tmp_path, orders)
        have = [(_view(g).purpose, _view(g).payee_name) for g in got]
        want = [(o.purpose, o.payee.name) for o in orders]
        assert have == want

    def test_failed_write_leaves_no_partial_file(
        self, transfer_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """When the orders iterable raises, no file has the final name, and a file that
        was there before is left untouched."""
        fmt = transfer_format
        self.require(fmt, "write")
        orders = list(self.settled(fmt).orders)
        after = 1 if getattr(fmt, "one_record_per_file", False) else len(orders) - 1
        header = self.header_for(fmt, orders[:after])
        fresh = self.path_for(fmt, tmp_path / "fresh", header)
        fresh.parent.mkdir()
        try:
            fmt.write(fresh, header, _raise_after(orders, after))
        except Exception:
            pass
        else:
            pytest.fail("the writer returned normally although its orders raised")
        assert not fresh.exists(), (
            f"a failed write left a partial file under the final name ({fresh.stat().st_size} "
            "bytes); write to a temporary name and rename it at the end (pes_sdk.files)"
        )
        [(existing, _)] = self.write_orders(fmt, tmp_path / "existing", orders[:1])
        before = existing.read_bytes()
        with pytest.raises(Exception):  # noqa: B017 - any error will do; the file is the point
            fmt.write(existing, self.header_for(fmt, orders[:1]), _raise_after(orders, after))
        assert existing.read_bytes() == before, "a failed write changed the file already there"

    def test_writing_something_else_is_a_typed_error(
        self, transfer_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """Given a record that is not a payment order, the writer raises a PesError and
        writes nothing."""
        fmt = transfer_format
        self.require(fmt, "write")
        header = self.header_for(fmt, [])
        path = self.path_for(fmt, tmp_path, header)
        stray = samples.golden(RegistryKind.PAYMENTS).records[0]
        try:
            fmt.write(path, header, [stray])
        except PesError:
            pass
        except Exception as exc:
            pytest.fail(f"writing a PaymentRecord raised {type(exc).__name__}: {exc}")
        else:
            pytest.fail("the writer accepted a PaymentRecord as a payment order")
        assert list(tmp_path.iterdir()) == [], sorted(p.name for p in tmp_path.iterdir())

    # -- checks: reading statements -------------------------------------------------------

    def test_statement_settles_every_order(
        self, transfer_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """A statement paying the orders reads back every line: the outgoing lines sum to
        the transfers settled, each names its order's payee, amount and purpose, and
        reconciliation with the settlement finds every transfer."""
        fmt = transfer_format
        self.require(fmt, "read")
        sample = self.settled(fmt)
        path, _, entries = self.write_statement(fmt, tmp_path, sample.orders)
        got = self.read_statement(fmt, path)
        assert len(got) == len(entries), f"the statement has {len(entries)} lines, read {len(got)}"
        out = [e for e in got if e.direction is Direction.OUT]
        paid = sum((e.amount for e in out), ZERO)
        assert paid == sample.transfers, (
            f"the outgoing lines sum to {paid}; the transfers settled sum to {sample.transfers}"
        )
        assert [_view(e) for e in out] == [_view(o) for o in sample.orders]
        verdict = reconcile(sample.expected(), got)
        assert verdict.ok and len(verdict.found) == len(sample.days), verdict

    def test_statement_amounts_exact_to_the_kopeck(
        self, transfer_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """Statement amounts from a kopeck to a trillion are read exactly, two places."""
        fmt = transfer_format
        self.require(fmt, "read")
        template = self.settled(fmt).orders[0]
        orders = [
            attrs.evolve(template, number=str(100 + i), amount=Decimal(a))
            for i, a in enumerate(KOPECK_AMOUNTS)
        ]
        path, _, entries = self.write_statement(fmt, tmp_path, orders)
        got = self.read_statement(fmt, path)
        wrong = [
            f"line {i + 1}: {e.amount}, read {g.amount!r}"
            for i, (e, g) in enumerate(zip(entries, got, strict=False))
            if not (g.amount == e.amount and g.amount.as_tuple().exponent == -2)
        ]
        assert len(got) == len(entries) and not wrong, wrong

    def test_balanced_statement_is_accepted(
        self, transfer_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """A statement whose figures add up (opening + received − paid = closing, totals
        equal to its lines) is read under policy strict without an issue."""
        fmt = transfer_format
        self.require(fmt, "read")
        if not self.statement_totals:
            pytest.skip(f"{type(self).__name__}.statement_totals is False")
        path, statement, _ = self.write_statement(fmt, tmp_path, self.settled(fmt).orders)
        assert statement.balance_problem() is None
        with fmt.open(path) as reader:
            got = list(reader)
            report = reader.report
        assert got and report.valid, report

    @pytest.mark.parametrize("figure", ["closing_balance", "total_out", "total_in"])
    def test_tampered_statement_is_refused(
        self, transfer_format: RegistryFormat, tmp_path: Path, figure: str
    ) -> None:
        """A statement one kopeck off is refused whole (RegistryRefused), under either
        policy: a closing balance that does not add up, or totals paid or received that
        differ from its lines (with the balance adjusted to add up)."""
        fmt = transfer_format
        self.require(fmt, "read")
        if not self.statement_totals:
            pytest.skip(f"{type(self).__name__}.statement_totals is False")
        orders = self.settled(fmt).orders
        _, good, _ = self.write_statement(fmt, tmp_path / "good", orders)
        kopeck = Decimal("0.01")
        assert good.closing_balance is not None
        assert good.total_out is not None and good.total_in is not None
        changes = {
            "closing_balance": {"closing_balance": good.closing_balance + kopeck},
            "total_out": {
                "total_out": good.total_out + kopeck,
                "closing_balance": good.closing_balance - kopeck,
            },
            "total_in": {
                "total_in": good.total_in + kopeck,
                "closing_balance": good.closing_balance + kopeck,
            },
        }[figure]
        path, _, _ = self.write_statement(fmt, tmp_path / "bad", orders, **changes)
        for policy in (Policy.STRICT, Policy.QUARANTINE):
            try:
                got = self.read_statement(fmt, path, policy)
            except RegistryRefused:
                continue
            except Exception as exc:
                pytest.fail(f"{figure} off by a kopeck raised {type(exc).__name__}: {exc}")
            pytest.fail(
                f"a statement with {figure} off by a kopeck was read under policy "
                f"{policy.value} ({len(got)} lines)"
            )

    # -- checks: malformed and hostile statements -----------------------------------------

    def malformed_statements(
        self, fmt: RegistryFormat, folder: Path
    ) -> dict[str, MalformedSample | NotApplicable]:
        """The malformed corpus (:data:`STATEMENT_SAMPLES`), built by breaking the line of
        a valid statement that holds the first order's amount. Override to add samples."""
        sample = self.settled(fmt)
        path, _, _ = self.write_statement(fmt, folder, sample.orders)
        return _broken_statements(
            path.read_bytes(), fmt.capabilities.encodings[0], sample.orders[0].amount
        )

    def _statement_sample(
        self, fmt: RegistryFormat, folder: Path, name: str
    ) -> tuple[Path, MalformedSample]:
        corpus = self.malformed_statements(fmt, folder / "valid")
        sample = corpus.get(name)
        if sample is None:
            pytest.skip(f"malformed_statements() gives no {name!r} sample")
        if isinstance(sample, NotApplicable):
            pytest.skip(f"sample {name!r} does not apply to {fmt.name}: {sample.reason}")
        valid_name = next(p for p in (folder / "valid").iterdir() if p.is_file()).name
        (folder / "bad").mkdir()
        path = folder / "bad" / valid_name
        path.write_bytes(sample.data)
        return path, sample

    def _expect_refusal(self, fmt: RegistryFormat, path: Path, name: str, what: str) -> PesError:
        try:
            got = self.read_statement(fmt, path)
        except PesError as exc:
            return exc
        except Exception as exc:
            pytest.fail(
                f"sample {name!r} ({what}) raised {type(exc).__name__}: {exc}; a reader "
                "raises only pes_sdk.errors.PesError subclasses on bad input"
            )
        pytest.fail(f"sample {name!r} ({what}) was read without error ({len(got)} lines)")

    @pytest.mark.parametrize("sample_name", list(STATEMENT_SAMPLES))
    def test_malformed_statement_gives_typed_error(
        self, transfer_format: RegistryFormat, tmp_path: Path, sample_name: str
    ) -> None:
        """A broken statement gives a PesError naming a line, never any other exception."""
        fmt = transfer_format
        self.require(fmt, "read")
        path, sample = self._statement_sample(fmt, tmp_path, sample_name)
        exc = self._expect_refusal(fmt, path, sample_name, sample.description)
        if sample.line is not None and self.errors_name_lines:
            assert error_lines(exc), (
                f"sample {sample_name!r} ({sample.description}): the error names no line: "
                f"{type(exc).__name__}: {exc}"
            )

    @pytest.mark.parametrize("sample_name", ["bad_amount", "amount_three_decimals"])
    def test_malformed_statement_names_the_exact_line(
        self, transfer_format: RegistryFormat, tmp_path: Path, sample_name: str
    ) -> None:
        """The error names the very line of the broken amount, counted from 1 (or the line
        its document starts on, when :attr:`document_start` says how to find it)."""
        fmt = transfer_format
        self.require(fmt, "read")
        if not self.errors_name_lines:
            pytest.skip(f"{type(self).__name__}.errors_name_lines is False")
        path, sample = self._statement_sample(fmt, tmp_path, sample_name)
        exc = self._expect_refusal(fmt, path, sample_name, sample.description)
        assert sample.line is not None
        lines = error_lines(exc)
        text = path.read_bytes().decode(fmt.capabilities.encodings[0], "replace")
        start = _document_start(text.splitlines(), sample.line, self.document_start)
        allowed = {sample.line} | ({start} if start is not None else set())
        assert lines & allowed, (
            f"{sample.description}: the broken line is {sample.line} (its document starts "
            f"on {start or '?'}), the error names {sorted(lines) or 'none'}: {exc}"
        )

    @pytest.mark.parametrize("hostile_name", list(XML_HOSTILE_SAMPLES))
    def test_xml_statement_refuses_doctype_and_entities(
        self, transfer_format: RegistryFormat, tmp_path: Path, hostile_name: str
    ) -> None:
        """An XML statement with a DOCTYPE or entities of any kind is refused with a
        PesError: nothing is expanded, no file is read, nothing is fetched."""
        fmt = transfer_format
        self.require(fmt, "read")
        path, _, _ = self.write_statement(fmt, tmp_path / "valid", self.settled(fmt).orders)
        valid = path.read_bytes()
        if not _is_xml(valid):
            pytest.skip(f"{fmt.name} statements are not XML")
        secret = tmp_path / "secret.txt"
        amount = f"{self.settled(fmt).orders[0].amount:.2f}"
        secret.write_text(amount, "utf-8")
        data = _hostile_xml(valid, hostile_name, amount, secret)
        if data is None:
            pytest.skip(f"amount {amount} not found once in the statement")
        bad = tmp_path / "bad" / path.name
        bad.parent.mkdir()
        bad.write_bytes(data)
        self._expect_refusal(fmt, bad, hostile_name, XML_HOSTILE_SAMPLES[hostile_name])

    @pytest.mark.parametrize("hostile_name", list(samples.hostile_inputs()))
    def test_hostile_input_never_crashes(
        self, transfer_format: RegistryFormat, tmp_path: Path, hostile_name: str
    ) -> None:
        """Shipped hostile bytes (empty, BOM, random, NUL, UTF-16) give a PesError or a read."""
        fmt = transfer_format
        self.require(fmt, "read")
        path = tmp_path / "statement"
        path.write_bytes(samples.hostile_inputs()[hostile_name])
        try:
            self.read_statement(fmt, path)
        except PesError:
            pass
        except Exception as exc:
            pytest.fail(
                f"{hostile_name}: {type(exc).__name__}: {exc}; a reader raises only "
                "pes_sdk.errors.PesError subclasses on bad input"
            )


# -- building the malformed statements ----------------------------------------------------


def _document_start(lines: list[str], line: int, pattern: str | None) -> int | None:
    """The line (1-based) at or before ``line`` that opens its document, if known."""
    if pattern is None:
        return None
    opens = re.compile(pattern)
    for i in range(min(line, len(lines)) - 1, -1, -1):
        if opens.match(lines[i]):
            return i + 1
    return None


def _amount_line(lines: list[str], amount: Decimal) -> tuple[int, re.Match[str]] | None:
    text = f"{amount:.2f}"
    pattern = re.compile(r"(?<![\w.,])" + re.escape(text) + r"(?![\w.,])")
    hits = [(i, m) for i, line in enumerate(lines) if (m := pattern.search(line))]
    return hits[0] if len(hits) == 1 else None


def _broken_statements(
    valid: bytes, encoding: str, amount: Decimal
) -> dict[str, MalformedSample | NotApplicable]:
    try:
        text = valid.decode(encoding)
    except UnicodeDecodeError as exc:
        return dict.fromkeys(STATEMENT_SAMPLES, NotApplicable(f"not {encoding}: {exc}"))
    lines = text.splitlines(keepends=True)
    found = _amount_line(lines, amount)
    if found is None:
        reason = f"the amount {amount:.2f} of the first order is not on exactly one line"
        return dict.fromkeys(STATEMENT_SAMPLES, NotApplicable(reason))
    t, m = found
    line = lines[t]
    out: dict[str, MalformedSample | NotApplicable] = {}

    def with_value(new: str) -> bytes:
        out_lines = [*lines]
        out_lines[t] = line[: m.start()] + new + line[m.end() :]
        return "".join(out_lines).encode(encoding)

    def sample(name: str, data: bytes, index: int | None) -> None:
        out[name] = MalformedSample(
            data, STATEMENT_SAMPLES[name], None if index is None else index + 1
        )

    # truncated: cut in the middle of the last line that holds an amount-like value.
    last = max(i for i, s in enumerate(lines) if re.search(r"\d", s))
    body = lines[last].rstrip("\r\n")
    cut = "".join(lines[:last]) + body[: max(1, len(body) // 2)]
    sample("truncated", cut.encode(encoding), last)
    # A cut at a line end, and data after the end: both need an end marker or trailer
    # after the last line with a figure (`КонецФайла`, a closing tag); without one such a
    # file is a valid shorter statement.
    if not "".join(lines[last + 1 :]).strip():
        nothing = NotApplicable("nothing follows the last line with a figure (no end marker)")
        out["truncated_at_line_end"] = out["data_after_end"] = nothing
    else:
        sample("truncated_at_line_end", "".join(lines[: last + 1]).encode(encoding), None)
        ending = "" if lines[-1].endswith(("\n", "\r")) else "\n"
        after = "".join(lines) + ending + line.rstrip("\r\n") + "\n"
        sample("data_after_end", after.encode(encoding), len(lines))
    value = m.group(0)
    half = len(value) // 2
    sample("nul_byte", with_value(value[:half] + "\x00" + value[half:]), t)
    bad = invalid_bytes(encoding)
    if bad is None:
        out["invalid_encoding"] = NotApplicable(f"every byte is valid in {encoding}")
    else:
        before = "".join(lines[:t]) + line[: m.start()] + value[:half]
        after = value[half:] + line[m.end() :] + "".join(lines[t + 1 :])
        sample("invalid_encoding", before.encode(encoding) + bad + after.encode(encoding), t)
    sample("long_line", with_value(value + "9" * (1 << 20)), t)
    sample("bad_amount", with_value("12,3,4"), t)
    sample("amount_three_decimals", with_value(value + "5"), t)
    sample("huge_amount", with_value("9" * 40 + value[-3:]), t)
    garbage = [*lines]
    eol = line[len(line.rstrip("\r\n")) :] or "\n"
    garbage.insert(t + 1, "это не строка формата ### <<<" + eol)
    sample("garbage_line", "".join(garbage).encode(encoding), t + 1)
    return out


def _hostile_xml(valid: bytes, name: str, amount: str, secret: Path) -> bytes | None:
    """``valid`` with a DOCTYPE after its declaration, the amount replaced by an entity."""
    text = valid.decode("utf-8")
    if text.count(f">{amount}<") != 1:
        return None
    decl_end = text.find("?>") + 2 if text.lstrip().startswith("<?xml") else 0
    root = re.search(r"<([\w:.-]+)", text[decl_end:])
    assert root is not None
    root_name = root.group(1)
    uri = secret.resolve().as_uri()
    subset = {
        "doctype": "",
        "internal_entity": f'<!ENTITY a "{amount}">',
        "external_file_entity": f'<!ENTITY a SYSTEM "{uri}">',
        "external_http_entity": '<!ENTITY a SYSTEM "http://127.0.0.1:9/amount.txt">',
        "parameter_entity": f'<!ENTITY % p SYSTEM "{uri}"> %p; <!ENTITY a "{amount}">',
        "billion_laughs": '<!ENTITY a0 "ха">'
        + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
        + '<!ENTITY a "&a9;">',
    }[name]
    doctype = f"<!DOCTYPE {root_name}" + (f" [{subset}]" if subset else "") + ">"
    body = text[decl_end:]
    if name != "doctype":
        body = body.replace(f">{amount}<", ">&a;<", 1)
    return (text[:decl_end] + "\n" + doctype + body).encode("utf-8")
