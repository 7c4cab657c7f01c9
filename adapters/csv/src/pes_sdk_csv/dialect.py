"""A registry dialect as data: the model, its TOML schema, and where dialect files are found.

A dialect says everything about one agreed layout of a ``;``-separated text registry:
its columns and their types, the encoding, the delimiter, decimal separators, date and
period formats, the header and footer lines, tagged ``KEY:value`` cells and the file-name
template. Loading is strict: an unknown key or a bad value is a
:class:`~pes_sdk.errors.ConfigError` that names the TOML file and the key.

Dialect files are the package's built-in folder plus every folder listed in the
environment variable :data:`DIALECT_PATH_ENV` (``os.pathsep``-separated).
"""

from __future__ import annotations

import codecs
import enum
import importlib.resources
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from pes_sdk.errors import ConfigError
from pes_sdk.models.registry import RegistryKind
from pes_sdk_csv.i18n import tr, verbatim

__all__ = [
    "DIALECT_PATH_ENV",
    "ENCODINGS",
    "FIELD_TYPES",
    "REQUIRED_FIELDS",
    "Column",
    "ColumnType",
    "Dialect",
    "Footer",
    "HeaderBlock",
    "builtin_dialect_dir",
    "collect_dialects",
    "dialect_dirs",
    "find_dialects",
    "load_dialect",
    "parse_dialect",
]

#: Environment variable listing extra folders of dialect files (``os.pathsep``-separated).
DIALECT_PATH_ENV = "PES_DIALECT_PATH"

#: Encodings a dialect may declare (canonical codec names); decoding is always strict.
ENCODINGS = ("utf-8", "utf-8-sig", "cp1251", "cp866", "koi8-r")


class ColumnType(enum.StrEnum):
    """How a column's text is read and written."""

    ACCOUNT = "account"  #: лицевой счёт: 1–30 characters, leading zeros kept
    GUID = "guid"  #: house GUID (ФИАС/ГАР), 8-4-4-4-12 hex
    PREMISES = "premises"  #: помещение: text up to 255 characters
    AMOUNT = "amount"  #: roubles with up to two decimals
    PERIOD = "period"  #: расчётный период, in the dialect's ``period_format``
    DATE = "date"  #: in the dialect's ``date_format``
    TIME = "time"  #: in the dialect's ``time_format``
    DATETIME = "datetime"  #: in the dialect's ``datetime_format``
    TEXT = "text"  #: free text without the delimiter or line breaks
    #: "GUID,кв" in one cell: the house GUID, a comma, the premises (fills house_id and
    #: premises)
    GUID_PREMISES = "guid_premises"
    IGNORED = "ignored"  #: read and dropped; fills no field, written empty
    #: personal data (ФИО, phone): read, checked for shape if asked (``check``), dropped at
    #: once; never kept, logged, shown in an error or a rejects file; written empty
    PERSONAL = "personal"


#: Column types that fill no record field.
DROPPED = frozenset({ColumnType.IGNORED, ColumnType.PERSONAL})
#: Shapes a personal column may be checked for (``check = "name"`` …).
PERSONAL_CHECKS = ("name", "phone")


#: For each registry kind, the record fields a column may fill and the types each accepts.
#: A new kind (readings) is a new entry here plus a record builder in the engine.
FIELD_TYPES: Mapping[RegistryKind, Mapping[str, tuple[ColumnType, ...]]] = {
    RegistryKind.DEBTS: {
        "account": (ColumnType.ACCOUNT,),
        "house_id": (ColumnType.GUID, ColumnType.GUID_PREMISES),
        "address": (ColumnType.TEXT,),
        "premises": (ColumnType.PREMISES,),
        "amount": (ColumnType.AMOUNT,),
        "period": (ColumnType.PERIOD,),
        "service": (ColumnType.TEXT,),
        "service_code": (ColumnType.TEXT,),
    },
    RegistryKind.PAYMENTS: {
        "paid_at": (ColumnType.DATETIME, ColumnType.DATE, ColumnType.TIME),
        "operation_id": (ColumnType.TEXT,),
        "account": (ColumnType.ACCOUNT,),
        "house_id": (ColumnType.GUID, ColumnType.GUID_PREMISES),
        "premises": (ColumnType.PREMISES,),
        "period": (ColumnType.PERIOD,),
        "service": (ColumnType.TEXT,),
        "service_code": (ColumnType.TEXT,),
        "channel": (ColumnType.TEXT,),
        "amount": (ColumnType.AMOUNT,),
        "transfer": (ColumnType.AMOUNT,),
        "fee": (ColumnType.AMOUNT,),
    },
}

