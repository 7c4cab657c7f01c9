"""The ГОСТ Р 56042-2014 string: golden bills, the rules strict mode enforces, and what
tolerant mode forgives (and says it forgave)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from qr_support import inn10, keyed

from pes_sdk.errors import FormatError, PesError
from pes_sdk.qr import (
    FIELDS,
    REQUIRED_BLOCK_LIMIT,
    SEPARATORS,
    Charset,
    FieldSpec,
    Kind,
    PaymentDetails,
    QrFormatError,
    Rule,
    TechCode,
    decode,
    encode,
    encode_bytes,
    from_fields,
    to_fields,
)

SBER: dict[str, Any] = {
    "bank_name": "ПАО Сбербанк",
    "bic": "044525225",
    "corresp_acc": "30101810400000000225",
}
REQUIRED = (
    "Name=ООО «УК Заречье»|PersonalAcc=40702810938000012345|BankName=ПАО Сбербанк"
    "|BIC=044525225|CorrespAcc=30101810400000000225"
)

# Golden bills: the strings were written out by hand from the standard (the order of the
# optional fields is the encoder's: KPP, PayeeINN, Purpose, Sum, then the standard's order).

# A management company's monthly bill, UTF-8.
UK_DETAILS = PaymentDetails(
    "ООО «УК Заречье»",
    "40702810938000012345",
    **SBER,
    sum=Decimal("5273.84"),
    purpose="Оплата ЖКУ за январь 2026",
    payee_inn="7702123454",
    kpp="770201001",
    payer_address="г. Москва, ул. Заречная, д. 5, кв. 12а",
    pers_acc="000123",
    paym_period="012026",
    tech_code=TechCode.HOUSING_AND_UTILITIES,
)
UK_STRING = (
    "ST00012|" + REQUIRED + "|KPP=770201001|PayeeINN=7702123454"
    "|Purpose=Оплата ЖКУ за январь 2026|Sum=527384"
    "|PayerAddress=г. Москва, ул. Заречная, д. 5, кв. 12а|PersAcc=000123|PaymPeriod=012026"
    "|TechCode=02"
)

# A heat supplier's bill in Windows-1251 whose purpose holds a "|": the separator is "#".
HEAT_DETAILS = PaymentDetails(
    "АО «Теплосеть»",
    "40702810455000024248",
    "Северо-Западный банк ПАО Сбербанк",
    "044030653",
    "30101810500000000653",
    sum=Decimal("12500.00"),
    purpose="Отопление | ГВС",
    payee_inn="7812345675",
    kpp="781201001",
    pers_acc="45-017",
    flat="17",
    quitt_id="2026-01-45017",
    quitt_date=dt.date(2026, 1, 31),
)
HEAT_STRING = (
    "ST00011#Name=АО «Теплосеть»#PersonalAcc=40702810455000024248"
    "#BankName=Северо-Западный банк ПАО Сбербанк#BIC=044030653#CorrespAcc=30101810500000000653"
    "#KPP=781201001#PayeeINN=7812345675#Purpose=Отопление | ГВС#Sum=1250000#PersAcc=45-017"
    "#Flat=17#QuittId=2026-01-45017#QuittDate=31.01.2026"
)

# A municipal payee at a Bank of Russia division (no correspondent account: "0"), KOI8-R.
MUNICIPAL_DETAILS = PaymentDetails(
    "МУП ЖКХ г. Тихвин",
    "40101810700000010001",
    "Отделение Ленинградское",
    "044106000",
    "0",
    sum=Decimal("310.05"),
    payee_inn="4703123451",
    kpp="470301001",
    cbc="18210807010011000110",
    oktmo="41645101",
    uin="18810147260131234567",
    doc_date=dt.date(2026, 1, 15),
    last_name="Иванов",
    first_name="Иван",
    tech_code=TechCode.TRAFFIC_POLICE_TAXES_DUTIES_BUDGET,
)
MUNICIPAL_STRING = (
    "ST00013|Name=МУП ЖКХ г. Тихвин|PersonalAcc=40101810700000010001"
    "|BankName=Отделение Ленинградское|BIC=044106000|CorrespAcc=0"
    "|KPP=470301001|PayeeINN=4703123451|Sum=31005|CBC=18210807010011000110|OKTMO=41645101"
    "|DocDate=15.01.2026|LastName=Иванов|FirstName=Иван|UIN=18810147260131234567|TechCode=03"
)

GOLDEN = [
    pytest.param(UK_DETAILS, UK_STRING, Charset.UTF8, id="uk-utf8"),
    pytest.param(HEAT_DETAILS, HEAT_STRING, Charset.WIN1251, id="heat-cp1251-separator"),
    pytest.param(MUNICIPAL_DETAILS, MUNICIPAL_STRING, Charset.KOI8R, id="municipal-koi8r"),
]


@pytest.mark.parametrize(("details", "string", "charset"), GOLDEN)
def test_golden_bill_encodes_to_its_string(
    details: PaymentDetails, string: str, charset: Charset
) -> None:
    assert encode(details, charset=charset) == string
    assert encode_bytes(details, charset=charset) == string.encode(charset.codec)


@pytest.mark.parametrize(("details", "string", "charset"), GOLDEN)
def test_golden_string_decodes_to_its_bill(
    details: PaymentDetails, string: str, charset: Charset
) -> None:
    decoded = decode(string.encode(charset.codec))
    assert decoded.details == details
    assert decoded.charset is charset
    assert decoded.separator == string[7]
    assert decoded.deviations == ()


def test_sum_is_kopecks_in_the_string_and_roubles_in_the_model() -> None:
    details = decode(UK_STRING).details
    assert details.sum == Decimal("5273.84")
    assert str(details.sum) == "5273.84"
    assert to_fields(details)["Sum"] == "527384"
    zero = decode("ST00012|" + REQUIRED + "|Sum=0").details
    assert zero.sum == Decimal("0.00")
    most = decode("ST00012|" + REQUIRED + "|Sum=" + "9" * 18).details
    assert most.sum == Decimal("9999999999999999.99")


@pytest.mark.parametrize("value", ["12.50", "1 000", "-100", "9" * 19, "１００"])
def test_sum_that_is_not_kopecks_is_refused(value: str) -> None:
    with pytest.raises(QrFormatError) as caught:
        decode("ST00012|" + REQUIRED + "|Sum=" + value)
    assert (caught.value.field, caught.value.rule) == ("Sum", Rule.FORM)


def test_model_sum_is_money_never_a_float_nor_negative() -> None:
    with pytest.raises(TypeError):
        PaymentDetails("X", "40702810938000012345", **SBER, sum=12.5)  # type: ignore[arg-type]
    with pytest.raises(QrFormatError) as caught:
        PaymentDetails("X", "40702810938000012345", **SBER, sum=Decimal("-1.00"))
    assert caught.value.field == "Sum"
    with pytest.raises(ValueError, match="two decimal places"):
        PaymentDetails("X", "40702810938000012345", **SBER, sum=Decimal("1.005"))


# -- the separator -------------------------------------------------------------------------


def _with_purpose(purpose: str) -> PaymentDetails:
    return PaymentDetails("X", "40702810938000012345", **SBER, purpose=purpose)


@pytest.mark.parametrize(
    ("purpose", "separator"), [("a", "|"), ("a|b", "#"), ("a|b#c", ";"), ("a|#;:b", "^")]
)
def test_separator_is_the_bar_unless_a_value_holds_it(purpose: str, separator: str) -> None:
    text = encode(_with_purpose(purpose))
    assert text[7] == separator
    assert decode(text).details.purpose == purpose


def test_no_separator_left_is_an_error() -> None:
    with pytest.raises(QrFormatError) as caught:
        encode(_with_purpose(SEPARATORS))
    assert caught.value.rule is Rule.SEPARATOR


def test_separator_asked_for_must_be_free_and_allowed() -> None:
    assert encode(_with_purpose("a|b"), separator=";")[7] == ";"
    for asked in ("|", "a", "=", "  "):
        with pytest.raises(QrFormatError) as caught:
            encode(_with_purpose("a|b"), separator=asked)
        assert caught.value.rule is Rule.SEPARATOR


# -- lengths ----------------------------------------------------------------------------------

LIMITED_TEXT = [f for f in FIELDS if f.kind is Kind.TEXT and f.max_length is not None]


@pytest.mark.parametrize("spec", LIMITED_TEXT, ids=lambda f: f.key)
def test_text_fields_hold_their_limit_and_not_one_character_more(spec: FieldSpec) -> None:
    assert spec.max_length is not None
    base = {"name": "X", "personal_acc": "40702810938000012345", **SBER}
    fits = PaymentDetails(**{**base, spec.attr: "Ж" * spec.max_length})
    assert decode(encode(fits, charset=Charset.WIN1251)).details == fits
    with pytest.raises(QrFormatError) as caught:
        PaymentDetails(**{**base, spec.attr: "Ж" * (spec.max_length + 1)})
    assert (caught.value.field, caught.value.rule) == (spec.key, Rule.MAX_LENGTH)


def _required_block(name: str) -> PaymentDetails:
    return PaymentDetails(name, "40702810938000012345", **SBER)


def test_required_block_is_at_most_300_bytes_in_the_charset() -> None:
    head = encode(_required_block("X"))
    without_name = len(head.encode("utf-8")) - 1
    room = REQUIRED_BLOCK_LIMIT - without_name
    name = "Ж" * (room // 2) + "x" * (room % 2)  # two bytes a Ж in UTF-8
    fits = _required_block(name)
    assert len(encode_bytes(fits)) == REQUIRED_BLOCK_LIMIT
    too_big = _required_block(name + "x")
    with pytest.raises(QrFormatError) as caught:
        encode(too_big)
    assert caught.value.rule is Rule.REQUIRED_BLOCK_SIZE
    # the same details fit in Windows-1251, one byte a letter
    assert decode(encode_bytes(too_big, charset=Charset.WIN1251)).details == too_big
    # a string over the limit: strict refuses it, tolerant reads it and says so
    text = encode(too_big, charset=Charset.WIN1251).replace("ST00011", "ST00012")
    with pytest.raises(QrFormatError) as caught:
        decode(text)
    assert caught.value.rule is Rule.REQUIRED_BLOCK_SIZE
    tolerant = decode(text, tolerant=True)
    assert tolerant.details == too_big
    assert [d.rule for d in tolerant.deviations] == [Rule.REQUIRED_BLOCK_SIZE]


def test_optional_fields_do_not_count_in_the_required_block() -> None:
    details = PaymentDetails("X", "40702810938000012345", **SBER, purpose="Ж" * 210)
    assert len(encode_bytes(details)) > REQUIRED_BLOCK_LIMIT
    assert decode(encode(details)).details == details


# -- the kit's identifier checks --------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"personal_acc": "40702810938000012346"}, "PersonalAcc", Rule.CHECK_DIGITS),
        ({"personal_acc": "4070281093800001234"}, "PersonalAcc", Rule.FORM),
        ({"corresp_acc": "30101810400000000226"}, "CorrespAcc", Rule.CHECK_DIGITS),
        ({"corresp_acc": ""}, "CorrespAcc", Rule.EMPTY),
        ({"corresp_acc": "00"}, "CorrespAcc", Rule.FORM),
        ({"bic": "04452522"}, "BIC", Rule.FORM),
        ({"payee_inn": "7702123455"}, "PayeeINN", Rule.CHECK_DIGITS),
        ({"payee_inn": "77021234"}, "PayeeINN", Rule.FORM),
        ({"payer_inn": "771234567850"}, "PayerINN", Rule.CHECK_DIGITS),
        ({"kpp": "77020100"}, "KPP", Rule.FORM),
        ({"tech_code": "16"}, "TechCode", Rule.FORM),
        ({"name": ""}, "Name", Rule.EMPTY),
        ({"purpose": ""}, "Purpose", Rule.EMPTY),
    ],
)
def test_bad_values_name_their_field_and_rule(
    change: dict[str, str], field: str, rule: Rule
) -> None:
    values = {"name": "X", "personal_acc": "40702810938000012345", **SBER, **change}
    with pytest.raises(QrFormatError) as caught:
        PaymentDetails(**values)  # type: ignore[arg-type]
    assert (caught.value.field, caught.value.rule) == (field, rule)
    assert str(caught.value).startswith(field + ": ")


def test_an_account_keyed_with_another_bank_is_refused_when_decoded() -> None:
    other_bank = keyed("40702810000000012345", "044030653")
    text = UK_STRING.replace("40702810938000012345", other_bank)
    with pytest.raises(QrFormatError) as caught:
        decode(text, tolerant=True)  # tolerance is for the writing, never for the money's way
    assert (caught.value.field, caught.value.rule) == ("PersonalAcc", Rule.CHECK_DIGITS)


def test_the_error_is_the_kits_typed_error() -> None:
    with pytest.raises(QrFormatError) as caught:
        decode("ST00012|Name=X")
    assert isinstance(caught.value, FormatError)
    assert isinstance(caught.value, PesError)
    assert isinstance(caught.value, ValueError)


def test_a_payer_inn_of_a_person_has_12_digits() -> None:
    details = PaymentDetails("X", "40702810938000012345", **SBER, payer_inn="771234567859")
    assert decode(encode(details)).details.payer_inn == "771234567859"
    assert inn10("770212345") == "7702123454"  # the golden bill's ИНН is well-formed


# -- strict: exactly the standard ---------------------------------------------------------------

STRICT_ERRORS = [
    ("XT00012|" + REQUIRED, "", Rule.HEADER),
    ("ST00014|" + REQUIRED, "", Rule.HEADER),
    ("ST00012" + REQUIRED, "", Rule.HEADER),
    ("st00012|" + REQUIRED, "", Rule.HEADER),
    ("ST0001|" + REQUIRED, "", Rule.HEADER),
    ("ST00012|" + REQUIRED + "|", "", Rule.TRAILING_SEPARATOR),
    ("ST00012|" + REQUIRED + "||Sum=1", "", Rule.EMPTY),
    (" ST00012|" + REQUIRED, "", Rule.HEADER),
    ("ST00012|" + REQUIRED + "|sum=100", "sum", Rule.KEY_CASE),
    ("ST00012|" + REQUIRED + "|Sum =100", "Sum", Rule.SPACES),
    ("ST00012|" + REQUIRED + "|Sum=100|Sum=200", "Sum", Rule.REPEATED),
    ("ST00012|" + REQUIRED + "|Foo=bar", "Foo", Rule.UNKNOWN_KEY),
    ("ST00012|" + REQUIRED + "|LastName=", "LastName", Rule.EMPTY),
    ("ST00012|" + REQUIRED + "|Sum", "", Rule.PAIR),
    ("ST00012|" + REQUIRED + "|DocDate=2026-01-31", "DocDate", Rule.FORM),
    ("ST00012|" + REQUIRED + "|DocDate=31.02.2026", "DocDate", Rule.FORM),
    ("ST00012|" + REQUIRED + "|TechCode=2", "TechCode", Rule.FORM),
    ("ST00012|" + REQUIRED.replace("|BIC=044525225", ""), "BIC", Rule.REQUIRED),
    ("ST00012|Sum=100|" + REQUIRED, "Name", Rule.ORDER),
    (
        "ST00012|"
        + REQUIRED.replace(
            "BankName=ПАО Сбербанк|BIC=044525225", "BIC=044525225|BankName=ПАО Сбербанк"
        ),
        "BankName",
        Rule.ORDER,
    ),
]


@pytest.mark.parametrize(("text", "field", "rule"), STRICT_ERRORS)
def test_strict_names_the_field_and_the_rule(text: str, field: str, rule: Rule) -> None:
    with pytest.raises(QrFormatError) as caught:
        decode(text)
    assert (caught.value.field, caught.value.rule) == (field, rule)


def test_bytes_are_read_in_the_charset_the_header_names() -> None:
    data = UK_STRING.replace("ST00012", "ST00011").encode("cp1251")
    assert decode(data).details == UK_DETAILS
    # the same Windows-1251 bytes said to be UTF-8 are not text
    with pytest.raises(QrFormatError) as caught:
        decode(UK_STRING.encode("cp1251"))
    assert caught.value.rule is Rule.CHARSET
    # read as KOI8-R they are other letters: still text, so only the values can tell
    koi = decode(data.replace(b"ST00011", b"ST00013"))
    assert koi.details.name != UK_DETAILS.name


def test_text_the_declared_charset_cannot_write_is_refused_strictly() -> None:
    text = UK_STRING.replace("ST00012", "ST00013")  # KOI8-R has no « »
    with pytest.raises(QrFormatError) as caught:
        decode(text)
    assert (caught.value.field, caught.value.rule) == ("Name", Rule.CHARSET)
    tolerant = decode(text, tolerant=True)
    assert tolerant.details == UK_DETAILS
    assert [(d.field, d.rule) for d in tolerant.deviations] == [("Name", Rule.CHARSET)]
    with pytest.raises(QrFormatError) as caught:
        encode(UK_DETAILS, charset=Charset.KOI8R)
    assert (caught.value.field, caught.value.rule) == ("Name", Rule.CHARSET)


# -- tolerant: what real bills print ----------------------------------------------------------


def test_tolerant_forgives_what_real_bills_print_and_says_what() -> None:
    printed = (
        "st0001|name = ООО «УК Заречье»|PersonalAcc=40702810938000012345|BANKNAME=ПАО Сбербанк"
        "|BIC=044525225|CorrespAcc=30101810400000000225|persacc=000123|Sum=100|SUM=527384"
        "|LastName=|lastName=Иванов|Contract=Д-15|\r\n"
    )
    decoded = decode(printed.encode("utf-8"), tolerant=True)
    details = decoded.details
    assert details.name == "ООО «УК Заречье»"
    assert details.sum == Decimal("5273.84")  # the last Sum wins
    assert details.pers_acc == "000123"
    assert details.last_name == "Иванов"
    assert details.contract == "Д-15"
    assert decoded.charset is Charset.UTF8
    assert [(d.field, d.rule) for d in decoded.deviations] == [
        ("", Rule.BLANKS),
        ("", Rule.HEADER),  # st0001
        ("", Rule.HEADER),  # no charset digit
        ("", Rule.TRAILING_SEPARATOR),
        ("name", Rule.SPACES),
        ("name", Rule.KEY_CASE),
        ("BANKNAME", Rule.KEY_CASE),
        ("persacc", Rule.KEY_CASE),
        ("SUM", Rule.REPEATED),
        ("SUM", Rule.KEY_CASE),
        ("LastName", Rule.EMPTY),
        ("lastName", Rule.REPEATED),
        ("lastName", Rule.KEY_CASE),
    ]
    assert all(str(d) for d in decoded.deviations)


def test_tolerant_guesses_the_charset_of_bytes_without_the_digit() -> None:
    body = UK_STRING[len("ST00012") :]
    assert decode(("ST0001" + body).encode("utf-8"), tolerant=True).charset is Charset.UTF8
    guessed = decode(("ST0001" + body).encode("cp1251"), tolerant=True)
    assert guessed.charset is Charset.WIN1251
    assert guessed.details == UK_DETAILS


def test_tolerant_keeps_fields_the_standard_does_not_list_and_the_encoder_writes_them() -> None:
    decoded = decode("ST00012|" + REQUIRED + "|Foo=bar|foo=baz|Zed=1", tolerant=True)
    assert decoded.details.extra == (("foo", "baz"), ("Zed", "1"))
    again = encode(decoded.details)
    assert again.endswith("|foo=baz|Zed=1")
    assert decode(again, tolerant=True).details == decoded.details


def test_tolerant_reads_the_required_fields_in_any_order_and_says_so() -> None:
    text = "ST00012|PersonalAcc=40702810938000012345|Name=X|BankName=ПАО Сбербанк|BIC=044525225"
    decoded = decode(text + "|CorrespAcc=30101810400000000225", tolerant=True)
    assert decoded.details.name == "X"
    assert [(d.field, d.rule) for d in decoded.deviations] == [("Name", Rule.ORDER)]


def test_tolerant_still_refuses_what_cannot_be_read() -> None:
    for text in ("ST00012|Name=X", "hello", "ST00012|" + REQUIRED + "|Sum=12.50"):
        with pytest.raises(QrFormatError):
            decode(text, tolerant=True)


def test_tolerant_takes_iso_dates_and_one_digit_tech_codes() -> None:
    decoded = decode("ST00012|" + REQUIRED + "|QuittDate=2026-01-31|TechCode=2", tolerant=True)
    assert decoded.details.quitt_date == dt.date(2026, 1, 31)
    assert decoded.details.tech_code is TechCode.HOUSING_AND_UTILITIES
    assert [d.rule for d in decoded.deviations] == [Rule.FORM, Rule.FORM]


# -- fields as text, charsets ---------------------------------------------------------------------


def test_fields_round_trip_in_any_key_order() -> None:
    fields = to_fields(HEAT_DETAILS)
    assert from_fields(dict(reversed(list(fields.items())))) == HEAT_DETAILS
    with pytest.raises(QrFormatError) as caught:
        from_fields({**fields, "Colour": "red"})
    assert (caught.value.field, caught.value.rule) == ("Colour", Rule.UNKNOWN_KEY)


@pytest.mark.parametrize(
    ("text", "charset"),
    [
        ("1", Charset.WIN1251),
        ("cp1251", Charset.WIN1251),
        ("Windows-1251", Charset.WIN1251),
        ("utf-8", Charset.UTF8),
        ("UTF8", Charset.UTF8),
        ("koi8-r", Charset.KOI8R),
        ("3", Charset.KOI8R),
    ],
)
def test_charset_names(text: str, charset: Charset) -> None:
    assert Charset.parse(text) is charset


def test_unknown_charset_name() -> None:
    with pytest.raises(ValueError, match="not a charset"):
        Charset.parse("latin1")


def test_a_field_without_equals_is_named_by_its_place_not_quoted() -> None:
    # The text may be a payer's name or address: an error message can end up in a log.
    with pytest.raises(QrFormatError) as caught:
        decode("ST00012|" + REQUIRED + "|Иванов Иван Иванович", tolerant=True)
    assert caught.value.rule is Rule.PAIR
    assert "field 6 has no '='" in str(caught.value)
    assert "Иванов" not in str(caught.value)
