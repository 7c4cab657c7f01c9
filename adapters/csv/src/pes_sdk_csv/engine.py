"""The dialect engine: one :class:`DialectFormat` per dialect, its streaming reader and writer.

Reading never holds the file: lines come one at a time from a strict text decoder, each
at most ``max_line_length`` characters (a longer line is an error for that line, read past
in pieces). Every bad row becomes :class:`~pes_sdk.errors.Issue` objects handed to a
:class:`~pes_sdk.formats.RejectSink`, which applies the policy and checks the footer's
control totals at the end.

Debt registries take a fast path: a row whose every cell is plainly good (the common case)
is built from per-dialect caches and :meth:`DebtRecord.from_checked
<pes_sdk.models.DebtRecord.from_checked>`; any doubt sends the row through the general
path, which checks every cell and names each problem. Both give equal records.
"""

from __future__ import annotations

import codecs
import operator
import re
from collections.abc import Callable, Generator, Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import attrs

from pes_sdk.errors import FormatError, Issue, RegistryRefused
from pes_sdk.files import atomic_path
from pes_sdk.formats import (
    FormatCapabilities,
    Policy,
    ReadReport,
    Record,
    RegistryFormat,
    RegistryReader,
    RejectSink,
    WriteReport,
    escape_formula,
    unescape_formula,
)
from pes_sdk.models import ControlTotals, DebtRecord, PaymentRecord, RegistryHeader, RegistryKind
from pes_sdk.money import ZERO
from pes_sdk_csv.cells import (
    CachedParser,
    CellParser,
    amount_parser,
    combine_paid_at,
    empty_value,
    format_amount,
    formatter_for,
    parser_for,
)
from pes_sdk_csv.dialect import COUNT_FIELD, ColumnType, Dialect
from pes_sdk_csv.filename import FileNameTemplate

__all__ = ["DialectFormat", "DialectReader"]

_RECORD_CLASS: dict[RegistryKind, type[DebtRecord] | type[PaymentRecord]] = {
    RegistryKind.DEBTS: DebtRecord,
    RegistryKind.PAYMENTS: PaymentRecord,
}
_RAW_LIMIT = 1000  # characters of an overlong line kept in the rejects file
_BOMS = ((b"\xef\xbb\xbf", "UTF-8"), (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))
_MISS = object()  # not in a cache (None is a value there: an empty optional period)
# Column types whose value objects repeat from row to row (a reader hands out one Premises
# and one Period object for each distinct text): their written text is remembered.
_REPEATING = frozenset({ColumnType.PREMISES, ColumnType.PERIOD})


