"""Deliberately broken formats: each breaks one promise of the contract, and nothing else.

Every class here subclasses the correct :class:`~reference_format.ReferenceFormat` and
overrides one small method, the way such bugs are really written. ``test_catches_faults``
runs the conformance suite against each and asserts that the check meant for the fault
fails (and, where it matters, that unrelated checks still pass).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, MutableSet
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import attrs
from reference_format import COLUMNS, ReferenceFormat, ReferenceReader

from pes_sdk.errors import FormatError, Issue
from pes_sdk.files import atomic_path
from pes_sdk.formats.base import Policy, Record, RegistryHeader, RegistryReader, WriteReport
from pes_sdk.models.registry import ControlTotals


class DropsLastRecord(ReferenceFormat):
    """The writer loses the last record (a classic off-by-one when buffering one behind)."""

    def records_to_write(self, records: Iterable[Record]) -> Iterator[Record]:
        previous = None
        for r in records:
            if previous is not None:
                yield previous
            previous = r


class DropsServiceCode(ReferenceFormat):
    """The writer leaves the service's code empty although the format declares it kept: a
    partner could no longer book a payment to the service its debt registry named."""

    def format_cell(self, name: str, value: Any) -> str:
        return "" if name == "service_code" else super().format_cell(name, value)


class RoundsHalfEven(ReferenceFormat):
    """The reader takes any number of decimals and rounds them half-even to the kopeck
    (``Decimal.quantize`` with the default context) instead of refusing a third place."""

    def parse_amount(self, text: str) -> Decimal:
        if not re.fullmatch(r"-?\d+(\.\d+)?", text):
            raise ValueError(f"not an amount: {text!r}")
        return Decimal(text).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


class LosesLeadingZeros(ReferenceFormat):
    """The reader treats a numeric account as a number: ``007`` comes back as ``7``."""

    def parse_cell(self, name: str, text: str) -> Any:
        if name == "account" and text.isdigit():
            return str(int(text))
        return super().parse_cell(name, text)


class _SwallowingReader(ReferenceReader):
    def _records(self) -> Iterator[Record]:
        try:
            yield from super()._records()
        except Exception:  # the bug: problems are swallowed, the reader just stops
            self._report = self.sink.finish(self.header, 0, {}, None, good_total=Decimal("0.00"))[0]


class SwallowsErrors(ReferenceFormat):
    """The reader swallows every error and simply ends: a broken file reads as valid."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        reader = _SwallowingReader(self, Path(path), Policy(policy), rejects_path)
        reader.sink.policy = Policy.QUARANTINE  # and never refuses at the end either
        return reader


class RaisesRawErrors(ReferenceFormat):
    """The reader lets ``ValueError`` from its parsers escape instead of an SDK error."""

    def parse_record(self, cells: list[str]) -> Record:
        try:
            return super().parse_record(cells)
        except FormatError as exc:
            raise ValueError(exc.message) from None


class WritesPartialFile(ReferenceFormat):
    """The writer writes straight to the final name: a failure leaves half a file there."""

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            return self.write_to(fh, path, header, records)


class LeavesTemporaryFile(ReferenceFormat):
    """The writer renames its temporary file on success but forgets it on failure."""

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            report = self.write_to(fh, path, header, records)
        tmp.replace(path)
        return report


class NoFormulaEscaping(ReferenceFormat):
    """The writer forgets to escape text that a spreadsheet would run as a formula."""

    def format_text(self, name: str, value: str) -> str:
        if any(c in value for c in ";\r\n"):
            raise FormatError("text cannot hold ';' or a line break", field=name)
        return value


class IgnoresControlTotals(ReferenceFormat):
    """The reader reads the footer but never checks the records against it."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        return _IgnoringTotalsReader(self, Path(path), Policy(policy), rejects_path)


class _IgnoringTotalsReader(ReferenceReader):
    def _records(self) -> Iterator[Record]:
        real_finish = self.sink.finish

        def finish(header: RegistryHeader, records: int, sums: Any, control: Any, **kw: Any) -> Any:
            # the bug: the stated totals are kept for the report but not compared
            return real_finish(header, records, sums, None, **kw)

        self.sink.finish = finish  # type: ignore[method-assign]
        yield from super()._records()


class _SlurpingReader(ReferenceReader):
    def lines(self) -> Iterator[tuple[int, str]]:
        everything = list(super().lines())  # the bug: the whole file is held in memory
        yield from everything


class SlurpsFile(ReferenceFormat):
    """The reader reads every line into a list before yielding the first record."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        return _SlurpingReader(self, Path(path), Policy(policy), rejects_path)