#: Fields the record cannot do without: a column must carry each, and be required. A debt
#: registry may give its house as a GUID, as address text, or not at all (found by account).
REQUIRED_FIELDS: Mapping[RegistryKind, frozenset[str]] = {
    RegistryKind.DEBTS: frozenset({"account", "amount"}),
    RegistryKind.PAYMENTS: frozenset(
        {"paid_at", "operation_id", "account", "amount", "transfer", "fee"}
    ),
}

#: Footer fields that are control totals; any other footer field is text kept in
#: ``RegistryHeader.extra``.
COUNT_FIELD = "count"
PERIOD_FORMATS = ("YYYY-MM", "MMYYYY", "MMYY", "MM.YYYY")
LINE_ENDINGS = {"crlf": "\r\n", "lf": "\n"}
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_DIRECTIVES = {"%Y", "%m", "%d", "%H", "%M", "%S", "%%"}


@attrs.frozen
class Column:
    """One cell of a data line."""

    name: str  #: the column's name, written in the header row
    field: str  #: the record field it fills ("" for an ignored or personal column)
    type: ColumnType
    required: bool = True  #: an empty (or, at the end of the line, absent) cell is an error
    check: str = ""  #: a personal column's shape (``name``, ``phone``), checked when set

    @property
    def dropped(self) -> bool:
        """Whether the cell is read and dropped (an ignored or personal column)."""
        return self.type in DROPPED


@attrs.frozen
class Footer:
    """The control-totals line at the end of the file: ``=<count>;<amount>…``."""

    prefix: str = "="
    #: ``count``, amount fields (sums) or other names (text, kept in ``RegistryHeader.extra``)
    fields: tuple[str, ...] = ("count", "amount")
    required: bool = True  #: on reading; it is always written


@attrs.frozen
class HeaderBlock:
    """Lines ``#KEY value`` before the rows (``#FILESUM 1622,26``), mapped to registry facts.

    ``keys`` maps each key (as the file writes it, without the prefix) to a fact: ``count``
    (the number of rows) or an amount field (a control sum) are control totals, checked
    against the rows; ``period`` is the registry's period in the dialect's
    ``period_format``; any other name is text kept in ``RegistryHeader.extra`` under that
    name (``service``, ``type``). Keys the file has and the dialect does not name are kept
    there too, under the key as written.
    """

    keys: tuple[tuple[str, str], ...]  #: (key in the file, fact), in the order written
    prefix: str = "#"
    separator: str = " "  #: between the key and its value
    required: bool = True  #: every key must be present on reading; always written

    def fact(self, key: str) -> str | None:
        for k, fact in self.keys:
            if k == key:
                return fact
        return None


@attrs.frozen
class Dialect:
    """One registry layout. Build it with :func:`load_dialect` or :func:`parse_dialect`."""

    name: str
    kind: RegistryKind
    columns: tuple[Column, ...]
    encoding: str  #: written, and the first tried on reading
    description: str = ""
    #: accepted on reading, told apart by the kit's rule (pes_sdk.formats.text); the first
    #: is ``encoding``
    read_encodings: tuple[str, ...] = ()
    delimiter: str = ";"
    decimal_separator: str = "."  #: written
    read_decimal_separators: tuple[str, ...] = (".",)  #: accepted on reading
    date_format: str = "%d.%m.%Y"
    time_format: str = "%H:%M:%S"
    datetime_format: str = "%Y-%m-%dT%H:%M:%S"
    period_format: str = "YYYY-MM"
    #: The zone of the file's wall times, when the layout fixes one (its dates and times
    #: carry no offset): a time with a zone is converted to it before it is written. None:
    #: a time is written as the wall time of the zone it carries (the runner gives times in
    #: its service's zone). A time read stays as written, without a zone.
    time_zone: ZoneInfo | None = None
    line_ending: str = "\r\n"
    header: str | None = None  #: the exact header line, or None when the file has none
    footer: Footer | None = None
    header_block: HeaderBlock | None = None
    tagged_fields: bool = False
    tag_key_pattern: str = r"[A-Za-z_][A-Za-z0-9_]*"
    filename: str | None = None  #: file-name template, see :mod:`pes_sdk_csv.filename`
    max_line_length: int = 65536
    source: Path | None = attrs.field(default=None, eq=False)  #: the TOML file

    def __attrs_post_init__(self) -> None:
        if not self.read_encodings:
            object.__setattr__(self, "read_encodings", (self.encoding,))

    def column_index(self, field: str) -> int | None:
        """The position of the (first) column that fills ``field``, or None."""
        for i, col in enumerate(self.columns):
            if col.field == field and not col.dropped:
                return i
        return None

    @property
    def personal(self) -> tuple[int, ...]:
        """The positions of the personal-data columns (masked wherever a line is shown)."""
        return tuple(i for i, c in enumerate(self.columns) if c.type is ColumnType.PERSONAL)