class DialectFormat(RegistryFormat):
    """A registry format defined by a :class:`~pes_sdk_csv.dialect.Dialect`."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.name = dialect.name
        self.kind = dialect.kind
        self.description = dialect.description
        self.capabilities = FormatCapabilities(
            read=True,
            write=True,
            streaming=True,
            control_totals=dialect.footer is not None,
            escapes_formulas=True,
            encodings=(dialect.encoding,),
            max_line_length=dialect.max_line_length,
            tagged_fields=dialect.tagged_fields,
        )
        self.template = FileNameTemplate(dialect.filename) if dialect.filename else None
        # Decoding: a BOM is tolerated on reading UTF-8 (Excel writes one) and never written.
        self.read_encoding = "utf-8-sig" if dialect.encoding == "utf-8" else dialect.encoding
        self.record_class = _RECORD_CLASS[dialect.kind]
        self.tag_key = re.compile(dialect.tag_key_pattern).fullmatch
        footer = dialect.footer
        self.sum_fields = tuple(
            f for f in (footer.fields if footer else ()) if dialect.column_index(f) is not None
        )
        last_required = max(i for i, c in enumerate(dialect.columns) if c.required)
        self.min_cells = last_required + 1

    def open(
        self,
        path: Path,
        *,
        policy: Policy = Policy.STRICT,
        rejects_path: Path | None = None,
    ) -> DialectReader:
        return DialectReader(self, Path(path), Policy(policy), rejects_path)

    def filename(self, header: RegistryHeader) -> str | None:
        return self.template.format(header) if self.template else None

    def header_from_filename(self, path: Path) -> RegistryHeader:
        """The facts the file name carries (empty when it does not fit the template)."""
        facts = self.template.parse(path.name) if self.template else None
        return RegistryHeader(self.kind, **(facts or {}))

    # -- writing -------------------------------------------------------------------------

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        """Write atomically: a half-written file never appears under ``path``.

        Raises :class:`~pes_sdk.errors.FormatError` (naming the line and column) for a
        record this dialect cannot carry: a wrong record type, a text with the delimiter or
        a line break, a character the encoding lacks, a repeated (account, service) in a
        debt registry. A record without a period of its own is written with the header's
        period. Record fields the dialect has no column for (and tags, when it has no
        tagged fields) are not written.
        """
        path = Path(path)
        writer = _Writer(self, path)
        enc = self.dialect.encoding
        with atomic_path(path) as tmp, open(tmp, "w", encoding=enc, newline="") as fh:
            count, total = writer.run(fh, header, records)
        return WriteReport(path, count, total)


class _Writer:
    """One write: formats records line by line and writes them in batches."""

    _BATCH = 512  # lines joined per write() call

    def __init__(self, fmt: DialectFormat, path: Path) -> None:
        self.fmt = fmt
        self.d = fmt.dialect
        self.path = path
        cols = self.d.columns
        self.names = [c.name for c in cols]
        required = [i for i, c in enumerate(cols) if c.required]
        self.pick_required: Callable[[list[str]], tuple[str, ...]] = (
            operator.itemgetter(*required) if len(required) > 1 else lambda c: (c[required[0]],)
        )
        self.buffer: list[str] = []
        self.buffer_start = 0  # line number of the buffer's first line

    def error(self, line: int, field: str, message: str) -> FormatError:
        return FormatError(message, path=self.path, line=line, field=field)

    def check_cell(self, line: int, field: str, text: str) -> None:
        if self.d.delimiter in text or "\n" in text or "\r" in text or "\x00" in text:
            raise self.error(
                line, field, f"{text!r} holds the delimiter, a line break or a NUL: cannot write it"
            )

    def run(
        self, fh: IO[str], header: RegistryHeader, records: Iterable[Record]
    ) -> tuple[int, Decimal]:
        d = self.d
        end = d.line_ending
        delim = d.delimiter
        line = 0
        if d.header is not None:
            line += 1
            self.put(fh, line, d.header + end)
        # (field, formatter, text of a None value); a record without a period of its own
        # is written with the header's.
        getters = []
        for col in d.columns:
            fmt = formatter_for(col, d)
            if col.type in _REPEATING:
                fmt = _memo(fmt)
            empty = fmt(header.period) if col.field == "period" and header.period else ""
            getters.append((fmt, empty))
        values_of = operator.attrgetter(*(c.field for c in d.columns))
        sum_fields = self.fmt.sum_fields
        sums = {f: ZERO for f in sum_fields}
        extra_sums = [f for f in sum_fields if f != "amount"]
        total = ZERO
        count = 0
        seen: set[int] = set()
        cls = self.fmt.record_class
        debts = d.kind is RegistryKind.DEBTS
        tagged = d.tagged_fields
        n = len(getters)
        pick_required = self.pick_required
        for rec in records:
            line += 1
            if not isinstance(rec, cls):
                raise self.error(
                    line, "", f"a {d.name} file holds {cls.__name__}, not {type(rec).__name__}"
                )
            if debts:
                key = _pair_key(rec.account, rec.service)
                if key in seen:
                    raise self.error(
                        line,
                        "account",
                        f"account {rec.account!r} and service {rec.service!r} "
                        "repeat an earlier record",
                    )
                seen.add(key)
            cells = [
                empty if v is None else fmt(v)
                for (fmt, empty), v in zip(getters, values_of(rec), strict=True)
            ]
            if tagged and rec.tags:
                cells.extend(self.tag_cells(line, rec.tags))
            text = delim.join(cells)
            if (
                text.count(delim) != len(cells) - 1
                or "\n" in text
                or "\r" in text
                or "\x00" in text
                or "" in pick_required(cells)
            ):
                self.diagnose(line, cells[:n])
            self.put(fh, line, text + end)
            count += 1
            total += rec.amount
            for f in extra_sums:
                sums[f] += getattr(rec, f)
        if "amount" in sums:
            sums["amount"] = total
        if d.footer is not None:
            line += 1
            extra = dict(header.extra)
            cells = []
            for f in d.footer.fields:
                if f == COUNT_FIELD:
                    cells.append(str(count))
                elif f in sums:
                    cells.append(format_amount(sums[f], d.decimal_separator))
                else:
                    text = escape_formula(extra.get(f, ""))
                    self.check_cell(line, f, text)
                    cells.append(text)
            self.put(fh, line, d.footer.prefix + delim.join(cells) + end)
        self.flush(fh)
        return count, total

    def tag_cells(self, line: int, tags: tuple[tuple[str, str], ...]) -> list[str]:
        out = []
        for key, value in tags:
            if not self.fmt.tag_key(key):
                raise self.error(line, "tags", f"tag key {key!r} does not fit the dialect")
            text = f"{key}:{escape_formula(value)}"
            self.check_cell(line, "tags", text)
            out.append(text)
        return out

    def diagnose(self, line: int, cells: list[str]) -> None:
        """Raise the error of a line that failed the quick checks, naming its column."""
        for col, text in zip(self.d.columns, cells, strict=True):
            self.check_cell(line, col.name, text)
            if col.required and not text:
                raise self.error(line, col.name, "is required and empty")
        raise self.error(line, "", "cannot write this record")  # pragma: no cover

    def put(self, fh: IO[str], line: int, text: str) -> None:
        if not self.buffer:
            self.buffer_start = line
        self.buffer.append(text)
        if len(self.buffer) >= self._BATCH:
            self.flush(fh)

    def flush(self, fh: IO[str]) -> None:
        if not self.buffer:
            return
        try:
            fh.write("".join(self.buffer))
        except UnicodeEncodeError:
            self.find_unencodable()
            raise
        self.buffer.clear()

    def find_unencodable(self) -> None:
        enc = self.d.encoding
        for offset, text in enumerate(self.buffer):
            try:
                text.encode(enc)
            except UnicodeEncodeError:
                pass
            else:
                continue
            line = self.buffer_start + offset
            cells = text.rstrip("\r\n").split(self.d.delimiter)
            names = self.names + ["tags"] * max(0, len(cells) - len(self.names))
            for name, cell in zip(names, cells, strict=False):
                try:
                    cell.encode(enc)
                except UnicodeEncodeError as exc:
                    bad = cell[exc.start : exc.end]
                    raise self.error(line, name, f"{bad!r} cannot be written in {enc}") from None


class DialectReader(RegistryReader):
    """A registry being read. Iterate it; :attr:`report` is complete at the end."""

    def __init__(
        self, fmt: DialectFormat, path: Path, policy: Policy, rejects_path: Path | None
    ) -> None:
        self.fmt = fmt
        self.path = path
        self.header = fmt.header_from_filename(path)
        self.policy = policy
        self._sink = RejectSink(path, policy, rejects_path)
        try:
            # Closed by close() or at the end of the iteration, not by a with-block:
            # the file stays open between the caller's next() calls.
            self._file: IO[str] | None = open(  # noqa: SIM115
                path, encoding=fmt.read_encoding, errors="strict", newline="\n"
            )
        except OSError as exc:
            raise RegistryRefused(f"cannot open: {exc.strerror or exc}", path=path) from None
        d = fmt.dialect
        self._count = 0  # data rows seen, good or bad
        self._sums: dict[str, Decimal] = {f: ZERO for f in fmt.sum_fields}
        self._unverifiable: set[str] = set()
        self._good_total = ZERO
        self._report: ReadReport | None = None
        self._seen: set[int] = set()
        self._footer_line = 0
        self._footer_counts = True
        self._parsers: list[CellParser] = [parser_for(c, d) for c in d.columns]
        self._empty = [empty_value(c) for c in d.columns]
        self._gen: Generator[Record, None, None] = self._run()

    # -- the iterator protocol -----------------------------------------------------------

    def __iter__(self) -> Iterator[Record]:
        # Hand out the generator itself: a for-loop then skips one Python call per record.
        return self._gen

    def __next__(self) -> Record:
        return next(self._gen)

    @property
    def report(self) -> ReadReport:
        if self._report is not None:
            return self._report
        return ReadReport(
            path=self.path,
            header=self.header,
            records=self._count - self._sink.rejected,
            total=self._good_total,
            rejected=self._sink.rejected,
            issues=tuple(self._sink.issues),
            issue_count=self._sink.issue_count,
        )

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._report is None:
            self._gen.close()
            self._sink.abort()

    # -- reading -------------------------------------------------------------------------

    def _run(self) -> Generator[Record, None, None]:
        try:
            yield from self._lines()
        except UnicodeDecodeError as exc:
            line = self._find_bad_line()
            raise self._refuse(
                f"bytes that are not {self.fmt.dialect.encoding} ({exc.reason})",
                line=line,
                field="encoding",
            ) from None
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None
        self._finish()

    def _find_bad_line(self) -> int:
        """Re-read the raw bytes to find the line where decoding fails (error path only)."""
        decoder = codecs.getincrementaldecoder(self.fmt.read_encoding)(errors="strict")
        line = 1
        with open(self.path, "rb") as raw:
            while chunk := raw.readline(1 << 16):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    return line
                if chunk.endswith(b"\n"):
                    line += 1
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                return line
        return 0

    def _check_bom(self) -> None:
        """A byte-order mark proves a file Unicode: in a one-byte encoding, refuse it.

        In cp1251 a UTF-8 BOM reads as ``п»ї`` and would silently join the first cell.
        """
        if self.fmt.dialect.encoding.startswith("utf-8"):
            return
        with open(self.path, "rb") as raw:
            start = raw.read(3)
        for bom, name in _BOMS:
            if start.startswith(bom):
                raise self._refuse(
                    f"the file starts with a {name} byte-order mark: it is {name}, "
                    f"not {self.fmt.dialect.encoding}",
                    1,
                    "encoding",
                )

    def _refuse(self, message: str, line: int = 0, field: str = "") -> RegistryRefused:
        """Refuse the registry whole, now; the report says so."""
        error = self._sink.refuse(message, line=line, field=field)
        self._report = attrs.evolve(self.report, refused=error.message)
        return error

    def _lines(self) -> Iterator[Record]:
        d = self.fmt.dialect
        assert self._file is not None
        readline = self._file.readline
        limit = d.max_line_length + 2  # room for the line ending
        lineno = 0
        if d.header is not None:
            first = readline(limit)
            lineno = 1
            text = first.rstrip("\r\n")
            if not first:
                raise self._refuse("the file is empty: no header line", 1, "header")
            if text != d.header:
                raise self._refuse(
                    f"the header line is {text[:200]!r}, expected {d.header!r}", 1, "header"
                )
        self._check_bom()
        fast = self._fast_debts(readline, limit, lineno)
        if fast is not None:
            yield from fast
        else:
            handle = self._one_line
            while line := readline(limit):
                lineno += 1
                record = handle(lineno, line)
                if record is not None:
                    yield record
        footer = d.footer
        if footer is not None and footer.required and not self._footer_line:
            raise self._refuse(
                f"no footer line ({footer.prefix}{d.delimiter.join(footer.fields)})", 0, "footer"
            )

    def _one_line(self, lineno: int, line: str) -> DebtRecord | PaymentRecord | None:
        """Take one physical line: a record, or None (blank, footer or rejected)."""
        d = self.fmt.dialect
        if len(line) == d.max_line_length + 2 and line[-1] != "\n":
            self._overlong(lineno, line, rest=True)
            return None
        text = line.rstrip("\r\n")
        if len(text) > d.max_line_length:
            self._overlong(lineno, text, rest=False)
            return None
        if not text:
            return None  # blank lines carry nothing; trailing ones are common
        if self._footer_line:
            raise self._refuse(
                f"a line after the footer (line {self._footer_line})", lineno, "footer"
            )
        if d.footer is not None and text.startswith(d.footer.prefix):
            self._read_footer(lineno, text)
            self._footer_line = lineno
            return None
        self._count += 1
        rec, issues, values = self._parse_row(lineno, text)
        sums = self._sums
        for f in self.fmt.sum_fields:
            v = values.get(f)
            if v is None:
                self._unverifiable.add(f)
            else:
                sums[f] += v
        if issues:
            self._sink.reject(lineno, text, issues)
            return None
        assert rec is not None
        self._good_total += rec.amount
        return rec

    def _overlong(self, lineno: int, head: str, *, rest: bool) -> None:
        assert self._file is not None
        readline = self._file.readline
        limit = self.fmt.dialect.max_line_length + 2
        # Read past the rest of the line in bounded pieces.
        while rest:
            piece = readline(limit)
            if not piece or piece.endswith("\n"):
                break
        self._count += 1
        self._unverifiable.update(self.fmt.sum_fields)
        issue = Issue(
            lineno, "", f"the line is longer than {self.fmt.dialect.max_line_length} characters"
        )
        self._sink.reject(lineno, head[:_RAW_LIMIT] + "…", [issue])

    def _read_footer(self, lineno: int, text: str) -> None:
        d = self.fmt.dialect
        footer = d.footer
        assert footer is not None
        cells = text[len(footer.prefix) :].split(d.delimiter)
        if len(cells) != len(footer.fields):
            raise self._refuse(
                f"the footer has {len(cells)} cells, expected {len(footer.fields)}: "
                f"{footer.prefix}{d.delimiter.join(footer.fields)}",
                lineno,
                "footer",
            )
        parse_amount = amount_parser(d.read_decimal_separators)
        count = 0
        sums: dict[str, Decimal] = {}
        extra: list[tuple[str, str]] = []
        for name, cell in zip(footer.fields, cells, strict=True):
            if name == COUNT_FIELD:
                if not cell.isascii() or not cell.isdigit():
                    raise self._refuse(
                        f"the footer's count is not a number: {cell!r}", lineno, "count"
                    )
                count = int(cell)
            elif name in self.fmt.sum_fields:
                try:
                    sums[name] = parse_amount(cell)
                except ValueError as exc:
                    raise self._refuse(f"the footer's {name}: {exc}", lineno, name) from None
            else:
                if "\x00" in cell or "\r" in cell:
                    raise self._refuse(
                        f"the footer's {name} holds a control character", lineno, name
                    )
                extra.append((name, unescape_formula(cell)))
        # Without a count in the footer, _finish puts the number of rows read in its place.
        self._footer_counts = COUNT_FIELD in footer.fields
        control = ControlTotals(count, sums)
        self.header = attrs.evolve(self.header, control=control, extra=extra)

    def _finish(self) -> None:
        control = self.header.control
        if control is not None and not self._footer_counts:
            control = ControlTotals(self._count, control.sums)
            self.header = attrs.evolve(self.header, control=control)
        report, error = self._sink.finish(
            self.header,
            self._count,
            self._sums,
            control,
            good_total=self._good_total,
            unverifiable=sorted(self._unverifiable),
        )
        self._report = report
        if error is not None:
            raise error

    # -- one row, carefully --------------------------------------------------------------

    def _parse_row(
        self, lineno: int, text: str
    ) -> tuple[DebtRecord | PaymentRecord | None, list[Issue], dict[str, Any]]:
        """Check every cell of a row; return the record, or the issues that refuse it.

        ``values`` holds what could be read (the footer's sums need the good amounts of
        bad rows too).
        """
        d = self.fmt.dialect
        cols = d.columns
        cells = text.split(d.delimiter)
        issues: list[Issue] = []
        values: dict[str, Any] = {}
        n = len(cols)
        tags: list[tuple[str, str]] = []
        if len(cells) > n:
            if d.tagged_fields:
                for cell in cells[n:]:
                    tag, sep, value = cell.partition(":")
                    if not sep or not self.fmt.tag_key(tag):
                        issues.append(
                            Issue(
                                lineno, "tags", f"extra cell {cell[:80]!r} is not a KEY:value tag"
                            )
                        )
                    elif "\x00" in value:
                        issues.append(Issue(lineno, "tags", f"a NUL byte in tag {tag}"))
                    elif "\r" in value:
                        issues.append(Issue(lineno, "tags", f"a carriage return in tag {tag}"))
                    else:
                        tags.append((tag, unescape_formula(value)))
            else:
                issues.append(Issue(lineno, "", f"expected {n} cells, found {len(cells)}"))
                return None, issues, values
        elif len(cells) < self.fmt.min_cells:
            issues.append(Issue(lineno, "", f"expected {n} cells, found {len(cells)}"))
            return None, issues, values
        paid: dict[ColumnType, Any] = {}
        for i, col in enumerate(cols):
            cell = cells[i] if i < len(cells) else ""
            if "\x00" in cell:
                issues.append(Issue(lineno, col.name, "a NUL byte in the cell"))
                continue
            if not cell:
                if col.required:
                    issues.append(Issue(lineno, col.name, "is required and empty"))
                    continue
                value = self._empty[i]
            else:
                try:
                    value = self._parsers[i](cell)
                except ValueError as exc:
                    issues.append(Issue(lineno, col.name, str(exc)))
                    continue
            if col.field == "paid_at":
                paid[col.type] = value
            else:
                values[col.field] = value
        if "paid_at" in (c.field for c in cols) and len(paid) == len(
            [c for c in cols if c.field == "paid_at"]
        ):
            if ColumnType.DATETIME in paid:
                values["paid_at"] = paid[ColumnType.DATETIME]
            elif paid.get(ColumnType.DATE) is not None and paid.get(ColumnType.TIME) is not None:
                values["paid_at"] = combine_paid_at(paid[ColumnType.DATE], paid[ColumnType.TIME])
        if issues:
            return None, issues, values
        if tags:
            values["tags"] = tuple(tags)
        if d.kind is RegistryKind.DEBTS:
            key = _pair_key(values["account"], values.get("service", ""))
            if key in self._seen:
                issues.append(
                    Issue(
                        lineno,
                        "account",
                        f"account {values['account']!r} and service "
                        f"{values.get('service', '')!r} repeat an earlier line",
                    )
                )
                return None, issues, values
        try:
            record = self.fmt.record_class(**values)
        except (ValueError, TypeError) as exc:
            field = "fee" if "transfer" in str(exc) else ""
            return None, [Issue(lineno, field, str(exc))], values
        if d.kind is RegistryKind.DEBTS:
            self._seen.add(key)
        return record, issues, values

    # -- one row, quickly ----------------------------------------------------------------

    def _fast_debts(
        self, readline: Callable[[int], str], limit: int, lineno: int
    ) -> Iterator[DebtRecord | PaymentRecord] | None:
        """The reading loop of a debt registry, with a fast path; None when it does not apply.

        The fast path takes a row only when every cell is plainly good: the account is
        letters and digits only (a strict subset of valid accounts: no escape quote, no
        spaces, no separators), the amount has exactly two decimals, and the house,
        premises, period and service texts have been seen (and checked) before, so their
        values come from the parsers' caches.
        Any other line goes through :meth:`_one_line`, which checks it fully and fills the
        caches. Both paths build equal records.
        """
        d = self.fmt.dialect
        idx = {c.field: i for i, c in enumerate(d.columns)}
        fields = ("account", "house_id", "premises", "amount", "period", "service")
        if d.kind is not RegistryKind.DEBTS or set(idx) != set(fields):
            return None
        return self._fast_loop(readline, limit, lineno, *(idx[f] for f in fields))

    def _cache_of(self, index: int) -> dict[str, Any]:
        parser = self._parsers[index]
        assert isinstance(parser, CachedParser)
        return parser.cache

    def _fast_loop(
        self,
        readline: Callable[[int], str],
        limit: int,
        lineno: int,
        ia: int,
        ih: int,
        ip: int,
        iam: int,
        ipe: int,
        isv: int,
    ) -> Iterator[DebtRecord | PaymentRecord]:
        d = self.fmt.dialect
        cols = d.columns
        n = len(cols)
        min_cells = self.fmt.min_cells
        delim = d.delimiter
        # The careful path's caches: a text is in one only after it has been checked.
        guids, prems, periods, services = (self._cache_of(i) for i in (ih, ip, ipe, isv))
        guid_parse, prem_parse = self._parsers[ih], self._parsers[ip]
        for i, cache in ((ip, prems), (ipe, periods), (isv, services)):
            if not cols[i].required:
                cache[""] = self._empty[i]
        miss = _MISS
        pick = operator.itemgetter(ia, ih, ip, iam, ipe, isv)
        prefix = d.footer.prefix if d.footer is not None else ""
        # A footer line must never look like a plain account; check it when it could.
        check_prefix = bool(prefix) and prefix[0].isalnum()
        # Exactly two decimals: the usual form, which needs no padding to the kopeck.
        seps = "".join(re.escape(s) for s in d.read_decimal_separators)
        amount_ok = re.compile(rf"-?[0-9]{{1,15}}[{seps}][0-9]{{2}}").fullmatch
        seen = self._seen
        seen_add = seen.add
        make = DebtRecord.from_checked
        handle = self._one_line
        total = ZERO
        count = 0
        try:
            while line := readline(limit):
                lineno += 1
                cells = line.rstrip("\r\n").split(delim)
                if len(cells) != n and min_cells <= len(cells) < n:
                    cells.extend([""] * (n - len(cells)))
                if len(cells) == n and len(line) < limit:
                    account, house_text, prem_text, cell, period, service = pick(cells)
                    house = guids.get(house_text)
                    if house is None and house_text:
                        house = _try(guid_parse, house_text)  # a new house: check it once
                    premises = prems.get(prem_text)
                    if premises is None and prem_text:
                        premises = _try(prem_parse, prem_text)
                    period = periods.get(period, miss)
                    service = services.get(service)
                    if (
                        house is not None
                        and premises is not None
                        and period is not miss
                        and service is not None
                        and account.isalnum()
                        and len(account) <= 30
                        and amount_ok(cell)
                        and not (check_prefix and account.startswith(prefix))
                    ):
                        key = hash((account, service))  # = _pair_key(account, service)
                        if key not in seen:
                            seen_add(key)
                            amount = Decimal(cell.replace(",", "."))
                            total += amount
                            count += 1
                            yield make(account, house, premises, amount, period, service)
                            continue
                record = handle(lineno, line)
                if record is not None:
                    yield record
                if self._footer_line:
                    break  # what follows the footer goes through the careful path
            while line := readline(limit):
                lineno += 1
                record = handle(lineno, line)
                if record is not None:
                    yield record
        finally:
            # Merge the fast path's tallies into the reader's, however the loop ends.
            self._count += count
            self._good_total += total
            if "amount" in self._sums:
                self._sums["amount"] += total


def _pair_key(account: str, service: str) -> int:
    """A 64-bit key of (account, service) for finding repeats in bounded memory.

    Keeping hashes instead of the strings holds a million rows in tens of megabytes; two
    different pairs share a key with odds of about 1 in 10^7 for a million-row file.
    """
    return hash((account, service))


def _try(parse: CellParser, text: str) -> Any:
    """The parsed value of ``text``, or None when it is bad (the careful path will say why)."""
    try:
        return parse(text)
    except ValueError:
        return None


def _memo(fmt: Callable[[Any], str]) -> Callable[[Any], str]:
    """``fmt`` remembering the text of the last few thousand value *objects*.

    Keyed by identity, because the models' attrs-generated ``__hash__`` costs more than the
    formatting it would save; the cache keeps each object alive, so an id is never reused
    while it is a key.
    """
    cache: dict[int, tuple[Any, str]] = {}

    def memo(value: Any) -> str:
        entry = cache.get(id(value))
        if entry is not None and entry[0] is value:
            return entry[1]
        text = fmt(value)
        if len(cache) >= 4096:
            cache.clear()
        cache[id(value)] = (value, text)
        return text

    return memo
