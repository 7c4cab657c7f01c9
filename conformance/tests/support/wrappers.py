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

from pes_sdk.errors import PesError
from pes_sdk.formats.base import (
    Policy,
    ReadReport,
    Record,
    RegistryFormat,
    RegistryReader,
    WriteReport,
)
from pes_sdk.models.registry import RegistryHeader
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