# -- loading ----------------------------------------------------------------------------


class _Loader:
    """Reads one TOML table, key by key, so that every error names its file and key."""

    def __init__(self, source: str, data: Mapping[str, Any], prefix: str = "") -> None:
        self.source = source
        self.data = data
        self.prefix = prefix
        self.used: set[str] = set()

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(
            verbatim(
                "{source}: {prefix}{key}: {message}",
                source=self.source,
                prefix=self.prefix,
                key=key,
                message=message,
            )
        )

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = attrs.NOTHING) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is attrs.NOTHING:
                raise self.error(key, tr("is required"))
            return default
        value = self.data[key]
        # bool is an int in Python; a TOML `true` is never a number here.
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _types(kind)):
            raise self.error(
                key, tr("must be {kind}, not {value!r}", kind=_kind_name(kind), value=value)
            )
        return value

    def choice(self, key: str, options: Iterable[str], default: Any = attrs.NOTHING) -> Any:
        value = self.get(key, str, default)
        opts = tuple(options)
        if value is not default and value not in opts:
            raise self.error(
                key,
                tr("must be one of {options}, not {value!r}", options=", ".join(opts), value=value),
            )
        return value

    def check(self, key: str, ok: bool, message: str) -> None:
        if not ok:
            raise self.error(key, message)

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.error(unknown[0], tr("unknown key"))