class BuffersRecords(ReferenceFormat):
    """The writer turns its records into a list first (to count them up front)."""

    def records_to_write(self, records: Iterable[Record]) -> Iterable[Record]:
        return list(records)


class _OffByOneReader(ReferenceReader):
    def lines(self) -> Iterator[tuple[int, str]]:
        for number, text in super().lines():
            yield number - 1, text  # the bug: lines counted from 0


class CountsLinesFromZero(ReferenceFormat):
    """Errors name a line, but counted from 0: one less than the line an editor shows."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        return _OffByOneReader(self, Path(path), Policy(policy), rejects_path)


class NormalizesMeterValues(ReferenceFormat):
    """The reader normalizes meter values: ``0.100`` comes back as ``0.1``, ``7.0`` as
    ``7`` (equal as numbers, so only a check of the digits themselves sees it)."""

    def parse_meter_value(self, text: str) -> Decimal:
        return super().parse_meter_value(text).normalize()


# -- faults the regular samples hid (issue 14) ---------------------------------------------


class TrimsText(ReferenceFormat):
    """The reader trims every text cell (``cell.strip()``, "tidying input") although the
    format keeps text exactly and does not declare ``trims_text``."""

    def parse_cell(self, name: str, text: str) -> Any:
        value = super().parse_cell(name, text)
        return value.strip() if name in ("service", "service_code") else value


class KeepsFirstServicePerAccount(ReferenceFormat):
    """The writer keys its rows by account alone: a second service of an account is lost."""

    def records_to_write(self, records: Iterable[Record]) -> Iterator[Record]:
        seen: set[str] = set()
        for r in records:
            account = str(getattr(r, "account", ""))
            if account not in seen:
                seen.add(account)
                yield r


class MangleTypography(ReferenceFormat):
    """The writer "simplifies" typography to ASCII (as for a code page it thought lacks
    them): ``№`` becomes ``N``, ``«»`` quotes, ``—`` a hyphen."""

    def format_text(self, name: str, value: str) -> str:
        table = str.maketrans({"№": "N", "«": '"', "»": '"', "—": "-"})
        return super().format_text(name, value.translate(table))


class _StopsAtFooterReader(ReferenceReader):
    def lines(self) -> Iterator[tuple[int, str]]:
        for number, text in super().lines():
            yield number, text
            if text.startswith("="):  # the bug: the footer "ends" the file, the rest is unread
                return


class AcceptsDataAfterFooter(ReferenceFormat):
    """The reader stops at the footer and never looks at what follows it."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        return _StopsAtFooterReader(self, Path(path), Policy(policy), rejects_path)


class FooterOptional(ReferenceFormat):
    """The reader takes a file without its footer as one without control totals: a file
    cut exactly at a line end reads as a shorter, valid registry."""

    footer_required = False


class _DropsUnterminatedReader(ReferenceReader):
    def lines(self) -> Iterator[tuple[int, str]]:
        for number, raw in enumerate(self._fh, start=1):
            if not raw.endswith(b"\n"):  # the bug: "an incomplete line" is skipped
                return
            yield number, raw.decode("utf-8").rstrip("\n")


