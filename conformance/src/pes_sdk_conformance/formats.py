"""Conformance checks of the **format** family: registry readers and writers.

An adapter author activates the plugin and subclasses :class:`FormatConformance`::

    # conftest.py
    pytest_plugins = ["pes_sdk_conformance.plugin"]

    # test_conformance.py
    from pes_sdk_conformance.formats import FormatConformance

    class TestMyFormat(FormatConformance):
        format_name = "my-format"          # found through the plugin host, as users find it

Everything the checks need comes from three places:

* the format itself: its :class:`~pes_sdk.formats.base.FormatCapabilities` gate the checks
  (each check a format cannot take is skipped with the name of the capability);
* class attributes of the fixture class (what the format does not carry, time zone, limits);
* hook methods the author may override (the records, the header, the file name, how to
  tamper with control totals, the malformed corpus) when the defaults do not fit.

Each check says in its docstring what it proves. Checks marked ``@since_level(n)`` entered
the suite later: below strictness level ``n`` their failure is a warning (see
:mod:`pes_sdk_conformance.plugin`).
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import gc
import locale
import re
import shutil
import sys
import tempfile
import tracemalloc
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import attrs
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pes_sdk.errors import FormatError, PesError, RegistryRefused
from pes_sdk.formats.base import (
    SERVICE_FIELDS,
    FormatCapabilities,
    Policy,
    ReadReport,
    Record,
    RegistryFormat,
    WriteReport,
)
from pes_sdk.models.payments import PaymentRecord
from pes_sdk.models.registry import ControlTotals, RegistryHeader, RegistryKind
from pes_sdk.money import ZERO
from pes_sdk.plugins import get_host
from pes_sdk_conformance import records as samples
from pes_sdk_conformance.corpus import (
    STANDARD_SAMPLES,
    MalformedSample,
    NotApplicable,
    build_standard_samples,
)
from pes_sdk_conformance.levels import ConformanceSettings, runs_last, since_level

__all__ = [
    "HEADER_FACTS",
    "FormatConformance",
    "ReadResult",
    "error_fields",
    "error_lines",
    "since_level",
]

#: The facts of a registry's header a round trip must keep (unless the format declares it
#: does not carry one, ``FormatConformance.header_facts_not_carried``).
HEADER_FACTS = ("partner_inn", "period", "number", "date")
#: Text no one-byte Cyrillic encoding has: a writer refuses it or keeps it, never a `?`.
UNENCODABLE_TEXTS = ("🙂 спасибо", "Straße", "ǅ", "€ 100")

T = TypeVar("T")


@attrs.frozen
class ReadResult:
    """Everything one read gave: the records, the report, and the reader's header."""

    records: list[Record]
    report: ReadReport
    header: RegistryHeader

    @property
    def control(self) -> ControlTotals | None:
        """The control totals the file carried, from the report's or the reader's header."""
        return self.report.header.control or self.header.control


def error_lines(exc: BaseException) -> set[int]:
    """Every line number an SDK error names: its own, its issues', and ``line N`` in text."""
    lines: set[int] = set()
    if isinstance(exc, FormatError) and exc.line:
        lines.add(exc.line)
    if isinstance(exc, RegistryRefused):
        lines.update(i.line for i in exc.issues if i.line)
    lines.update(int(n) for n in re.findall(r"\bline (\d+)", str(exc)))
    return lines


def error_fields(exc: BaseException, line: int) -> set[str]:
    """The fields an SDK error blames at ``line``: ``FormatError.field`` when the error
    names that line, and the fields of ``RegistryRefused.issues`` at that line."""
    fields: set[str] = set()
    if isinstance(exc, FormatError) and exc.field and exc.line == line:
        fields.add(exc.field)
    if isinstance(exc, RegistryRefused):
        fields.update(i.field for i in exc.issues if i.line == line and i.field)
    return fields


class _HalfWayFailure(Exception):
    """Raised by the records iterable of the failed-write check, half-way through."""


def _raise_half_way(records: Iterable[Record], after: int) -> Iterator[Record]:
    for i, r in enumerate(records):
        if i == after:
            raise _HalfWayFailure(f"the records iterable raised after {after} records")
        yield r


def _traced_peak(fn: Callable[[], T]) -> tuple[T, int]:
    """Run ``fn`` and return its result and the peak of Python memory it allocated."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if started:
            tracemalloc.stop()
    return result, peak


def _amount(record: Record) -> Decimal:
    """A record's amount (zero for records without money, such as meter readings)."""
    value: Decimal = getattr(record, "amount", ZERO)
    return value


def _says_something(message: object) -> bool:
    """True for a message a person can read: text with more than spaces and punctuation."""
    return isinstance(message, str) and any(c.isalnum() for c in message)


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


