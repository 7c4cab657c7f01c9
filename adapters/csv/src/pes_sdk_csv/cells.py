"""Per-column parsers and formatters, built once per dialect.

A parser takes a cell's text and returns the record value, or raises :class:`ValueError`
with a message for the person who fixes the file. A formatter does the reverse for the
writer. Text cells go through :func:`~pes_sdk.formats.unescape_formula` /
:func:`~pes_sdk.formats.escape_formula`; numeric cells never do.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pes_sdk.formats import SERVICE_FIELDS, escape_formula, unescape_formula
from pes_sdk.identifiers import check_guid, check_personal_account
from pes_sdk.money import CENT
from pes_sdk.period import Period
from pes_sdk.premises import MAX_PREMISES_LENGTH, Premises
from pes_sdk_csv.dialect import Column, ColumnType, Dialect
from pes_sdk_csv.i18n import tr
from pes_sdk_csv.timefmt import TimeFormat

__all__ = [
    "CACHE_LIMIT",
    "CachedParser",
    "CellParser",
    "amount_parser",
    "format_amount",
    "formatter_for",
    "parser_for",
    "period_formatter",
    "period_parser",
]

_MM_DOT_YYYY = re.compile(r"(0[1-9]|1[0-2])\.([0-9]{4})", re.ASCII)
# A personal cell's shapes; the value itself is never shown (it is personal data).
_NAME_SHAPE = re.compile(r"[^\W\d_]+(?:[ .'’-]+[^\W\d_]+)*\.?")
_PHONE_SHAPE = re.compile(r"\+?[0-9 ()-]{5,24}", re.ASCII)
WITHHELD = "the value is personal data and is not shown"

CellParser = Callable[[str], Any]
CellFormatter = Callable[[Any], str]

#: Distinct values a cache keeps before it starts afresh. Large enough for the houses and
#: premises texts of a big town's registry (a cache that keeps emptying re-parses every row);
#: bounded so that any input keeps memory bounded (the four caches of a debt registry hold
#: at most a few tens of MB, a real registry's variety far less).
CACHE_LIMIT = 65536


class CachedParser:
    """A parser that remembers the value of each distinct text: periods, houses, premises
    and service names repeat on every row. Bad text raises and is never cached, so a text
    found in :attr:`cache` is known good (the reader's fast path relies on that)."""

    def __init__(self, parse: CellParser) -> None:
        self.parse = parse
        self.cache: dict[str, Any] = {}
        self._seeds: dict[str, Any] = {}

    def seed(self, text: str, value: Any) -> None:
        """Put ``text`` → ``value`` in the cache for good: it survives the cache starting
        afresh (the reader seeds an optional column's empty cell this way)."""
        self._seeds[text] = value
        self.cache[text] = value

    def __call__(self, text: str) -> Any:
        cache = self.cache
        try:
            return cache[text]
        except KeyError:
            pass
        value = self.parse(text)
        if len(cache) >= CACHE_LIMIT:
            cache.clear()  # bounded memory on any input; the common values come back
            cache.update(self._seeds)
        cache[text] = value
        return value


def _cached(parse: CellParser) -> CachedParser:
    return CachedParser(parse)


def _text_checks(text: str) -> str:
    if "\r" in text:
        raise ValueError(tr("a carriage return inside a cell"))
    if "\x00" in text:
        raise ValueError(tr("a NUL byte in the cell"))
    return unescape_formula(text)


def _account(text: str) -> str:
    value = _text_checks(text)
    check_personal_account(value)
    return value


def _premises(text: str) -> Premises:
    value = _text_checks(text)
    if len(value) > MAX_PREMISES_LENGTH:
        raise ValueError(tr("premises are at most {limit} characters", limit=MAX_PREMISES_LENGTH))
    return Premises(value)


def amount_pattern(separators: tuple[str, ...]) -> re.Pattern[str]:
    """The amounts a dialect reads: ``-1272,26`` / ``1272.26`` / ``5`` (ASCII digits)."""
    seps = "".join(re.escape(s) for s in separators)
    return re.compile(rf"-?[0-9]{{1,15}}(?:[{seps}][0-9]{{1,2}})?")


def amount_parser(separators: tuple[str, ...]) -> CellParser:
    match = amount_pattern(separators).fullmatch
    shown = " or ".join(repr(s) for s in separators)
    if len(separators) == 2:
        shown = tr("{first!r} or {second!r}", first=separators[0], second=separators[1])

    def parse(text: str) -> Decimal:
        if not match(text):
            raise ValueError(
                tr(
                    "not an amount: {text!r} (digits, up to two decimals after {separators})",
                    text=text,
                    separators=shown,
                )
            )
        d = Decimal(text.replace(",", "."))
        # "5" and "5.1" need padding to two places; "5.10" already has them.
        return d if text[-3:-2] in (".", ",") else d.quantize(CENT)

    return parse


def _parse_mm_dot_yyyy(text: str) -> Period:
    m = _MM_DOT_YYYY.fullmatch(text)
    if not m:
        raise ValueError(tr("not a period MM.YYYY: {text!r}", text=text))
    return Period(int(m.group(2)), int(m.group(1)))


#: How each ``period_format`` is read and written.
PERIOD_FORMS: dict[str, tuple[Callable[[str], Period], Callable[[Period], str]]] = {
    "YYYY-MM": (Period.parse, str),
    "MMYYYY": (Period.parse_mmyyyy, Period.format_mmyyyy),
    # Two-digit years are 2000-2099, as Sberbank's file names (ИНН_РС_НОМЕР_ММГГ.txt) mean.
    "MMYY": (Period.parse_mmyy, Period.format_mmyy),
    "MM.YYYY": (_parse_mm_dot_yyyy, lambda p: f"{p.month:02d}.{p.year:04d}"),
}


def period_parser(form: str) -> CellParser:
    return _cached(PERIOD_FORMS[form][0])


def period_formatter(form: str) -> Callable[[Period], str]:
    return PERIOD_FORMS[form][1]


def _guid_premises(text: str) -> tuple[str, Premises]:
    """``"GUID,кв"`` (the premises may be empty or hold commas of their own)."""
    house, sep, rest = text.partition(",")
    if not sep:
        raise ValueError(tr("not 'GUID,premises': {text!r} has no comma", text=text[:80]))
    return check_guid(house.strip()), _premises(rest.strip())


def _format_guid_premises(value: tuple[str | None, Premises]) -> str:
    house, premises = value
    if not house:
        return ""  # no house: the premises alone would mean nothing
    return f"{house},{escape_formula(premises.text) if premises.text else ''}"


def _personal_check(shape: str) -> CellParser:
    pattern = {"name": _NAME_SHAPE, "phone": _PHONE_SHAPE}[shape].fullmatch
    # The whole sentence per shape, WITHHELD included: a translator sees what it says.
    message = {
        "name": tr("does not look like a name (the value is personal data and is not shown)"),
        "phone": tr(
            "does not look like a phone number (the value is personal data and is not shown)"
        ),
    }[shape]

    def check(text: str) -> None:
        if not pattern(text.strip()):
            raise ValueError(message)

    return check


def _drop(text: str) -> None:
    return None


def parser_for(column: Column, dialect: Dialect) -> CellParser:
    """The parser of ``column``'s non-empty cells (emptiness is the caller's business)."""
    t = column.type
    if t is ColumnType.PERSONAL and column.check:
        return _personal_check(column.check)
    if t in (ColumnType.PERSONAL, ColumnType.IGNORED):
        return _drop
    if t is ColumnType.GUID_PREMISES:
        return _cached(_guid_premises)
    if t is ColumnType.ACCOUNT:
        return _account
    if t is ColumnType.GUID:
        return _cached(check_guid)
    if t is ColumnType.PREMISES:
        return _cached(_premises)
    if t is ColumnType.AMOUNT:
        return amount_parser(dialect.read_decimal_separators)
    if t is ColumnType.PERIOD:
        return period_parser(dialect.period_format)
    if t is ColumnType.DATE:
        return _cached(TimeFormat(dialect.date_format).parse_date)
    if t is ColumnType.TIME:
        return TimeFormat(dialect.time_format).parse_time
    if t is ColumnType.DATETIME:
        return TimeFormat(dialect.datetime_format).parse_datetime
    # A service's name and code repeat on every row; operation ids never do.
    repeats = column.field in SERVICE_FIELDS or column.field == "address"
    return _cached(_text_checks) if repeats else _text_checks


def format_amount(value: Decimal, separator: str) -> str:
    text = format(value, "f")
    return text.replace(".", separator) if separator != "." else text


def formatter_for(column: Column, dialect: Dialect) -> CellFormatter:
    """How ``column``'s value is written; text cells are formula-escaped."""
    t = column.type
    if t in (ColumnType.PERSONAL, ColumnType.IGNORED):
        return lambda _: ""  # never kept, so never written
    if t is ColumnType.GUID_PREMISES:
        return _format_guid_premises
    if t in (ColumnType.ACCOUNT, ColumnType.TEXT):
        return escape_formula
    if t is ColumnType.PREMISES:
        return lambda p: escape_formula(p.text)
    if t is ColumnType.GUID:
        return str
    if t is ColumnType.AMOUNT:
        sep = dialect.decimal_separator
        return lambda d: format_amount(d, sep)
    if t is ColumnType.PERIOD:
        return period_formatter(dialect.period_format)
    fmt = TimeFormat(
        {
            ColumnType.DATE: dialect.date_format,
            ColumnType.TIME: dialect.time_format,
            ColumnType.DATETIME: dialect.datetime_format,
        }[t]
    )
    zone = dialect.time_zone
    if zone is None:
        return fmt.format

    def format_moment(value: dt.date | dt.time) -> str:
        # The file's times carry no offset: a time with a zone is written as the wall time
        # of the zone the layout fixes, whatever zone it came in.
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.astimezone(zone)
        return fmt.format(value)

    return format_moment


def empty_value(column: Column) -> Any:
    """The record value of an optional column's empty cell."""
    if column.type is ColumnType.PREMISES:
        return Premises("")
    if column.type is ColumnType.GUID_PREMISES:
        return (None, Premises(""))
    if column.type in (ColumnType.TEXT, ColumnType.ACCOUNT):
        return ""
    return None


def combine_paid_at(date: dt.date, time: dt.time) -> dt.datetime:
    return dt.datetime.combine(date, time)
