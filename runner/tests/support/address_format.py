"""A minimal debts format whose rows give the house as address text, for the ingest tests.

Lines ``account;address;premises;amount`` (UTF-8), the number and period in the file name
``addr_<number>_<YYYY-MM>.txt``. Built on the core's RejectSink like every real reader, so a
bad row (an amount that is not one) goes to the rejects file as the formats put it there.
The partners' real address layouts are dialects of the CSV adapter; this one keeps the
runner's tests independent of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pes_sdk.errors import Issue
from pes_sdk.formats.base import (
    FormatCapabilities,
    Policy,
    ReadReport,
    RegistryFormat,
    RegistryReader,
)
from pes_sdk.formats.quarantine import RejectSink
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.money import ZERO
from pes_sdk.period import Period
from pes_sdk.plugins import hookimpl
from pes_sdk.premises import Premises

NAME = re.compile(r"addr_(\d+)_(\d{4}-\d{2})\.txt")


class _Reader(RegistryReader):
    def __init__(self, path: Path, policy: Policy, rejects_path: Path | None) -> None:
        m = NAME.fullmatch(path.name)
        self.header = RegistryHeader(
            kind=RegistryKind.DEBTS,
            number=int(m.group(1)) if m else None,
            period=Period.parse(m.group(2)) if m else None,
        )
        self._sink = RejectSink(path, policy, rejects_path)
        self._lines = path.read_text(encoding="utf-8").splitlines()
        self._it = self._records()
        self._report: ReadReport | None = None

    def _records(self) -> Iterator[DebtRecord]:
        good = ZERO
        for n, line in enumerate(self._lines, start=1):
            account, address, premises, amount = line.split(";")
            try:
                value = Decimal(amount).quantize(Decimal("0.01"))
            except InvalidOperation:
                self._sink.reject(n, line, [Issue(n, "amount", f"not an amount: {amount!r}")])
                continue
            good += value
            yield DebtRecord(account, None, Premises(premises), value, address=address)
        report, error = self._sink.finish(self.header, len(self._lines), {}, None, good_total=good)
        self._report = report
        if error is not None:
            raise error

    def __next__(self) -> DebtRecord:
        return next(self._it)

    @property
    def report(self) -> ReadReport:
        assert self._report is not None
        return self._report


class AddressDebts(RegistryFormat):
    name = "test-address-debts"
    kind = RegistryKind.DEBTS
    capabilities = FormatCapabilities(read=True)

    def open(
        self, path: Path, *, policy: Policy = Policy.STRICT, rejects_path: Path | None = None
    ) -> RegistryReader:
        return _Reader(path, policy, rejects_path)


class AddressFormatPlugin:
    @hookimpl
    def pes_registry_formats(self) -> Sequence[RegistryFormat]:
        return [AddressDebts()]