class FormatConformance:
    """The checks every registry format passes. Subclass it as ``Test<YourFormat>``.

    Override the ``registry_format`` fixture, or set :attr:`format_name` to have the format
    found through the public plugin host (``pes_sdk.plugins.get_host().format(name)``),
    which also proves your entry point works.
    """

    #: The format's name as installed plugins provide it; or override ``registry_format``.
    format_name: ClassVar[str | None] = None
    #: Record fields the format does not carry: samples leave them at their defaults.
    #: ``tags`` is left out automatically when ``capabilities.tagged_fields`` is False, and
    #: ``service_code`` when it is not in ``capabilities.service_fields``.
    fields_not_carried: ClassVar[frozenset[str]] = frozenset()
    #: The zone of payment times in the samples; ``None`` for formats that write local
    #: times without a zone (their reader gives naive datetimes).
    timezone: ClassVar[dt.tzinfo | None] = samples.MSK
    #: The streaming checks write and read ``streaming_rows`` rows and a quarter of that,
    #: measure the peak of Python memory of each (tracemalloc) and allow the larger run
    #: ``streaming_memory_growth`` more than the smaller one. With 12,000 rows the larger
    #: file has 9,000 more rows: about 0.8-1.5 MB more bytes, twice that as decoded text
    #: and over 6 MB more as record objects, so code that keeps the records, their lines or
    #: the file's bytes grows several times past 256 KiB, while a streaming one grows by
    #: almost nothing whatever the row count (measured: under 100 KiB). A format whose rows
    #: are very short raises ``streaming_rows`` (the check says so). Tracing every
    #: allocation slows a reader about sixfold, which is why the files are not larger.
    #: ``streaming_memory_limit`` caps the larger run's peak as well.
    streaming_rows: ClassVar[int] = 12_000
    streaming_memory_growth: ClassVar[int] = 256 * 2**10
    streaming_memory_limit: ClassVar[int] = 16 * 2**20
    #: Memory a format keeps per row *by design*, in bytes: e.g. a debt format remembers a
    #: key per (account, service) to refuse duplicates, typically 100-200 bytes a row.
    #: Keep it well under what a record (~700 bytes) or a line (~150-300) costs, or the
    #: check can no longer tell streaming from keeping. Default 0: nothing grows.
    streaming_bytes_per_row: ClassVar[int] = 0
    #: Examples of the random round trip (capped by the hypothesis profile's max_examples).
    property_examples: ClassVar[int] = 30
    #: Pin the strictness level for this class (``None``: the ini option or the default).
    conformance_level: ClassVar[int | str | None] = None
    #: File name used when the format has no naming convention (``filename()`` is None).
    default_file_name: ClassVar[str] = "registry.txt"
    #: True when the format's layout trims the outer spaces of text cells (a rule its docs
    #: state, e.g. fixed-width columns padded with spaces): the samples' text is trimmed
    #: and the checks expect trimmed text back. False (the default): text is kept exactly,
    #: outer spaces included.
    trims_text: ClassVar[bool] = False
    #: Header facts (of :data:`HEADER_FACTS`) the format's files do not carry, so a round
    #: trip cannot keep them. Every other one must come back as written.
    header_facts_not_carried: ClassVar[frozenset[str]] = frozenset()
    #: The format's own names of record fields, when its errors name those (a column
    #: title, an XML attribute): ``{"amount": ("Сумма",)}``. The malformed-sample checks
    #: accept the field's name or any of these.
    field_aliases: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: True when the format's footer or trailer is optional on reading (its spec says
    #: so): a file cut exactly at a line end then reads as a shorter registry, and the
    #: ``truncated_at_line_end`` sample is skipped with that reason.
    footer_optional: ClassVar[bool] = False
    #: Hypothesis phases of the random round trip. Shrinking a failing registry of random
    #: records took over a minute; the first failing example, with its records, is shown
    #: at once instead (add ``Phase.shrink`` to have it shrunk).
    property_phases: ClassVar[tuple[Phase, ...]] = (Phase.explicit, Phase.reuse, Phase.generate)

    # -- fixtures --------------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _pes_conformance_active(self, pes_conformance: ConformanceSettings) -> None:
        """Fails with "fixture 'pes_conformance' not found" when the plugin is not active:
        add ``pytest_plugins = ["pes_sdk_conformance.plugin"]`` to your conftest.py."""
        self._pes_settings = pes_conformance

    @pytest.fixture
    def registry_format(self) -> RegistryFormat:
        """The format under test."""
        if self.format_name is None:
            pytest.fail(
                f"{type(self).__name__}: set format_name or override the registry_format fixture"
            )
        return get_host().format(self.format_name)

    # -- hooks an author may override --------------------------------------------------------

    def not_carried(self, fmt: RegistryFormat) -> frozenset[str]:
        """Fields that samples must leave at their defaults for ``fmt``."""
        extra = set() if fmt.capabilities.tagged_fields else {"tags"}
        # The partner's code of a service is newer than the contract: a format that does
        # not declare it (FormatCapabilities.service_fields) keeps its old samples.
        kinds = (RegistryKind.DEBTS, RegistryKind.PAYMENTS)
        if fmt.kind in kinds and "service_code" not in fmt.capabilities.service_fields:
            extra.add("service_code")
        return self.fields_not_carried | extra

    def sample_set(self, fmt: RegistryFormat) -> samples.SampleSet:
        """The golden records for the format's kind (``debts``, ``payments`` and
        ``readings`` ship).

        Override for another kind; keep one record (the *target*) whose account, amount,
        GUID and period appear nowhere else, so the default malformed corpus can find it.
        """
        try:
            gold = samples.golden(fmt.kind)
        except LookupError:
            pytest.skip(
                f"no golden samples for kind {fmt.kind.value!r}: override sample_set() "
                "to give the format's records"
            )
        strip = self.not_carried(fmt)
        records: list[Record] = []
        for r in gold.records:
            if isinstance(r, PaymentRecord):
                tz = self.timezone
                when = r.paid_at.replace(tzinfo=None) if tz is None else r.paid_at.astimezone(tz)
                r = attrs.evolve(r, paid_at=when)
            r = samples.strip_fields(r, strip)
            records.append(samples.trim_text(r) if self.trims_text else r)
        # Two services of one account become one (account, "") when the format does not
        # carry the service: a debt registry refuses that pair, so the repeat is left out.
        records = samples.distinct_keys(fmt.kind, records)
        return samples.SampleSet(gold.kind, tuple(records), gold.target)

    def header_for(self, fmt: RegistryFormat, records: Iterable[Record]) -> RegistryHeader:
        """The header written with ``records``: every fact known, totals computed."""
        recs = list(records)
        header = samples.default_header(fmt.kind, recs)
        return attrs.evolve(header, control=self.control_totals(fmt, recs))

    def control_totals(self, fmt: RegistryFormat, records: Iterable[Record]) -> ControlTotals:
        """The control totals a file of ``records`` states: the count and the kind's money
        sums (:data:`~pes_sdk_conformance.records.MONEY_FIELDS`); a count only for meter
        readings. Override when the format's totals carry sums of their own (e.g. the sum
        of meter values): the checks then expect exactly those."""
        return samples.control_totals(fmt.kind, records)

    def path_for(self, fmt: RegistryFormat, folder: Path, header: RegistryHeader) -> Path:
        """Where a registry with ``header`` is written: the format's own name if it has one."""
        return folder / (fmt.filename(header) or self.default_file_name)

    def large_records(self, fmt: RegistryFormat, count: int) -> Iterator[Record]:
        """``count`` records for the streaming and failed-write checks (deterministic)."""
        return samples.generate(self.sample_set(fmt).records, count)

    def record_strategy(self, fmt: RegistryFormat) -> st.SearchStrategy[list[Record]]:
        """Random record lists for the property round trip."""
        try:
            return samples.record_strategy(
                fmt.kind,
                tz=self.timezone,
                not_carried=self.not_carried(fmt),
                outer_spaces=not self.trims_text,
            )
        except LookupError:
            pytest.skip(f"no record strategy for kind {fmt.kind.value!r}: override it")

    def formula_records(self, fmt: RegistryFormat) -> list[Record]:
        """Records whose text fields look like spreadsheet formulas."""
        base = self.sample_set(fmt).records
        carried = self.not_carried(fmt)
        out = []
        for i, text in enumerate(samples.FORMULA_TEXTS):
            r = base[i % len(base)]
            changes: dict[str, Any] = {"account": f"F{i:04d}"}
            if "service" not in carried and hasattr(r, "service"):
                changes["service"] = text
            if "premises" not in carried and hasattr(r, "premises"):
                changes["premises"] = samples.FORMULA_TEXTS[-1 - i]
            out.append(attrs.evolve(r, **changes))
        return out

    def tamper_control_total(self, fmt: RegistryFormat, path: Path) -> None:
        """Change the control totals written in ``path`` and nothing else.

        The default works for any format that writes one record per line: it writes the
        same registry with the first record's amount changed, and again with the last
        record's changed, and takes the lines that differ in *both* (they hold totals,
        not records) from the first variant. For totals without sums (meter readings) it
        writes the registry without its last record instead and takes the lines that
        differ (the count). Override it for other layouts.
        """
        recs = list(self.sample_set(fmt).records)
        if len(recs) < 2:
            pytest.fail("tamper_control_total needs at least two sample records")
        if not self.control_totals(fmt, recs).sums:
            self._tamper_count(fmt, path, recs)
            return

        def bumped(i: int) -> list[Record]:
            out = [*recs]
            r = out[i]
            changes: dict[str, Any] = {"amount": _amount(r) + 1}
            if hasattr(r, "transfer"):
                changes["transfer"] = r.transfer + 1
            out[i] = attrs.evolve(r, **changes)
            return out

        encoding = fmt.capabilities.encodings[0]
        original = path.read_bytes().decode(encoding).splitlines(keepends=True)
        variants = []
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            for i in (0, -1):
                rs = bumped(i)
                header = self.header_for(fmt, rs)
                p = self.path_for(fmt, Path(tmp), header)
                fmt.write(p, header, rs)
                variants.append(p.read_bytes().decode(encoding).splitlines(keepends=True))
        first, last = variants
        if not len(original) == len(first) == len(last):
            pytest.fail(
                "the default tamper_control_total needs one record per line; "
                "override tamper_control_total() for this format"
            )
        total_lines = [
            i for i in range(len(original)) if original[i] != first[i] and original[i] != last[i]
        ]
        if not total_lines:
            pytest.fail(
                "no line of the file changes with the totals: the format does not seem to "
                "write control totals (or override tamper_control_total())"
            )
        for i in total_lines:
            original[i] = first[i]
        path.write_bytes("".join(original).encode(encoding))

    def _tamper_count(self, fmt: RegistryFormat, path: Path, recs: list[Record]) -> None:
        """Make the stated count one less than the records: drop the last record from a
        copy, then copy its differing lines (not the record's own) into ``path``."""
        encoding = fmt.capabilities.encodings[0]
        original = path.read_bytes().decode(encoding).splitlines(keepends=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            header = self.header_for(fmt, recs[:-1])
            p = self.path_for(fmt, Path(tmp), header)
            fmt.write(p, header, recs[:-1])
            fewer = p.read_bytes().decode(encoding).splitlines(keepends=True)
        last = samples.account_of(recs[-1])
        pattern = re.compile(r"(?<![\w-])" + re.escape(last) + r"(?![\w-])")
        record_lines = [i for i, line in enumerate(original) if pattern.search(line)]
        if len(record_lines) != 1 or len(fewer) != len(original) - 1:
            pytest.fail(
                "the default tamper_control_total needs one record per line; "
                "override tamper_control_total() for this format"
            )
        kept = [i for i in range(len(original)) if i != record_lines[0]]
        changed = [(i, j) for j, i in enumerate(kept) if original[i] != fewer[j]]
        if not changed:
            pytest.fail(
                "no line of the file changes with the record count: the format does not "
                "seem to write control totals (or override tamper_control_total())"
            )
        for i, j in changed:
            original[i] = fewer[j]
        path.write_bytes("".join(original).encode(encoding))

    def malformed_samples(
        self, fmt: RegistryFormat, folder: Path
    ) -> dict[str, MalformedSample | NotApplicable]:
        """The malformed corpus: :data:`~pes_sdk_conformance.corpus.STANDARD_SAMPLES` built
        from a valid file the format writes into ``folder``, plus any the author adds.

        Override to add format-specific samples (call ``super()`` and extend the dict), or
        to build the standard ones for a layout that is not one record per line.
        """
        gold = self.sample_set(fmt)
        valid = self.write_registry(fmt, folder, gold.records)[0]
        recs = gold.records
        corpus = build_standard_samples(
            valid.read_bytes(),
            fmt.capabilities.encodings[0],
            recs[gold.target_index],
            recs[-1],
            first=recs[0],
            count=len(recs),
        )
        if self.footer_optional:
            corpus["truncated_at_line_end"] = NotApplicable(
                "the footer is optional on reading (footer_optional): a file cut at a line "
                "end is a valid shorter registry"
            )
        return corpus

    def field_names(self, fmt: RegistryFormat, field: str) -> set[str]:
        """The names an error of ``fmt`` may give record field ``field``: the field's own
        and its :attr:`field_aliases`. Override to derive them from the format (columns)."""
        return {field, *self.field_aliases.get(field, ())}

    # -- helpers the checks (and an author's own checks) use -------------------------------

    def write_registry(
        self, fmt: RegistryFormat, folder: Path, records: Iterable[Record]
    ) -> tuple[Path, WriteReport]:
        recs = list(records)
        header = self.header_for(fmt, recs)
        folder.mkdir(parents=True, exist_ok=True)
        path = self.path_for(fmt, folder, header)
        return path, fmt.write(path, header, recs)

    def read_registry(
        self,
        fmt: RegistryFormat,
        path: Path,
        policy: Policy = Policy.STRICT,
        rejects_path: Path | None = None,
    ) -> ReadResult:
        with fmt.open(path, policy=policy, rejects_path=rejects_path) as reader:
            got = list(reader)
            return ReadResult(got, reader.report, reader.header)

    def round_trip(
        self, fmt: RegistryFormat, folder: Path, records: Iterable[Record]
    ) -> tuple[WriteReport, ReadResult]:
        path, written = self.write_registry(fmt, folder, records)
        return written, self.read_registry(fmt, path)

    @staticmethod
    def require(fmt: RegistryFormat, *capabilities: str) -> None:
        """Skip unless ``fmt`` declares every one of ``capabilities``."""
        for cap in capabilities:
            if not getattr(fmt.capabilities, cap):
                pytest.skip(f"{fmt.name} does not declare capability {cap!r}")

    # -- checks: the declaration ------------------------------------------------------------

    def test_capabilities_are_declared(self, registry_format: RegistryFormat) -> None:
        """The format names itself, its kind and capabilities, and every encoding exists."""
        fmt = registry_format
        assert isinstance(fmt.name, str) and fmt.name, "a format has a non-empty name"
        assert isinstance(fmt.kind, RegistryKind), f"kind is a RegistryKind, not {fmt.kind!r}"
        caps = fmt.capabilities
        assert isinstance(caps, FormatCapabilities), "capabilities is a FormatCapabilities"
        assert caps.read or caps.write, "a format reads, writes, or both"
        assert caps.encodings, "a format declares at least one encoding"
        for enc in caps.encodings:
            codecs.lookup(enc)
        if caps.max_line_length is not None:
            assert caps.max_line_length > 0
        unknown = set(caps.service_fields) - set(SERVICE_FIELDS)
        assert not unknown, f"service_fields names no service field: {sorted(unknown)}"
        claimed = set(caps.service_fields) & self.fields_not_carried
        assert not claimed, (
            f"service_fields says {sorted(claimed)} are kept, fields_not_carried says not"
        )

    # -- checks: round trip ---------------------------------------------------------------

    def test_round_trip_keeps_every_record(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """Write → read gives as many records as were written, and the reports agree."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        recs = list(self.sample_set(fmt).records)
        total = sum((_amount(r) for r in recs), ZERO)
        written, got = self.round_trip(fmt, tmp_path, recs)
        assert len(got.records) == len(recs), (
            f"wrote {len(recs)} records, read back {len(got.records)}"
        )
        assert written.records == len(recs), (
            f"WriteReport.records is {written.records} for {len(recs)} records"
        )
        assert written.total == total, f"WriteReport.total is {written.total}, not {total}"
        assert got.report.valid, f"the registry read back is not valid: {got.report}"
        assert got.report.records == len(recs)
        assert got.report.total == total
        # What a service files the report under: this file, this kind of registry.
        assert got.report.path == written.path, (
            f"ReadReport.path is {got.report.path!r}, not the file read ({written.path})"
        )
        kinds = (got.header.kind, got.report.header.kind)
        assert kinds == (fmt.kind, fmt.kind), (
            f"the reader's header and report say kind {kinds}, the format is {fmt.kind}"
        )

    def test_round_trip_money_to_the_kopeck(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """Every amount read back equals the one written, to the kopeck, with two places;
        meter values (readings) come back digit for digit, their precision kept."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        recs = list(self.sample_set(fmt).records)
        names = samples.money_fields(fmt.kind)
        exact = samples.METER_VALUE_FIELDS.get(fmt.kind, ())
        if not names and not exact:
            pytest.skip(f"records of kind {fmt.kind.value!r} carry no money")
        _, got = self.round_trip(fmt, tmp_path, recs)
        wrong = []
        for i, (want, have) in enumerate(zip(recs, got.records, strict=False)):
            for n in names:
                w, h = getattr(want, n), getattr(have, n)
                if not (isinstance(h, Decimal) and h == w and h.as_tuple().exponent == -2):
                    wrong.append(f"record {i + 1} {n}: wrote {w}, read {h!r}")
            for n in exact:  # meter values: the same digits, precision kept (0.100, not 0.1)
                w, h = getattr(want, n), getattr(have, n)
                same = len(w) == len(h) and all(
                    isinstance(b, Decimal) and a.as_tuple() == b.as_tuple()
                    for a, b in zip(w, h, strict=True)
                )
                if not same:
                    wrong.append(f"record {i + 1} {n}: wrote {w}, read {h!r}")
        assert not wrong, "money or meter values changed in the round trip: " + "; ".join(wrong)

    def test_round_trip_identifiers_and_text(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """Accounts keep leading zeros; premises (12а, 12/1), GUIDs, Cyrillic text survive."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        recs = list(self.sample_set(fmt).records)
        _, got = self.round_trip(fmt, tmp_path, recs)
        fields = [
            a.name
            for a in attrs.fields(type(recs[0]))
            if a.name not in samples.money_fields(fmt.kind)
            and a.name not in ("paid_at", "taken_on")
        ]
        wrong = []
        for i, (want, have) in enumerate(zip(recs, got.records, strict=False)):
            for n in fields:
                if getattr(want, n) != getattr(have, n):
                    wrong.append(
                        f"record {i + 1} {n}: wrote {getattr(want, n)!r}, read {getattr(have, n)!r}"
                    )
        assert not wrong, "identifiers or text changed in the round trip: " + "; ".join(wrong)

    def test_round_trip_whole_records(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """The records read back equal the records written, field for field, in order."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        recs = list(self.sample_set(fmt).records)
        _, got = self.round_trip(fmt, tmp_path, recs)
        assert got.records == recs

    @runs_last
    def test_round_trip_random_records(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """Random valid registries (accounts with leading zeros, any amount) round-trip."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        strategy = self.record_strategy(fmt)
        profile = settings.default  # the hypothesis profile the author loaded, if any
        examples = min(profile.max_examples if profile else 100, self.property_examples)

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=self.property_phases,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(strategy)
        def prop(recs: list[Record]) -> None:
            folder = Path(tempfile.mkdtemp(dir=tmp_path))
            try:
                _, got = self.round_trip(fmt, folder, recs)
                assert got.records == recs
            finally:
                shutil.rmtree(folder)

        prop()

    def test_round_trip_keeps_header_facts(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """The partner's ИНН, the period, the registry's number and date come back as
        written (except those declared in ``header_facts_not_carried``)."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        recs = list(self.sample_set(fmt).records)
        path, _ = self.write_registry(fmt, tmp_path, recs)
        written = self.header_for(fmt, recs)
        got = self.read_registry(fmt, path)
        wrong = []
        for name in HEADER_FACTS:
            if name in self.header_facts_not_carried:
                continue
            have = getattr(got.report.header, name, None)
            if have is None:
                have = getattr(got.header, name, None)
            if have != getattr(written, name):
                wrong.append(f"{name}: wrote {getattr(written, name)!r}, read {have!r}")
        assert not wrong, (
            "the header's facts changed in the round trip (declare a fact the format does not "
            "carry in header_facts_not_carried): " + "; ".join(wrong)
        )

    def test_header_without_facts_round_trips(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """A header that knows none of its facts (ИНН, period, number, date all ``None``)
        is refused on writing with a PesError, or written so that it reads back: a file
        the format wrote is one it reads, and an unknown fact comes back unknown, never
        as the text ``None`` or a value made up."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        recs = list(self.sample_set(fmt).records)
        header = attrs.evolve(
            self.header_for(fmt, recs), partner_inn=None, period=None, number=None, date=None
        )
        path = self.path_for(fmt, tmp_path, header)
        try:
            fmt.write(path, header, recs)
        except PesError:
            return  # the format needs those facts: refused on writing
        try:
            got = self.read_registry(fmt, path)
        except PesError as exc:
            pytest.fail(f"a file written with a header of no facts is refused on reading: {exc}")
        assert got.records == recs, "the records of a header of no facts changed"
        made_up = [
            f"{name}: {getattr(h, name)!r}"
            for name in HEADER_FACTS
            for h in (got.report.header, got.header)
            if name not in self.header_facts_not_carried and getattr(h, name) is not None
        ]
        assert not made_up, f"header facts written as unknown read back known: {made_up}"

    def test_text_keeps_outer_spaces_or_trims_as_declared(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """Text with outer spaces comes back exactly; a format that declares ``trims_text``
        gives it back trimmed, never anything else."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        field = next(
            (f for f in ("service", "meter_number") if f not in self.not_carried(fmt)), None
        )
        gold = self.sample_set(fmt).records
        if field is None or not hasattr(gold[0], field):
            pytest.skip("the format carries no free text field")
        text = "  Домофон «Ключ» № 5 — подъезд 2 "
        rec: Record = attrs.evolve(gold[0], **{field: text})  # type: ignore[arg-type]
        _, got = self.round_trip(fmt, tmp_path, [rec])
        want = text.strip() if self.trims_text else text
        have = [getattr(r, field) for r in got.records]
        rule = "trims_text says it trims" if self.trims_text else "text is kept exactly"
        assert have == [want], (
            f"{field} {text!r} read back as {have} ({rule}; set trims_text = True only when "
            "the format's layout trims and its docs say so)"
        )

    def test_repeated_account_and_service_is_refused(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """A debt registry names each (account, service) once: a repeated pair is refused,
        on writing or on reading (a PesError), never written and read as two debts."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        if fmt.kind is not RegistryKind.DEBTS:
            pytest.skip("only a debt registry refuses a repeated (account, service)")
        recs = list(self.sample_set(fmt).records)
        first = recs[1]
        repeat = attrs.evolve(first, amount=_amount(first) + 1)  # type: ignore[arg-type]
        recs.insert(2, repeat)
        try:
            path, _ = self.write_registry(fmt, tmp_path, recs)
        except PesError:
            return  # refused on writing
        try:
            got = self.read_registry(fmt, path, rejects_path=tmp_path / "rejects.csv")
        except PesError:
            return
        pytest.fail(
            f"account {samples.account_of(first)!r} with service "
            f"{getattr(first, 'service', '')!r} twice was written and read back as "
            f"{len(got.records)} records; a debt registry refuses a repeated (account, service)"
        )

    @runs_last
    def test_every_repeat_is_refused_far_apart(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """Among thousands of rows, every repeated (account, service) is caught, however far
        from the first: each repeat rejected under quarantine (or the registry refused).
        A reader that remembers only recent keys, or loses keys as its table grows, lets
        some through."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        if fmt.kind is not RegistryKind.DEBTS:
            pytest.skip("only a debt registry refuses a repeated (account, service)")
        recs = list(self.large_records(fmt, 3000))
        # Thirty repeats, of rows from the first to the last thousand: some keys were seen
        # long before (and moved, in a table that grew since), some just now.
        repeats = [attrs.evolve(r, amount=_amount(r) + 1) for r in recs[::100]]  # type: ignore[arg-type]
        try:
            path, _ = self.write_registry(fmt, tmp_path, recs + repeats)
        except PesError:
            return  # refused on writing
        rejects = tmp_path / "rejects.csv"
        try:
            got = self.read_registry(fmt, path, Policy.QUARANTINE, rejects_path=rejects)
        except PesError:
            return  # refused whole
        assert (len(got.records), got.report.rejected) == (len(recs), len(repeats)), (
            f"{len(recs)} rows and {len(repeats)} repeats of earlier (account, service) pairs "
            f"read as {len(got.records)} records and {got.report.rejected} rejected: a debt "
            "registry catches every repeat, however far apart (remember every key read)"
        )
        # Each repeat's issue names its line, says why and blames the pair's fields, or no
        # field.
        keys = ("account", "service", "service_code")
        blamable = {""}.union(*(self.field_names(fmt, k) for k in keys))
        wrong = [
            i
            for i in got.report.issues
            if not (isinstance(i.line, int) and i.line > 0)
            or not _says_something(i.message)
            or not (isinstance(i.field, str) and i.field in blamable)
        ]
        assert not wrong, (
            f"a repeat's issue names no line, blames another field or says nothing: {wrong[:3]}"
        )
        # The partner mends each repeat from the rejects file: every rejected line is there,
        # its number a cell of its own.
        kept = rejects.read_bytes().decode("utf-8-sig", errors="replace")
        absent = [
            i.line
            for i in got.report.issues
            if i.line and not re.search(rf'(?:^|[;,\t"]){i.line}(?=[;,\t"]|$)', kept, re.MULTILINE)
        ]
        assert not absent, f"rejected lines missing from the rejects file: {absent[:5]}"

    def test_file_without_final_newline_reads_whole(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """A file whose last line has no line end (an editor saved it so) reads whole."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        recs = list(self.sample_set(fmt).records)
        path, _ = self.write_registry(fmt, tmp_path, recs)
        data = path.read_bytes()
        cut = data.rstrip(b"\r\n")
        if cut == data:
            pytest.skip("the format writes no line end after its last line")
        path.write_bytes(cut)
        try:
            got = self.read_registry(fmt, path)
        except PesError as exc:
            pytest.fail(f"the file without its final line end was refused: {exc}")
        assert got.records == recs, (
            f"wrote {len(recs)} records, read {len(got.records)} from the file without its "
            "final line end"
        )
        assert got.report.valid

    def test_written_bytes_do_not_depend_on_the_host_locale(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """A writer names its encoding: on a host whose locale encoding is not UTF-8 (a
        Windows server's cp1251, a container's ASCII) the same records give the same bytes.
        ``open(path, "w")`` without ``encoding=`` writes in the host's encoding instead."""
        fmt = registry_format
        self.require(fmt, "write")
        if sys.flags.utf8_mode:
            pytest.skip("Python's UTF-8 mode is on: open() ignores the host's locale here")
        recs = self.sample_set(fmt).records
        want, _ = self.write_registry(fmt, tmp_path / "host", recs)
        before = locale.setlocale(locale.LC_CTYPE)
        try:
            # The C locale's encoding is ASCII: a host that is not set up for UTF-8.
            locale.setlocale(locale.LC_CTYPE, "C")
            if codecs.lookup(locale.getencoding()).name == "utf-8":
                pytest.skip("the C locale's encoding is UTF-8 on this host")
            try:
                have, _ = self.write_registry(fmt, tmp_path / "ascii", recs)
            except Exception as exc:
                pytest.fail(
                    f"under an ASCII locale the writer raised {type(exc).__name__}: {exc}; "
                    "open the file with the format's own encoding="
                )
        finally:
            locale.setlocale(locale.LC_CTYPE, before)
        assert have.read_bytes() == want.read_bytes(), (
            "the bytes written depend on the host's locale: open the file with the format's "
            "own encoding="
        )

    def test_unencodable_text_is_refused_not_replaced(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """Text with characters the encoding lacks (🙂, ß, ǅ, €) is kept exactly or refused
        on writing with a PesError; never written as ``?`` or another character."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        field = next((f for f in ("service", "premises") if f not in self.not_carried(fmt)), None)
        if field is None:
            pytest.skip("the format carries no free text field")
        base = self.sample_set(fmt).records[0]
        wrong = []
        for i, text in enumerate(UNENCODABLE_TEXTS):
            rec: Record = attrs.evolve(base, **{field: text})  # type: ignore[arg-type]
            folder = tmp_path / str(i)
            folder.mkdir()
            try:
                path, _ = self.write_registry(fmt, folder, [rec])
            except PesError:
                continue
            try:
                got = self.read_registry(fmt, path)
            except PesError as exc:
                wrong.append(f"{text!r} was written, then its file refused: {exc}")
                continue
            have = [getattr(r, field) for r in got.records]
            if have != [getattr(rec, field)]:
                wrong.append(f"{text!r} was written and read back as {have}")
        assert not wrong, (
            f"{field} text the encoding lacks was not refused on writing: " + "; ".join(wrong)
        )

    def test_reading_leaves_no_file_open(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """A reader read to its end, or refused, has closed its file (and the rejects
        file) itself: a service reads thousands of registries and moves each file after,
        so leaving the closing to the garbage collector is a ``ResourceWarning`` here."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        path, _ = self.write_registry(fmt, tmp_path / "good", self.sample_set(fmt).records)
        try:
            bad = self._sample(fmt, tmp_path / "bad", "bad_guid")[0]
        except pytest.skip.Exception:
            bad = self._sample(fmt, tmp_path / "nul", "nul_byte")[0]
        gc.collect()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            self.read_registry(fmt, path)
            for policy in (Policy.STRICT, Policy.QUARANTINE):
                with contextlib.suppress(PesError):
                    self.read_registry(fmt, bad, policy, rejects_path=tmp_path / "r.csv")
            gc.collect()
        unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
        assert not unclosed, f"files left for the garbage collector to close: {unclosed}"

    def test_empty_registry_round_trips(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """A registry without records is written and read back (days without payments)."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        written, got = self.round_trip(fmt, tmp_path, [])
        assert written.records == 0 and written.total == ZERO
        assert got.records == []
        assert got.report.valid and got.report.records == 0

    # -- checks: control totals -----------------------------------------------------------

    def test_control_totals_are_written(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """The file carries the count and sums, and the reader reports them in its header."""
        fmt = registry_format
        self.require(fmt, "read", "write", "control_totals")
        recs = list(self.sample_set(fmt).records)
        _, got = self.round_trip(fmt, tmp_path, recs)
        control = got.control
        assert control is not None, (
            "the reader reports no control totals (report.header.control and reader.header"
            ".control are None) although the format declares control_totals"
        )
        want = self.control_totals(fmt, recs)
        assert control.count == want.count, f"control count {control.count} != {want.count}"
        for name in want.sums:  # e.g. amount; none for meter readings
            assert name in control.sums, f"control totals carry no sum of {name}"
        for name, value in control.sums.items():
            if name in want.sums:
                assert value == want.sums[name], f"control sum of {name}: {value}"

    def test_tampered_control_total_is_refused(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """A file whose stated totals do not match its records is refused whole, always."""
        fmt = registry_format
        self.require(fmt, "read", "write", "control_totals")
        path, _ = self.write_registry(fmt, tmp_path, self.sample_set(fmt).records)
        before = path.read_bytes()
        self.tamper_control_total(fmt, path)
        assert path.read_bytes() != before, "tamper_control_total() changed nothing"
        for policy in (Policy.STRICT, Policy.QUARANTINE):
            with pytest.raises(RegistryRefused):
                self.read_registry(fmt, path, policy, rejects_path=tmp_path / "rejects.csv")

    # -- checks: streaming ----------------------------------------------------------------

    def _large_header(self, fmt: RegistryFormat, rows: int) -> RegistryHeader:
        control = self.control_totals(fmt, self.large_records(fmt, rows))
        return attrs.evolve(self.header_for(fmt, []), control=control)

    def _streaming_sizes(self) -> tuple[int, int]:
        settings = getattr(self, "_pes_settings", None)
        rows = getattr(settings, "streaming_rows", None) or self.streaming_rows
        return max(1, rows // 4), rows

    def _assert_bounded(self, what: str, peaks: dict[int, int], grown_bytes: int) -> None:
        (small, p_small), (large, p_large) = sorted(peaks.items())
        slack, limit = self.streaming_memory_growth, self.streaming_memory_limit
        assert grown_bytes >= 2 * slack, (
            f"the file of {large} rows is only {_mib(grown_bytes)} larger than the one of "
            f"{small}; raise streaming_rows (or --pes-streaming-rows) until it is at least twice "
            f"streaming_memory_growth ({_mib(slack)}), or the check proves nothing"
        )
        allowed = slack + (large - small) * self.streaming_bytes_per_row
        per_row = (p_large - p_small) / (large - small)
        assert p_large - p_small <= allowed, (
            f"{what} {small} rows took {_mib(p_small)} at peak, {large} rows {_mib(p_large)}: "
            f"memory grows with the row count, {per_row:.0f} bytes per row (allowed: "
            f"{_mib(slack)} + {self.streaming_bytes_per_row} bytes per row); stream the "
            "records instead of keeping them, their lines or the file's bytes"
        )
        assert p_large <= limit, f"{what} {large} rows took {_mib(p_large)} (limit {_mib(limit)})"

    @runs_last
    def test_streaming_write_in_bounded_memory(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """Writing from a generator keeps memory flat: 4x the rows, no more peak memory."""
        fmt = registry_format
        self.require(fmt, "write", "streaming")
        peaks, sizes = {}, {}
        for rows in self._streaming_sizes():
            header = self._large_header(fmt, rows)
            path = self.path_for(fmt, tmp_path / str(rows), header)
            path.parent.mkdir()
            report, peaks[rows] = _traced_peak(
                lambda: fmt.write(path, header, self.large_records(fmt, rows))  # noqa: B023
            )
            assert report.records == rows, f"WriteReport.records is {report.records}, not {rows}"
            sizes[rows] = path.stat().st_size
        self._assert_bounded("writing", peaks, max(sizes.values()) - min(sizes.values()))

    @runs_last
    def test_streaming_read_in_bounded_memory(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """Reading keeps memory flat: 4x the rows, no more peak memory; nothing is lost."""
        fmt = registry_format
        self.require(fmt, "read", "write", "streaming")
        peaks, sizes = {}, {}
        for rows in self._streaming_sizes():
            header = self._large_header(fmt, rows)
            path = self.path_for(fmt, tmp_path / str(rows), header)
            path.parent.mkdir()
            fmt.write(path, header, self.large_records(fmt, rows))
            sizes[rows] = path.stat().st_size

            def consume(path: Path = path) -> tuple[int, Decimal]:
                count, total = 0, ZERO
                with fmt.open(path) as reader:
                    for r in reader:
                        count += 1
                        total += _amount(r)
                return count, total

            (count, total), peaks[rows] = _traced_peak(consume)
            assert header.control is not None
            want_total = header.control.sums.get("amount", ZERO)  # no amount: readings
            assert (count, total) == (rows, want_total), (
                f"read {count} records summing to {total} from {rows} rows"
            )
        self._assert_bounded("reading", peaks, max(sizes.values()) - min(sizes.values()))

    # -- checks: malformed input ----------------------------------------------------------

    def _sample(self, fmt: RegistryFormat, folder: Path, name: str) -> tuple[Path, MalformedSample]:
        corpus = self.malformed_samples(fmt, folder / "valid")
        sample = corpus.get(name)
        if sample is None:
            pytest.skip(f"malformed_samples() gives no {name!r} sample")
        if isinstance(sample, NotApplicable):
            pytest.skip(f"sample {name!r} does not apply to {fmt.name}: {sample.reason}")
        valid_name = next((folder / "valid").iterdir()).name
        (folder / "bad").mkdir()
        path = folder / "bad" / valid_name
        path.write_bytes(sample.data)
        return path, sample

    def _expect_refusal(self, fmt: RegistryFormat, path: Path, name: str, what: str) -> PesError:
        try:
            got = self.read_registry(fmt, path, rejects_path=path.with_name("rejects.csv"))
        except PesError as exc:
            # Whatever the wording, an error says something: a person acts on it.
            mute = [i for i in getattr(exc, "issues", ()) if not _says_something(i.message)]
            assert _says_something(str(exc)) and not mute, (
                f"sample {name!r} ({what}): an error or issue without a message: "
                f"{type(exc).__name__}({str(exc)!r}), issues {mute}"
            )
            return exc
        except Exception as exc:
            pytest.fail(
                f"sample {name!r} ({what}) raised {type(exc).__name__}: {exc}; a reader "
                "raises only pes_sdk.errors.PesError subclasses on bad input"
            )
        pytest.fail(
            f"sample {name!r} ({what}) was read without error under policy strict "
            f"({len(got.records)} records: {[str(r) for r in got.records[:3]]}…)"
        )

    @pytest.mark.parametrize("sample_name", list(STANDARD_SAMPLES))
    def test_malformed_sample_gives_typed_error(
        self, registry_format: RegistryFormat, tmp_path: Path, sample_name: str
    ) -> None:
        """A broken file gives a PesError naming a line, never any other exception."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        path, sample = self._sample(fmt, tmp_path, sample_name)
        exc = self._expect_refusal(fmt, path, sample_name, sample.description)
        if sample.line is not None:
            assert error_lines(exc), (
                f"sample {sample_name!r} ({sample.description}): the error names no line: "
                f"{type(exc).__name__}: {exc}"
            )

    def test_author_malformed_samples(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """Samples the author adds to malformed_samples() are refused with typed errors too."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        corpus = self.malformed_samples(fmt, tmp_path / "valid")
        extra = {
            k: v
            for k, v in corpus.items()
            if k not in STANDARD_SAMPLES and isinstance(v, MalformedSample)
        }
        if not extra:
            pytest.skip("malformed_samples() adds no samples of its own")
        valid_name = next((tmp_path / "valid").iterdir()).name
        for name, sample in extra.items():
            folder = tmp_path / f"bad-{name}"
            folder.mkdir()
            path = folder / valid_name
            path.write_bytes(sample.data)
            exc = self._expect_refusal(fmt, path, name, sample.description)
            if sample.line is not None:
                assert sample.line in error_lines(exc), f"{name}: {exc} names no line {sample.line}"
                self._assert_blamed(fmt, exc, name, sample)

    @pytest.mark.parametrize("hostile_name", list(samples.hostile_inputs()))
    def test_hostile_input_never_crashes(
        self, registry_format: RegistryFormat, tmp_path: Path, hostile_name: str
    ) -> None:
        """Shipped hostile bytes (empty, BOM, random, NUL, UTF-16) give a PesError or a read."""
        fmt = registry_format
        self.require(fmt, "read")
        header = self.header_for(fmt, [])
        path = self.path_for(fmt, tmp_path, header)
        path.write_bytes(samples.hostile_inputs()[hostile_name])
        try:
            self.read_registry(fmt, path, rejects_path=tmp_path / "rejects.csv")
        except PesError:
            pass
        except Exception as exc:
            pytest.fail(
                f"{hostile_name}: {type(exc).__name__}: {exc}; a reader raises only "
                "pes_sdk.errors.PesError subclasses on bad input"
            )

    # -- checks: writing safely -----------------------------------------------------------

    def test_failed_write_leaves_no_partial_file(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """When the records iterable raises half-way, no partial file has the final name,
        and a registry that was there before is left untouched."""
        fmt = registry_format
        self.require(fmt, "write")
        n = 4000
        header = attrs.evolve(
            self.header_for(fmt, []),
            control=self.control_totals(fmt, self.large_records(fmt, n)),
        )
        fresh = self.path_for(fmt, tmp_path / "fresh", header)
        fresh.parent.mkdir()
        try:
            fmt.write(fresh, header, _raise_half_way(self.large_records(fmt, n), n // 2))
        except Exception:
            pass
        else:
            pytest.fail("the writer returned normally although its records raised half-way")
        assert not fresh.exists(), (
            f"a failed write left a partial file under the final name ({fresh.stat().st_size} "
            "bytes); write to a temporary name and rename it at the end (pes_sdk.files)"
        )
        existing, _ = self.write_registry(fmt, tmp_path / "existing", [])
        before = existing.read_bytes()
        with pytest.raises(Exception):  # noqa: B017 - any error will do; the file is the point
            fmt.write(existing, header, _raise_half_way(self.large_records(fmt, n), n // 2))
        assert existing.read_bytes() == before, "a failed write changed the registry already there"

    def test_failed_write_leaves_no_temporary_files(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """A failed write also removes its temporary file."""
        fmt = registry_format
        self.require(fmt, "write")
        header = self.header_for(fmt, [])
        path = self.path_for(fmt, tmp_path, header)
        with pytest.raises(Exception):  # noqa: B017
            fmt.write(path, header, _raise_half_way(self.large_records(fmt, 100), 50))
        assert list(tmp_path.iterdir()) == [], (
            f"files left behind: {sorted(p.name for p in tmp_path.iterdir())}"
        )

    def test_record_of_another_kind_is_refused_on_writing(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """A record of another kind (a payment given to a debt registry) is refused with a
        PesError and no file is left; never written as if it fit because its attributes
        have the same names."""
        fmt = registry_format
        self.require(fmt, "write")
        gold = self.sample_set(fmt).records
        own = gold[:1]
        expected = self._line_of_second(fmt, tmp_path / "own", gold[:2])
        checked = 0
        for kind in RegistryKind:
            if kind is fmt.kind:
                continue
            try:
                stranger = samples.golden(kind).records[0]
            except LookupError:
                continue
            header = self.header_for(fmt, own)
            path = self.path_for(fmt, tmp_path / kind.value, header)
            path.parent.mkdir()
            with pytest.raises(PesError) as refused:
                fmt.write(path, header, [*own, stranger])
            assert not path.exists(), f"a {kind.value} record given to the writer left a file"
            # The error names the file being written, as a read's names the file read, and
            # when it names a line, the line the record would have taken.
            named = getattr(refused.value, "path", None)
            assert named is not None and Path(named) == path, (
                f"the refusal of a {kind.value} record names file {named!r}, not {path}"
            )
            line = getattr(refused.value, "line", 0)
            assert not line or expected is None or line == expected, (
                f"the refusal of a {kind.value} record names line {line}; written in its "
                f"place, a record of the format's own kind takes line {expected}"
            )
            checked += 1
        if not checked:
            pytest.skip("no golden records of another kind")

    def test_payment_time_offset_in_seconds(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """A payment time whose zone is off UTC by seconds as well (``+03:00:30``: zoneinfo
        gives such offsets for old dates, xs:dateTime and ISO 8601's basic forms cannot
        hold them) is either refused on writing, with a PesError naming the file and no
        file left, or written so that it reads back as the same instant. Never written in a
        form the format's own reader then refuses."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        if fmt.kind is not RegistryKind.PAYMENTS:
            pytest.skip("only payments carry a time of day")
        if self.timezone is None:
            pytest.skip("the format writes local times without a zone (timezone = None)")
        recs = list(self.sample_set(fmt).records)
        odd = dt.timezone(dt.timedelta(hours=3, seconds=30))
        first = recs[0]
        assert isinstance(first, PaymentRecord)
        recs[0] = attrs.evolve(first, paid_at=first.paid_at.astimezone(odd))
        header = self.header_for(fmt, recs)
        path = self.path_for(fmt, tmp_path, header)
        try:
            fmt.write(path, header, recs)
        except PesError as refused:
            assert not path.exists(), "a refused write left the file"
            assert _says_something(str(refused)), f"a refusal without a message: {refused!r}"
            named = getattr(refused, "path", None)
            assert named is not None and Path(named) == path, (
                f"the refusal of a time at {odd} names file {named!r}, not {path}"
            )
            return
        try:
            got = self.read_registry(fmt, path)
        except PesError as exc:
            pytest.fail(
                f"a payment time at {odd} was written, then refused by the format's own "
                f"reader: {type(exc).__name__}: {exc}"
            )
        assert got.records == recs, "a payment time at an offset in seconds changed"

    def _line_of_second(
        self, fmt: RegistryFormat, folder: Path, recs: Sequence[Record]
    ) -> int | None:
        """The 1-based line of the second of ``recs`` in a file of both; None when its
        account is not on one line of its own."""
        if len(recs) < 2 or samples.account_of(recs[0]) == samples.account_of(recs[1]):
            return None
        path, _ = self.write_registry(fmt, folder, recs)
        lines = path.read_bytes().decode(fmt.capabilities.encodings[0]).splitlines()
        pattern = re.compile(r"(?<![\w-])" + re.escape(samples.account_of(recs[1])) + r"(?![\w-])")
        hits = [i + 1 for i, text in enumerate(lines) if pattern.search(text)]
        return hits[0] if len(hits) == 1 else None

    def test_formula_text_is_escaped(self, registry_format: RegistryFormat, tmp_path: Path) -> None:
        """Text a spreadsheet would run (=SUM(A1), +7, -1, @x) is escaped in the file and
        read back unchanged."""
        fmt = registry_format
        self.require(fmt, "write", "escapes_formulas")
        recs = self.formula_records(fmt)
        path, _ = self.write_registry(fmt, tmp_path, recs)
        text = path.read_bytes().decode(fmt.capabilities.encodings[0])
        for formula in samples.FORMULA_TEXTS:
            cell = re.compile(
                r"(?:^|[;,\t|\"])" + re.escape(formula) + r"(?=$|[;,\t|\"\r\n])", re.MULTILINE
            )
            m = cell.search(text)
            assert m is None, f"{formula!r} is written as a bare cell: {m.group(0)!r}"
        if fmt.capabilities.read:
            assert self.read_registry(fmt, path).records == recs

    # -- checks that entered at level 2 ---------------------------------------------------

    @pytest.mark.parametrize("sample_name", list(STANDARD_SAMPLES))
    def test_malformed_sample_names_the_exact_line(
        self, registry_format: RegistryFormat, tmp_path: Path, sample_name: str
    ) -> None:
        """The error names the very line that is broken, counted from 1 in the file, and
        the field that is broken there (a refusal for another reason, such as a control
        total the bad value made stale, does not count)."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        path, sample = self._sample(fmt, tmp_path, sample_name)
        if sample.line is None:
            pytest.skip(f"sample {sample_name!r} has no line of its own")
        exc = self._expect_refusal(fmt, path, sample_name, sample.description)
        assert sample.line in error_lines(exc), (
            f"{sample.description}: the broken line is {sample.line}, the error names "
            f"{sorted(error_lines(exc)) or 'none'}: {exc}"
        )
        self._assert_blamed(fmt, exc, sample_name, sample)

    def _assert_blamed(
        self, fmt: RegistryFormat, exc: BaseException, name: str, sample: MalformedSample
    ) -> None:
        """The error blames the sample's field, and each of its ``also`` fields, at its line:
        a refusal for another reason (a control total the bad value made stale) does not
        count, nor does a row with two faults reported for one."""
        if sample.line is None:
            return
        fields = error_fields(exc, sample.line)
        for field in filter(None, (sample.field, *sample.also)):
            accepted = self.field_names(fmt, field)
            assert fields & accepted, (
                f"sample {name!r} ({sample.description}): the error names line "
                f"{sample.line} but not field {field!r} there (fields named: "
                f"{sorted(fields) or 'none'}): {type(exc).__name__}: {exc}"
            )

    @pytest.mark.parametrize("sample_name", ["bad_guid", "bad_period"])
    def test_quarantine_keeps_good_rows(
        self, registry_format: RegistryFormat, tmp_path: Path, sample_name: str
    ) -> None:
        """Under policy quarantine a bad row is rejected with its line; the others are kept."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        path, sample = self._sample(fmt, tmp_path, sample_name)
        gold = self.sample_set(fmt)
        rejects = tmp_path / "rejects.csv"
        try:
            got = self.read_registry(fmt, path, Policy.QUARANTINE, rejects_path=rejects)
        except PesError as exc:
            pytest.fail(f"{sample.description}: refused whole under quarantine: {exc}")
        want = [r for r in gold.records if samples.account_of(r) != gold.target]
        assert got.records == want, "the good records are kept, in order"
        assert got.report.rejected == 1
        # ReadReport.total is what the partner books: the good records' amounts only.
        good_total = sum((_amount(r) for r in want), ZERO)
        assert got.report.total == good_total, (
            f"{sample.description}: the report's total is {got.report.total}, the kept "
            f"records sum to {good_total}: a rejected row's amount counted, or a good one's "
            "lost"
        )
        assert any(i.line == sample.line for i in got.report.issues), got.report.issues
        mute = [i for i in got.report.issues if not _says_something(i.message)]
        assert not mute, f"{sample.description}: issues without a message: {mute}"
        assert rejects.exists(), "rejected rows are written to the rejects file"
        # The partner mends the row from the rejects file: it holds the row, and its line
        # number as a cell of its own.
        kept = rejects.read_bytes().decode("utf-8-sig", errors="replace")
        cell = re.compile(rf'(?:^|[;,\t"]){sample.line}(?=[;,\t"]|$)', re.MULTILINE)
        assert gold.target in kept and cell.search(kept), (
            f"{sample.description}: the rejects file does not hold the rejected row (account "
            f"{gold.target!r}) with its line {sample.line}: {kept[:500]!r}"
        )

    @since_level(2)
    def test_rewrite_gives_identical_bytes(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """Reading a registry and writing what was read gives the same bytes (golden files)."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        recs = self.sample_set(fmt).records
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        first, _ = self.write_registry(fmt, tmp_path / "a", recs)
        got = self.read_registry(fmt, first)
        second, _ = self.write_registry(fmt, tmp_path / "b", got.records)
        assert first.read_bytes() == second.read_bytes()

    @since_level(2)
    def test_awkward_text_round_trips_or_is_refused(
        self, registry_format: RegistryFormat, tmp_path: Path
    ) -> None:
        """Text with delimiters, quotes or line breaks is either kept exactly or refused
        with a PesError, never written corrupt (characters the encoding lacks: level 1,
        ``test_unencodable_text_is_refused_not_replaced``)."""
        fmt = registry_format
        self.require(fmt, "read", "write")
        field = next((f for f in ("service", "premises") if f not in self.not_carried(fmt)), None)
        if field is None:
            pytest.skip("the format carries no free text field")
        base = self.sample_set(fmt).records[0]
        texts = [
            "a;b",
            "a,b",
            'say "hi"',
            "it's",
            "'=1",
            "a|b",
            "a\tb",
            "line\nbreak",
        ]
        wrong = []
        for i, text in enumerate(texts):
            rec: Record = attrs.evolve(base, **{field: text})  # type: ignore[arg-type]
            folder = tmp_path / str(i)
            folder.mkdir()
            try:
                _, got = self.round_trip(fmt, folder, [rec])
            except PesError:
                continue  # refused: fine, as long as it is the SDK's error
            except Exception as exc:
                wrong.append(f"{text!r}: {type(exc).__name__}: {exc}")
                continue
            if got.records != [rec]:
                wrong.append(f"{text!r} read back as {[getattr(r, field) for r in got.records]}")
        assert not wrong, f"{field} text corrupted: " + "; ".join(wrong)
