"""Encode :class:`PaymentDetails` as a ГОСТ Р 56042-2014 string, and decode one.

The string is a service block, ``ST0001`` + the charset digit + the separator, then
``Key=Value`` fields joined by the separator: the five required ones first, in their order.
:func:`decode` reads it strictly (exactly the standard; the first problem raises
:class:`QrFormatError` naming the field and the rule) or tolerantly (what real bills print:
keys in another case, no charset digit, a trailing separator, spaces around ``=``, empty
or repeated fields, fields the standard does not list), listing each deviation it forgave.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

import attrs

from pes_sdk.i18n import tr
from pes_sdk.money import from_kopecks, to_kopecks
from pes_sdk.qr.errors import Deviation, QrFormatError, Rule
from pes_sdk.qr.fields import ORDER, REQUIRED, FieldSpec, Kind, lookup
from pes_sdk.qr.model import _EXTRA_KEY, Charset, PaymentDetails, TechCode

__all__ = [
    "FORMAT_ID",
    "REQUIRED_BLOCK_LIMIT",
    "SEPARATORS",
    "Decoded",
    "decode",
    "encode",
    "encode_bytes",
    "from_fields",
    "to_fields",
]

#: The format and its version, the first six characters of every string.
FORMAT_ID = "ST0001"
#: The most bytes the service block and the required fields may take, in the string's charset.
REQUIRED_BLOCK_LIMIT = 300
#: The separators the encoder tries, in this order: ``|`` unless a value holds it, then the
#: first of the others that no value holds. Any of them is read back.
SEPARATORS = "|#;:^~!@$%&*+/\\?_<>[]{}()`'\",.-"

_KOPECKS = re.compile(r"\d{1,18}", re.ASCII)
_DATE = re.compile(r"(\d{2})\.(\d{2})\.(\d{4})", re.ASCII)
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
# Blanks a tolerant read strips: around the whole string (a pasted line, a BOM) and around
# the "=" of a field.
_BLANKS = " \t\r\n\ufeff\x00"
_SPACES = " \t\u00a0"


@attrs.frozen
class Decoded:
    """What :func:`decode` read: the details, how the string was written, what was forgiven.

    ``charset`` is the one the service block names (or, when a tolerant read found no
    digit, the one the text was read in); ``deviations`` is empty for a strict read.
    """

    details: PaymentDetails
    charset: Charset
    separator: str
    deviations: tuple[Deviation, ...] = ()


# -- encoding ----------------------------------------------------------------------------


def _format_value(spec: FieldSpec, value: object) -> str:
    if spec.kind is Kind.KOPECKS:
        assert isinstance(value, Decimal)
        return str(to_kopecks(value))
    if spec.kind is Kind.DATE:
        assert isinstance(value, dt.date)
        return f"{value.day:02d}.{value.month:02d}.{value.year:04d}"
    if spec.kind is Kind.TECH_CODE:
        assert isinstance(value, TechCode)
        return value.value
    assert isinstance(value, str)
    return value


def to_fields(details: PaymentDetails) -> dict[str, str]:
    """The fields as the string writes them (``{"Sum": "123456", …}``), in the encoder's
    order, the extra ones last."""
    fields = {
        spec.key: _format_value(spec, getattr(details, spec.attr))
        for spec in ORDER
        if getattr(details, spec.attr) is not None
    }
    fields.update(details.extra)
    return fields


def _valid_separator(char: str) -> bool:
    return len(char) == 1 and char in SEPARATORS


def _choose_separator(values: Iterable[str], asked: str | None) -> str:
    text = "".join(values)
    if asked is not None:
        if not _valid_separator(asked):
            raise QrFormatError(
                tr("a separator is one of {chars}, not {asked!r}", chars=SEPARATORS, asked=asked),
                rule=Rule.SEPARATOR,
            )
        if asked in text:
            raise QrFormatError(
                tr("the separator {asked!r} is in a value", asked=asked), rule=Rule.SEPARATOR
            )
        return asked
    for char in SEPARATORS:
        if char not in text:
            return char
    raise QrFormatError(
        tr("every separator the standard allows is in some value"), rule=Rule.SEPARATOR
    )


def _header(charset: Charset, separator: str) -> str:
    return f"{FORMAT_ID}{charset.value}{separator}"


def _required_block_size(
    fields: Mapping[str, str], charset: Charset, separator: str, errors: str = "strict"
) -> int:
    block = _header(charset, separator) + separator.join(
        f"{spec.key}={fields[spec.key]}" for spec in REQUIRED
    )
    return len(block.encode(charset.codec, errors))


def _too_big(size: int) -> str:
    return tr(
        "the service block and the required fields take {size} bytes, at most {limit}",
        size=size,
        limit=REQUIRED_BLOCK_LIMIT,
    )


def _cannot_write(charset: Charset) -> str:
    return tr("has characters {charset} cannot write", charset=charset.name)


def encode(
    details: PaymentDetails,
    *,
    charset: Charset = Charset.UTF8,
    separator: str | None = None,
) -> str:
    """The payment string of ``details``, to be written in ``charset``.

    The separator is ``|`` unless a value holds one; then the first of :data:`SEPARATORS`
    that no value holds (or ``separator``, when given, if no value holds it). Raises
    :class:`QrFormatError` when a value cannot be written in ``charset`` or the required
    block would take more than :data:`REQUIRED_BLOCK_LIMIT` bytes.
    """
    fields = to_fields(details)
    sep = _choose_separator(fields.values(), separator)
    for key, value in fields.items():
        try:
            value.encode(charset.codec)
        except UnicodeEncodeError:
            raise QrFormatError(_cannot_write(charset), field=key, rule=Rule.CHARSET) from None
    size = _required_block_size(fields, charset, sep)
    if size > REQUIRED_BLOCK_LIMIT:
        raise QrFormatError(_too_big(size), rule=Rule.REQUIRED_BLOCK_SIZE)
    return _header(charset, sep) + sep.join(f"{k}={v}" for k, v in fields.items())


def encode_bytes(
    details: PaymentDetails,
    *,
    charset: Charset = Charset.UTF8,
    separator: str | None = None,
) -> bytes:
    """The payment string as the bytes a QR code carries: :func:`encode` in ``charset``."""
    return encode(details, charset=charset, separator=separator).encode(charset.codec)


# -- decoding ----------------------------------------------------------------------------


class _Reader:
    """One read: raises in strict mode what tolerant mode records and forgives."""

    def __init__(self, tolerant: bool) -> None:
        self.tolerant = tolerant
        self.deviations: list[Deviation] = []

    def forgive(self, field: str, rule: Rule, message: str) -> None:
        if not self.tolerant:
            raise QrFormatError(message, field=field, rule=rule)
        self.deviations.append(Deviation(field, rule, message))


def _split_header(
    head: str, reader: _Reader, guess: Callable[[], Charset]
) -> tuple[Charset, str, int]:
    """The charset, the separator and where the fields start, from the string's head."""
    if head[:6] != FORMAT_ID:
        if head[:6].upper() != FORMAT_ID:
            shown = head[:8]
            raise QrFormatError(
                tr("the string starts with {id}, not {head!r}", id=FORMAT_ID, head=shown),
                rule=Rule.HEADER,
            )
        reader.forgive("", Rule.HEADER, tr("the service block is written {head}", head=head[:6]))
    digit = head[6:7]
    if digit in ("1", "2", "3"):
        charset = Charset(int(digit))
        at = 7
    elif digit.isdigit():
        raise QrFormatError(
            tr("the charset digit is 1, 2 or 3, not {digit}", digit=digit), rule=Rule.HEADER
        )
    elif not reader.tolerant:
        raise QrFormatError(
            tr("no charset digit (1, 2 or 3) after {id}", id=FORMAT_ID), rule=Rule.HEADER
        )
    else:
        charset = guess()
        at = 6
        reader.forgive(
            "",
            Rule.HEADER,
            tr(
                "no charset digit after {id}: read as {charset}", id=FORMAT_ID, charset=charset.name
            ),
        )
    sep = head[at : at + 1]
    if not _valid_separator(sep):
        raise QrFormatError(
            tr("the service block ends with a separator, not {sep!r}", sep=sep), rule=Rule.HEADER
        )
    return charset, sep, at + 1


