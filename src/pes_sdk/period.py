"""The billing period (расчётный период): a year and a month."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

import attrs

from pes_sdk.i18n import tr

__all__ = ["Period"]

# re.ASCII: only ASCII digits are a period (\d alone matches any script's digits).
_ISO = re.compile(r"(\d{4})-(\d{2})", re.ASCII)
_MMYYYY = re.compile(r"(\d{2})(\d{4})", re.ASCII)
_MMYY = re.compile(r"(\d{2})(\d{2})", re.ASCII)


def _check_year(instance: Period, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= 9999:
        raise ValueError(tr("period year must be 1900..9999, not {value!r}", value=value))


def _check_month(instance: Period, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 12:
        raise ValueError(tr("period month must be 1..12, not {value!r}", value=value))


@attrs.frozen(order=True)
class Period:
    """A month of billing: ``Period(2026, 11)``, written ``2026-11``."""

    year: int = attrs.field(validator=_check_year)
    month: int = attrs.field(validator=_check_month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def parse(cls, text: str) -> Period:
        """Parse ``YYYY-MM`` (the kit's own form)."""
        return _parse_iso(text)

    @classmethod
    def parse_mmyyyy(cls, text: str) -> Period:
        """Parse ``MMYYYY`` as Sberbank-style registries write it (``112026``)."""
        return _parse_mmyyyy(text)

    @classmethod
    def parse_mmyy(cls, text: str) -> Period:
        """Parse ``MMYY`` as registry file names write it (``1126`` is 2026-11)."""
        m = _MMYY.fullmatch(text)
        if not m:
            raise ValueError(tr("not a period MMYY: {text!r}", text=text))
        return cls(2000 + int(m.group(2)), int(m.group(1)))

    @classmethod
    def of(cls, day: dt.date) -> Period:
        """The period that contains ``day``."""
        return cls(day.year, day.month)

    def format_mmyyyy(self) -> str:
        return f"{self.month:02d}{self.year:04d}"

    def format_mmyy(self) -> str:
        return f"{self.month:02d}{self.year % 100:02d}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)


# Periods repeat on every row of a registry: parse each distinct text once.
@lru_cache(maxsize=1024)
def _parse_iso(text: str) -> Period:
    m = _ISO.fullmatch(text)
    if not m:
        raise ValueError(tr("not a period YYYY-MM: {text!r}", text=text))
    return Period(int(m.group(1)), int(m.group(2)))


@lru_cache(maxsize=1024)
def _parse_mmyyyy(text: str) -> Period:
    m = _MMYYYY.fullmatch(text)
    if not m:
        raise ValueError(tr("not a period MMYYYY: {text!r}", text=text))
    return Period(int(m.group(2)), int(m.group(1)))
