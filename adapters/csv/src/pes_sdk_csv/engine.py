"""The dialect engine: one :class:`DialectFormat` per dialect, its streaming reader and writer.

Reading never holds the file: each line is at most ``max_line_length`` characters (a
longer line is an error for that line, read past in pieces). Every bad row becomes
:class:`~pes_sdk.errors.Issue` objects handed to a :class:`~pes_sdk.formats.RejectSink`,
which applies the policy and checks the footer's control totals at the end.

Debt registries with the six debt columns take a fast path (see docs/performance.md):
the file is read in blocks of whole lines; a block whose every line is plainly good (the
common case) is checked whole by C code, column by column (:meth:`DialectReader._take_block`),
and its records built from the parsers' caches and :meth:`DebtRecord.from_checked
<pes_sdk.models.DebtRecord.from_checked>`, or not built at all by
:meth:`DialectReader.drain`. Any doubt sends the block line by line through one compiled
pattern and, for a line it does not take, the careful path, which checks every cell and
names each problem. All paths give equal records and equal reports. Other dialects are
read line by line through the careful path.
"""

from __future__ import annotations

import codecs
import io
import itertools
import operator
import re
import shutil
from array import array
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, BinaryIO, TypeAlias, cast

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
from pes_sdk.formats.base import PROGRESS_EVERY, SERVICE_FIELDS
from pes_sdk.formats.text import (
    EMPTY_FILE,
    WrongEncoding,
    judge_encoding,
    read_sample,
    text_file_issue,
)
from pes_sdk.i18n import Message, join
from pes_sdk.models import ControlTotals, DebtRecord, PaymentRecord, RegistryHeader, RegistryKind
from pes_sdk.money import ZERO
from pes_sdk_csv.cells import (
    PERIOD_FORMS,
    CachedParser,
    CellParser,
    amount_parser,
    combine_paid_at,
    empty_value,
    format_amount,
    formatter_for,
    parser_for,
)
from pes_sdk_csv.dialect import COUNT_FIELD, Column, ColumnType, Dialect
from pes_sdk_csv.filename import FileNameTemplate
from pes_sdk_csv.i18n import tr, verbatim

__all__ = ["DialectFormat", "DialectReader"]