def _guess_charset(raw: bytes) -> Charset:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        # Windows-1251 is what bills without the digit are printed in, in practice;
        # KOI8-R text read as it would still be Cyrillic, so nothing tells them apart.
        return Charset.WIN1251
    return Charset.UTF8


def _strip_blanks(data: str, reader: _Reader) -> str:
    stripped = data.strip(_BLANKS)
    if stripped != data:
        reader.forgive("", Rule.BLANKS, tr("blank characters around the string"))
    return stripped


def decode(data: str | bytes, *, tolerant: bool = False) -> Decoded:
    """Read a payment string: the text, or the bytes a QR code carried.

    Bytes are read in the charset the service block names. Strict (the default) raises
    :class:`QrFormatError` at the first departure from the standard; ``tolerant=True``
    forgives what real bills print and lists it in :attr:`Decoded.deviations`. Either way
    the values must pass the model's checks (:class:`PaymentDetails`).
    """
    reader = _Reader(tolerant)
    if isinstance(data, bytes | bytearray):
        raw = bytes(data)
        if tolerant:
            stripped = raw.strip(b" \t\r\n\x00")
            if stripped.startswith(b"\xef\xbb\xbf"):
                stripped = stripped[3:]
            if stripped != raw:
                reader.forgive("", Rule.BLANKS, tr("blank characters around the string"))
            raw = stripped
        head = raw[:8].decode("ascii", "replace")
        charset, sep, at = _split_header(head, reader, lambda: _guess_charset(raw[6:]))
        try:
            body = raw[at:].decode(charset.codec)
        except UnicodeDecodeError as exc:
            raise QrFormatError(
                tr(
                    "byte {index} is not {charset} text",
                    index=at + exc.start + 1,
                    charset=charset.name,
                ),
                rule=Rule.CHARSET,
            ) from None
    elif isinstance(data, str):
        text = _strip_blanks(data, reader) if tolerant else data
        charset, sep, at = _split_header(text[:8], reader, lambda: Charset.UTF8)
        body = text[at:]
    else:
        raise TypeError(f"a payment string is str or bytes, not {type(data).__name__}")
    pairs = _split_fields(body, sep, reader)
    details = _build(pairs, reader)
    fields = to_fields(details)
    for key, value in pairs:
        try:
            value.encode(charset.codec)
        except UnicodeEncodeError:
            reader.forgive(key, Rule.CHARSET, _cannot_write(charset))
    size = _required_block_size(fields, charset, sep, errors="replace")
    if size > REQUIRED_BLOCK_LIMIT:
        reader.forgive("", Rule.REQUIRED_BLOCK_SIZE, _too_big(size))
    return Decoded(details, charset, sep, tuple(reader.deviations))