class DropsUnterminatedLastLine(ReferenceFormat):
    """The reader drops a last line without a line end, taking it for a torn write."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        return _DropsUnterminatedReader(self, Path(path), Policy(policy), rejects_path)


class LosesHeaderFacts(ReferenceFormat):
    """The reader reads the header line for its kind only: the partner's ИНН, the period,
    the number and the date of the registry are lost."""

    def parse_header(self, text: str) -> RegistryHeader:
        return RegistryHeader(kind=self.kind)


class AcceptsRepeatedKey(ReferenceFormat):
    """The reader never remembers what it has read: a repeated (account, service) is read
    as a second debt."""

    def repeat_key(self, record: Record) -> int | None:
        return None


class _RecentKeys(MutableSet[int]):
    """The last 1,000 keys only: the oldest is forgotten when a new one comes."""

    def __init__(self) -> None:
        self._keys: OrderedDict[int, None] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __iter__(self) -> Iterator[int]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: int) -> None:
        self._keys[key] = None
        if len(self._keys) > 1000:
            self._keys.popitem(last=False)

    def discard(self, key: int) -> None:
        self._keys.pop(key, None)


class LosesErrorMessages(ReferenceFormat):
    """The reader checks values with ``assert`` and reports ``str(exc)``: a bad row is
    rejected at its line and field, but its issue says nothing (a bare AssertionError's
    text is empty)."""

    def parse_record(self, cells: list[str]) -> Record:
        try:
            return super().parse_record(cells)
        except FormatError as exc:
            raise FormatError(str(AssertionError()), field=exc.field) from None


class _RowlessRejectsReader(ReferenceReader):
    def __init__(
        self, fmt: ReferenceFormat, path: Path, policy: Policy, rejects: Path | None
    ) -> None:
        super().__init__(fmt, path, policy, rejects)
        reject = self.sink.reject
        self.sink.reject = lambda line, raw, issues: reject(0, "", issues)  # type: ignore[method-assign]


class RowlessRejects(ReferenceFormat):
    """The rejects file gets each reason but neither the row nor its line: the partner
    cannot tell which row to mend."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        return _RowlessRejectsReader(self, Path(path), Policy(policy), rejects_path)


class WritesAnyRecord(ReferenceFormat):
    """The writer takes any record with the attributes it needs (duck typing): a payment
    goes into a debt registry as if it were a debt."""

    def check_record(self, record: Record) -> None:
        pass


class BlankAmountIsZero(ReferenceFormat):
    """The reader takes a blank amount for zero (``Decimal(cell.strip() or "0")``): a row
    whose amount was lost reads as a debt of 0.00."""

    def parse_amount(self, text: str) -> Decimal:
        return super().parse_amount(text.strip() or "0.00")


class _LeakyReader(ReferenceReader):
    def close(self) -> None:
        pass  # the bug: the file is left for the garbage collector


class LeavesFileOpen(ReferenceFormat):
    """The reader never closes its file: a service that reads thousands of registries runs
    out of file handles (and on Windows cannot move a file it read)."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        return _LeakyReader(self, Path(path), Policy(policy), rejects_path)


class ForgetsOldKeys(ReferenceFormat):
    """The reader remembers only the last thousand (account, service) pairs, to keep its
    memory flat: a repeat of a pair read long before is read as a second debt."""

    def key_memory(self) -> MutableSet[int]:
        return _RecentKeys()


class _StaleTotalReader(ReferenceReader):
    good_sum = Decimal("0.00")

    def _records(self) -> Iterator[Record]:
        for r in super()._records():
            self.good_sum += getattr(r, "amount", Decimal("0.00"))
            yield r

    def parse_footer(self, number: int, text: str) -> Any:
        control = super().parse_footer(number, text)
        if self.good_sum != control.sums.get("amount", self.good_sum):
            raise self.sink.refuse("control totals do not match", line=number)
        return control


class RefusesForTheWrongReason(ReferenceFormat):
    """A bad amount is read as 0.00 (a lenient parser), and the file is then refused only
    because the footer's total no longer matches: a typed error naming a line, but the
    footer's line, not the amount's."""

    def parse_amount(self, text: str) -> Decimal:
        try:
            return super().parse_amount(text)
        except ValueError:
            return Decimal("0.00")

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        return _StaleTotalReader(self, Path(path), Policy(policy), rejects_path)


class _GoodRowsTotalReader(ReferenceReader):
    def _records(self) -> Iterator[Record]:
        real_finish = self.sink.finish
        good: dict[str, Decimal] = {}
        count = 0

        def finish(header: RegistryHeader, records: int, sums: Any, control: Any, **kw: Any) -> Any:
            # the bug: the stated totals are compared with the rows kept, not every row
            return real_finish(header, count, {**sums, **good}, control, **kw)

        self.sink.finish = finish  # type: ignore[method-assign]
        for r in super()._records():
            count += 1
            good["amount"] = good.get("amount", Decimal("0.00")) + getattr(r, "amount", 0)
            yield r


class CountsTotalsOnGoodRows(ReferenceFormat):
    """The reader checks the control totals against the rows it kept: under quarantine a
    rejected row makes the totals "wrong" and the whole registry is refused."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        return _GoodRowsTotalReader(self, Path(path), Policy(policy), rejects_path)


