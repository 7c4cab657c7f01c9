"""Meter readings (показания приборов учёта)."""

from __future__ import annotations

import datetime as dt
import enum
import re
from decimal import Decimal

import attrs

from pes_sdk.i18n import tr
from pes_sdk.models._fields import optional_guid, valid_account

__all__ = ["MeterReading", "MeterType", "Photo"]


class MeterType(enum.IntEnum):
    """Meter types with the codes of the Sberbank-style readings registry."""

    GAS = 1
    ELECTRICITY = 2  #: single-rate
    ELECTRICITY_DAY = 3
    ELECTRICITY_NIGHT = 4
    ELECTRICITY_PEAK = 5
    ELECTRICITY_HALF_PEAK = 6
    ELECTRICITY_NIGHT_ZONE = 7
    HOT_WATER = 8
    COLD_WATER = 9
    HEATING = 10
    DRAINAGE = 11
    IRRIGATION = 12
    GARBAGE = 13


_SHA256 = re.compile(r"[0-9a-f]{64}")


@attrs.frozen
class Photo:
    """A photo of a meter, kept as an attachment: a hash and a media type, never inline."""

    sha256: str = attrs.field()
    media_type: str = "image/jpeg"

    @sha256.validator
    def _check(self, attribute: attrs.Attribute[str], value: str) -> None:
        if not _SHA256.fullmatch(value):
            raise ValueError(tr("a photo's sha256 is 64 lower-case hex digits"))


def _values(value: object) -> tuple[Decimal, ...]:
    if not isinstance(value, tuple | list):
        raise TypeError("values is a sequence of Decimal, one per tariff")
    out = []
    for v in value:
        if isinstance(v, float | bool) or not isinstance(v, Decimal | int):
            raise TypeError(f"a meter value is a Decimal, not {type(v).__name__}")
        d = Decimal(v)
        if not d.is_finite() or d < 0:
            raise ValueError(tr("a meter value is finite and not negative, not {d}", d=d))
        out.append(d)
    if not 1 <= len(out) <= 3:
        raise ValueError(tr("a reading has one to three tariff values (T1..T3)"))
    return tuple(out)


@attrs.frozen
class MeterReading:
    """Values read off one meter on one date, one per tariff (T1..T3).

    Values keep the precision they were given (meters show three decimals or more).
    """

    account: str = attrs.field(validator=valid_account)
    meter_number: str = attrs.field(validator=attrs.validators.min_len(1))
    meter_type: MeterType = attrs.field(converter=MeterType)
    values: tuple[Decimal, ...] = attrs.field(converter=_values)
    taken_on: dt.date = attrs.field(validator=attrs.validators.instance_of(dt.date))
    house_id: str | None = attrs.field(default=None, converter=optional_guid)
    service: str = ""
    photo: Photo | None = None
