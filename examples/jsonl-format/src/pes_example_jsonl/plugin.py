"""The ``example-jsonl-debts`` format: a debt registry (реестр задолженности) as JSON Lines.

This module is the whole plugin. It uses only the public API of pes-sdk, so it is a fair
template for a third-party format:

* :class:`JsonlDebtsFormat` subclasses :class:`pes_sdk.formats.RegistryFormat`, declares
  its :class:`~pes_sdk.formats.FormatCapabilities` and implements ``open``, ``write`` and
  ``filename``;
* its reader streams the file line by line and hands every bad row to a
  :class:`~pes_sdk.formats.RejectSink`, which applies the policy (``strict`` or
  ``quarantine``), writes the rejects file and checks the control totals;
* its writer writes through :func:`pes_sdk.files.atomic_path`, so a reader never sees a
  half-written file;
* :func:`pes_registry_formats` is the hook the host calls; the entry point in
  ``pyproject.toml`` (group ``pes_sdk``) points at this module.

The file layout, UTF-8, one JSON object per line::

    {"partner_inn": "7707083893", "period": "2026-11", "number": 1}
    {"account": "000123", "house_id": "…", "premises": "12а", "amount": "1272.26", …}
    …
    {"count": 2, "amount": "1122.26"}

The first line is the header (any of its values may be ``null`` when unknown), then one
record per line as :func:`pes_sdk.serialization.make_converter` writes a
:class:`~pes_sdk.models.DebtRecord` (amounts are strings, never JSON numbers), and the last
line is the footer with the control totals: how many records and the sum of their amounts,
over every record line of the file, good or bad.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import attrs
import cattrs
from cattrs.errors import ForbiddenExtraKeysError

from pes_sdk import identifiers
from pes_sdk.errors import FormatError, Issue, RegistryRefused
from pes_sdk.files import atomic_path
from pes_sdk.formats import (
    SERVICE_FIELDS,
    FormatCapabilities,
    Policy,
    ReadReport,
    Record,
    RegistryFormat,
    RegistryReader,
    RejectSink,
    WriteReport,
)
from pes_sdk.models import ControlTotals, DebtRecord, RegistryHeader, RegistryKind
from pes_sdk.money import ZERO, amount
from pes_sdk.period import Period
from pes_sdk.plugins import hookimpl
from pes_sdk.serialization import make_converter

__all__ = ["FORMAT_NAME", "JsonlDebtsFormat", "pes_registry_formats"]

FORMAT_NAME = "example-jsonl-debts"

_HEADER_KEYS = frozenset({"partner_inn", "period", "number"})
_FOOTER_KEYS = frozenset({"count", "amount"})
_RECORD_FIELDS = tuple(a.name for a in attrs.fields(DebtRecord))
_REQUIRED_FIELDS = tuple(a.name for a in attrs.fields(DebtRecord) if a.default is attrs.NOTHING)

# One converter per module: it is built once and never shared with other code, so the hooks
# this plugin might register one day cannot leak into anyone else's conversions.
_CONVERTER = make_converter()

# A record known to be valid. When a row fails in a way that names no field (a model
# validator raised), each of the row's values is tried on this record in turn: the first one
# that fails is the field to blame.
_TEMPLATE: dict[str, Any] = _CONVERTER.unstructure(
    DebtRecord("1", "00000000-0000-4000-8000-000000000000", "1", Decimal("0.00"))
)


def _dumps(obj: Any) -> str:
    # ensure_ascii=False: Cyrillic stays readable and round-trips byte for byte in UTF-8.
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _message(exc: BaseException) -> str:
    leaf = _leaf(exc)
    if isinstance(leaf, KeyError):
        return "required field is missing"
    return str(leaf) or type(leaf).__name__


def _blame(obj: dict[str, Any]) -> str:
    """The field whose value alone makes ``obj`` fail, or ``""`` when none does alone."""
    for name in _RECORD_FIELDS:
        if name not in obj:
            continue
        try:
            _CONVERTER.structure({**_TEMPLATE, name: obj[name]}, DebtRecord)
        except (cattrs.BaseValidationError, ValueError, TypeError):
            return name
    return ""


def _record_issues(obj: Any) -> tuple[DebtRecord | None, list[Issue]]:
    """Structure one JSON value into a record, or say what is wrong with it (line 0)."""
    if not isinstance(obj, dict):
        return None, [Issue(0, "", f"a record is a JSON object, not {type(obj).__name__}")]
    unknown = sorted(set(obj) - set(_RECORD_FIELDS))
    if unknown:
        return None, [Issue(0, unknown[0], f"unknown field(s): {', '.join(unknown)}")]
    missing = [n for n in _REQUIRED_FIELDS if n not in obj]
    if missing:
        return None, [Issue(0, n, "required field is missing") for n in missing]
    try:
        return _CONVERTER.structure(obj, DebtRecord), []
    except cattrs.ClassValidationError as exc:
        with_field, without = exc.group_exceptions()
        issues = [Issue(0, note.name, _message(e)) for e, note in with_field]
        for e in without:
            if isinstance(e, ForbiddenExtraKeysError):
                issues.append(Issue(0, sorted(e.extra_fields)[0], _message(e)))
            else:
                issues.append(Issue(0, _blame(obj), _message(e)))
        return None, issues
    except (ValueError, TypeError) as exc:
        return None, [Issue(0, _blame(obj), _message(exc))]


def _raw_amount(obj: Any) -> Decimal | None:
    """The amount of a row, if it can be read even though the row is bad (control sums)."""
    if isinstance(obj, dict) and isinstance(obj.get("amount"), str):
        try:
            return amount(obj["amount"])
        except ValueError:
            return None
    return None


def _parse_header(obj: Any) -> RegistryHeader:
    if not isinstance(obj, dict) or "account" in obj or not set(obj) <= _HEADER_KEYS:
        raise ValueError("the first line is the header object with partner_inn, period and number")
    inn = obj.get("partner_inn")
    period = obj.get("period")
    number = obj.get("number")
    if inn is not None:
        if not isinstance(inn, str):
            raise ValueError("partner_inn is a string of digits")
        identifiers.check_inn(inn)
    if period is not None and not isinstance(period, str):
        raise ValueError("period is a string YYYY-MM")
    if number is not None and (
        isinstance(number, bool) or not isinstance(number, int) or number < 1
    ):
        raise ValueError("number is a positive integer")
    return RegistryHeader(
        kind=RegistryKind.DEBTS,
        partner_inn=inn,
        period=Period.parse(period) if period is not None else None,
        number=number,
    )


def _parse_footer(obj: dict[str, Any]) -> ControlTotals:
    count, total = obj.get("count"), obj.get("amount")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError("the footer's count is a non-negative integer")
    if not isinstance(total, str):
        raise ValueError('the footer\'s amount is a string such as "1272.26"')
    return ControlTotals(count, {"amount": amount(total)})


class _JsonlReader(RegistryReader):
    """Streams one file: one line in memory at a time, plus a hash per record read."""

    def __init__(self, path: Path, policy: Policy, rejects_path: Path | None) -> None:
        self._path = path
        self._sink = RejectSink(path, policy, rejects_path)
        self._file: IO[bytes] | None = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._line = 0
        self._rows = 0  # record lines seen, good and bad: what the footer counts
        self._good = 0
        self._good_total = ZERO
        self._sum = ZERO  # of every readable amount, good rows and bad
        self._unverifiable: list[str] = []
        self._control: ControlTotals | None = None
        self._footer_line = 0
        self._seen = _SeenPairs()  # a debt registry names each (account, service) once
        self._report: ReadReport | None = None
        try:
            first = self._next_line()
            if first is None:
                raise self._refuse("the file is empty: no header line", line=0)
            try:
                self.header = _parse_header(first[1])
            except (ValueError, TypeError) as exc:
                raise self._refuse(str(exc), line=1, field="header") from None
        except BaseException:
            self.close()
            raise

    # -- reading ---------------------------------------------------------------------

    def _next_line(self) -> tuple[str, Any] | None:
        """The next non-blank line, decoded and parsed; None at the end of the file."""
        assert self._file is not None
        for raw in self._file:
            self._line += 1
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                # Undecodable bytes refuse the registry whole: nothing after them is trusted.
                raise self._refuse(
                    f"not UTF-8: byte {raw[exc.start]:#04x} at column {exc.start + 1}",
                    line=self._line,
                ) from None
            if not text.strip():
                continue
            try:
                return text, json.loads(text, parse_float=_no_float)
            except json.JSONDecodeError as exc:
                return text, _Unparsable(f"not JSON: {exc}")
            except ValueError as exc:  # a fraction written as a JSON number
                return text, _Unparsable(str(exc))
        return None

    def __next__(self) -> Record:
        if self._report is not None or self._file is None:
            raise StopIteration
        while True:
            got = self._next_line()
            if got is None:
                return self._finish()
            text, obj = got
            if self._control is not None:
                raise self._refuse(
                    f"a line follows the footer (line {self._footer_line})", line=self._line
                )
            if isinstance(obj, dict) and "account" not in obj and "count" in obj:
                if not set(obj) <= _FOOTER_KEYS:
                    raise self._refuse("the footer holds only count and amount", line=self._line)
                try:
                    self._control = _parse_footer(obj)
                except ValueError as exc:
                    raise self._refuse(str(exc), line=self._line, field="footer") from None
                self._footer_line = self._line
                continue
            record = self._record(text, obj)
            if record is not None:
                return record

    def _record(self, text: str, obj: Any) -> DebtRecord | None:
        self._rows += 1
        raw_amount = _raw_amount(obj)
        if raw_amount is None:
            if "amount" not in self._unverifiable:
                self._unverifiable.append("amount")
        else:
            self._sum += raw_amount
        if isinstance(obj, _Unparsable):
            issues = [Issue(self._line, "", obj.reason)]
            self._sink.reject(self._line, text, issues)
            return None
        record, problems = _record_issues(obj)
        if record is None:
            issues = [Issue(self._line, p.field, p.message) for p in problems]
            self._sink.reject(self._line, text, issues)
            return None
        if not self._seen.add(record.account, record.service):
            message = (
                f"account {record.account!r} and service {record.service!r} repeat an earlier line"
            )
            self._sink.reject(self._line, text, [Issue(self._line, "account", message)])
            return None
        self._good += 1
        self._good_total += record.amount
        return record

    def _finish(self) -> Record:
        if self._control is None:
            raise self._refuse(
                "no footer line with the control totals: the file may be truncated", line=0
            )
        header = attrs.evolve(self.header, control=self._control)
        report, error = self._sink.finish(
            header,
            self._rows,
            {"amount": self._sum},
            self._control,
            good_total=self._good_total,
            unverifiable=self._unverifiable,
        )
        self._report = report
        self.close()
        if error is not None:
            raise error
        raise StopIteration

    def _refuse(self, message: str, *, line: int, field: str = "") -> RegistryRefused:
        error = self._sink.refuse(message, line=line, field=field)
        self._report = ReadReport(
            path=self._path,
            header=getattr(self, "header", RegistryHeader(kind=RegistryKind.DEBTS)),
            records=self._good,
            total=self._good_total,
            rejected=self._sink.rejected,
            issues=tuple(self._sink.issues),
            issue_count=self._sink.issue_count,
            refused=error.message,
        )
        self.close()
        return error

    @property
    def report(self) -> ReadReport:
        if self._report is not None:
            return self._report
        # Iteration has not ended: what is known so far, not yet checked against the footer.
        return ReadReport(
            path=self._path,
            header=self.header,
            records=self._good,
            total=self._good_total,
            rejected=self._sink.rejected,
            issues=tuple(self._sink.issues),
            issue_count=self._sink.issue_count,
        )

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _SeenPairs:
    """The (account, service) pairs read so far, in about 12 bytes each.

    A debt registry names each debt once, so the reader remembers every pair. A set of
    tuples would cost some 200 bytes a row and memory would grow with the file; this keeps
    only a 64-bit hash of each pair in an open-addressing table of machine integers. Two
    different pairs with the same 64-bit hash would be taken for a repeat: the odds are about
    n²/2⁶⁵, three in a hundred million for a million rows.
    """

    def __init__(self) -> None:
        self._slots = array("q", [0]) * 1024
        self._used = 0

    def add(self, account: str, service: str) -> bool:
        """Remember the pair; False when it was already there."""
        h = hash((account, service)) or 1  # 0 marks an empty slot
        slots = self._slots
        mask = len(slots) - 1
        i = h & mask
        while slots[i]:
            if slots[i] == h:
                return False
            i = (i + 1) & mask
        slots[i] = h
        self._used += 1
        if self._used * 3 > len(slots) * 2:  # keep the table at most two thirds full
            self._grow()
        return True

    def _grow(self) -> None:
        old = self._slots
        self._slots = slots = array("q", [0]) * (len(old) * 2)
        mask = len(slots) - 1
        for h in old:
            if h:
                i = h & mask
                while slots[i]:
                    i = (i + 1) & mask
                slots[i] = h


@attrs.frozen
class _Unparsable:
    """A line that is not JSON; kept so that it is counted and rejected with its reason."""

    reason: str


def _no_float(text: str) -> Any:
    # A JSON number with a fraction would become a float: money is never a float, so the
    # number is kept as text and the model's converter refuses it with a clear message.
    raise ValueError(f"a number with a fraction ({text}) must be written as a string")


class JsonlDebtsFormat(RegistryFormat):
    """Debt registries as JSON Lines (UTF-8): header object, records, footer with totals."""

    name = FORMAT_NAME
    kind = RegistryKind.DEBTS
    description = "Example plugin: debt registry as JSON Lines, UTF-8, footer with totals"
    capabilities = FormatCapabilities(
        read=True,
        write=True,
        streaming=True,
        control_totals=True,
        escapes_formulas=False,  # JSON is not opened by spreadsheets
        encodings=("utf-8",),
        max_line_length=None,
        tagged_fields=True,  # tags travel as a list of [key, value] pairs
        service_fields=SERVICE_FIELDS,  # a record is the whole DebtRecord: code and name
    )

    def open(
        self,
        path: Path,
        *,
        policy: Policy = Policy.STRICT,
        rejects_path: Path | None = None,
    ) -> RegistryReader:
        return _JsonlReader(Path(path), Policy(policy), rejects_path)

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        path = Path(path)
        head = {
            "partner_inn": header.partner_inn,
            "period": str(header.period) if header.period is not None else None,
            "number": header.number,
        }
        count = 0
        total = ZERO
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(_dumps(head) + "\n")
            for record in records:
                if not isinstance(record, DebtRecord):
                    raise FormatError(
                        f"{FORMAT_NAME} writes debt records, not {type(record).__name__}",
                        path=path,
                        line=count + 2,
                    )
                fh.write(_dumps(_CONVERTER.unstructure(record)) + "\n")
                count += 1
                total += record.amount
            fh.write(_dumps({"count": count, "amount": str(total)}) + "\n")
        return WriteReport(path=path, records=count, total=total)

    def filename(self, header: RegistryHeader) -> str | None:
        """``ИНН_YYYY-MM_NNN.jsonl`` when the header knows all three, else None."""
        if header.partner_inn is None or header.period is None or header.number is None:
            return None
        return f"{header.partner_inn}_{header.period}_{header.number:03d}.jsonl"


@hookimpl
def pes_registry_formats() -> Sequence[RegistryFormat]:
    """The formats this plugin adds to pes-sdk."""
    return [JsonlDebtsFormat()]