def _split_fields(body: str, sep: str, reader: _Reader) -> list[tuple[str, str]]:
    if body.endswith(sep):
        reader.forgive("", Rule.TRAILING_SEPARATOR, tr("the string ends with a separator"))
        body = body.rstrip(sep)
    pairs: list[tuple[str, str]] = []
    for number, part in enumerate(body.split(sep) if body else [], start=1):
        if not part:
            reader.forgive("", Rule.EMPTY, tr("two separators in a row"))
            continue
        key, eq, value = part.partition("=")
        if not eq:
            # The text itself is not quoted: it may be a payer's name or address.
            raise QrFormatError(
                tr("field {number} has no '=': a field is Key=Value", number=number),
                rule=Rule.PAIR,
            )
        # A key never has spaces, so around one they are an error or forgiven; a value
        # may start with one, so only a tolerant read takes it for padding.
        if key != key.strip(_SPACES) or (reader.tolerant and value.startswith(tuple(_SPACES))):
            key = key.strip(_SPACES)
            reader.forgive(key, Rule.SPACES, tr("spaces around '='"))
            value = value.lstrip(_SPACES)
        pairs.append((key, value))
    return pairs


def _check_order(pairs: list[tuple[str, str]], reader: _Reader) -> None:
    keys = [spec.key if (spec := lookup(key)) else key for key, _ in pairs]
    for spec in REQUIRED:
        if spec.key not in keys:
            raise QrFormatError(
                tr("a required field is missing"), field=spec.key, rule=Rule.REQUIRED
            )
    for position, spec in enumerate(REQUIRED):
        if keys[position] != spec.key:
            reader.forgive(
                spec.key,
                Rule.ORDER,
                tr(
                    "the required fields come first, in the order Name, PersonalAcc, "
                    "BankName, BIC, CorrespAcc; field {n} is {key}",
                    n=position + 1,
                    key=keys[position],
                ),
            )
            return


