"""VAT (НДС) as date-effective data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pes_sdk.vat import DEFAULT_VAT_SCHEDULE, VatPeriod, VatSchedule

D = Decimal


@pytest.mark.parametrize(
    ("day", "rate"),
    [
        (dt.date(2018, 6, 15), "0.18"),
        (dt.date(2018, 12, 31), "0.18"),
        (dt.date(2019, 1, 1), "0.20"),
        (dt.date(2025, 12, 31), "0.20"),
        (dt.date(2026, 1, 1), "0.22"),
        (dt.date(2031, 7, 1), "0.22"),
    ],
)
def test_default_schedule(day: dt.date, rate: str) -> None:
    assert DEFAULT_VAT_SCHEDULE.rate_on(day) == D(rate)


def test_no_rate_before_the_schedule_starts() -> None:
    with pytest.raises(ValueError, match="1990-01-01"):
        DEFAULT_VAT_SCHEDULE.rate_on(dt.date(1990, 1, 1))


def test_custom_schedule_overrides_the_default() -> None:
    # A hypothetical change of law on 2027-07-01, and a partner exempt from VAT.
    future = VatSchedule.of(
        [(dt.date(2019, 1, 1), D("0.20")), (dt.date(2026, 1, 1), D("0.22")),
         (dt.date(2027, 7, 1), D("0.25"))]
    )  # fmt: skip
    assert future.rate_on(dt.date(2027, 6, 30)) == D("0.22")
    assert future.rate_on(dt.date(2027, 7, 1)) == D("0.25")
    assert DEFAULT_VAT_SCHEDULE.rate_on(dt.date(2027, 7, 1)) == D("0.22")
    exempt = VatSchedule.of([(dt.date(2000, 1, 1), D("0"))])
    assert exempt.vat_on_top(D("100.00"), dt.date(2026, 3, 1)) == D("0.00")


def test_periods_are_sorted_whatever_the_order_given() -> None:
    s = VatSchedule.of([(dt.date(2026, 1, 1), D("0.22")), (dt.date(2019, 1, 1), D("0.20"))])
    assert [p.since for p in s.periods] == [dt.date(2019, 1, 1), dt.date(2026, 1, 1)]
    assert s.rate_on(dt.date(2020, 1, 1)) == D("0.20")


@pytest.mark.parametrize(
    ("gross", "day", "vat"),
    [
        ("122.00", dt.date(2026, 1, 1), "22.00"),  # 122 × 22/122 = 22
        ("120.00", dt.date(2025, 12, 31), "20.00"),  # 120 × 20/120 = 20
        ("100.00", dt.date(2026, 5, 1), "18.03"),  # 100 × 22/122 = 18.0327… → 18.03
        ("1.00", dt.date(2026, 5, 1), "0.18"),  # 0.18032… → 0.18
        ("118.00", dt.date(2018, 5, 1), "18.00"),  # 18/118 in 2018
    ],
)
def test_vat_included(gross: str, day: dt.date, vat: str) -> None:
    assert DEFAULT_VAT_SCHEDULE.vat_included(D(gross), day) == D(vat)


@pytest.mark.parametrize(
    ("net", "day", "vat"),
    [
        ("100.00", dt.date(2026, 1, 1), "22.00"),
        ("100.00", dt.date(2025, 12, 31), "20.00"),
        ("1.36", dt.date(2026, 1, 1), "0.30"),  # 0.2992 → 0.30
        ("0.09", dt.date(2026, 1, 1), "0.02"),  # 0.0198 → 0.02
        ("17.31", dt.date(2025, 12, 31), "3.46"),  # 3.462 → 3.46
        ("0.025", dt.date(2019, 1, 1), "0.01"),  # 0.005 → 0.01: half-up
    ],
)
def test_vat_on_top(net: str, day: dt.date, vat: str) -> None:
    assert DEFAULT_VAT_SCHEDULE.vat_on_top(D(net), day) == D(vat)


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ValueError):
        VatSchedule(())
    with pytest.raises(ValueError, match="same date"):
        VatSchedule.of([(dt.date(2026, 1, 1), D("0.22")), (dt.date(2026, 1, 1), D("0.20"))])
    with pytest.raises(ValueError):
        VatPeriod(dt.date(2026, 1, 1), D("22"))  # a percentage, not a fraction
    with pytest.raises(ValueError):
        VatPeriod(dt.date(2026, 1, 1), D("-0.01"))
    with pytest.raises(TypeError):
        VatPeriod(dt.date(2026, 1, 1), 0.22)  # type: ignore[arg-type]