def _types(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names: dict[type, str] = {
        str: tr("a string"),
        bool: tr("true or false"),
        int: tr("an integer"),
        list: tr("a list"),
        dict: tr("a table"),
    }
    found = [names.get(k, k.__name__) for k in _types(kind)]
    text = found[0]
    for other in found[1:]:
        text = tr("{first} or {second}", first=text, second=other)
    return text


def _check_time_format(loader: _Loader, key: str, value: str, needs: str) -> None:
    from pes_sdk_csv.timefmt import TimeFormat

    try:
        fmt = TimeFormat(value)
    except ValueError as exc:
        raise loader.error(
            key,
            tr(
                "{detail}; allowed: {directives}",
                detail=str(exc),
                directives=" ".join(sorted(_DIRECTIVES)),
            ),
        ) from None
    loader.check(
        key,
        fmt.has(needs),
        tr("must carry {directives}", directives=" ".join("%" + c for c in needs)),
    )


def parse_dialect(data: Mapping[str, Any], source: str | Path = "<dialect>") -> Dialect:
    """Build a :class:`Dialect` from a parsed TOML document; strict, see the module doc."""
    src = str(source)
    top = _Loader(src, data)
    name = top.get("name", str)
    top.check("name", bool(_NAME.fullmatch(name)), tr("is lower-case letters, digits, - and _"))
    kind = RegistryKind(top.choice("kind", [k.value for k in FIELD_TYPES]))
    fields = FIELD_TYPES[kind]
    description = top.get("description", str, "")

    def canonical(key: str, name: Any) -> str:
        try:
            found = codecs.lookup(name).name if isinstance(name, str) else ""
        except LookupError:
            found = ""
        top.check(
            key,
            found in ENCODINGS,
            tr("must be one of {options}, not {value!r}", options=", ".join(ENCODINGS), value=name),
        )
        return found

    names = top.get("encodings", list, [])
    read_encodings = tuple(canonical("encodings", n) for n in names)
    top.check(
        "encodings", len(set(read_encodings)) == len(read_encodings), tr("repeats an encoding")
    )
    encoding_name = top.get("encoding", str, names[0] if names else attrs.NOTHING)
    encoding = canonical("encoding", encoding_name)
    if read_encodings:
        top.check(
            "encodings",
            encoding in read_encodings,
            tr("must include the encoding {encoding!r}", encoding=encoding),
        )
        read_encodings = (encoding, *(e for e in read_encodings if e != encoding))
    else:
        read_encodings = (encoding,)
    delimiter = top.get("delimiter", str, ";")
    top.check(
        "delimiter",
        len(delimiter) == 1
        and delimiter not in "\"'0123456789.-"
        and (delimiter.isprintable() or delimiter == "\t"),
        tr(
            "is a tab or one printable character but a quote, digit, '.' or '-', not {value!r}",
            value=delimiter,
        ),
    )
    decimal_separator = top.choice("decimal_separator", [".", ","], ".")
    read_seps = top.get("read_decimal_separators", list, [decimal_separator])
    top.check(
        "read_decimal_separators",
        bool(read_seps) and all(s in (".", ",") for s in read_seps),
        tr("is a non-empty list of '.' and ','"),
    )
    top.check(
        "read_decimal_separators",
        decimal_separator in read_seps,
        tr("must include the decimal_separator {value!r}", value=decimal_separator),
    )
    top.check(
        "delimiter",
        delimiter not in read_seps,
        tr("cannot also be a decimal separator"),
    )
    date_format = top.get("date_format", str, "%d.%m.%Y")
    _check_time_format(top, "date_format", date_format, "Ymd")
    time_format = top.get("time_format", str, "%H:%M:%S")
    _check_time_format(top, "time_format", time_format, "HM")
    datetime_format = top.get("datetime_format", str, "%Y-%m-%dT%H:%M:%S")
    _check_time_format(top, "datetime_format", datetime_format, "YmdHM")
    for key, fmt in (
        ("date_format", date_format),
        ("time_format", time_format),
        ("datetime_format", datetime_format),
    ):
        top.check(key, delimiter not in fmt, tr("cannot contain the delimiter"))
    period_format = top.choice("period_format", PERIOD_FORMATS, "YYYY-MM")
    zone_name = top.get("time_zone", str, "")
    time_zone = None
    if zone_name:
        try:
            time_zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise top.error(
                "time_zone",
                tr(
                    "unknown time zone {zone!r} (an IANA name such as Europe/Moscow)",
                    zone=zone_name,
                ),
            ) from None
    line_ending = LINE_ENDINGS[top.choice("line_ending", list(LINE_ENDINGS), "crlf")]
    max_line_length = top.get("max_line_length", int, 65536)
    top.check("max_line_length", 80 <= max_line_length <= 1 << 24, tr("is between 80 and 16777216"))
    tagged = top.get("tagged_fields", bool, False)
    tag_key_pattern = top.get("tag_key_pattern", str, r"[A-Za-z_][A-Za-z0-9_]*")
    try:
        compiled = re.compile(tag_key_pattern)
    except re.error as exc:
        raise top.error(
            "tag_key_pattern", tr("is not a regular expression: {detail}", detail=str(exc))
        ) from None
    top.check(
        "tag_key_pattern",
        not compiled.fullmatch("") and not compiled.search(":"),
        tr("must not match an empty key or a ':'"),
    )

    raw_columns = top.get("columns", list)
    top.check("columns", bool(raw_columns), tr("needs at least one column"))
    columns: list[Column] = []
    seen_names: set[str] = set()
    for i, raw in enumerate(raw_columns):
        if not isinstance(raw, dict):
            raise top.error(f"columns[{i}]", tr("must be a table"))
        col = _Loader(src, raw, f"columns[{i}].")
        cname = col.get("name", str)
        col.check(
            "name",
            bool(cname) and delimiter not in cname,
            tr("is non-empty text without the delimiter"),
        )
        col.check("name", cname not in seen_names, tr("repeats column {name!r}", name=cname))
        seen_names.add(cname)
        ctype = ColumnType(col.choice("type", [t.value for t in ColumnType]))
        check = ""
        if ctype in DROPPED:
            col.check(
                "field",
                "field" not in raw,
                tr("a {type} column fills no field", type=ctype.value),
            )
            field = ""
            required = col.get("required", bool, False)
            if ctype is ColumnType.PERSONAL:
                check = col.choice("check", PERSONAL_CHECKS, "")
        else:
            field = col.choice("field", fields)
            col.check(
                "type",
                ctype in fields[field],
                tr(
                    "field {field!r} takes {types}, not {type!r}",
                    field=field,
                    types=" or ".join(fields[field]),
                    type=ctype.value,
                ),
            )
            required = col.get("required", bool, True)
        if ctype is ColumnType.GUID_PREMISES:
            col.check("type", delimiter != ",", tr("needs a delimiter other than ','"))
        col.finish()
        columns.append(Column(cname, field, ctype, required, check))
    _check_columns(top, kind, columns)

    header_value = top.get("header", (bool, str), False)
    if header_value is True:
        header: str | None = delimiter.join(c.name for c in columns)
    elif header_value is False:
        header = None
    else:
        top.check(
            "header", bool(header_value) and "\n" not in header_value, tr("is one non-empty line")
        )
        header = header_value

    header_block = None
    if "header_block" in data:
        header_block = _header_block(src, top.get("header_block", dict), fields, columns)
    footer = None
    if "footer" in data:
        raw_footer = top.get("footer", dict)
        fl = _Loader(src, raw_footer, "footer.")
        prefix = fl.get("prefix", str, "=")
        fl.check(
            "prefix",
            bool(prefix)
            and delimiter not in prefix
            and prefix.isprintable()
            and not prefix.startswith("'"),
            tr("is non-empty printable text without the delimiter, not starting with '"),
        )
        ffields = fl.get("fields", list)
        amount_fields = {f for f, types in fields.items() if ColumnType.AMOUNT in types}
        fl.check("fields", bool(ffields), tr("needs at least one field"))
        for f in ffields:
            fl.check(
                "fields",
                isinstance(f, str) and bool(_FIELD_NAME.fullmatch(f)),
                tr("bad field name {name!r}", name=f),
            )
        fl.check("fields", len(set(ffields)) == len(ffields), tr("repeats a field"))
        for f in ffields:
            if f in fields and f not in amount_fields:
                raise fl.error(
                    "fields", tr("{field!r} is a record field but not an amount to sum", field=f)
                )
            if f in amount_fields:
                fl.check(
                    "fields",
                    any(c.field == f for c in columns),
                    tr("sums {field!r}, which no column carries", field=f),
                )
        frequired = fl.get("required", bool, True)
        fl.finish()
        footer = Footer(prefix, tuple(ffields), frequired)
        if header_block is not None:
            top.check(
                "footer",
                not any(f == COUNT_FIELD or f in amount_fields for _, f in header_block.keys),
                tr("the header block carries the control totals already"),
            )

    filename = top.get("filename", str, None)
    if filename is not None:
        from pes_sdk_csv.filename import FileNameTemplate

        try:
            FileNameTemplate(filename)
        except ValueError as exc:
            raise top.error("filename", str(exc)) from None
    top.finish()
    return Dialect(
        name=name,
        kind=kind,
        columns=tuple(columns),
        encoding=encoding,
        description=description,
        read_encodings=read_encodings,
        delimiter=delimiter,
        decimal_separator=decimal_separator,
        read_decimal_separators=tuple(read_seps),
        date_format=date_format,
        time_format=time_format,
        datetime_format=datetime_format,
        period_format=period_format,
        time_zone=time_zone,
        line_ending=line_ending,
        header=header,
        footer=footer,
        header_block=header_block,
        tagged_fields=tagged,
        tag_key_pattern=tag_key_pattern,
        filename=filename,
        max_line_length=max_line_length,
        source=Path(source) if isinstance(source, Path) else None,
    )


def _header_block(
    src: str,
    raw: Mapping[str, Any],
    fields: Mapping[str, tuple[ColumnType, ...]],
    columns: list[Column],
) -> HeaderBlock:
    hb = _Loader(src, raw, "header_block.")
    prefix = hb.get("prefix", str, "#")
    hb.check(
        "prefix",
        bool(prefix) and prefix.isprintable() and " " not in prefix,
        tr("is non-empty printable text without spaces"),
    )
    separator = hb.get("separator", str, " ")
    hb.check("separator", len(separator) == 1 and separator.isprintable(), tr("is one character"))
    keys = hb.get("keys", dict)
    hb.check("keys", bool(keys), tr("needs at least one key"))
    amount_fields = {f for f, types in fields.items() if ColumnType.AMOUNT in types}
    pairs: list[tuple[str, str]] = []
    for key, fact in keys.items():
        hb.check(
            "keys",
            bool(key) and separator not in key and key.isprintable(),
            tr("bad key {key!r}", key=key),
        )
        hb.check(
            "keys",
            isinstance(fact, str) and bool(_FIELD_NAME.fullmatch(fact)),
            tr("{key}: bad fact {fact!r}", key=key, fact=fact),
        )
        if fact in fields and fact not in amount_fields and fact not in ("service", "period"):
            raise hb.error(
                "keys",
                tr(
                    "{key}: {fact!r} is a record field but not an amount to sum", key=key, fact=fact
                ),
            )
        if fact in amount_fields:
            hb.check(
                "keys",
                any(c.field == fact for c in columns),
                tr("{key}: sums {fact!r}, which no column carries", key=key, fact=fact),
            )
        pairs.append((key, fact))
    facts = [f for _, f in pairs]
    hb.check("keys", len(set(facts)) == len(facts), tr("maps two keys to one fact"))
    required = hb.get("required", bool, True)
    hb.finish()
    return HeaderBlock(tuple(pairs), prefix, separator, required)


def _check_columns(top: _Loader, kind: RegistryKind, columns: list[Column]) -> None:
    by_field: dict[str, list[Column]] = {}
    for c in columns:
        if c.dropped:
            continue
        # "GUID,кв" in one cell fills the premises too.
        for field in (c.field, "premises") if c.type is ColumnType.GUID_PREMISES else (c.field,):
            by_field.setdefault(field, []).append(c)
    for field, cols in by_field.items():
        if field == "paid_at":
            types = sorted(c.type.value for c in cols)
            top.check(
                "columns",
                types in (["datetime"], ["date", "time"]),
                tr("paid_at takes one datetime column, or one date and one time column"),
            )
        else:
            top.check(
                "columns",
                len(cols) == 1,
                tr("field {field!r} has more than one column", field=field),
            )
    for field in sorted(REQUIRED_FIELDS[kind]):
        top.check(
            "columns",
            field in by_field,
            tr("no column fills the required field {field!r}", field=field),
        )
        for c in by_field[field]:
            top.check(
                "columns",
                c.required,
                tr("column {name!r} ({field}) must be required", name=c.name, field=field),
            )


def load_dialect(path: Path | str) -> Dialect:
    """Load one dialect TOML file; :class:`ConfigError` names the file and the key."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(
            tr("{path}: cannot read: {reason}", path=path, reason=exc.strerror or str(exc))
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            tr("{path}: not valid TOML: {detail}", path=path, detail=str(exc))
        ) from None
    return parse_dialect(data, path)


def builtin_dialect_dir() -> Path:
    """The folder of the dialects shipped with the package."""
    return Path(str(importlib.resources.files("pes_sdk_csv") / "dialects"))


def dialect_dirs(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where dialect files are looked for: built-in first, then ``PES_DIALECT_PATH``."""
    env = os.environ if environ is None else environ
    extra = [Path(p) for p in env.get(DIALECT_PATH_ENV, "").split(os.pathsep) if p.strip()]
    return [builtin_dialect_dir(), *extra]


def collect_dialects(
    dirs: Iterable[Path] | None = None, *, load: Callable[[Path], Dialect] = load_dialect
) -> tuple[list[Dialect], list[ConfigError]]:
    """Every good dialect in ``dirs`` (default :func:`dialect_dirs`), and what was left out.

    Files are read sorted by name, folder by folder. A folder that does not exist or is
    not a folder, a file that does not load, and a second file declaring a name already
    taken are each one :class:`ConfigError` (naming the file and the key) in the second
    list; every other dialect is still returned. This is what the plugin uses: one typo in
    a partner's dialect leaves every other format in place.
    """
    found: dict[str, Dialect] = {}
    problems: list[ConfigError] = []
    for folder in dialect_dirs() if dirs is None else dirs:
        if not folder.is_dir():
            what = tr("is a file, not a folder") if folder.exists() else tr("does not exist")
            problems.append(
                ConfigError(
                    tr(
                        "{folder}: dialect folder (from {variable}) {what}",
                        folder=folder,
                        variable=DIALECT_PATH_ENV,
                        what=what,
                    )
                )
            )
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                dialect = load(path)
            except ConfigError as exc:
                problems.append(exc)
                continue
            if dialect.name in found:
                first = found[dialect.name].source
                problems.append(
                    ConfigError(
                        tr(
                            "{path}: name: dialect {name!r} is already defined in {first}",
                            path=path,
                            name=dialect.name,
                            first=first,
                        )
                    )
                )
                continue
            found[dialect.name] = dialect
    return list(found.values()), problems


def find_dialects(
    dirs: Iterable[Path] | None = None, *, load: Callable[[Path], Dialect] = load_dialect
) -> list[Dialect]:
    """Every dialect in ``dirs`` (default :func:`dialect_dirs`), files sorted by name.

    Strict: the first problem :func:`collect_dialects` finds (a missing folder listed in
    ``PES_DIALECT_PATH``, a bad file, two files declaring the same dialect name) is raised
    as a :class:`ConfigError`.
    """
    dialects, problems = collect_dialects(dirs, load=load)
    if problems:
        raise problems[0]
    return dialects