def _build(pairs: list[tuple[str, str]], reader: _Reader) -> PaymentDetails:
    _check_order(pairs, reader)
    values: dict[str, object] = {}
    extra: dict[str, tuple[str, str]] = {}
    seen: set[str] = set()
    for key, text in pairs:
        spec = lookup(key)
        folded = key.casefold()
        if folded in seen:
            reader.forgive(key, Rule.REPEATED, tr("given again: the last one is taken"))
        seen.add(folded)
        if spec is None:
            if not _EXTRA_KEY.fullmatch(key):
                raise QrFormatError(
                    tr("a key is Latin letters and digits, not {key!r}", key=key),
                    field=key,
                    rule=Rule.PAIR,
                )
            reader.forgive(key, Rule.UNKNOWN_KEY, tr("not a field of the standard: kept as extra"))
            if text:
                extra[folded] = (key, text)
            else:
                extra.pop(folded, None)
            continue
        if key != spec.key:
            reader.forgive(key, Rule.KEY_CASE, tr("the standard spells it {key}", key=spec.key))
        if not text and spec not in REQUIRED:
            reader.forgive(spec.key, Rule.EMPTY, tr("the value is empty: left out"))
            values.pop(spec.attr, None)
            continue
        values[spec.attr] = _parse_value(spec, text, reader)
    return PaymentDetails(**values, extra=tuple(extra.values()))  # type: ignore[arg-type]


def _parse_value(spec: FieldSpec, text: str, reader: _Reader) -> object:
    if spec.kind is Kind.KOPECKS:
        if not _KOPECKS.fullmatch(text):
            raise QrFormatError(
                tr("kopecks: 1 to 18 digits, not {text!r}", text=text),
                field=spec.key,
                rule=Rule.FORM,
            )
        return from_kopecks(int(text))
    if spec.kind is Kind.DATE:
        return _parse_date(spec, text, reader)
    if spec.kind is Kind.TECH_CODE:
        if reader.tolerant and len(text) == 1 and text.isascii() and text.isdigit():
            reader.forgive(spec.key, Rule.FORM, tr("a code of two digits, not {text!r}", text=text))
            text = "0" + text
        return text  # the model's converter checks it against the list
    return text


def _parse_date(spec: FieldSpec, text: str, reader: _Reader) -> dt.date:
    match = _DATE.fullmatch(text)
    if match:
        day, month, year = (int(g) for g in match.groups())
    elif reader.tolerant and (iso := _ISO_DATE.fullmatch(text)):
        year, month, day = (int(g) for g in iso.groups())
        reader.forgive(spec.key, Rule.FORM, tr("a date is DD.MM.YYYY, not {text!r}", text=text))
    else:
        raise QrFormatError(
            tr("a date is DD.MM.YYYY, not {text!r}", text=text), field=spec.key, rule=Rule.FORM
        )
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise QrFormatError(
            tr("no such date: {text!r}", text=text), field=spec.key, rule=Rule.FORM
        ) from None


def from_fields(fields: Mapping[str, str], *, tolerant: bool = False) -> PaymentDetails:
    """Details from fields written as the string writes them (``{"Sum": "123456", …}``).

    What :func:`to_fields` gives, or what a person types: the same rules as :func:`decode`
    apply to keys and values (the order of the keys does not matter here).
    """
    reader = _Reader(tolerant)
    rank = {spec.key: i for i, spec in enumerate(REQUIRED)}

    def place(pair: tuple[str, str]) -> int:
        spec = lookup(pair[0])
        return rank.get(spec.key, len(rank)) if spec is not None else len(rank)

    pairs = sorted(((str(k), str(v)) for k, v in fields.items()), key=place)
    return _build(pairs, reader)
