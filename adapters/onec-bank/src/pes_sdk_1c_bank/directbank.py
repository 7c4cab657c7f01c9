"""1C DirectBank XML: ``PayDocRu`` payment orders written, ``Statement`` bank statements read.

Both follow 1C's official schemas (namespace ``http://directbank.1c.ru/XMLSchema``,
``1C-Bank_PayDocRu.xsd`` and ``1C-Bank_Statement.xsd``, version 2.3.2). The schemas are not
shipped: the writer builds documents by construction, and :class:`DirectBankSchemas` checks
them against a copy of the schemas whose folder is configuration (``PES_DIRECTBANK_XSD_DIR``,
or ``$PES_CONTRACTS_DIR/1c-directbank``). With schemas configured, the format validates
every file it writes before the file appears.

A ``PayDocRu`` document holds exactly one payment order, so :meth:`DirectBankFormat.write`
takes exactly one; ``pes settle`` writes one file per order into a folder.

Reading is hardened (:mod:`pes_sdk_1c_bank.safexml`): a DOCTYPE of any kind is refused, no
entity is expanded, nothing is fetched; a statement is streamed with ``iterparse`` and each
``OperationInfo`` is dropped once read.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree

from pes_sdk import __version__ as sdk_version
from pes_sdk.errors import FormatError, Issue, RegistryRefused
from pes_sdk.files import atomic_path
from pes_sdk.formats.base import (
    FormatCapabilities,
    Policy,
    ReadReport,
    Record,
    RegistryFormat,
    RegistryReader,
    WriteReport,
)
from pes_sdk.formats.quarantine import DEFAULT_ISSUE_LIMIT, RejectSink
from pes_sdk.i18n import join
from pes_sdk.models.partners import BankDetails
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.models.transfers import Direction, Party, PaymentOrder, Statement, StatementEntry
from pes_sdk.money import ZERO
from pes_sdk_1c_bank import safexml
from pes_sdk_1c_bank._checks import missing_bank_details
from pes_sdk_1c_bank._clock import wall_time, zone_of
from pes_sdk_1c_bank.i18n import tr

__all__ = [
    "FORMAT_VERSION",
    "NS",
    "DirectBankFormat",
    "DirectBankSchemas",
    "StatementReader",
    "read_paydoc",
    "write_statement",
]

NS = "http://directbank.1c.ru/XMLSchema"
#: The version of 1C's schemas this module writes (``formatVersion``).
FORMAT_VERSION = "2.3.2"
_Q = f"{{{NS}}}"
# A fixed namespace for document ids: the same order always gets the same id, so a file
# written twice is recognisably the same document (uuid5 of the order's identity).
_ID_NAMESPACE = uuid.UUID("6f1d3c2e-8a4b-5c6d-9e0f-1a2b3c4d5e6f")


def _q(name: str) -> str:
    return _Q + name


def _localname(el: etree._Element) -> str:
    """The element's name without its namespace; a typed error for an undeclared prefix.

    libxml2 keeps ``<x:Data>`` with an undeclared ``x`` as the literal tag ``x:Data``,
    which :class:`etree.QName` refuses with a bare ValueError.
    """
    try:
        return etree.QName(el).localname
    except ValueError:
        raise FormatError(
            tr("element <{tag}> uses a namespace prefix that is not declared", tag=el.tag),
            line=_line(el),
            field=str(el.tag),
        ) from None


def _line(el: etree._Element | None) -> int:
    # lxml-stubs type sourceline loosely; it is an int or None.
    line: object = el.sourceline if el is not None else None
    return line if isinstance(line, int) else 0


# -- schemas (configuration) -------------------------------------------------------------


class DirectBankSchemas:
    """1C's DirectBank schemas loaded from ``folder`` (which holds ``1C-Bank_*.xsd``)."""

    PAYDOC = "1C-Bank_PayDocRu.xsd"
    STATEMENT = "1C-Bank_Statement.xsd"

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self._cache: dict[str, etree.XMLSchema] = {}

    @classmethod
    def from_env(cls) -> DirectBankSchemas | None:
        """Schemas from ``PES_DIRECTBANK_XSD_DIR`` or ``$PES_CONTRACTS_DIR/1c-directbank``."""
        folder = os.environ.get("PES_DIRECTBANK_XSD_DIR")
        if not folder and os.environ.get("PES_CONTRACTS_DIR"):
            folder = str(Path(os.environ["PES_CONTRACTS_DIR"]) / "1c-directbank")
        return cls(folder) if folder else None

    def _schema(self, name: str) -> etree.XMLSchema:
        if name not in self._cache:
            path = self.folder / name
            if not path.is_file():
                raise FormatError(
                    tr(
                        "1C DirectBank schema {name} not found in {folder}",
                        name=name,
                        folder=self.folder,
                    )
                )
            # The schemas are trusted configuration, but parsed just as safely.
            doc = etree.parse(str(path), safexml.parser())
            self._cache[name] = etree.XMLSchema(doc)
        return self._cache[name]

    def _validate(self, name: str, path: Path) -> None:
        schema = self._schema(name)
        tree = safexml.parse(path)
        if not schema.validate(tree):
            errors = list(schema.error_log)  # type: ignore[call-overload]
            first = errors[0] if errors else None
            raise FormatError(
                # The validator's own words are data.
                tr("not valid against {name}: {detail}", name=name, detail=first.message)
                if first
                else tr("not valid against {name}: invalid", name=name),
                path=path,
                line=first.line if first else 0,
            )

    def validate_paydoc(self, path: Path | str) -> None:
        """Raise :class:`FormatError` unless ``path`` is a valid ``PayDocRu`` document."""
        self._validate(self.PAYDOC, Path(path))

    def validate_statement(self, path: Path | str) -> None:
        """Raise :class:`FormatError` unless ``path`` is a valid ``Statement`` document."""
        self._validate(self.STATEMENT, Path(path))


