"""decode(encode(x)) == x for any valid payment details, in every charset.

Any text the charset can hold goes into the values, separators included (the encoder must
then pick another one), up to each field's limit and the 300-byte required block. The
round trip runs the profile's examples: 10,000 in CI (``HYPOTHESIS_PROFILE=ci``), 200 in a
developer's run; the tolerant and robustness properties cap themselves at 2,000.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from qr_support import inn10, inn12, keyed

from pes_sdk.qr import (
    FIELDS,
    REQUIRED_BLOCK_LIMIT,
    SEPARATORS,
    Charset,
    Group,
    Kind,
    PaymentDetails,
    QrFormatError,
    Rule,
    TechCode,
    decode,
    encode,
    encode_bytes,
    to_fields,
)

_ALL_BYTES = bytes(range(256))


def _alphabet(charset: Charset) -> str:
    """Every character ``charset`` can write (for UTF-8, a sample of every plane)."""
    if charset is Charset.UTF8:
        return ""
    return "".join(ch for b in _ALL_BYTES if (ch := bytes([b]).decode(charset.codec, "ignore")))


_ALPHABETS = {c: _alphabet(c) for c in Charset}


@functools.cache
def _chars(charset: Charset) -> st.SearchStrategy[str]:
    # Separators are drawn often on purpose: a value holding "|" is the interesting case.
    separators = st.sampled_from(SEPARATORS + "=")
    if charset is Charset.UTF8:
        anything = st.characters(exclude_categories=["Cs"])  # lone surrogates are no text
    else:
        anything = st.sampled_from(_ALPHABETS[charset])
    return st.one_of(anything, anything, separators)


# Strategies are built once: building one per draw costs more than the draw itself.
@functools.cache
def _text(charset: Charset, max_size: int | None) -> st.SearchStrategy[str]:
    return st.text(_chars(charset), min_size=1, max_size=max_size if max_size else 40)


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


_KPP = st.tuples(_digits(4), st.text("0123456789ABCZ", min_size=2, max_size=2), _digits(3)).map(
    "".join
)
_INN = st.one_of(_digits(9).map(inn10), _digits(10).map(inn12))
_DATES = st.dates(dt.date(1000, 1, 1))
_KOPECKS = st.integers(0, 10**18 - 1)
_TECH_CODES = st.sampled_from(TechCode)
_BOOLEANS = st.booleans()

# At most 2,000 examples even in CI (the profile's 10,000 go to the strict round trip).
_DEFAULT = settings.default
assert _DEFAULT is not None  # the root conftest.py loaded a profile
LIGHTER = settings(max_examples=min(_DEFAULT.max_examples, 2000))


@st.composite
def _bank(draw: st.DrawFn) -> tuple[str, str, str]:
    bic = draw(_digits(9))
    account = keyed(draw(_digits(20)), bic)
    corr = draw(st.one_of(st.just("0"), _digits(20).map(lambda a: keyed(a, bic, corr=True))))
    return bic, account, corr


@st.composite
def details(draw: st.DrawFn, charset: Charset, tolerant_safe: bool = False) -> PaymentDetails:
    """Valid details whose text ``charset`` can hold and whose required block fits.

    ``tolerant_safe`` keeps values from starting or ending with blanks, which a tolerant
    read strips (docs/qr.md).
    """
    bic, account, corr = draw(_bank())
    per_char = 4 if charset is Charset.UTF8 else 1

    def text(max_size: int | None) -> str:
        value = draw(_text(charset, max_size))
        if tolerant_safe:
            value = value.strip(" \t\r\n\ufeff\x00\u00a0") or "x"
        return value

    bank_name = text(45)
    # What is left of the 300 bytes for the name, at the charset's widest character.
    fixed = len(f"ST00012|Name=|PersonalAcc={account}|BankName=|BIC={bic}|CorrespAcc={corr}")
    room = REQUIRED_BLOCK_LIMIT - fixed - len(bank_name.encode(charset.codec))
    name = text(max(1, min(160, room // per_char)))
    values: dict[str, Any] = {}
    for spec in FIELDS:
        if spec.group is Group.REQUIRED or not draw(_BOOLEANS):
            continue
        if spec.kind is Kind.KOPECKS:
            kopecks = draw(_KOPECKS)
            values[spec.attr] = Decimal(kopecks) / 100
        elif spec.kind is Kind.DATE:
            values[spec.attr] = draw(_DATES)
        elif spec.kind is Kind.TECH_CODE:
            values[spec.attr] = draw(_TECH_CODES)
        elif spec.kind is Kind.INN:
            values[spec.attr] = draw(_INN)
        elif spec.kind is Kind.KPP:
            values[spec.attr] = draw(_KPP)
        else:
            values[spec.attr] = text(spec.max_length)
    try:
        built = PaymentDetails(name, account, bank_name, bic, corr, **values)
        encode(built, charset=charset)
    except QrFormatError as exc:
        # Only one thing may stop a valid value: every separator is used up by the values.
        assert exc.rule is Rule.SEPARATOR, exc
        assume(False)
    return built


@given(st.sampled_from(Charset).flatmap(lambda c: st.tuples(st.just(c), details(c))))
def test_strict_decode_gives_the_details_back(case: tuple[Charset, Any]) -> None:
    charset, original = case
    text = encode(original, charset=charset)
    decoded = decode(text)
    assert decoded.details == original
    assert decoded.charset is charset
    assert decoded.deviations == ()
    # the bytes a QR code carries read back the same
    assert decode(encode_bytes(original, charset=charset)).details == original
    # "|" separates unless a value holds one; whichever it is, it splits exactly the fields
    values = list(to_fields(original).values())
    assert (decoded.separator == "|") == ("|" not in "".join(values))
    assert len(text[8:].split(decoded.separator)) == len(values)


# A tolerant read of a standard string: fewer examples, the strict property covers the
# generation; this one checks that nothing standard is "forgiven".
@LIGHTER
@given(
    st.sampled_from(Charset).flatmap(
        lambda c: st.tuples(st.just(c), details(c, tolerant_safe=True))
    )
)
def test_tolerant_decode_of_a_standard_string_forgives_nothing(case: tuple[Charset, Any]) -> None:
    charset, original = case
    decoded = decode(encode_bytes(original, charset=charset), tolerant=True)
    assert decoded.details == original
    assert decoded.deviations == ()


_VALID = encode_bytes(
    PaymentDetails(
        "ООО «УК Заречье»",
        "40702810938000012345",
        "ПАО Сбербанк",
        "044525225",
        "30101810400000000225",
        sum=Decimal("10.00"),
        quitt_date=dt.date(2026, 1, 31),
        tech_code=TechCode.HOUSING_AND_UTILITIES,
    )
)


@st.composite
def _damaged(draw: st.DrawFn) -> bytes:
    """A valid string's bytes with a few bytes replaced, inserted or cut out."""
    data = bytearray(_VALID)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(("replace", "insert", "cut")))
        byte = draw(st.sampled_from([*b"|=#; \r\n0aZ", 0xD0, 0xFF, 0x00]))
        if action == "insert" or at == len(data):
            data.insert(at, byte)
        elif action == "replace":
            data[at] = byte
        else:
            del data[at]
    return bytes(data)


