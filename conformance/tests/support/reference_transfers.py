"""A small, correct transfer format, and deliberately broken ones built on it.

``reference-transfers`` writes payment orders and reads bank statements, UTF-8, one
``;``-separated line per order or statement line, between ``#PES-TRANSFERS`` and ``#END``:

* ``O;number;date;amount;payer…;payee…;purpose``: a payment order (read back as an
  outgoing line of the payer's account);
* ``S;account;bik;from;to;opening;in;out;closing``: the figures of a statement;
* ``E;direction;account;number;date;amount;counterparty…;purpose;value date;kind``: a
  statement line.

The reader checks a statement's figures (opening + in − out = closing, and the totals
against its lines). Each broken class below overrides one small method, the way such bugs
are really written; ``test_transfers_catches_faults`` proves the transfers family catches
each one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import IO, Any

from pes_sdk_conformance.transfers import TransferFormatConformance

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
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.models.transfers import Direction, Party, PaymentOrder, Statement, StatementEntry
from pes_sdk.money import ZERO, parse_amount

MAX_LINE = 4096
FIRST, LAST = "#PES-TRANSFERS", "#END"


def _party_cells(p: Party) -> list[str]:
    b = p.bank
    return [p.name, p.inn, p.kpp or "", b.bik, b.account, b.corr_account, b.bank_name]


def _date(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _opt_amount(text: str) -> Decimal | None:
    return parse_amount(text, decimal_comma=False) if text else None


class ReferenceTransfers(RegistryFormat):
    refuses_text_after_end = True  # #END ends the file
    name = "reference-transfers"
    kind = RegistryKind.TRANSFERS
    capabilities = FormatCapabilities(read=True, write=True, streaming=True, encodings=("utf-8",))

    # -- writing ---------------------------------------------------------------------

    def format_amount(self, value: Decimal) -> str:
        return f"{value:.2f}"

    def order_cells(self, o: PaymentOrder) -> list[str]:
        return [
            "O", o.number, o.date.isoformat(), self.format_amount(o.amount),
            *_party_cells(o.payer), *_party_cells(o.payee), o.purpose,
        ]  # fmt: skip

    def orders_to_write(self, records: Iterable[Record]) -> Iterator[Record]:
        return iter(records)

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            return self.write_to(fh, path, records)

    def write_to(self, fh: IO[str], path: Path, records: Iterable[Record]) -> WriteReport:
        count, total = 0, ZERO
        fh.write(FIRST + "\n")
        for i, r in enumerate(self.orders_to_write(records), 1):
            if not isinstance(r, PaymentOrder):
                raise FormatError(
                    f"writes payment orders, not {type(r).__name__}", path=path, line=i + 1
                )
            cells = self.order_cells(r)
            if any(";" in c for c in cells):
                raise FormatError("a value holds ';'", path=path, line=i + 1)
            fh.write(";".join(cells) + "\n")
            count += 1
            total += r.amount
        fh.write(LAST + "\n")
        return WriteReport(path, count, total)

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        return ReferenceStatementReader(self, Path(path))

    # -- reading (used by the reader) --------------------------------------------------

    def parse_amount(self, text: str) -> Decimal:
        return parse_amount(text, decimal_comma=False)

    def check_totals(self, statement: Statement | None, sums: dict[Direction, Decimal]) -> str:
        if statement is None:
            return ""
        problems = []
        if statement.total_in is not None and statement.total_in != sums[Direction.IN]:
            problems.append(f"total in {statement.total_in}, the lines {sums[Direction.IN]}")
        if statement.total_out is not None and statement.total_out != sums[Direction.OUT]:
            problems.append(f"total out {statement.total_out}, the lines {sums[Direction.OUT]}")
        if (why := statement.balance_problem()) is not None:
            problems.append(why)
        return "; ".join(problems)


class ReferenceStatementReader(RegistryReader):
    def __init__(self, fmt: ReferenceTransfers, path: Path) -> None:
        self.fmt = fmt
        self.path = path
        self.header = RegistryHeader(kind=RegistryKind.STATEMENTS)
        self.statement: Statement | None = None
        self._sums = {Direction.IN: ZERO, Direction.OUT: ZERO}
        self._count = 0
        self._report: ReadReport | None = None
        self._it = self._entries()

    def __next__(self) -> StatementEntry:
        return next(self._it)

    def _refuse(self, message: str, line: int) -> RegistryRefused:
        issue = Issue(line, "", message)
        self._report = ReadReport(self.path, self.header, 0, ZERO, 0, (issue,), 1, message)
        return RegistryRefused(message, path=self.path, issues=(issue,), issue_count=1)

    def _lines(self) -> Iterator[tuple[int, str]]:
        with open(self.path, "rb") as fh:
            n = 0
            while raw := fh.readline(MAX_LINE + 1):
                n += 1
                if len(raw) > MAX_LINE:
                    raise FormatError("line too long", path=self.path, line=n)
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise FormatError("not UTF-8", path=self.path, line=n) from None
                if "\x00" in text:
                    raise FormatError("a NUL byte", path=self.path, line=n)
                yield n, text.rstrip("\n")

    def _entries(self) -> Iterator[StatementEntry]:
        try:
            yield from self._parse()
        except FormatError as exc:
            raise self._refuse(exc.message, exc.line) from None

    def _parse(self) -> Iterator[StatementEntry]:
        ended, n = False, 0
        for n, text in self._lines():
            if n == 1:
                if text != FIRST:
                    raise FormatError(f"the first line is not {FIRST}", path=self.path, line=1)
                continue
            if ended:
                if not self.fmt.refuses_text_after_end:
                    break
                raise FormatError(f"text after {LAST}", path=self.path, line=n)
            if text == LAST:
                ended = True
                continue
            entry = self.parse_line(n, text.split(";"))
            if entry is not None:
                self._count += 1
                self._sums[entry.direction] += entry.amount
                yield entry
        if not ended:
            raise FormatError(f"no {LAST}: the file is cut short", path=self.path, line=n)
        problem = self.fmt.check_totals(self.statement, self._sums)
        if problem:
            raise self._refuse(f"control totals do not match: {problem}", 0)
        total = self._sums[Direction.IN] + self._sums[Direction.OUT]
        self._report = ReadReport(self.path, self.header, self._count, total)

    def parse_line(self, n: int, cells: list[str]) -> StatementEntry | None:
        want = {"O": 4 + 2 * 7 + 1, "S": 9, "E": 15}
        kind = cells[0]
        if kind not in want or len(cells) != want[kind]:
            raise FormatError("not an O, S or E line of the right length", path=self.path, line=n)
        try:
            return self._convert(kind, cells)
        except (ValueError, TypeError) as exc:
            raise FormatError(str(exc), path=self.path, line=n) from None

    def _convert(self, kind: str, c: list[str]) -> StatementEntry | None:
        amount = self.fmt.parse_amount
        if kind == "S":
            self.statement = Statement(
                c[1], _date(c[3]), _date(c[4]), _opt_amount(c[5]), _opt_amount(c[6]),
                _opt_amount(c[7]), _opt_amount(c[8]), c[2] or None,
            )  # fmt: skip
            return None
        if kind == "O":
            # Read back as the bank would show it: a statement line, whose account keys
            # are reported (counterparty_key_ok), not enforced.
            day = dt.date.fromisoformat(c[2])
            name, inn, kpp, bik, account, _, bank = c[11:18]
            return StatementEntry(
                Direction.OUT, c[8], c[1], day, amount(c[3]), name, inn, kpp or None,
                account, bik, bank, c[18], day, "order",
            )  # fmt: skip
        return StatementEntry(
            Direction(c[1]), c[2], c[3], _date(c[4]), amount(c[5]), c[6], c[7] or None,
            c[8] or None, c[9] or None, c[10] or None, c[11], c[12], _date(c[13]), c[14],
        )  # fmt: skip

    @property
    def report(self) -> ReadReport:
        if self._report is None:
            return ReadReport(self.path, self.header, self._count, ZERO)
        return self._report


def write_statement(path: Path, statement: Statement, entries: Sequence[StatementEntry]) -> Path:
    """A statement the reference reader reads, stating exactly ``statement``'s figures."""

    def money(v: Decimal | None) -> str:
        return "" if v is None else f"{v:.2f}"

    def day(v: dt.date | None) -> str:
        return "" if v is None else v.isoformat()

    s = statement
    lines = [
        FIRST,
        ";".join(
            [
                "S",
                s.account,
                s.bik or "",
                day(s.date_from),
                day(s.date_to),
                money(s.opening_balance),
                money(s.total_in),
                money(s.total_out),
                money(s.closing_balance),
            ]
        ),
    ]
    for e in entries:
        lines.append(
            ";".join(
                [
                    "E",
                    e.direction.value,
                    e.account,
                    e.doc_number,
                    day(e.doc_date),
                    money(e.amount),
                    e.counterparty_name,
                    e.counterparty_inn or "",
                    e.counterparty_kpp or "",
                    e.counterparty_account or "",
                    e.counterparty_bik or "",
                    e.counterparty_bank,
                    e.purpose,
                    day(e.value_date),
                    e.doc_kind,
                ]
            )
        )
    lines.append(LAST)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class ReferenceTransferConformance(TransferFormatConformance):
    """The suite as the reference format's author runs it: statements written as above."""

    def statement_for(
        self,
        fmt: RegistryFormat,
        folder: Path,
        owner: Party,
        statement: Statement,
        entries: Sequence[StatementEntry],
    ) -> Path:
        return write_statement(folder / "statement.txt", statement, entries)