# -- writing -------------------------------------------------------------------------------


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, _q(name))
    if text is not None:
        el.text = text
    return el


def _bank(parent: etree._Element, bank: BankDetails) -> None:
    el = _sub(parent, "Bank")
    _sub(el, "BIC", bank.bik)
    if bank.bank_name:
        _sub(el, "Name", bank.bank_name[:160])
    if bank.city:
        _sub(el, "City", bank.city)
    if bank.corr_account:
        _sub(el, "CorrespAcc", bank.corr_account)


def _customer(parent: etree._Element, tag: str, party: Party) -> None:
    el = _sub(parent, tag)
    _sub(el, "Name", party.name)
    _sub(el, "INN", party.inn)
    if party.kpp:
        _sub(el, "KPP", party.kpp)
    _sub(el, "Account", party.account)
    _bank(el, party.bank)


def _sum(value: Decimal) -> str:
    return f"{value:.2f}"


def _order_data(parent: etree._Element, tag: str, order: PaymentOrder) -> etree._Element:
    """The elements of ``PaymentDataType`` in the schema's order."""
    data = _sub(parent, tag)
    _sub(data, "DocNo", order.number)
    _sub(data, "DocDate", order.date.isoformat())
    _sub(data, "Sum", _sum(order.amount))
    _customer(data, "Payer", order.payer)
    _customer(data, "Payee", order.payee)
    if order.payment_kind:
        _sub(data, "PaymentKind", order.payment_kind)
    _sub(data, "TransitionKind", order.kind)
    _sub(data, "Priority", str(order.priority))
    _sub(data, "Code", order.code)
    _sub(data, "Purpose", order.purpose)
    return data


def document_id(order: PaymentOrder) -> str:
    """The ``id`` of an order's ``PayDocRu``: stable for the same order."""
    key = "/".join(
        [order.payer.inn, order.payer.account, order.number, order.date.isoformat(),
         str(order.amount), order.payee.account]
    )  # fmt: skip
    return str(uuid.uuid5(_ID_NAMESPACE, key))