@LIGHTER
@given(
    st.one_of(_damaged(), st.binary(max_size=300), st.text(max_size=300).map(str.encode)),
    st.booleans(),
)
def test_any_input_is_read_or_refused_with_the_typed_error(data: bytes, tolerant: bool) -> None:
    """Bad input never escapes as another exception: the CLI turns this one into exit 1."""
    for candidate in (data, data.decode("utf-8", "replace")):
        try:
            decoded = decode(candidate, tolerant=tolerant)
        except QrFormatError as exc:
            assert isinstance(exc.rule, Rule)
            assert str(exc)
        else:
            # whatever was read can be written again, unless it is too big to write
            try:
                again = encode(decoded.details, charset=Charset.UTF8)
            except QrFormatError as exc:
                assert exc.rule in (Rule.REQUIRED_BLOCK_SIZE, Rule.SEPARATOR), exc
            else:
                assert decode(again, tolerant=True).details == decoded.details


@LIGHTER
@given(
    st.sampled_from(Charset).flatmap(
        lambda c: st.tuples(st.just(c), details(c, tolerant_safe=True))
    ),
    st.data(),
)
def test_tolerant_reads_what_real_bills_print_and_names_each_thing(
    case: tuple[Charset, Any], data: st.DataObject
) -> None:
    """A standard string spoilt the ways real bills are (keys in lower case, spaces around
    "=", no charset digit, a trailing separator) reads back the same, and every spoiling
    is reported."""
    charset, original = case
    text = encode(original, charset=charset)
    sep = text[7]
    pairs = [part.partition("=") for part in text[8:].split(sep)]
    expected: set[Rule] = set()
    fields = []
    for key, _, value in pairs:
        if data.draw(st.booleans(), label=f"lower {key}"):
            key = key.lower()
            expected.add(Rule.KEY_CASE)
        if data.draw(st.booleans(), label=f"spaces {key}"):
            key, value = key + " ", " " + value
            expected.add(Rule.SPACES)
        fields.append(f"{key}={value}")
    head = text[:8]
    if data.draw(st.booleans(), label="no charset digit"):
        head = text[:6] + sep
        expected.add(Rule.HEADER)
    spoilt = head + sep.join(fields)
    if data.draw(st.booleans(), label="trailing separator"):
        spoilt += sep
        expected.add(Rule.TRAILING_SEPARATOR)
    decoded = decode(spoilt, tolerant=True)
    assert decoded.details == original
    found = {d.rule for d in decoded.deviations}
    # Read as UTF-8 when the digit is gone, the required block may pass 300 bytes.
    assert expected <= found <= expected | {Rule.REQUIRED_BLOCK_SIZE}
    if expected:
        with pytest.raises(QrFormatError):
            decode(spoilt)