class ReplacesUnencodable(ReferenceFormat):
    """The writer encodes text to its legacy code page with ``errors="replace"``: a
    character the code page lacks is silently written as ``?``."""

    def format_text(self, name: str, value: str) -> str:
        kept = value.encode("cp1251", errors="replace").decode("cp1251")
        return super().format_text(name, kept)


class StampsWriteTime(ReferenceFormat):
    """The writer puts the time of writing into the header: rewriting what was read never
    gives the same bytes (a level-2 check: it loses no data)."""

    def format_header(self, header: RegistryHeader, period: object) -> str:
        return super().format_header(header, period).rstrip("\n") + f";{time.time_ns()}\n"


class PadsShortHeader(ReferenceFormat):
    """The reader pads a header with too few fields with blanks (``cells += [""] * …``): a
    header cut off in its middle is read as one whose last facts are unknown."""

    def parse_header(self, text: str) -> RegistryHeader:
        cells = text.split(";")
        return super().parse_header(";".join([*cells, "", "", "", "", ""][:6]))


class _SignlessCountReader(ReferenceReader):
    def parse_footer(self, number: int, text: str) -> ControlTotals:
        # The bug: the count is taken as it is; -4 records only fails the totals later,
        # at no line.
        count, sep, sums = text.partition(";")
        totals = super().parse_footer(number, count.lstrip("-") + sep + sums)
        return attrs.evolve(totals, count=int(count))


class AcceptsNegativeCount(ReferenceFormat):
    """The reader takes the footer's count as ``int(cell)``, sign and all: a negative count
    is not refused at the footer's line, only found not to match at the end."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        return _SignlessCountReader(self, Path(path), Policy(policy), rejects_path)


class WritesNoneForUnknownFacts(ReferenceFormat):
    """The writer formats each header fact with ``str()``: an unknown one is written as the
    text ``None``, which the reader takes for a fact (or refuses)."""

    def format_header(self, header: RegistryHeader, period: object) -> str:
        facts = (header.partner_inn, header.period, header.number, header.date)
        return f"#PES-REF;{self.kind.value};" + ";".join(str(f) for f in facts) + "\n"


class WriteRefusalNamesNoFile(ReferenceFormat):
    """The writer refuses a record of another kind, but its error names no file: a batch
    of exports cannot tell which one failed."""

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        try:
            return super().write(path, header, records)
        except FormatError as exc:
            raise FormatError(exc.message, line=exc.line, field=exc.field) from None


class RefusalLineSkipsHeader(ReferenceFormat):
    """The writer refuses a record of another kind at the line of its index among the
    records, forgetting the header line before them: off by one."""

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        try:
            return super().write(path, header, records)
        except FormatError as exc:
            raise FormatError(exc.message, path=path, line=exc.line - 1, field=exc.field) from None


class LeavesEncodingToHost(ReferenceFormat):
    """The writer opens its file with ``open(tmp, "w")``: the host's locale picks the
    encoding (UTF-8 on the developer's machine, cp1251 or ASCII on the server's)."""

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        with atomic_path(path) as tmp, open(tmp, "w", newline="\n") as fh:
            return self.write_to(fh, path, header, records)


class _LinelessIssuesReader(ReferenceReader):
    def __init__(
        self, fmt: ReferenceFormat, path: Path, policy: Policy, rejects: Path | None
    ) -> None:
        super().__init__(fmt, path, policy, rejects)
        reject = self.sink.reject
        self.sink.reject = lambda line, raw, issues: reject(  # type: ignore[method-assign]
            line, raw, [Issue(0, i.field, i.message) for i in issues]
        )


class LinelessIssues(ReferenceFormat):
    """A rejected row's issue names no line (0, the file): the rejects file has the line,
    the report the partner reads first does not."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        return _LinelessIssuesReader(self, Path(path), Policy(policy), rejects_path)


