"""Deliberately broken formats: each breaks one promise of the contract, and nothing else.

Every class here subclasses the correct :class:`~reference_format.ReferenceFormat` and
overrides one small method, the way such bugs are really written. ``test_catches_faults``
runs the conformance suite against each and asserts that the check meant for the fault
fails (and, where it matters, that unrelated checks still pass).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from reference_format import ReferenceFormat, ReferenceReader

from pes_sdk.errors import FormatError
from pes_sdk.formats.base import Policy, Record, RegistryHeader, RegistryReader, WriteReport


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