# -- deliberately broken transfer formats --------------------------------------------------


class RoundsOrderAmount(ReferenceTransfers):
    """Writes amounts rounded half-even to ten kopecks (a rounding meant for display)."""

    def format_amount(self, value: Decimal) -> str:
        rounded = value.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
        return f"{rounded if rounded > 0 else value:.2f}"


class DropsLastOrder(ReferenceTransfers):
    """Loses the last order (buffering one behind and never flushing it)."""

    def orders_to_write(self, records: Iterable[Record]) -> Iterator[Record]:
        previous = None
        for r in records:
            if previous is not None:
                yield previous
            previous = r


class WritesPartialFile(ReferenceTransfers):
    """Writes straight to the final name: a failure leaves half a file there."""

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            return self.write_to(fh, path, records)


class SwapsAccountDigits(ReferenceTransfers):
    """Writes the payee's р/с with its last two digits swapped (a typo in a template)."""

    def order_cells(self, o: PaymentOrder) -> list[str]:
        cells = super().order_cells(o)
        account = cells[15]
        cells[15] = account[:-2] + account[-1] + account[-2]
        return cells


class ManglesCyrillic(ReferenceTransfers):
    """Simplifies the purpose for an old bank: ё → е, «» → quotes."""

    def order_cells(self, o: PaymentOrder) -> list[str]:
        cells = super().order_cells(o)
        table = str.maketrans({"ё": "е", "Ё": "Е", "«": '"', "»": '"'})
        cells[-1] = cells[-1].translate(table)
        return cells


class IgnoresStatementTotals(ReferenceTransfers):
    """Never checks a statement's balances and totals."""

    def check_totals(self, statement: Statement | None, sums: dict[Direction, Decimal]) -> str:
        return ""


class _RawError(Exception):
    pass


class RaisesRawErrors(ReferenceTransfers):
    """Parses statement amounts with ``Decimal`` and lets its exception escape."""

    def parse_amount(self, text: str) -> Any:
        try:
            return Decimal(text).quantize(Decimal("0.01"))
        except ArithmeticError as exc:
            raise _RawError(f"bad amount {text!r}") from exc


class RoundsStatementAmounts(ReferenceTransfers):
    """Reads a third decimal place and rounds it away instead of refusing it."""

    def parse_amount(self, text: str) -> Decimal:
        if text.count(".") == 1 and text.replace(".", "").isdigit() and len(text) < 30:
            return Decimal(text).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
        return super().parse_amount(text)


class AcceptsDataAfterEnd(ReferenceTransfers):
    """The reader stops reading at ``#END``: whatever follows it is never looked at."""

    refuses_text_after_end = False
