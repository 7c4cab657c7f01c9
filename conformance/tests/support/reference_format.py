"""A small, correct registry format used as the base of the deliberately broken ones.

``#PES-REF;kind;inn;period;number;date`` header, one ``;``-separated record per line (UTF-8,
no quoting: text holding ``;`` or a line break is refused on writing; outer spaces kept),
trailing ``KEY:value`` cells for tags, and a footer ``=count;sum;…`` with the control
totals; nothing may follow it. A debt registry refuses a repeated (account, service). It
exists so that the proofs in this folder do not depend on another distribution; the broken
formats subclass it and override one small method each.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, MutableSet
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import attrs

from pes_sdk.errors import FormatError, Issue
from pes_sdk.files import atomic_path
from pes_sdk.formats.base import (
    SERVICE_FIELDS,
    FormatCapabilities,
    Policy,
    ReadReport,
    Record,
    RegistryFormat,
    RegistryReader,
    WriteReport,
)
from pes_sdk.formats.quarantine import RejectSink
from pes_sdk.formats.spreadsheet import escape_formula, unescape_formula
from pes_sdk.identifiers import check_guid
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.payments import PaymentRecord
from pes_sdk.models.readings import MeterReading, Photo
from pes_sdk.models.registry import ControlTotals, RegistryHeader, RegistryKind
from pes_sdk.money import ZERO, parse_amount
from pes_sdk.period import Period

MAX_LINE = 4096
TEXT = ("account", "service", "service_code", "channel", "operation_id", "meter_number")
COLUMNS: dict[RegistryKind, tuple[str, ...]] = {
    RegistryKind.DEBTS: (
        "account",
        "house_id",
        "premises",
        "amount",
        "period",
        "service",
        "service_code",
    ),
    RegistryKind.PAYMENTS: (
        "paid_at",
        "operation_id",
        "account",
        "house_id",
        "premises",
        "period",
        "amount",
        "transfer",
        "fee",
        "service",
        "channel",
        "service_code",
    ),
    RegistryKind.READINGS: (
        "account",
        "meter_number",
        "meter_type",
        "values",
        "taken_on",
        "house_id",
        "service",
        "photo",
    ),
}
MODELS: dict[RegistryKind, type] = {
    RegistryKind.DEBTS: DebtRecord,
    RegistryKind.PAYMENTS: PaymentRecord,
    RegistryKind.READINGS: MeterReading,
}
SUMS = {
    RegistryKind.DEBTS: ("amount",),
    RegistryKind.PAYMENTS: ("amount", "transfer", "fee"),
    RegistryKind.READINGS: (),  # readings: the footer states a count only
}
TYPES: dict[RegistryKind, type[Any]] = {
    RegistryKind.DEBTS: DebtRecord,
    RegistryKind.PAYMENTS: PaymentRecord,
    RegistryKind.READINGS: MeterReading,
}


class ReferenceFormat(RegistryFormat):
    footer_required = True  # a file without its footer is cut short
    capabilities = FormatCapabilities(
        read=True,
        write=True,
        streaming=True,
        control_totals=True,
        escapes_formulas=True,
        encodings=("utf-8",),
        max_line_length=MAX_LINE,
        tagged_fields=True,
    )

    def __init__(self, kind: RegistryKind = RegistryKind.DEBTS) -> None:
        self.kind = kind
        self.name = f"reference-{kind.value}"
        fields = tuple(f for f in SERVICE_FIELDS if f in COLUMNS[kind])
        self.capabilities = attrs.evolve(type(self).capabilities, service_fields=fields)

    # -- writing ---------------------------------------------------------------------

    def format_amount(self, value: Decimal) -> str:
        return f"{value:.2f}"

    def format_text(self, name: str, value: str) -> str:
        if any(c in value for c in ";\r\n"):
            raise FormatError("text cannot hold ';' or a line break", field=name)
        return escape_formula(value)

    def format_cell(self, name: str, value: Any) -> str:
        if name in SUMS[self.kind]:
            return self.format_amount(value)
        if name in TEXT:
            return self.format_text(name, value)
        if name == "premises":
            return self.format_text(name, value.text)
        if value is None:
            return ""
        if name == "values":  # meter values as written, precision kept: 0.100, not 0.1
            return "|".join(f"{v:f}" for v in value)
        if name == "meter_type":
            return str(int(value))
        if name == "photo":
            return f"{value.sha256}|{value.media_type}"
        if isinstance(value, dt.datetime):
            return value.isoformat()
        return str(value)

    def check_record(self, record: Record) -> None:
        """A record of another kind is refused, even one with the same attribute names."""
        model = MODELS[self.kind]
        if not isinstance(record, model):
            raise FormatError(f"a {self.kind.value} registry holds {model.__name__} records")

    def format_record(self, record: Record) -> str:
        self.check_record(record)
        cells = [self.format_cell(n, getattr(record, n)) for n in COLUMNS[self.kind]]
        cells += [f"{k}:{self.format_text('tags', v)}" for k, v in getattr(record, "tags", ())]
        return ";".join(cells)

    def records_to_write(self, records: Iterable[Record]) -> Iterable[Record]:
        return records

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            return self.write_to(fh, path, header, records)

    def format_header(self, header: RegistryHeader, period: object) -> str:
        return (
            f"#PES-REF;{self.kind.value};{header.partner_inn or ''};{period};"
            f"{header.number or ''};{header.date or ''}\n"
        )

    def write_to(
        self, fh: IO[str], path: Path, header: RegistryHeader, records: Iterable[Record]
    ) -> WriteReport:
        period = header.period or ""
        fh.write(self.format_header(header, period))
        names = SUMS[self.kind]
        sums = dict.fromkeys(names, ZERO)
        count = 0
        for r in self.records_to_write(records):
            try:
                line = self.format_record(r)
            except FormatError as exc:
                # The refusal names the file being written and the line the record takes.
                raise FormatError(exc.message, path=path, line=count + 2, field=exc.field) from None
            fh.write(line + "\n")
            count += 1
            for n in names:
                sums[n] += getattr(r, n)
        fh.write("=" + ";".join([str(count), *(self.format_amount(sums[n]) for n in names)]) + "\n")
        return WriteReport(path, count, sums.get("amount", ZERO))

    # -- reading ---------------------------------------------------------------------

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        return ReferenceReader(self, Path(path), Policy(policy), rejects_path)

    def parse_amount(self, text: str) -> Decimal:
        return parse_amount(text, decimal_comma=False)

    def parse_cell(self, name: str, text: str) -> Any:
        if name in SUMS[self.kind]:
            return self.parse_amount(text)
        if name in TEXT or name == "premises":
            return unescape_formula(text)
        if name == "house_id":
            return check_guid(text) if text else None
        if name == "period":
            return Period.parse(text) if text else None
        if name == "paid_at":
            return dt.datetime.fromisoformat(text)
        if name == "values":
            return tuple(self.parse_meter_value(v) for v in text.split("|"))
        if name == "meter_type":
            return int(text)
        if name == "taken_on":
            return dt.date.fromisoformat(text)
        if name == "photo":
            sha, _, media = text.partition("|")
            return Photo(sha, media) if text else None
        return text

    def parse_meter_value(self, text: str) -> Decimal:
        if not re.fullmatch(r"\d{1,15}(\.\d{1,12})?", text):
            raise ValueError(f"not a meter value: {text!r}")
        return Decimal(text)

    def parse_header(self, text: str) -> RegistryHeader:
        cells = text.split(";")
        if len(cells) < 6:  # a header cut short is not one
            raise ValueError(f"{len(cells)} header fields, expected 6")
        _, _, inn, period, number, date = cells[:6]
        return RegistryHeader(
            kind=self.kind,
            partner_inn=inn or None,
            period=Period.parse(period) if period else None,
            number=int(number) if number else None,
            date=dt.date.fromisoformat(date) if date else None,
        )

    def key_memory(self) -> MutableSet[int]:
        """Where the reader remembers the :meth:`repeat_key` of every record read."""
        return set()

    def repeat_key(self, record: Record) -> int | None:
        """What a debt registry may hold once: (account, service), kept as a hash (memory)."""
        if self.kind is not RegistryKind.DEBTS:
            return None
        return hash((record.account, record.service))  # type: ignore[union-attr]

    def parse_record(self, cells: list[str]) -> Record:
        cols = COLUMNS[self.kind]
        if len(cells) < len(cols):
            raise FormatError(f"{len(cells)} fields, expected at least {len(cols)}")
        values: dict[str, Any] = {}
        for n, text in zip(cols, cells, strict=False):
            try:
                values[n] = self.parse_cell(n, text)
            except ValueError as exc:
                raise FormatError(str(exc), field=n) from None
        tags = []
        for cell in cells[len(cols) :]:
            key, sep, value = cell.partition(":")
            if not sep or not key:
                raise FormatError(f"extra field {cell[:40]!r} is not KEY:value", field="tags")
            tags.append((key, unescape_formula(value)))
        if self.kind is RegistryKind.READINGS:
            if tags:
                raise FormatError("meter readings carry no tags", field="tags")
        else:
            values["tags"] = tags
        try:
            return TYPES[self.kind](**values)  # type: ignore[no-any-return]
        except (ValueError, TypeError) as exc:
            raise FormatError(str(exc)) from None


class ReferenceReader(RegistryReader):
    def __init__(
        self, fmt: ReferenceFormat, path: Path, policy: Policy, rejects: Path | None
    ) -> None:
        self.fmt = fmt
        self.path = path
        self.sink = RejectSink(path, policy, rejects)
        self.header = RegistryHeader(kind=fmt.kind)
        self._report: ReadReport | None = None
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._it = self._records()

    def __next__(self) -> Record:
        return next(self._it)

    @property
    def report(self) -> ReadReport:
        assert self._report is not None, "iterate the reader to its end first"
        return self._report

    def close(self) -> None:
        self._fh.close()

    def lines(self) -> Iterator[tuple[int, str]]:
        for number, raw in enumerate(self._fh, start=1):
            if len(raw) > MAX_LINE:
                raise self.sink.refuse(f"line longer than {MAX_LINE} bytes", line=number)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise self.sink.refuse(f"not UTF-8: {exc.reason}", line=number) from None
            yield number, text.rstrip("\n")

    def _records(self) -> Iterator[Record]:
        kind = self.fmt.kind
        names = SUMS[kind]
        sums = dict.fromkeys(names, ZERO)
        count = 0
        good_total = ZERO
        unverifiable: set[str] = set()
        control: ControlTotals | None = None
        lines = self.lines()
        first = next(lines, None)
        if first is None or not first[1].startswith("#PES-REF;"):
            raise self.sink.refuse("no #PES-REF header line", line=1)
        try:
            facts = self.fmt.parse_header(first[1])
        except ValueError as exc:
            raise self.sink.refuse(f"bad header: {exc}", line=1) from None
        seen = self.fmt.key_memory()
        last = 1
        for number, text in lines:
            last = number
            if control is not None:
                raise self.sink.refuse("a line after the footer", line=number)
            if text.startswith("="):
                control = self.parse_footer(number, text[1:])
                continue
            count += 1
            cells = text.split(";")
            for n in names:  # the sender's totals cover every row, good or bad
                i = COLUMNS[kind].index(n)
                try:
                    sums[n] += self.fmt.parse_amount(cells[i])
                except (ValueError, IndexError):
                    unverifiable.add(n)
            try:
                if "\x00" in text:
                    raise FormatError("a NUL byte")
                record = self.fmt.parse_record(cells)
            except FormatError as exc:
                # A format that finds every fault of a row raises them together (issues).
                found = getattr(exc, "faults", None) or [(exc.field, exc.message)]
                self.sink.reject(number, text[:200], [Issue(number, f, m) for f, m in found])
                continue
            key = self.fmt.repeat_key(record)
            if key is not None:
                if key in seen:
                    problem = "account and service repeat an earlier line"
                    self.sink.reject(number, text[:200], [Issue(number, "account", problem)])
                    continue
                seen.add(key)
            good_total += getattr(record, "amount", ZERO)
            yield record
        if control is None and self.fmt.footer_required:
            raise self.sink.refuse(
                "no footer with control totals: the file is cut short", line=last
            )
        self.header = attrs.evolve(facts, control=control)
        report, error = self.sink.finish(
            self.header,
            count,
            sums,
            control,
            good_total=good_total,
            unverifiable=sorted(unverifiable),
        )
        self._report = report
        if error is not None:
            raise error

    def parse_footer(self, number: int, text: str) -> ControlTotals:
        cells = text.split(";")
        names = SUMS[self.fmt.kind]
        try:
            if len(cells) != 1 + len(names):
                raise ValueError("wrong number of control totals")
            # Totals may exceed the 15 digits of one amount: parsed as plain decimals.
            sums = {
                n: Decimal(c).quantize(Decimal("0.01"))
                for n, c in zip(names, cells[1:], strict=True)
            }
            count = int(cells[0])
            if count < 0:
                raise ValueError(f"count {count} is negative")
            return ControlTotals(count, sums)
        except (ValueError, ArithmeticError) as exc:
            raise self.sink.refuse(f"bad footer: {exc}", line=number) from None