def _creation(created: dt.datetime | None, zone: dt.tzinfo) -> str:
    # Without an offset, as 1C writes it (its samples do): the service's wall time.
    return wall_time(created, zone).isoformat()


def paydoc_tree(
    order: PaymentOrder,
    *,
    sender_id: str | None = None,
    created_at: dt.datetime | None = None,
    format_version: str = FORMAT_VERSION,
    time_zone: dt.tzinfo | str | None = None,
) -> etree._Element:
    """The ``PayDocRu`` element of one payment order.

    ``creationDate`` is ``created_at`` as a wall time of ``time_zone`` (the service's,
    default Europe/Moscow); see :class:`DirectBankFormat`.
    """
    root = etree.Element(
        _q("PayDocRu"),
        nsmap={None: NS},  # type: ignore[dict-item]
        id=document_id(order),
        formatVersion=format_version,
        creationDate=_creation(created_at, zone_of(time_zone)),
        userAgent=f"pes-sdk {sdk_version}",
    )
    payer = order.payer
    sender = _sub(root, "Sender")
    sender.set("id", (sender_id or payer.inn)[:50])
    sender.set("name", payer.name[:160])
    sender.set("inn", payer.inn)
    if payer.kpp:
        sender.set("kpp", payer.kpp)
    recipient = _sub(root, "Recipient")
    recipient.set("bic", payer.bank.bik)
    if payer.bank.bank_name:
        recipient.set("name", payer.bank.bank_name[:160])
    _order_data(root, "Data", order)
    return root


def _write_tree(path: Path, root: etree._Element) -> None:
    with atomic_path(path) as tmp:
        etree.ElementTree(root).write(
            str(tmp), xml_declaration=True, encoding="UTF-8", pretty_print=True
        )


# -- reading -------------------------------------------------------------------------------


def _text(el: etree._Element | None, name: str) -> str | None:
    if el is None:
        return None
    child = el.find(_q(name))
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


