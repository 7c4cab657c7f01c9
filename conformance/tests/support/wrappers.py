"""Faults injected into *any* format through its public API only.

These wrap a real, installed format (the example plugin ``example-jsonl-debts``) without
touching its code: each wrapper changes what one public method does, as a buggy adapter
would. ``test_catches_faults`` runs the suite against each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import attrs

from pes_sdk.errors import Issue, PesError, RegistryRefused
from pes_sdk.formats.base import (
    Policy,
    ReadReport,
    Record,
    RegistryFormat,
    RegistryReader,
    WriteReport,
)
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.money import ZERO
from pes_sdk.plugins import get_host


class Wrapped(RegistryFormat):
    """Delegates everything to ``inner``; subclasses override one thing."""

    def __init__(self, inner: RegistryFormat | str = "example-jsonl-debts") -> None:
        self.inner = get_host().format(inner) if isinstance(inner, str) else inner
        self.name = self.inner.name
        self.kind = self.inner.kind
        self.capabilities = self.inner.capabilities

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        return self.inner.open(path, policy=policy, rejects_path=rejects_path)

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        return self.inner.write(path, header, records)

    def filename(self, header: RegistryHeader) -> str | None:
        return self.inner.filename(header)


class MappedReader(RegistryReader):
    """Passes each record of ``inner`` through ``fn``."""

    def __init__(self, inner: RegistryReader, fn: Callable[[Record], Record]) -> None:
        self.inner = inner
        self.fn = fn

    @property  # type: ignore[override]
    def header(self) -> RegistryHeader:
        return self.inner.header

    def __next__(self) -> Record:
        return self.fn(next(self.inner))

    @property
    def report(self) -> ReadReport:
        return self.inner.report

    def close(self) -> None:
        self.inner.close()


class DropsLastRecord(Wrapped):
    """The writer loses the last record."""

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        def all_but_last() -> Iterator[Record]:
            previous = None
            for r in records:
                if previous is not None:
                    yield previous
                previous = r

        return self.inner.write(path, header, all_but_last())


class RoundsHalfEven(Wrapped):
    """The writer stores amounts to ten kopecks, rounded half-even (a wrong quantum)."""

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        def rounded() -> Iterator[Record]:
            for r in records:
                coarse = r.amount.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
                yield attrs.evolve(r, amount=coarse.quantize(Decimal("0.01")))

        return self.inner.write(path, header, rounded())


class LosesLeadingZeros(Wrapped):
    """The reader turns numeric accounts into numbers: ``007`` comes back as ``7``."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        def strip(r: Record) -> Record:
            return attrs.evolve(r, account=str(int(r.account))) if r.account.isdigit() else r

        return MappedReader(super().open(path, policy=policy, rejects_path=rejects_path), strip)


class _SwallowingReader(MappedReader):
    count = 0
    swallowed = False

    def __next__(self) -> Record:
        try:
            r = next(self.inner)
        except PesError:  # the bug: the error is swallowed and the file "ends" here
            self.swallowed = True
            raise StopIteration from None
        self.count += 1
        return r

    @property
    def report(self) -> ReadReport:
        if not self.swallowed:
            return self.inner.report
        return ReadReport(path=None, header=self.header, records=self.count, total=ZERO)


class _EmptyReader(RegistryReader):
    def __init__(self, header: RegistryHeader) -> None:
        self.header = header

    def __next__(self) -> Record:
        raise StopIteration

    @property
    def report(self) -> ReadReport:
        return ReadReport(path=None, header=self.header, records=0, total=ZERO)


class SwallowsErrors(Wrapped):
    """The reader swallows the SDK's errors: a broken file simply reads as shorter."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        try:
            inner = super().open(path, policy=policy, rejects_path=rejects_path)
        except PesError:
            return _EmptyReader(RegistryHeader(kind=self.kind))
        return _SwallowingReader(inner, lambda r: r)


class WritesPartialFile(Wrapped):
    """The writer "reserves" the final name before writing: a failure leaves it behind."""

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        path.write_bytes(b"")
        return self.inner.write(path, header, records)


class TrimsText(Wrapped):
    """The reader trims the service's name (a "tidy" ``.strip()`` on every text value)."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        def trim(r: Record) -> Record:
            return attrs.evolve(r, service=r.service.strip())

        return MappedReader(super().open(path, policy=policy, rejects_path=rejects_path), trim)


class KeepsFirstServicePerAccount(Wrapped):
    """The writer keys rows by account alone: an account's second service is lost."""

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        def first_per_account() -> Iterator[Record]:
            seen: set[str] = set()
            for r in records:
                if r.account not in seen:
                    seen.add(r.account)
                    yield r

        return self.inner.write(path, header, first_per_account())


_ASCII_TYPOGRAPHY = str.maketrans({"№": "N", "«": '"', "»": '"', "—": "-"})


class MangleTypography(Wrapped):
    """The writer maps ``№«»—`` to ASCII look-alikes before writing."""

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        mangled = (attrs.evolve(r, service=r.service.translate(_ASCII_TYPOGRAPHY)) for r in records)
        return self.inner.write(path, header, mangled)


class ReplacesUnencodable(Wrapped):
    """The writer passes text through a legacy code page with ``errors="replace"``."""

    def write(self, path: Path, header: RegistryHeader, records: Iterable[Record]) -> WriteReport:
        def replaced(text: str) -> str:
            return text.encode("cp1251", errors="replace").decode("cp1251")

        kept = (
            attrs.evolve(r, service=replaced(r.service), premises=replaced(r.premises.text))
            for r in records
        )
        return self.inner.write(path, header, kept)


class _FactlessReader(MappedReader):
    """Reports a header with the kind and control totals only."""

    @property  # type: ignore[override]
    def header(self) -> RegistryHeader:
        inner = self.inner.header
        return RegistryHeader(kind=inner.kind, control=inner.control)

    @property
    def report(self) -> ReadReport:
        report = self.inner.report
        return attrs.evolve(report, header=self.header)


class LosesHeaderFacts(Wrapped):
    """The reader drops the header's ИНН, period, number and date."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        inner = super().open(path, policy=policy, rejects_path=rejects_path)
        return _FactlessReader(inner, lambda r: r)


class _PathlessReader(MappedReader):
    """Reports no file and the wrong kind: the report was built before the path was known,
    from a header template."""

    @property  # type: ignore[override]
    def header(self) -> RegistryHeader:
        return attrs.evolve(self.inner.header, kind=RegistryKind.PAYMENTS)

    @property
    def report(self) -> ReadReport:
        return attrs.evolve(self.inner.report, path=None, header=self.header)


class ReportsNoFile(Wrapped):
    """The reader's report names no file, and its header says payments for a debt file."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        inner = super().open(path, policy=policy, rejects_path=rejects_path)
        return _PathlessReader(inner, lambda r: r)


class _FieldlessReader(MappedReader):
    def __next__(self) -> Record:
        try:
            return next(self.inner)
        except RegistryRefused as exc:
            # The bug: the issues are rebuilt from the message alone.
            issues = [Issue(i.line, "", i.message) for i in exc.issues]
            raise RegistryRefused(
                exc.message, path=exc.path, issues=issues, issue_count=exc.issue_count
            ) from None


class BlamesNoField(Wrapped):
    """The reader's issues name the line but no field: the partner must guess which value
    to mend (a record without its account, too)."""

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        inner = super().open(path, policy=policy, rejects_path=rejects_path)
        return _FieldlessReader(inner, lambda r: r)
