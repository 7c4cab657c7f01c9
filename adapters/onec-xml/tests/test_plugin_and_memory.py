"""The adapter as the SDK sees it (entry point, capabilities), and its bounded memory."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psutil
from pes_sdk_1c_xml import OneCXmlPayments

from pes_sdk.formats.base import Policy
from pes_sdk.models import PaymentRecord, RegistryHeader, RegistryKind
from pes_sdk.plugins.manager import PluginHost


def test_formats_come_through_the_entry_point() -> None:
    host = PluginHost()
    formats = host.formats()
    for name, kind in [
        ("1c-xml-debts", RegistryKind.DEBTS),
        ("1c-xml-payments", RegistryKind.PAYMENTS),
        ("1c-xml-readings", RegistryKind.READINGS),
    ]:
        f = formats[name]
        assert f.kind is kind
        assert f.capabilities.read and f.capabilities.write and f.capabilities.streaming
        assert f.capabilities.control_totals and f.capabilities.tagged_fields
        assert f.capabilities.encodings == ("utf-8",)
        assert host.provider_of("pes_registry_formats", name) == "1c-xml"
    assert not [x for x in host.failures if x.name == "1c-xml"]


def _payments(n: int) -> Iterator[PaymentRecord]:
    start = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    for i in range(n):
        yield PaymentRecord(
            start + dt.timedelta(seconds=i),
            f"op-{i:08d}",
            f"{i:010d}",
            Decimal("100.00"),
            Decimal("98.64"),
            Decimal("1.36"),
            "6961b2bd-e4ab-3ef2-30b1-877a121939cd",
            f"{i % 300}а",
            service="Содержание жилья",
        )


def test_reading_holds_no_tree(tmp_path: Path) -> None:
    """250,000 records: the reader's memory must not grow with them.

    Even cleared, a record element that is kept costs about 140 bytes, so a reader that
    cleared elements but never deleted them would grow by over 30 MB here; one that kept
    them whole, by hundreds.
    """
    n = 250_000
    path = tmp_path / "big.xml"
    header = RegistryHeader(
        RegistryKind.PAYMENTS, partner_inn="7707083893", number=1, date=dt.date(2026, 11, 27)
    )
    OneCXmlPayments().write(path, header, _payments(n))
    gc.collect()
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = base
    count = 0
    with OneCXmlPayments().open(path, policy=Policy.STRICT) as reader:
        for _ in reader:
            count += 1
            if count % 5000 == 0:
                peak = max(peak, proc.memory_info().rss)
    assert count == n and reader.report.valid
    # A kept tree would hold every element with its attributes: well over 100 MB here.
    assert peak - base < 30_000_000, f"RSS grew by {(peak - base) / 1e6:.0f} MB"