class _Bad(ValueError):
    """A value of a named element is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(tr("{field}: {message}", field=field, message=message))
        self.field = field
        self.message = message


def _date(text: str | None, field: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise _Bad(field, tr("not a date: {text!r}", text=text)) from None


def _amount(text: str | None, field: str) -> Decimal:
    if text is None:
        raise _Bad(field, tr("missing"))
    try:
        value = Decimal(text)
        # quantize raises too, for more digits than the context holds (a 40-digit Sum).
        exact = value.is_finite() and value.quantize(Decimal("0.01")) == value
    except ArithmeticError:
        raise _Bad(field, tr("not an amount: {text!r}", text=text)) from None
    if not exact:
        raise _Bad(field, tr("not an amount with at most two decimals: {text!r}", text=text))
    return value.quantize(Decimal("0.01"))


def _id(text: str | None) -> str | None:
    return None if text is None or text.strip("0") == "" else text


def _entry(op: etree._Element, account: str) -> StatementEntry:
    pay_doc = op.find(_q("PayDoc"))
    if pay_doc is None or len(pay_doc) == 0:
        raise _Bad("PayDoc", tr("missing"))
    doc = pay_doc[0]
    dc = _text(op, "DC")
    if dc not in ("1", "2"):
        raise _Bad("DC", tr("is 1 (debit) or 2 (credit), not {dc!r}", dc=dc))
    direction = Direction.OUT if dc == "1" else Direction.IN
    other_tag = "Payee" if direction is Direction.OUT else "Payer"
    other = doc.find(_q(other_tag))
    bank = other.find(_q("Bank")) if other is not None else None
    doc_date = _date(_text(doc, "DocDate"), "DocDate")
    value_date = _date(_text(op, "Date"), "Date")
    amount = _amount(_text(doc, "Sum"), "Sum")
    try:
        return _make_entry(
            direction, account, doc, other, bank, doc_date, value_date, amount, pay_doc
        )
    except _Bad:
        raise
    except (ValueError, TypeError) as exc:
        raise _Bad(other_tag, str(exc)) from None


def _third_party_credit(op: etree._Element) -> Decimal | None:
    """The amount of a credit (``DC`` 2: another party paid this account) whose amount can
    be read, or None. Such an operation is not the account holder's own document: a
    problem in its payer's details is the other bank's, never a reason to refuse the
    statement. A debit, or an operation whose direction or amount cannot be read, stays
    strict."""
    pay_doc = op.find(_q("PayDoc"))
    if _text(op, "DC") != "2" or pay_doc is None or len(pay_doc) == 0:
        return None
    try:
        return _amount(_text(pay_doc[0], "Sum"), "Sum")
    except _Bad:
        return None


def _make_entry(
    direction: Direction,
    account: str,
    doc: etree._Element,
    other: etree._Element | None,
    bank: etree._Element | None,
    doc_date: dt.date | None,
    value_date: dt.date | None,
    amount: Decimal,
    pay_doc: etree._Element,
) -> StatementEntry:
    return StatementEntry(
        direction=direction,
        account=account,
        doc_number=_text(doc, "DocNo") or "",
        doc_date=doc_date,
        amount=amount,
        counterparty_name=_text(other, "Name") or "",
        counterparty_inn=_id(_text(other, "INN")),
        counterparty_kpp=_id(_text(other, "KPP")),
        counterparty_account=_text(other, "Account"),
        counterparty_bik=_text(bank, "BIC"),
        counterparty_bank=_text(bank, "Name") or "",
        purpose=_text(doc, "Purpose") or "",
        value_date=value_date,
        doc_kind=f"{_localname(doc)} ({pay_doc.get('docKind', '')})",
    )


_HEADER_FIELDS = {
    "DateFrom", "DateTo", "Account", "OpeningBalance", "TotalDebits", "TotalCredits",
    "ClosingBalance", "StatementType",
}  # fmt: skip


class StatementReader(RegistryReader):
    """Streams the operations of a DirectBank ``Statement`` as statement entries.

    ``DC`` 1 (debit) is money out of the account, 2 (credit) money in. After iteration,
    :attr:`statement` holds the header facts; when the statement gives ``TotalDebits`` or
    ``TotalCredits`` they are checked against the operations (and the balances, when all
    four figures are given). 1C's own sample gives neither, and its balances do not add up,
    so nothing else is checked.
    """

    def __init__(self, path: Path, policy: Policy, rejects_path: Path | None) -> None:
        self.path = path
        self._sink = RejectSink(path, policy, rejects_path)
        try:
            safexml.check_prolog(path)
        except FormatError as exc:
            raise self._sink.refuse(exc.message, line=exc.line) from None
        self.header = RegistryHeader(kind=RegistryKind.STATEMENTS)
        self.statement: Statement | None = None
        self._facts: dict[str, str] = {}
        self._events: Iterator[tuple[str, Any]] = etree.iterparse(
            str(path), events=("start", "end"), **safexml.iterparse_kwargs()
        )
        self._depth = 0
        self._root_seen = False
        self._count = 0
        self._good = 0
        self._total = ZERO
        self._debits = ZERO
        self._credits = ZERO
        self._report: ReadReport | None = None
        self._done = False
        self.notes: list[Issue] = []

    def _start(self, el: etree._Element) -> None:
        self._depth += 1
        if not self._root_seen:
            self._root_seen = True
            if el.getroottree().docinfo.doctype:  # type: ignore[attr-defined]
                raise FormatError(tr("a DOCTYPE is not allowed"), path=self.path, line=1)
            if el.tag != _q("Statement"):
                raise FormatError(
                    tr(
                        "the root element is {tag}, not Statement in namespace {namespace}",
                        tag=el.tag,
                        namespace=NS,
                    ),
                    path=self.path,
                    line=_line(el),
                )

    def _statement(self, line: int) -> Statement:
        f = self._facts
        if "Account" not in f:
            raise FormatError(
                tr("Data/Account is missing before the operations"), path=self.path, line=line
            )
        try:
            return Statement(
                account=f["Account"],
                date_from=_date(f.get("DateFrom"), "DateFrom"),
                date_to=_date(f.get("DateTo"), "DateTo"),
                opening_balance=_amount(f["OpeningBalance"], "OpeningBalance")
                if "OpeningBalance" in f
                else None,
                total_in=_amount(f["TotalCredits"], "TotalCredits")
                if "TotalCredits" in f
                else None,
                total_out=_amount(f["TotalDebits"], "TotalDebits") if "TotalDebits" in f else None,
                closing_balance=_amount(f["ClosingBalance"], "ClosingBalance")
                if "ClosingBalance" in f
                else None,
                bik=f.get("BIC"),
            )
        except ValueError as exc:
            raise FormatError(str(exc), path=self.path, line=line, field="Data") from None

    def _set_header(self, s: Statement) -> None:
        extra = [("account", s.account)]
        for name in ("date_from", "date_to"):
            value = getattr(s, name)
            if value is not None:
                extra.append((name, value.isoformat()))
        for name in ("opening_balance", "total_in", "total_out", "closing_balance"):
            value = getattr(s, name)
            if value is not None:
                extra.append((name, str(value)))
        self.header = RegistryHeader(
            kind=RegistryKind.STATEMENTS, partner_account=s.account, date=s.date_to, extra=extra
        )

    def __next__(self) -> StatementEntry:
        while True:
            if self._done:
                raise StopIteration
            try:
                event, el = next(self._events)
            except StopIteration:
                self._finish()
                raise
            except etree.XMLSyntaxError as exc:
                self._done = True
                raise self._sink.refuse(
                    tr("not well-formed XML: {detail}", detail=exc.msg), line=exc.lineno or 0
                ) from None
            except (etree.LxmlError, OSError) as exc:
                self._done = True
                raise self._sink.refuse(
                    tr("cannot read the XML: {reason}", reason=str(exc))
                ) from None
            try:
                if event == "start":
                    self._start(el)
                    continue
                entry = self._end(el)
            except FormatError as exc:
                self._done = True
                raise self._sink.refuse(exc.message, line=exc.line, field=exc.field) from None
            self._depth -= 1
            if entry is not None:
                return entry

    def _end(self, el: etree._Element) -> StatementEntry | None:
        tag = _localname(el)
        parent = el.getparent()
        in_data = parent is not None and _localname(parent) == "Data" and self._depth == 3
        if in_data and tag in _HEADER_FIELDS and el.text is not None:
            self._facts[tag] = el.text.strip()
            return None
        if in_data and tag == "Bank":
            bic = _text(el, "BIC")
            if bic is not None:
                self._facts["BIC"] = bic
            return None
        if not (in_data and tag == "OperationInfo"):
            return None
        if self.statement is None:
            self.statement = self._statement(_line(el))
            self._set_header(self.statement)
        line = _line(el)
        self._count += 1
        try:
            entry = _entry(el, self.statement.account)
        except _Bad as exc:
            issue = Issue(line, exc.field, exc.message)
            received = _third_party_credit(el)
            if received is None:
                self._sink.reject(line, f"OperationInfo at line {line}", [issue])
            else:
                self._set_aside(issue, received)
            entry = None
        # Done with this operation: free it and what came before it in Data.
        el.clear()
        while el.getprevious() is not None and parent is not None:
            prev = el.getprevious()
            if prev is None or _localname(prev) != "OperationInfo":
                break
            parent.remove(prev)
        if entry is None:
            return None
        self._good += 1
        self._total += entry.amount
        if entry.direction is Direction.OUT:
            self._debits += entry.amount
        else:
            self._credits += entry.amount
        return entry

    def _set_aside(self, issue: Issue, received: Decimal) -> None:
        """Keep another party's unreadable payment to us out of the entries, with a note.

        Its amount still counts towards ``TotalCredits``, so the totals are checked as the
        bank wrote them.
        """
        self._credits += received
        if len(self.notes) < DEFAULT_ISSUE_LIMIT:  # bounded memory, like the rejects
            message = tr(
                "a payment of {received} received set aside, not paid from this "
                "statement's account: {detail}",
                received=received,
                detail=issue.message,
            )
            self.notes.append(Issue(issue.line, issue.field, message))

    def _finish(self) -> None:
        self._done = True
        if self.statement is None:
            try:
                self.statement = self._statement(0)
            except FormatError as exc:
                raise self._sink.refuse(exc.message) from None
            self._set_header(self.statement)
        s = self.statement
        problems: list[str] = []
        if self._sink.rejected == 0:
            if s.total_out is not None and s.total_out != self._debits:
                problems.append(
                    tr(
                        "TotalDebits is {stated}, the operations' debits sum to {found}",
                        stated=s.total_out,
                        found=self._debits,
                    )
                )
            if s.total_in is not None and s.total_in != self._credits:
                problems.append(
                    tr(
                        "TotalCredits is {stated}, the operations' credits sum to {found}",
                        stated=s.total_in,
                        found=self._credits,
                    )
                )
            if (why := s.balance_problem()) is not None:
                problems.append(why)
        report, error = self._sink.finish(
            self.header, self._count, {}, None, good_total=self._total
        )
        if problems:
            message = tr("control totals do not match: {problems}", problems=join("; ", problems))
            issues = report.issues + tuple(Issue(0, "control", p) for p in problems)
            report = ReadReport(
                report.path, report.header, report.records, report.total, report.rejected,
                issues, report.issue_count + len(problems), report.refused or message, None,
            )  # fmt: skip
            if error is None:
                error = RegistryRefused(
                    message, path=self.path, issues=issues, issue_count=report.issue_count
                )
        self._report = report
        if error is not None:
            raise error

    @property
    def report(self) -> ReadReport:
        if self._report is None:
            return ReadReport(self.path, self.header, self._good, self._total, self._sink.rejected)
        return self._report

    def close(self) -> None:
        self._done = True


class DirectBankFormat(RegistryFormat):
    """``1c-directbank``: writes a ``PayDocRu`` payment order, reads ``Statement`` statements.

    ``schemas`` (default: from the environment, see :meth:`DirectBankSchemas.from_env`)
    makes the writer validate each document before it appears. Header values taken from
    ``RegistryHeader.extra``: ``sender_id`` (``Sender/@id``, the service's customer id at
    the bank; default its ИНН). ``creationDate`` is ``created_at`` as a wall time of
    ``time_zone`` (the service's; default Europe/Moscow), without an offset as 1C writes
    it: a ``created_at`` without a zone is already one, one with a zone is converted, and
    the default is now in ``time_zone``.

    The order needs the name and city of both banks (``Bank/Name``, ``Bank/City``): an
    order without them is a :class:`FormatError` naming the element, and nothing is written.
    """

    name = "1c-directbank"
    kind = RegistryKind.TRANSFERS
    description = "1C DirectBank XML 2.3.2: PayDocRu payment order written, Statement read"
    capabilities = FormatCapabilities(read=True, write=True, streaming=True, encodings=("utf-8",))
    #: A PayDocRu holds one order: callers with several write one file each.
    one_record_per_file = True

    def __init__(
        self,
        schemas: DirectBankSchemas | None = None,
        *,
        format_version: str = FORMAT_VERSION,
        time_zone: dt.tzinfo | str | None = None,
    ) -> None:
        self.schemas = schemas if schemas is not None else DirectBankSchemas.from_env()
        self.format_version = format_version
        self.time_zone = zone_of(time_zone)

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> StatementReader:
        return StatementReader(Path(path), Policy(policy), rejects_path)

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        path = Path(path)
        orders = []
        for i, record in enumerate(records, 1):
            if not isinstance(record, PaymentOrder):
                raise FormatError(
                    tr(
                        "1c-directbank writes payment orders, not {kind}",
                        kind=type(record).__name__,
                    ),
                    path=path,
                    line=i,
                )
            orders.append(record)
            if len(orders) > 1:
                raise FormatError(
                    tr("a PayDocRu document holds one payment order: write one file per order"),
                    path=path,
                )
        if not orders:
            raise FormatError(tr("no payment order to write"), path=path)
        order = orders[0]
        if missing := missing_bank_details(order):
            side, field, message = missing[0]
            where = f"{side.capitalize()}/Bank/{field.capitalize()}"
            raise FormatError(message, path=path, field=where)
        root = paydoc_tree(
            order,
            sender_id=dict(header.extra).get("sender_id"),
            created_at=header.created_at,
            format_version=self.format_version,
            time_zone=self.time_zone,
        )
        with atomic_path(path) as tmp:
            etree.ElementTree(root).write(
                str(tmp), xml_declaration=True, encoding="UTF-8", pretty_print=True
            )
            if self.schemas is not None:
                self.schemas.validate_paydoc(tmp)
        return WriteReport(path, 1, order.amount)

    def filename(self, header: RegistryHeader) -> str | None:
        if header.number is None or header.date is None:
            return None
        return f"PayDocRu_{header.number}_{header.date:%Y%m%d}.xml"


def read_paydoc(path: Path | str) -> PaymentOrder:
    """The payment order of a ``PayDocRu`` document (hardened parse, typed errors)."""
    path = Path(path)
    tree = safexml.parse(path)
    root = tree.getroot()
    if root.tag != _q("PayDocRu"):
        raise FormatError(
            tr("the root element is {tag}, not PayDocRu", tag=root.tag), path=path, line=1
        )
    data = root.find(_q("Data"))
    if data is None:
        raise FormatError(tr("Data is missing"), path=path)

    def party(tag: str) -> Party:
        el = data.find(_q(tag))
        bank = el.find(_q("Bank")) if el is not None else None
        try:
            return Party(
                name=_text(el, "Name") or "",
                inn=_text(el, "INN") or "",
                kpp=_text(el, "KPP"),
                bank=BankDetails(
                    bik=_text(bank, "BIC") or "",
                    account=_text(el, "Account") or "",
                    corr_account=_text(bank, "CorrespAcc") or "",
                    bank_name=_text(bank, "Name") or "",
                    city=_text(bank, "City") or "",
                ),
            )
        except (ValueError, TypeError) as exc:
            raise FormatError(str(exc), path=path, line=_line(el), field=tag) from None

    payer, payee = party("Payer"), party("Payee")
    try:
        doc_date = _date(_text(data, "DocDate"), "DocDate")
        if doc_date is None:
            raise _Bad("DocDate", tr("missing"))
        return PaymentOrder(
            number=_text(data, "DocNo") or "",
            date=doc_date,
            amount=_amount(_text(data, "Sum"), "Sum"),
            payer=payer,
            payee=payee,
            purpose=_text(data, "Purpose") or "",
            priority=int(_text(data, "Priority") or "5"),
            kind=_text(data, "TransitionKind") or "01",
            code=_text(data, "Code") or "0",
            payment_kind=_text(data, "PaymentKind") or "",
        )
    except (ValueError, TypeError) as exc:
        raise FormatError(str(exc), path=path, line=_line(data), field="Data") from None


def write_statement(
    path: Path | str,
    statement: Statement,
    entries: Iterable[StatementEntry],
    *,
    owner: Party,
    bank_name: str = "",
    created_at: dt.datetime | None = None,
    time_zone: dt.tzinfo | str | None = None,
) -> Path:
    """Write a DirectBank ``Statement`` of ``owner``'s account, as a bank would send it.

    For tests and for simulating a bank: ``pes reconcile`` can then be tried end to end.
    Each entry needs the counterparty's БИК (the schema requires a bank for both sides).
    ``docKind`` is written as ``10``, as in 1C's own sample statement. ``creationDate`` is
    ``created_at`` (default now) as a wall time of ``time_zone``, as for a ``PayDocRu``.
    """
    path = Path(path)
    if statement.bik is None or statement.date_to is None or statement.closing_balance is None:
        raise ValueError("a statement needs its БИК, date_to and closing balance")
    root = etree.Element(
        _q("Statement"),
        nsmap={None: NS},  # type: ignore[dict-item]
        id=str(uuid.uuid5(_ID_NAMESPACE, f"statement/{statement.account}/{statement.date_to}")),
        formatVersion=FORMAT_VERSION,
        creationDate=_creation(created_at, zone_of(time_zone)),
        userAgent=f"pes-sdk {sdk_version}",
    )
    sender = _sub(root, "Sender")
    sender.set("bic", statement.bik)
    if bank_name:
        sender.set("name", bank_name)
    recipient = _sub(root, "Recipient")
    recipient.set("id", owner.inn)
    recipient.set("name", owner.name)
    recipient.set("inn", owner.inn)
    if owner.kpp:
        recipient.set("kpp", owner.kpp)
    data = _sub(root, "Data")
    _sub(data, "StatementType", "0")
    if statement.date_from is not None:
        _sub(data, "DateFrom", f"{statement.date_from.isoformat()}T00:00:00")
    _sub(data, "DateTo", f"{statement.date_to.isoformat()}T23:59:59")
    _sub(data, "Account", statement.account)
    bank = _sub(data, "Bank")
    _sub(bank, "BIC", statement.bik)
    if bank_name:
        _sub(bank, "Name", bank_name)
    if statement.opening_balance is not None:
        _sub(data, "OpeningBalance", _sum(statement.opening_balance))
    if statement.total_out is not None:
        _sub(data, "TotalDebits", _sum(statement.total_out))
    if statement.total_in is not None:
        _sub(data, "TotalCredits", _sum(statement.total_in))
    _sub(data, "ClosingBalance", _sum(statement.closing_balance))
    for n, e in enumerate(entries, 1):
        if e.counterparty_bik is None:
            raise ValueError(f"entry {n}: the counterparty's БИК is needed")
        op = _sub(data, "OperationInfo")
        pay_doc = _sub(op, "PayDoc")
        pay_doc.set("id", e.doc_number or str(n))
        pay_doc.set("docKind", "10")
        doc = _sub(pay_doc, "PayDocRu")
        _sub(doc, "DocNo", e.doc_number or str(n))
        _sub(doc, "DocDate", (e.doc_date or e.day or statement.date_to).isoformat())
        _sub(doc, "Sum", _sum(e.amount))
        we_pay = e.direction is Direction.OUT
        for tag in ("Payer", "Payee"):  # the schema's order, whoever is who
            side = _sub(doc, tag)
            if (tag == "Payer") == we_pay:
                _sub(side, "Name", owner.name)
                _sub(side, "INN", owner.inn)
                if owner.kpp:
                    _sub(side, "KPP", owner.kpp)
                _sub(side, "Account", statement.account)
                _sub(_sub(side, "Bank"), "BIC", statement.bik)
                continue
            _sub(side, "Name", e.counterparty_name or "-")
            if e.counterparty_inn:
                _sub(side, "INN", e.counterparty_inn)
            if e.counterparty_kpp:
                _sub(side, "KPP", e.counterparty_kpp)
            if e.counterparty_account:
                _sub(side, "Account", e.counterparty_account)
            their_bank = _sub(side, "Bank")
            _sub(their_bank, "BIC", e.counterparty_bik)
            if e.counterparty_bank:
                _sub(their_bank, "Name", e.counterparty_bank)
        _sub(doc, "Priority", "5")
        _sub(doc, "Purpose", e.purpose or "-")
        _sub(op, "DC", "1" if e.direction is Direction.OUT else "2")
        _sub(op, "Date", (e.day or statement.date_to).isoformat())
    _write_tree(path, root)
    return path