_RECORD_CLASS: dict[RegistryKind, type[DebtRecord] | type[PaymentRecord]] = {
    RegistryKind.DEBTS: DebtRecord,
    RegistryKind.PAYMENTS: PaymentRecord,
}
MASK = "***"  #: what a personal cell becomes wherever a line is shown or kept
_RAW_LIMIT = 1000  # characters of an overlong line kept in the rejects file
# Bytes read at a time by the fast path of debt registries: large enough that the work per
# block is small beside the work per line, small enough that a block's cells (some 8 times
# its size while checked) stay a bounded, small part of memory.
_CHUNK = 1 << 15
_Block: TypeAlias = tuple[int, bytes, str, int]
_KEY_BUCKETS = 16  # arrays of the writer's pair keys (a power of two)
_TEXTS_LIMIT = 4096  # texts of repeating values the writer remembers
_KEY_MASK = _KEY_BUCKETS - 1
_Columns: TypeAlias = tuple[list[str], list[str], list[str], list[str], list[str], list[str]]
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
            control_totals=dialect.footer is not None
            or any(
                f == COUNT_FIELD or _amount_column(dialect, f)
                for _, f in (dialect.header_block.keys if dialect.header_block else ())
            ),
            escapes_formulas=True,
            encodings=dialect.read_encodings,
            max_line_length=dialect.max_line_length,
            tagged_fields=dialect.tagged_fields,
            service_fields=tuple(f for f in SERVICE_FIELDS if dialect.column_index(f) is not None),
            personal_data=bool(dialect.personal),
        )
        self.template = FileNameTemplate(dialect.filename) if dialect.filename else None
        # Decoding: a BOM is tolerated on reading UTF-8 (Excel writes one) and never written.
        self.read_encoding = "utf-8-sig" if dialect.encoding == "utf-8" else dialect.encoding
        self.record_class = _RECORD_CLASS[dialect.kind]
        self.tag_key = re.compile(dialect.tag_key_pattern).fullmatch
        footer = dialect.footer
        # The control totals come from the footer or from the header block, never both.
        block = dialect.header_block
        totals = footer.fields if footer else tuple(f for _, f in block.keys) if block else ()
        self.sum_fields = tuple(f for f in totals if _amount_column(dialect, f))
        last_required = max(i for i, c in enumerate(dialect.columns) if c.required)
        self.min_cells = last_required + 1
        # The fast path of a debt registry (see _debt_row_pattern): the pattern, the columns
        # of (account, house, premises, amount, period, service), and how to put a matched
        # row's cells in that order (None: they are in it already).
        fast = _debt_row_pattern(dialect) if dialect.header_block is None else None
        self.fast_rows = fast[0] if fast else None
        self.fast_order = fast[1] if fast else (0, 0, 0, 0, 0, 0)
        self.fast_caches = tuple(self.fast_order[i] for i in (1, 2, 4))
        self.fast_room = dialect.max_line_length - sum(_FAST_WIDTH.values()) - 5
        # drain(): line breaks become delimiters (one byte each way), amounts are checked
        # a column at a time, and no line may start with the footer's prefix.
        delim_bytes = dialect.delimiter.encode(dialect.encoding)
        prefix = dialect.footer.prefix if dialect.footer is not None else ""
        self.fast_translate = (
            bytes.maketrans(b"\n", delim_bytes)
            if fast and len(delim_bytes) == 1 and not ({dialect.delimiter, "\n"} & set(prefix))
            else None
        )
        # A footer line starts with its prefix: when the first cell is the account and the
        # prefix cannot start one (it is not a letter or digit), the account check is enough.
        account_first = self.fast_order[0] == 0 and not prefix[:1].isalnum()
        self.footer_guard = "\n" + prefix if prefix and not account_first else ""
        seps = "".join(re.escape(s) for s in dialect.read_decimal_separators)
        self.fast_amounts = re.compile(rf"(?:-?[0-9]{{1,15}}[{seps}][0-9]{{2}}\n)*").fullmatch
        self.fast_pick: Callable[[tuple[str, ...]], tuple[str, ...]] | None = (
            None
            if self.fast_order == (0, 1, 2, 3, 4, 5)
            else operator.itemgetter(*self.fast_order, 6)
        )

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
        tagged fields) are not written; nor are ignored and personal columns (they are
        written empty: the kit never holds their values).

        A header block (``#FILESUM …``) states totals known only at the end: the rows are
        written to a second temporary file first, then copied after the block.
        """
        path = Path(path)
        enc = self.dialect.encoding
        block = self.dialect.header_block
        with atomic_path(path) as tmp:
            if block is None:
                with open(tmp, "w", encoding=enc, newline="") as fh:
                    count, total = _Writer(self, path, tmp).run(fh, header, records)
                return WriteReport(path, count, total)
            body = tmp.with_name(tmp.name + ".rows")
            try:
                writer = _Writer(self, path, body, first_line=len(block.keys))
                with open(body, "w", encoding=enc, newline="") as fh:
                    count, total = writer.run(fh, header, records)
                with open(tmp, "wb") as out, open(body, "rb") as rows:
                    out.write(self._block_bytes(path, header, count, writer.sums))
                    shutil.copyfileobj(rows, out, 1 << 20)
            finally:
                body.unlink(missing_ok=True)
        return WriteReport(path, count, total)

    def _block_bytes(
        self, path: Path, header: RegistryHeader, count: int, sums: dict[str, Decimal]
    ) -> bytes:
        """The header block's lines, in the dialect's encoding."""
        d = self.dialect
        block = d.header_block
        assert block is not None
        extra = dict(header.extra)
        lines = []
        for line, (key, fact) in enumerate(block.keys, 1):
            if fact == COUNT_FIELD:
                value = str(count)
            elif fact in sums:
                value = format_amount(sums[fact], d.decimal_separator)
            elif fact == "period":
                value = PERIOD_FORMS[d.period_format][1](header.period) if header.period else ""
            else:
                value = escape_formula(extra.get(fact, ""))
            if "\n" in value or "\r" in value or "\x00" in value:
                raise FormatError(
                    tr("{value!r} holds a line break or a NUL", value=value), path=path, line=line
                )
            text = f"{block.prefix}{key}{block.separator}{value}{d.line_ending}"
            try:
                lines.append(text.encode(d.encoding))
            except UnicodeEncodeError as exc:
                bad = text[exc.start : exc.end]
                raise FormatError(
                    tr("{bad!r} cannot be written in {encoding}", bad=bad, encoding=d.encoding),
                    path=path,
                    line=line,
                    field=key,
                ) from None
        return b"".join(lines)


class _Writer:
    """One write: formats records line by line and writes them in batches.

    A debt registry's repeated (account, service) pairs are found in compact memory: each
    record's 64-bit key (:func:`_pair_key`) goes into one of :data:`_KEY_BUCKETS` arrays,
    8 bytes a record instead of the ~76 of a set of Python ints, and the arrays are
    searched for equal keys when the records end (or before any other error is raised,
    so that the first problem by line is the one reported). Equal keys are then confirmed
    by reading back the lines written, so two different pairs that share a key (odds about
    1 in 10^7 for a million records, and different in every process, since ``hash()`` of
    a text is) never refuse a good registry.
    """

    _BATCH = 512  # lines joined per write() call

    def __init__(self, fmt: DialectFormat, path: Path, tmp: Path, first_line: int = 0) -> None:
        self.fmt = fmt
        self.d = fmt.dialect
        self.path = path
        self.tmp = tmp  # where the lines go until the write stands
        self.first_line = first_line  # lines before the first written here (a header block)
        self.sums: dict[str, Decimal] = {}  # the sums of the records written, at the end
        self.keys = [array("q") for _ in range(_KEY_BUCKETS)]
        self.current: Record | None = None  # the record being written, and its line
        self.current_line = 0
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
                line,
                field,
                tr(
                    "{text!r} holds the delimiter, a line break or a NUL: cannot write it",
                    text=text,
                ),
            )

    def run(
        self, fh: IO[str], header: RegistryHeader, records: Iterable[Record]
    ) -> tuple[int, Decimal]:
        try:
            return self._run(fh, header, records)
        except FormatError as exc:
            # A repeat before this error's line was found only now: it comes first.
            repeat = self.repeat(fh, exc.line if exc.line else None)
            if repeat is not None:
                raise repeat from None
            raise

    def _run(
        self, fh: IO[str], header: RegistryHeader, records: Iterable[Record]
    ) -> tuple[int, Decimal]:
        d = self.d
        end = d.line_ending
        delim = d.delimiter
        line = self.first_line
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
        values_of: Callable[[Any], Any]
        if any(c.dropped or c.type is ColumnType.GUID_PREMISES for c in d.columns):
            each = [_value_getter(c) for c in d.columns]
            values_of = lambda rec: [get(rec) for get in each]  # noqa: E731
        else:
            values_of = operator.attrgetter(*(c.field for c in d.columns))
        sum_fields = self.fmt.sum_fields
        sums = {f: ZERO for f in sum_fields}
        extra_sums = [f for f in sum_fields if f != "amount"]
        total = ZERO
        count = 0
        keys = self.keys
        cls = self.fmt.record_class
        debts = d.kind is RegistryKind.DEBTS
        tagged = d.tagged_fields
        n = len(getters)
        pick_required = self.pick_required
        if debts and not extra_sums and _debt_layout(d) is not None:
            line, count, total = self._debt_rows(fh, header, records, line)
            records = ()
        for rec in records:
            line += 1
            if not isinstance(rec, cls):
                raise self.error(
                    line,
                    "",
                    tr(
                        "a {dialect} file holds {expected}, not {actual}",
                        dialect=d.name,
                        expected=cls.__name__,
                        actual=type(rec).__name__,
                    ),
                )
            if debts:
                self.current, self.current_line = rec, line
                # The key of what is written: a service of None is written as "".
                key = _pair_key(rec.account, rec.service if rec.service is not None else "")
                keys[key & _KEY_MASK].append(key)
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
        self.current = None
        if debts:
            repeat = self.repeat(fh, None)
            if repeat is not None:
                raise repeat
        if "amount" in sums:
            sums["amount"] = total
        self.sums = sums
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

    def _debt_rows(
        self, fh: IO[str], header: RegistryHeader, records: Iterable[Record], line: int
    ) -> tuple[int, int, Decimal]:
        """The record lines of a debt registry with the six debt columns: the general loop
        of :meth:`_run`, specialised (the same texts, checks and errors, fewer calls).

        Returns the last line number, the count and the total.
        """
        d = self.d
        layout = _debt_layout(d)
        assert layout is not None
        ia, ih, ip, iam, ipe, isv = layout
        end = d.line_ending
        delim = d.delimiter
        sep = d.decimal_separator
        period_text = formatter_for(d.columns[ipe], d)
        header_period = period_text(header.period) if header.period is not None else ""
        # Texts of the value objects that repeat (premises, periods) by identity, and of
        # the services by text; each cache kept alive while it is used, bounded.
        premises_texts: dict[int, tuple[object, str]] = {}
        period_texts: dict[int, tuple[object, str]] = {}
        service_texts: dict[str, str] = {}
        keys = self.keys
        buffer = self.buffer
        batch = self._BATCH
        tagged = d.tagged_fields
        pick_required = self.pick_required
        cells = [""] * len(d.columns)
        total = ZERO
        count = 0
        for rec in records:
            line += 1
            if not isinstance(rec, DebtRecord):
                raise self.error(
                    line,
                    "",
                    tr(
                        "a {dialect} file holds {expected}, not {actual}",
                        dialect=d.name,
                        expected="DebtRecord",
                        actual=type(rec).__name__,
                    ),
                )
            self.current, self.current_line = rec, line
            account = rec.account
            service = rec.service if rec.service is not None else ""  # written as ""
            key = _pair_key(account, service)
            keys[key & _KEY_MASK].append(key)
            # escape_formula leaves alone a text that starts with a letter or digit.
            cells[ia] = account if account[:1].isalnum() else escape_formula(account)
            cells[ih] = rec.house_id or ""  # a required column refuses "" below
            premises = rec.premises
            entry = premises_texts.get(id(premises))
            if entry is None or entry[0] is not premises:
                if len(premises_texts) >= _TEXTS_LIMIT:
                    premises_texts.clear()
                entry = premises_texts[id(premises)] = (premises, escape_formula(premises.text))
            cells[ip] = entry[1]
            amount = rec.amount
            text = format(amount, "f")
            cells[iam] = text if sep == "." else text.replace(".", sep)
            period = rec.period
            if period is None:
                cells[ipe] = header_period
            else:
                entry = period_texts.get(id(period))
                if entry is None or entry[0] is not period:
                    if len(period_texts) >= _TEXTS_LIMIT:
                        period_texts.clear()
                    entry = period_texts[id(period)] = (period, period_text(period))
                cells[ipe] = entry[1]
            written = service_texts.get(service)
            if written is None:
                if len(service_texts) >= _TEXTS_LIMIT:
                    service_texts.clear()
                written = service_texts[service] = escape_formula(service)
            cells[isv] = written
            row = delim.join(cells)
            extra = 0
            if tagged and rec.tags:
                tags = self.tag_cells(line, rec.tags)
                extra = len(tags)
                row = delim.join([row, *tags])
            if (
                row.count(delim) != len(cells) - 1 + extra
                or "\n" in row
                or "\r" in row
                or "\x00" in row
                or "" in pick_required(cells)
            ):
                self.diagnose(line, list(cells))
            if not buffer:
                self.buffer_start = line
            buffer.append(row + end)
            if len(buffer) >= batch:
                self.flush(fh)
            count += 1
            total += amount
        return line, count, total

    def repeat(self, fh: IO[str], upto: int | None) -> FormatError | None:
        """The error of the first record (up to line ``upto``) whose (account, service)
        repeats an earlier record's, or None."""
        suspects: set[int] = set()
        for bucket in self.keys:
            if len(set(bucket)) != len(bucket):
                suspects.update(k for k, n in Counter(bucket).items() if n > 1)
        if not suspects:
            return None
        first: set[object] = set()
        for line, account, service in self.pairs_written(fh):
            if upto is not None and line > upto:
                break
            key = _pair_key(account, service)
            if key not in suspects:
                continue
            # Without both columns in the file, the key stands for the pair.
            pair = (account, service) if self.exact else key
            if pair in first:
                return self.error(
                    line,
                    "account",
                    tr(
                        "account {account!r} and service {service!r} repeat an earlier record",
                        account=account,
                        service=service,
                    ),
                )
            first.add(pair)
        return None

    @property
    def exact(self) -> bool:
        """Whether the lines written carry the account and the service, to compare them."""
        fields = {c.field for c in self.d.columns}
        return {"account", "service"} <= fields

    def pairs_written(self, fh: IO[str]) -> Iterator[tuple[int, str, str]]:
        """(line, account, service) of the records so far: from the file, the lines not
        yet written, and the record being written (error path only)."""
        d = self.d
        names = [c.field for c in d.columns]
        ia = names.index("account")
        isv = names.index("service") if "service" in names else None
        fh.flush()
        line = self.first_line
        rec = self.current
        with open(self.tmp, encoding=d.encoding, newline="") as back:
            for text in itertools.chain(back, self.buffer):
                line += 1
                if rec is not None and line >= self.current_line:
                    break  # the record being written (perhaps buffered already) comes below
                if line == self.first_line + 1 and d.header is not None:
                    continue
                cells = text.rstrip("\r\n").split(d.delimiter)
                if len(cells) < len(names):
                    continue  # the footer
                service = "" if isv is None else unescape_formula(cells[isv])
                yield line, unescape_formula(cells[ia]), service
        if isinstance(rec, DebtRecord):
            yield self.current_line, rec.account, rec.service or ""

    def tag_cells(self, line: int, tags: tuple[tuple[str, str], ...]) -> list[str]:
        out = []
        for key, value in tags:
            if not self.fmt.tag_key(key):
                raise self.error(
                    line, "tags", tr("tag key {key!r} does not fit the dialect", key=key)
                )
            text = f"{key}:{escape_formula(value)}"
            self.check_cell(line, "tags", text)
            out.append(text)
        return out

    def diagnose(self, line: int, cells: list[str]) -> None:
        """Raise the error of a line that failed the quick checks, naming its column."""
        for col, text in zip(self.d.columns, cells, strict=True):
            self.check_cell(line, col.name, text)
            if col.required and not text:
                raise self.error(line, col.name, tr("is required and empty"))
        raise self.error(line, "", tr("cannot write this record"))  # pragma: no cover

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
                    raise self.error(
                        line,
                        name,
                        tr("{bad!r} cannot be written in {encoding}", bad=bad, encoding=enc),
                    ) from None


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
            self._file: io.TextIOWrapper | None = open(  # noqa: SIM115
                path, encoding=fmt.read_encoding, errors="strict", newline="\n"
            )
        except OSError as exc:
            raise RegistryRefused(
                tr("cannot open: {reason}", reason=exc.strerror or str(exc)), path=path
            ) from None
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
        self._draining = False  # set by drain(): blocks are then checked without records
        self._progress: Callable[[int], None] | None = None  # drain()'s, told per block
        self._lines_seen = 0
        self._encoding = d.encoding  # the one the file is in (_check_text chooses it)
        self._read_encoding = fmt.read_encoding
        self._personal = d.personal
        self._control_lines: list[tuple[int, str]] = []  # where a header block states totals
        self._last_row = 0  # the line of the last row read (careful path only)
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
            self._check_text()
            # A debt registry's blocks are handed out directly: one generator less per record.
            yield from self._fast_records() if self.fmt.fast_rows is not None else self._lines()
        except UnicodeDecodeError as exc:
            line, raw = self._find_bad_line()
            encoding = self._encoding
            message: str = tr(
                "bytes that are not {encoding} ({reason})", encoding=encoding, reason=exc.reason
            )
            # Past the sample _check_text judged: name what the bad line most likely is.
            wrong = judge_encoding(raw, encoding, first_line=line) if line else None
            if wrong is not None:
                message = join("; ", [message, self._encoding_message(wrong)])
            raise self._refuse(message, line=line, field="encoding") from None
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None
        self._finish()

    def _find_bad_line(self) -> tuple[int, bytes]:
        """Re-read the raw bytes to find the line where decoding fails, and its bytes (up to
        64 KiB of them) (error path only)."""
        decoder = codecs.getincrementaldecoder(self._read_encoding)(errors="strict")
        line = 1
        with open(self.path, "rb") as raw:
            while chunk := raw.readline(1 << 16):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    return line, chunk
                if chunk.endswith(b"\n"):
                    line += 1
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                return line, chunk
        return 0, b""

    def _check_text(self) -> None:
        """Refuse the file whole, before its first line, when it is empty or its text is not
        plausibly in the dialect's encoding: one rule for every text format
        (:func:`pes_sdk.formats.text.text_file_issue`, on a sample of the file's head).

        Strict decoding alone lets mojibake through: cp1251 gives a character for nearly
        every byte, so a UTF-8 ``12а`` would read as ``12Р°``, and a BOM as ``п»ї``.
        """
        d = self.fmt.dialect
        if len(d.read_encodings) == 1 and not self._personal:
            issue = text_file_issue(self.path, d.encoding)
            if issue is not None:
                raise self._refuse(issue.message, issue.line, issue.field)
            return
        if self.path.stat().st_size == 0:
            raise self._refuse(EMPTY_FILE)
        # The dialect accepts several encodings: the kit's rule judges the sample in the
        # first; when it names another the dialect accepts, the file is read in that one.
        wrong = judge_encoding(read_sample(self.path), d.encoding)
        if wrong is not None and wrong.likely in d.read_encodings and not wrong.reason:
            self._encoding = wrong.likely
            self._read_encoding = "utf-8-sig" if wrong.likely == "utf-8" else wrong.likely
            assert self._file is not None
            self._file.reconfigure(encoding=self._read_encoding)
        elif wrong is not None and "utf-8" in d.read_encodings and wrong.likely == "UTF-8":
            # A UTF-8 byte-order mark, and the dialect accepts UTF-8.
            self._encoding, self._read_encoding = "utf-8", "utf-8-sig"
            assert self._file is not None
            self._file.reconfigure(encoding=self._read_encoding)
        elif wrong is not None:
            raise self._refuse(self._encoding_message(wrong), wrong.line, "encoding")

    def _withheld(self, text: str, issues: list[Issue]) -> tuple[str, list[Issue]]:
        """A bad line of a layout with personal data, and its issues, with every value that
        failed its check withheld: a cell out of place may be a name."""
        d = self.fmt.dialect
        cells = text.split(d.delimiter)
        position = {c.name: i for i, c in enumerate(d.columns)}
        bad = [position[i.field] for i in issues if i.field in position]
        clean = []
        for issue in issues:
            hidden = [cells[i] for i in bad if i < len(cells) and cells[i]]
            clean.append(attrs.evolve(issue, message=_withhold(issue.message, hidden)))
        return self._masked(text, bad), clean

    def _encoding_message(self, wrong: WrongEncoding) -> str:
        """``wrong``'s message; without the line's text when the layout has personal data
        (the text the rule quotes is most likely a name)."""
        if not self._personal or wrong.reason:
            return wrong.message
        accepted = ", ".join(self.fmt.dialect.read_encodings)
        return tr(
            "the text is in none of the encodings the dialect accepts ({accepted}): it is "
            "most likely {likely} (line {line}; its text is not shown: "
            "the layout carries personal data)",
            accepted=accepted,
            likely=wrong.likely,
            line=wrong.line,
        )

    def _masked(self, text: str, bad: Iterable[int] = ()) -> str:
        """``text`` (a line) with its personal cells, and the cells ``bad`` (positions that
        failed their column's check: a name may have slipped there), replaced: safe to show
        and keep."""
        if not self._personal:
            return text
        d = self.fmt.dialect
        cells = text.split(d.delimiter)
        n = len(d.columns)
        if len(cells) < n or (len(cells) > n and not d.tagged_fields):
            # A line that does not split into the columns: a name may be in any cell.
            return d.delimiter.join(MASK if c else "" for c in cells)
        for i in (*self._personal, *bad, *range(n, len(cells))):  # tags may hold any text
            if cells[i]:
                cells[i] = MASK
        return d.delimiter.join(cells)

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
        pending = None  # the first line after a header block
        if d.header_block is not None:
            lineno, pending = self._read_header_block(readline, limit)
        if d.header is not None:
            first = pending if pending is not None else readline(limit)
            pending = None
            lineno += 1
            text = first.rstrip("\r\n")
            if not first:
                raise self._refuse(tr("the file is empty: no header line"), lineno, "header")
            if text != d.header:
                raise self._refuse(
                    tr(
                        "the header line is {text!r}, expected {header!r}",
                        text=self._masked(text)[:200],
                        header=d.header,
                    ),
                    lineno,
                    "header",
                )
        handle = self._one_line
        if pending:
            lineno += 1
            record = handle(lineno, pending)
            if record is not None:
                yield record
        while line := readline(limit):
            lineno += 1
            record = handle(lineno, line)
            if record is not None:
                yield record
        self._check_footer_seen()

    def _read_header_block(self, readline: Callable[[int], str], limit: int) -> tuple[int, str]:
        """Read the ``#KEY value`` lines at the head of the file into the header's facts.

        Returns the number of lines read and the first line after them ("" at the end).
        """
        d = self.fmt.dialect
        block = d.header_block
        assert block is not None
        lineno = 0
        found: dict[str, tuple[int, str]] = {}
        while (line := readline(limit)).startswith(block.prefix):
            lineno += 1
            text = line.rstrip("\r\n")
            key, _, value = text[len(block.prefix) :].partition(block.separator)
            if not key or "\x00" in text or "\r" in text:
                raise self._refuse(
                    tr("not a header line {prefix}KEY value", prefix=block.prefix), lineno, "header"
                )
            if key in found:
                raise self._refuse(
                    tr("{prefix}{key} appears twice", prefix=block.prefix, key=key), lineno, key
                )
            found[key] = (lineno, value.strip())
        missing = [k for k, _ in block.keys if k not in found]
        if missing and block.required:
            raise self._refuse(
                tr(
                    "the header block has no {prefix}{key} line",
                    prefix=block.prefix,
                    key=missing[0],
                ),
                lineno + 1,
                missing[0],
            )
        parse_amount = amount_parser(d.read_decimal_separators)
        count: int | None = None
        sums: dict[str, Decimal] = {}
        extra: list[tuple[str, str]] = []
        period = None
        for key, (at, value) in found.items():
            fact = block.fact(key) or key
            if fact == COUNT_FIELD:
                if not value.isascii() or not value.isdigit():
                    raise self._refuse(
                        tr(
                            "{prefix}{key}: not a number: {value!r}",
                            prefix=block.prefix,
                            key=key,
                            value=value,
                        ),
                        at,
                        key,
                    )
                count = int(value)
            elif fact in self.fmt.sum_fields:
                try:
                    sums[fact] = parse_amount(value)
                except ValueError as exc:
                    raise self._refuse(
                        verbatim(
                            "{prefix}{key}: {detail}", prefix=block.prefix, key=key, detail=str(exc)
                        ),
                        at,
                        key,
                    ) from None
            elif fact == "period":
                if not value:
                    continue  # written so when the registry has no period of its own
                try:
                    period = PERIOD_FORMS[d.period_format][0](value)
                except ValueError as exc:
                    raise self._refuse(
                        verbatim(
                            "{prefix}{key}: {detail}", prefix=block.prefix, key=key, detail=str(exc)
                        ),
                        at,
                        key,
                    ) from None
                named = self.header.period
                if named is not None and named != period:
                    raise self._refuse(
                        tr(
                            "{prefix}{key} says {period}, the file name {named}",
                            prefix=block.prefix,
                            key=key,
                            period=period,
                            named=named,
                        ),
                        at,
                        key,
                    )
            else:
                extra.append((fact, unescape_formula(value)))
        changes: dict[str, Any] = {"extra": (*self.header.extra, *extra)}
        if period is not None:
            changes["period"] = period
        if count is not None or sums:
            # Without a count, _finish puts the number of rows read in its place.
            self._footer_counts = count is not None
            self._control_lines = [
                (at, f"{block.prefix}{key}")
                for key, (at, _) in found.items()
                if (block.fact(key) or key) == COUNT_FIELD or block.fact(key) in sums
            ]
            changes["control"] = ControlTotals(count or 0, sums)
        self.header = attrs.evolve(self.header, **changes)
        return lineno, line

    def _check_footer_seen(self) -> None:
        d = self.fmt.dialect
        footer = d.footer
        if footer is not None and footer.required and not self._footer_line:
            raise self._refuse(
                tr(
                    "no footer line ({footer})",
                    footer=footer.prefix + d.delimiter.join(footer.fields),
                ),
                0,
                "footer",
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
                tr("a line after the footer (line {line})", line=self._footer_line),
                lineno,
                "footer",
            )
        if d.footer is not None and text.startswith(d.footer.prefix):
            self._read_footer(lineno, text)
            self._footer_line = lineno
            return None
        self._count += 1
        self._last_row = lineno
        rec, issues, values = self._parse_row(lineno, text)
        sums = self._sums
        for f in self.fmt.sum_fields:
            v = values.get(f)
            if v is None:
                self._unverifiable.add(f)
            else:
                sums[f] += v
        if issues:
            if self._personal:
                text, issues = self._withheld(text, issues)
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
            lineno,
            "",
            tr(
                "the line is longer than {limit} characters",
                limit=self.fmt.dialect.max_line_length,
            ),
        )
        self._sink.reject(lineno, self._masked(head[:_RAW_LIMIT]) + "…", [issue])

    def _read_footer(self, lineno: int, text: str) -> None:
        d = self.fmt.dialect
        footer = d.footer
        assert footer is not None
        cells = text[len(footer.prefix) :].split(d.delimiter)
        if len(cells) != len(footer.fields):
            raise self._refuse(
                tr(
                    "the footer has {found} cells, expected {expected}: {footer}",
                    found=len(cells),
                    expected=len(footer.fields),
                    footer=footer.prefix + d.delimiter.join(footer.fields),
                ),
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
                        tr("the footer's count is not a number: {cell!r}", cell=cell),
                        lineno,
                        "count",
                    )
                count = int(cell)
            elif name in self.fmt.sum_fields:
                try:
                    sums[name] = parse_amount(cell)
                except ValueError as exc:
                    raise self._refuse(
                        tr("the footer's {name}: {detail}", name=name, detail=str(exc)),
                        lineno,
                        name,
                    ) from None
            else:
                if "\x00" in cell or "\r" in cell:
                    raise self._refuse(
                        tr("the footer's {name} holds a control character", name=name),
                        lineno,
                        name,
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
        refused = report.refused or ""
        if error is not None and self._control_lines and refused.startswith("control"):
            # A file without a trailer is checked against its header block: say where.
            where = join(
                ", ",
                [
                    tr("{key} on line {line}", key=key, line=line)
                    for line, key in self._control_lines
                ],
            )
            message = tr("{refused} (stated by {where})", refused=refused, where=where)
            if self._last_row and self.fmt.dialect.footer is None:
                # Nothing follows the rows: a file cut short is cut in its last row.
                message = tr(
                    "{refused} (stated by {where}); the last row read is line {line}: "
                    "is the file cut short?",
                    refused=refused,
                    where=where,
                    line=self._last_row,
                )
            report = attrs.evolve(report, refused=message)
            error = RegistryRefused(
                message, path=self.path, issues=error.issues, issue_count=error.issue_count
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
                                lineno,
                                "tags",
                                tr("extra cell is not a KEY:value tag")
                                if self._personal
                                else tr(
                                    "extra cell {cell!r} is not a KEY:value tag", cell=cell[:80]
                                ),
                            )
                        )
                    elif "\x00" in value:
                        issues.append(Issue(lineno, "tags", tr("a NUL byte in tag {tag}", tag=tag)))
                    elif "\r" in value:
                        issues.append(
                            Issue(lineno, "tags", tr("a carriage return in tag {tag}", tag=tag))
                        )
                    else:
                        tags.append((tag, unescape_formula(value)))
            else:
                issues.append(Issue(lineno, "", _cells_expected(n, len(cells))))
                return None, issues, values
        elif len(cells) < self.fmt.min_cells:
            issues.append(Issue(lineno, "", _cells_expected(n, len(cells))))
            return None, issues, values
        paid: dict[ColumnType, Any] = {}
        for i, col in enumerate(cols):
            cell = cells[i] if i < len(cells) else ""
            if "\x00" in cell:
                issues.append(Issue(lineno, col.name, tr("a NUL byte in the cell")))
                continue
            if not cell:
                if col.required:
                    issues.append(Issue(lineno, col.name, tr("is required and empty")))
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
            elif col.type is ColumnType.GUID_PREMISES:
                values["house_id"], values["premises"] = value
            elif col.field:  # an ignored or personal cell was checked and is dropped here
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
            values.setdefault("house_id", None)  # a house by address, or by account only
            values.setdefault("premises", "")
            key = _pair_key(values["account"], values.get("service", ""))
            if key in self._seen:
                issues.append(
                    Issue(
                        lineno,
                        "account",
                        tr(
                            "account {account!r} and service {service!r} repeat an earlier line",
                            account=values["account"],
                            service=values.get("service", ""),
                        ),
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

    # -- many rows, quickly --------------------------------------------------------------

    def drain(self, progress: Callable[[int], None] | None = None) -> ReadReport:
        """Read to the end without handing out records; return the report.

        A debt registry is then checked a block of lines at a time: one compiled pattern
        (:func:`_debt_row_pattern`) finds every plainly good line, and what building their
        records would check is done for the whole block at once (the periods against the
        period parser, repeated (account, service) pairs against the same set of keys, the
        amounts summed exactly in kopecks). Any line the pattern does not take, and any
        block with a repeat or a doubtful period, goes through the same per-line code as
        iteration, so the report (issues, lines, fields, rejects file, totals) is the one
        iterating would give. ``progress`` hears the line reached after each block (other
        dialects: the records read, every :data:`~pes_sdk.formats.base.PROGRESS_EVERY`).
        """
        self._draining = True
        self._progress = progress
        count = 0
        for _ in self._gen:
            count += 1
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(count)
        report = self.report
        if progress is not None and max(count, self._lines_seen) != self._lines_seen:
            progress(count)  # the per-block calls did not already say where the read ended
        return report

    def _blocks(self) -> Iterator[_Block]:
        """The file as blocks of whole lines: (number of the line before, bytes, encoding,
        number of lines).

        Reads :data:`_CHUNK` bytes at a time and cuts after the last line break (every
        encoding a dialect may use keeps ``\\n`` a byte of its own), so a block decodes on
        its own, with the encoding given beside it. Each line of a block ends with ``\\n``
        (the file's last line gets one). A line that grows past the longest allowed
        without a line break is reported here and read past in pieces: memory stays
        bounded on any input.
        """
        assert self._file is not None
        raw = cast(BinaryIO, self._file.buffer)  # nothing was read through the text layer
        d = self.fmt.dialect
        limit = d.max_line_length + 2  # as readline(limit) did: longer lines are overlong
        # Past this many bytes without a line break, a line is surely overlong.
        max_bytes = limit * (4 if self._encoding.startswith("utf-8") else 1)
        encoding = self._read_encoding  # utf-8-sig drops a BOM at the start only
        after_first = "utf-8" if encoding == "utf-8-sig" else encoding
        lineno = 0
        tail = b""
        while True:
            chunk = raw.read(_CHUNK)
            data = tail + chunk if tail else chunk
            if not chunk and data:
                data += b"\n"  # the last line has no line break
            cut = data.rfind(b"\n") + 1
            tail = data[cut:]
            if cut:
                block = data[:cut]
                lines = block.count(b"\n")
                yield lineno, block, encoding, lines
                encoding = after_first
                lineno += lines
            if not chunk:
                return
            if len(tail) > max_bytes:
                lineno += 1
                tail = self._skip_overlong(lineno, tail, encoding, limit)
                encoding = after_first

    def _skip_overlong(self, lineno: int, head: bytes, encoding: str, limit: int) -> bytes:
        """Report the overlong line that starts with ``head``; read past it; return what follows.

        Its bytes are still decoded (and thrown away): bad bytes there refuse the registry
        as anywhere else.
        """
        assert self._file is not None
        raw = cast(BinaryIO, self._file.buffer)
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        shown = decoder.decode(head)[:limit]
        while True:
            piece = raw.read(_CHUNK)
            end = piece.find(b"\n")
            decoder.decode(piece if end < 0 else piece[:end], final=not piece or end >= 0)
            if not piece or end >= 0:
                break
        self._overlong(lineno, shown, rest=False)
        return piece[end + 1 :] if end >= 0 else b""

    def _fast_records(self) -> Iterator[DebtRecord | PaymentRecord]:
        """The reading loop of a debt registry: blocks of lines, matched by one pattern."""
        pattern = self.fmt.fast_rows
        assert pattern is not None
        findall = pattern.findall
        d = self.fmt.dialect
        blocks = self._blocks()
        if d.header is not None:
            blocks = self._after_header(blocks)
        for i, c in enumerate(d.columns):
            parser = self._parsers[i]
            if not c.required and isinstance(parser, CachedParser):
                parser.seed("", self._empty[i])
        for lineno, block, encoding, lines in blocks:
            self._lines_seen = lineno + lines
            if self._progress is not None:
                self._progress(self._lines_seen)
            columns = None if self._footer_line else self._take_block(block, encoding, lines)
            if columns is not None:
                if self._draining:
                    continue
                yield from self._build(columns)
                continue
            try:
                text = block.decode(encoding)
            except UnicodeDecodeError as exc:
                # Take the whole lines before the bad bytes, then fail as reading line by
                # line would.
                good = block[: block.rfind(b"\n", 0, exc.start) + 1]
                yield from self._rows(lineno, findall(good.decode(encoding)))
                raise
            yield from self._rows(lineno, findall(text))
        self._check_footer_seen()

    def _build(self, columns: _Columns) -> Iterator[DebtRecord]:
        """The records of a block :meth:`_take_block` took: every value is known good.

        Column by column, at C speed where it can be: the parsers' caches give the value
        objects (a text not, or no longer, in a cache is parsed again, and passes again),
        and the amounts become Decimals with their two places.
        """
        accounts, houses, premises, amounts, periods, services = columns
        ih, ip, ipe = self.fmt.fast_caches
        values = []
        for index, texts in ((ih, houses), (ip, premises), (ipe, periods)):
            cache = self._cache_of(index)
            try:
                values.append(list(map(cache.__getitem__, texts)))
            except KeyError:
                values.append(list(map(self._parsers[index], texts)))
        if self.fmt.dialect.decimal_separator == "." and "," not in "".join(amounts):
            decimals = list(map(Decimal, amounts))
        else:
            decimals = list(map(Decimal, "\n".join(amounts).replace(",", ".").split("\n")))
        return map(DebtRecord.from_checked, accounts, *values[:2], decimals, values[2], services)

    def _after_header(self, blocks: Iterator[_Block]) -> Iterator[_Block]:
        """Check the header line, the first of the first block; the blocks after it."""
        d = self.fmt.dialect
        first = next(blocks, None)
        if first is None:
            raise self._refuse(tr("the file is empty: no header line"), 1, "header")
        _, block, encoding, lines = first
        end = block.index(b"\n") + 1
        text = block[:end].decode(encoding).rstrip("\r\n")
        if text != d.header:
            raise self._refuse(
                tr(
                    "the header line is {text!r}, expected {header!r}",
                    text=text[:200],
                    header=d.header,
                ),
                1,
                "header",
            )
        after = "utf-8" if encoding == "utf-8-sig" else encoding
        return itertools.chain([(1, block[end:], after, lines - 1)], blocks)

    def _rows(
        self, lineno: int, rows: list[tuple[str, ...]]
    ) -> Iterator[DebtRecord | PaymentRecord]:
        """Records of the rows the debt pattern split (see :func:`_debt_row_pattern`).

        A row whose cells the pattern took is built from the parsers' caches and
        :meth:`DebtRecord.from_checked <pes_sdk.models.DebtRecord.from_checked>`; a line it
        did not take (``bad`` is its text), a first-seen value that fails its parser, a
        repeat, or anything after the footer goes through :meth:`_one_line`, which checks
        it fully and names each problem. Both paths build equal records.
        """
        fmt = self.fmt
        limit = fmt.dialect.max_line_length + 2
        delim = fmt.dialect.delimiter
        ih, ip, ipe = fmt.fast_caches
        guids, prems, periods = (self._cache_of(i) for i in (ih, ip, ipe))
        guid_parse, prem_parse, period_parse = (self._parsers[i] for i in (ih, ip, ipe))
        pick = fmt.fast_pick
        miss = _MISS
        seen = self._seen
        seen_add = seen.add
        make = DebtRecord.from_checked
        handle = self._one_line
        sums = self._sums
        sum_amount = "amount" in sums
        for row in rows:
            lineno += 1
            account, house_t, prem_t, cell, period_t, service, bad = (
                row if pick is None else pick(row)
            )
            if account:
                if not self._footer_line:
                    house = guids.get(house_t)
                    if house is None:
                        house = _try(guid_parse, house_t)  # a new house: check it once
                    premises = prems.get(prem_t)
                    if premises is None:
                        premises = _try(prem_parse, prem_t)
                    period = periods.get(period_t, miss)
                    if period is miss:
                        period = _try(period_parse, period_t, miss)
                    if house is not None and premises is not None and period is not miss:
                        key = hash((account, service))  # = _pair_key(account, service)
                        if key not in seen:
                            seen_add(key)
                            amount = Decimal(cell.replace(",", "."))
                            # Tallied at once: a refusal's report counts this row.
                            self._count += 1
                            self._good_total += amount
                            if sum_amount:
                                sums["amount"] += amount
                            yield make(account, house, premises, amount, period, service)
                            continue
                bad = delim.join(row[:-1])
            if len(bad) >= limit:
                self._overlong(lineno, bad[:limit], rest=False)
                continue
            record = handle(lineno, bad)
            if record is not None:
                yield record

    def _take_block(self, block: bytes, encoding: str, n: int) -> _Columns | None:
        """Check a block of good rows whole; its columns, or None (nothing taken) on doubt.

        The cells of a whole block are cut by C code: line breaks become delimiters, one
        ``split`` gives every cell, and the columns are every sixth of them. That is exact
        only when every line has exactly six cells, which this proves from the carriage
        returns: every line ends in ``\\r\\n`` (a ``\\n``-only block gets the ``\\r``
        first); no column but the last takes a ``\\r`` (each column's check refuses it),
        so each line's ``\\r`` ends the cell in the last column, and every sixth cell,
        exactly one ``\\r`` each, is such a cell.
        Then each column is checked whole, to the rules of :func:`_debt_row_pattern`, the
        periods by their parser (once per distinct text), the repeats against the keys
        of :attr:`_seen`, and the amounts are summed exactly in kopecks. Any doubt (a bad
        or unusual line, a repeat, bytes that do not decode) hands the block back to the
        per-line path, which finds and names the problem.

        A block taken counts as read: its rows are tallied and their keys are in
        :attr:`_seen`. The columns come back in the order (account, house, premises,
        amount, period, service), each a list of the row's texts, for building records.
        """
        fmt = self.fmt
        nl_to_delim = fmt.fast_translate
        if nl_to_delim is None or not n or b"\x00" in block:
            return None
        if b"\r" not in block:
            block = block.replace(b"\n", b"\r\n")
        elif block.count(b"\r\n") != n:
            return None  # a line without \r\n: the structure check below needs it
        try:
            text = block.translate(nl_to_delim).decode(encoding)
        except UnicodeDecodeError:
            return None
        cells = text.split(fmt.dialect.delimiter)
        cells.pop()  # the empty text after the last line's delimiter
        width = len(fmt.dialect.columns)
        if len(cells) != width * n:
            return None
        ia, ih, ip, iam, ipe, isv = fmt.fast_order
        last = cells[width - 1 :: width]
        last.append("")
        joined = "\n".join(last)
        if joined.count("\r\n") != n or joined.count("\r") != n:
            return None  # a line with more or fewer cells than columns, or a stray \r
        cells[width - 1 :: width] = joined.replace("\r\n", "\n").split("\n")[:-1]
        accounts = cells[ia::width]
        if (
            "" in accounts
            or max(map(len, accounts)) > 30
            or not "".join(accounts).isalnum()
            or (fmt.footer_guard and fmt.footer_guard in "\n" + "\n".join(cells[::width]))
        ):
            return None
        houses, periods = cells[ih::width], cells[ipe::width]
        for index, texts in ((ih, houses), (ipe, periods)):
            # Each new text checked by its parser (which keeps its value in its cache).
            cache = self._cache_of(index)
            parse = self._parsers[index]
            for value in set(texts):
                if value not in cache and _try(parse, value, _MISS) is _MISS:
                    return None
        premises = cells[ip::width]
        if (
            max(map(len, premises)) > 255
            or "\r" in "".join(premises)
            or (fmt.dialect.columns[ip].required and "" in premises)
        ):
            return None
        services = cells[isv::width]
        if max(map(len, services)) > fmt.fast_room or (
            fmt.dialect.columns[isv].required and "" in services
        ):
            return None
        if any(s[:1] == "'" for s in set(services)):
            return None
        amounts = cells[iam::width]
        joined = "\n".join(amounts) + "\n"
        if not fmt.fast_amounts(joined):
            return None
        keys = list(map(hash, zip(accounts, services, strict=True)))  # = _pair_key(...)
        seen = self._seen
        if not seen.isdisjoint(keys):
            return None
        before = len(seen)
        seen.update(keys)
        if len(seen) - before != n:
            seen.difference_update(keys)  # none of them was there before the update
            return None
        # Exactly two decimals each: without the separator, whole kopecks.
        kopecks = sum(map(int, joined.encode().translate(None, b",.").split()))
        total = Decimal(kopecks).scaleb(-2)
        self._count += n
        self._good_total += total
        if "amount" in self._sums:
            self._sums["amount"] += total
        return accounts, houses, premises, amounts, periods, services

    def _cache_of(self, index: int) -> dict[str, Any]:
        parser = self._parsers[index]
        assert isinstance(parser, CachedParser)
        return parser.cache


_FAST_FIELDS = ("account", "house_id", "premises", "amount", "period", "service")
# The longest text each cell of a fast-path row may have (the service takes what is left of
# the line): a row the pattern takes is never longer than the dialect's longest line.
_FAST_WIDTH = {"account": 30, "house_id": 36, "premises": 255, "amount": 19, "period": 16}


_DEBT_TYPES = {
    "account": ColumnType.ACCOUNT,
    "house_id": ColumnType.GUID,
    "premises": ColumnType.PREMISES,
    "amount": ColumnType.AMOUNT,
    "period": ColumnType.PERIOD,
    "service": ColumnType.TEXT,
}


def _debt_layout(d: Dialect) -> tuple[int, ...] | None:
    """The columns of (account, house, premises, amount, period, service), when a debt
    dialect has exactly these six, of their usual types; else None."""
    idx = {c.field: i for i, c in enumerate(d.columns)}
    if (
        d.kind is not RegistryKind.DEBTS
        or len(d.columns) != len(_FAST_FIELDS)
        or any(d.columns[idx[f]].type is not t for f, t in _DEBT_TYPES.items() if f in idx)
        or set(idx) != set(_FAST_FIELDS)
    ):
        return None
    return tuple(idx[f] for f in _FAST_FIELDS)


def _debt_row_pattern(d: Dialect) -> tuple[re.Pattern[str], tuple[int, ...]] | None:
    """The pattern of a plainly good debt row, one line of a block, or None when none fits.

    Matched with :meth:`re.Pattern.findall` over a block of whole lines, it gives one tuple
    per line, in order, none skipped: the row's cells (in column order) when the line is
    plainly good, else empty cells and the line's text in the last place. "Plainly good"
    is a strict subset of what the careful path (:meth:`DialectReader._parse_row`)
    accepts, checked to the same rules as the parsers and the model:

    * account: 1-30 letters or digits (``str.isalnum``; no escape quote, space or
      separator, so :func:`~pes_sdk.identifiers.check_personal_account` holds);
    * house: the GUID form :func:`~pes_sdk.identifiers.check_guid` takes;
    * premises: at most 255 characters, no NUL or carriage return (all
      :class:`~pes_sdk.premises.Premises` asks);
    * amount: an optional minus, 1-15 digits, a decimal separator, exactly two digits;
    * period: any short text; its parser checks it (once per distinct text);
    * service: no NUL or carriage return and no leading ``'`` (so the text is its value);
    * no footer prefix at the start of the line, exactly as many cells as columns.

    Only a dialect with exactly the six debt columns, the first three and the amount
    required, and a delimiter that cannot occur in an account, a GUID or an amount, has one.
    """
    cols = d.columns
    idx = {c.field: i for i, c in enumerate(cols)}
    delim = d.delimiter
    if (
        d.kind is not RegistryKind.DEBTS
        or len(cols) != len(_FAST_FIELDS)
        or set(idx) != set(_FAST_FIELDS)
        or any(cols[idx[f]].type is not t for f, t in _DEBT_TYPES.items())
        or not all(cols[idx[f]].required for f in ("account", "house_id", "amount"))
        or delim.isalnum()
        or delim in "-_,." + "".join(d.read_decimal_separators)
    ):
        return None
    room = d.max_line_length - sum(_FAST_WIDTH.values()) - (len(cols) - 1) - 1
    if room < 0:
        return None
    no = "\\r\\n\\x00" + re.escape(delim)  # what no cell of a line can hold
    seps = "".join(re.escape(s) for s in d.read_decimal_separators)
    hex4 = "[0-9a-fA-F]{4}"

    def least(field: str) -> int:  # an optional column's cell may be empty
        return 1 if cols[idx[field]].required else 0

    cells = {
        "account": r"([^\W_]{1,30})",
        "house_id": rf"([0-9a-fA-F]{{8}}-{hex4}-{hex4}-{hex4}-[0-9a-fA-F]{{12}})",
        "premises": rf"([^{no}]{{{least('premises')},255}})",
        "amount": rf"(-?[0-9]{{1,15}}[{seps}][0-9]{{2}})",
        "period": rf"([^{no}]{{{least('period')},16}})",
        "service": rf"((?:[^{no}'][^{no}]{{0,{room}}}){{{least('service')},1}})",
    }
    row = re.escape(delim).join(cells[c.field] for c in cols)
    footer = d.footer
    guard = f"(?!{re.escape(footer.prefix)})" if footer is not None and footer.prefix else ""
    pattern = re.compile(rf"^(?:{guard}{row}\r?|(.*))\n", re.MULTILINE)
    return pattern, tuple(idx[f] for f in _FAST_FIELDS)


def _amount_column(dialect: Dialect, field: str) -> bool:
    """Whether ``field`` is an amount a column of ``dialect`` carries (a sum to check)."""
    i = dialect.column_index(field)
    return i is not None and dialect.columns[i].type is ColumnType.AMOUNT


def _value_getter(column: Column) -> Callable[[Any], Any]:
    """What the writer formats for ``column`` of a record (None: an empty cell)."""
    if column.dropped:
        return lambda rec: None
    if column.type is ColumnType.GUID_PREMISES:
        return lambda rec: (rec.house_id, rec.premises)
    return operator.attrgetter(column.field)


def _pair_key(account: str, service: str) -> int:
    """A 64-bit key of (account, service) for finding repeats in bounded memory.

    Keeping hashes instead of the strings holds a million rows in tens of megabytes; two
    different pairs share a key with odds of about 1 in 10^7 for a million-row file.
    """
    return hash((account, service))


def _try(parse: CellParser, text: str, bad: Any = None) -> Any:
    """The parsed value of ``text``, or ``bad`` when it is bad (the careful path says why)."""
    try:
        return parse(text)
    except ValueError:
        return bad


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


def _cells_expected(n: int, found: int) -> Message:
    return tr("expected {n} cells, found {found}", n=n, found=found)


def _withhold(message: str, hidden: list[str]) -> str:
    """``message`` with the quoted texts ``hidden`` (cells that may be a name) as ``'***'``.

    A translatable message stays one: its values are withheld, not its English text, so the
    Russian text withholds them too. When that cannot be done exactly as in the English text,
    the English text with the cells withheld is shown instead: a name never leaks.
    """
    plain = str.__str__(message)
    for cell in hidden:
        for shown in (repr(cell), repr(cell[:80])):
            plain = plain.replace(shown, repr(MASK))
    if plain == str.__str__(message):
        return message
    if type(message) is Message:
        masked = _masked_message(message, {*hidden, *(c[:80] for c in hidden)})
        if masked is not None and str.__str__(masked) == plain:
            return masked
    return plain


def _masked_message(message: Message, hidden: set[str]) -> Message | None:
    values: dict[str, Any] = {}
    for key, value in message.values.items():
        if type(value) is Message:
            inner = _masked_message(value, hidden)
            if inner is None:
                return None
            value = inner
        elif isinstance(value, Message):
            return None  # a joined message: its parts are not values
        elif isinstance(value, str) and value in hidden:
            value = MASK
        values[key] = value
    return message.with_values(**values)