#: An offset of whole minutes at the end of an ISO date-time: what xs:dateTime can hold.
_MINUTE_OFFSET = re.compile(r".*[+-]\d\d:\d\d")


class ReadsOnlyMinuteOffsets(ReferenceFormat):
    """The reader takes times as xs:dateTime does (an offset of hours and minutes), the
    writer as ``isoformat()`` gives them: a payment at +03:00:30 is written, and the
    partner's import, using the same reader, refuses the whole file."""

    def parse_cell(self, name: str, text: str) -> Any:
        if name == "paid_at" and not _MINUTE_OFFSET.fullmatch(text):
            raise ValueError(f"not a date-time with a zone of hours and minutes: {text!r}")
        return super().parse_cell(name, text)


class _RefusesOffsetSeconds(ReferenceFormat):
    def format_cell(self, name: str, value: Any) -> str:
        text = super().format_cell(name, value)
        if name == "paid_at" and value is not None and not _MINUTE_OFFSET.fullmatch(text):
            raise FormatError("a zone offset in seconds cannot be written", field=name)
        return text


class RefusesOffsetSecondsNamelessly(_RefusesOffsetSeconds, WriteRefusalNamesNoFile):
    """The writer refuses a payment time at +03:00:30 (right), but its error names no file
    (the mistake: ``FormatError(message)`` where the record's value is checked)."""


class RefusesOffsetSeconds(_RefusesOffsetSeconds):
    """Correct: the time at +03:00:30 refused on writing, the refusal naming the file."""


class _FieldlessIssuesReader(ReferenceReader):
    def __init__(
        self, fmt: ReferenceFormat, path: Path, policy: Policy, rejects: Path | None
    ) -> None:
        super().__init__(fmt, path, policy, rejects)
        reject = self.sink.reject
        self.sink.reject = lambda line, raw, issues: reject(  # type: ignore[method-assign]
            line, raw, [Issue(line, "", i.message) for i in issues]
        )


class BlamesTheRowNotTheField(ReferenceFormat):
    """A rejected row's issue names its line but no field (``Issue(line, "", message)``):
    the partner is told which row, not which of its twenty values, to mend."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        return _FieldlessIssuesReader(self, Path(path), Policy(policy), rejects_path)


class ReportsEveryFault(ReferenceFormat):
    """Correct, and more helpful than the reference: a row's every bad value is reported,
    not only the first (the reference format stops at the first, like many readers)."""

    def parse_record(self, cells: list[str]) -> Record:
        faults = []
        for name, text in zip(COLUMNS[self.kind], cells, strict=False):
            try:
                self.parse_cell(name, text)
            except ValueError as exc:
                faults.append((name, str(exc)))
        if len(faults) > 1:
            error = FormatError(f"{len(faults)} bad values")
            error.faults = faults  # type: ignore[attr-defined]
            raise error
        return super().parse_record(cells)


class _RejectedRowsTotalReader(ReferenceReader):
    def __init__(
        self, fmt: ReferenceFormat, path: Path, policy: Policy, rejects: Path | None
    ) -> None:
        super().__init__(fmt, path, policy, rejects)
        finish = self.sink.finish

        def every_row(header: RegistryHeader, count: int, sums: Any, *a: Any, **kw: Any) -> Any:
            # The bug: the report's total taken from the running sums of every row.
            kw["good_total"] = sums.get("amount", kw["good_total"])
            return finish(header, count, sums, *a, **kw)

        self.sink.finish = every_row  # type: ignore[method-assign]


class ReportsRejectedAmounts(ReferenceFormat):
    """The report of a quarantined read gives the total of every row, the rejected ones'
    amounts included: the partner books money that was never accepted."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        return _RejectedRowsTotalReader(self, Path(path), Policy(policy), rejects_path)
