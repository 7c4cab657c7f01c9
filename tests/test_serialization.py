"""JSON round trip of every model, Cyrillic kept; bad JSON refused with a FormatError."""

from __future__ import annotations

import datetime as dt
import inspect
import json
import uuid
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pes_sdk.models
from pes_sdk.errors import FormatError
from pes_sdk.fees import PercentPlan, settle_day
from pes_sdk.formats import ReadReport
from pes_sdk.models import (
    BankDetails,
    ControlTotals,
    DebtRecord,
    DebtRegistry,
    Delivery,
    FeeTerms,
    MeterReading,
    MeterType,
    Partner,
    Payment,
    PaymentLine,
    PaymentMethod,
    PaymentRecord,
    PaymentRegistry,
    PaymentTotals,
    Photo,
    RegistryHeader,
    RegistryKind,
)
from pes_sdk.models.transfers import Direction, Party, PaymentOrder, Statement, StatementEntry
from pes_sdk.period import Period
from pes_sdk.premises import Premises
from pes_sdk.serialization import dumps, loads, make_converter, structure

D = Decimal
INN = "7707083893"
HOUSE = "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"
MSK = dt.timezone(dt.timedelta(hours=3))

# Not a money or parser property: a few hundred examples even in CI.
LIGHT = settings(max_examples=min(settings.default.max_examples, 500))

DEBT = DebtRecord(
    "000123",
    HOUSE,
    "кв. 12А, комн. 3",
    D("1272.26"),
    Period(2026, 11),
    "Электроэнергия «день»",
    (("CLIENTNO", "Иванов-42"), ("CounterVal_1", "123,45")),
)
LINE = PaymentLine(INN, "000123", D("100.00"), "ХВС", HOUSE, "12а", Period(2026, 2), D("1.00"))
_AMOUNTS = [D("1000.00"), D("272.26"), D("0.50")]
_SETTLED = settle_day(PercentPlan(), FeeTerms(), dt.date(2026, 3, 15), _AMOUNTS)
RECORDS = tuple(
    PaymentRecord(
        dt.datetime(2026, 3, 15, 10, i, 5, tzinfo=MSK),
        f"оп-{i}",
        f"00{i}",
        a,
        a - f,
        f,
        HOUSE,
        "оф. 7",
        Period(2026, 2),
        "Отопление",
        "приложение",
        (("method_pay", "СБП"),),
    )
    for i, (a, f) in enumerate(zip(_AMOUNTS, _SETTLED.line_fees, strict=True))
)
TOTALS = PaymentTotals(3, _SETTLED.paid, _SETTLED.commission, _SETTLED.vat, _SETTLED.transfer)
BANK = BankDetails("044525225", "40702810638000000000", "30101810400000000225", "ПАО Сбербанк")
CONTROL = ControlTotals(1, {"amount": D("1272.26"), "fee": D("0.00")})
PAYER = Party("ООО «Энергосбыт-Платежи»", "7701012342", BANK, "770101001")
PAYEE = Party(
    "ООО «УК Дом»",
    "5003012349",
    BankDetails("044525974", "40702810200000005678", "30101810145250000974", "АО «ТБанк»"),
)

SAMPLES: dict[type, Any] = {
    DebtRecord: DEBT,
    DebtRegistry: DebtRegistry.build(
        INN, Period(2026, 11), 3, [DEBT], dt.datetime(2026, 11, 1, 9, 30, tzinfo=MSK)
    ),
    PaymentLine: LINE,
    Payment: Payment(
        uuid.UUID("6f1c1b7e-3d4f-4c8a-9a55-0123456789ab"),
        dt.datetime(2026, 3, 15, 10, 0, tzinfo=dt.UTC),
        PaymentMethod.SBERPAY,
        (LINE, PaymentLine("500100732259", "ЛС/77", D("5.50"))),
    ),
    PaymentRecord: RECORDS[0],
    PaymentTotals: TOTALS,
    PaymentRegistry: PaymentRegistry(INN, dt.date(2026, 3, 15), 12, RECORDS, TOTALS),
    MeterReading: MeterReading(
        "000123",
        "№ 45-А",
        MeterType.ELECTRICITY_DAY,
        (D("12345.678"), D("0.0001")),
        dt.date(2026, 3, 1),
        HOUSE,
        "Электроэнергия",
        Photo("ab" * 32, "image/png"),
    ),
    Photo: Photo("0f" * 32),
    BankDetails: BANK,
    FeeTerms: FeeTerms("subscription", D("0.015"), D("150.00"), {"договор": "№ 7"}),
    Partner: Partner(INN, "ООО «УК Дом»", BANK, "773601001", FeeTerms()),
    ControlTotals: CONTROL,
    Party: PAYER,
    PaymentOrder: PaymentOrder(
        "512",
        dt.date(2026, 11, 28),
        D("1349.49"),
        PAYER,
        PAYEE,
        "Перечисление платежей за 27.11.2026, в т.ч. НДС 22% 4,11 руб.",
    ),
    StatementEntry: StatementEntry(
        Direction.OUT,
        "40702810638000000000",
        "512",
        dt.date(2026, 11, 28),
        D("1349.49"),
        "ООО «УК Дом»",
        "5003012349",
        None,
        "40702810200000005678",
        "044525974",
        "АО «ТБанк»",
        "Перечисление платежей",
        dt.date(2026, 11, 29),
        "Платежное поручение",
    ),
    Statement: Statement(
        "40702810638000000000",
        dt.date(2026, 11, 27),
        dt.date(2026, 11, 29),
        D("10000.00"),
        D("0.00"),
        D("1349.49"),
        D("8650.51"),
        "044525225",
    ),
    RegistryHeader: RegistryHeader(
        RegistryKind.DEBTS,
        INN,
        "40702810638000000000",
        Period(2026, 11),
        3,
        dt.date(2026, 11, 1),
        dt.datetime(2026, 11, 1, 9, 30, tzinfo=MSK),
        CONTROL,
        extra=(("номер п/п", "12"), ("дата п/п", "16.03.2026")),
    ),
    Delivery: Delivery(
        INN,
        RegistryKind.PAYMENTS,
        12,
        "sftp",
        "/исходящие/реестр.txt",
        dt.datetime(2026, 3, 16, 8, 0, tzinfo=MSK),
    ),
    ReadReport: ReadReport(
        None,
        RegistryHeader(RegistryKind.DEBTS, INN),
        records=1,
        total=D("1272.26"),
        issue_count=0,
    ),
}


def test_every_model_has_a_sample() -> None:
    """A model added to pes_sdk.models without a round-trip sample here fails this test."""
    models = {
        obj
        for name in pes_sdk.models.__all__
        if inspect.isclass(obj := getattr(pes_sdk.models, name)) and attrs.has(obj)
    }
    assert models <= set(SAMPLES)


@pytest.mark.parametrize("cls", list(SAMPLES), ids=lambda c: c.__name__)
def test_json_round_trip(cls: type) -> None:
    obj = SAMPLES[cls]
    text = dumps(obj)
    json.loads(text)  # valid JSON
    assert loads(text, cls) == obj
    assert dumps(loads(text, cls)) == text


def test_cyrillic_is_written_as_is() -> None:
    text = dumps(DEBT)
    assert "Электроэнергия «день»" in text
    assert "\\u" not in text
    assert '"amount": "1272.26"' in text  # a decimal travels as a string, never a number
    assert f'"house_id": "{HOUSE}"' in text
    assert '"period": "2026-11"' in text


def test_unstructured_shapes() -> None:
    data = json.loads(dumps(SAMPLES[MeterReading]))
    assert data["meter_type"] == 3
    assert data["values"] == ["12345.678", "0.0001"]  # meter precision kept
    assert data["taken_on"] == "2026-03-01"
    pay = json.loads(dumps(SAMPLES[Payment]))
    assert pay["method"] == "sberpay"
    assert pay["created_at"] == "2026-03-15T10:00:00+00:00"


def _debt_json(**changes: Any) -> str:
    data = json.loads(dumps(DEBT))
    data.update(changes)
    return json.dumps(data, ensure_ascii=False)


def test_extra_key_refused_naming_the_path() -> None:
    with pytest.raises(FormatError, match=r"extra fields found \(colour\) @ DebtRecord"):
        loads(_debt_json(colour="red"), DebtRecord)


def test_nested_extra_key_refused_naming_the_path() -> None:
    data = json.loads(dumps(SAMPLES[PaymentRegistry]))
    data["records"][1]["tip"] = "1.00"
    with pytest.raises(FormatError) as info:
        loads(json.dumps(data), PaymentRegistry)
    assert "extra fields found (tip)" in str(info.value)
    assert "PaymentRegistry.records[1]" in str(info.value)


def test_extra_keys_can_be_allowed_by_a_converter_of_ones_own() -> None:
    got = loads(
        _debt_json(colour="red"), DebtRecord, converter=make_converter(forbid_extra_keys=False)
    )
    assert got == DEBT


def test_json_float_refused_for_a_decimal() -> None:
    text = _debt_json().replace('"amount": "1272.26"', '"amount": 1272.26')
    assert '"amount": 1272.26' in text
    with pytest.raises(FormatError, match=r"DebtRecord\.amount") as info:
        loads(text, DebtRecord)
    assert "1272.26" in str(info.value)


def test_json_float_refused_in_nested_totals() -> None:
    data = json.loads(dumps(SAMPLES[PaymentRegistry]))
    data["totals"]["vat"] = 3.81
    with pytest.raises(FormatError, match=r"PaymentRegistry\.totals\.vat"):
        loads(json.dumps(data), PaymentRegistry)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"amount": "1272.265"}, "two decimal places"),
        ({"amount": "12,50"}, "DebtRecord"),
        ({"amount": "NaN"}, "DebtRecord"),
        ({"house_id": "дом-1"}, "GUID"),
        ({"period": "11.2026"}, "DebtRecord.period"),
        ({"account": 123}, r"DebtRecord\.account"),
        ({"tags": [["a:b", "1"]]}, "tag key"),
    ],
)
def test_bad_values_refused_with_the_reason(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(FormatError, match=match):
        loads(_debt_json(**changes), DebtRecord)


def test_missing_key_refused() -> None:
    data = json.loads(dumps(DEBT))
    del data["amount"]
    with pytest.raises(FormatError, match=r"required field missing @ DebtRecord\.amount"):
        loads(json.dumps(data), DebtRecord)


@pytest.mark.parametrize("text", ["[1]", '"x"', "null", "12"])
def test_not_an_object_refused(text: str) -> None:
    with pytest.raises(FormatError, match="expected an object"):
        loads(text, DebtRecord)


def test_not_json_refused_with_its_line() -> None:
    with pytest.raises(FormatError) as info:
        loads('{\n"account": }', DebtRecord)
    assert info.value.line == 2
    assert "not JSON" in str(info.value)


def test_structure_from_python_data() -> None:
    assert structure(json.loads(dumps(DEBT)), DebtRecord) == DEBT
    with pytest.raises(FormatError):
        structure({"account": "1"}, DebtRecord)


# -- hypothesis: DebtRecord round trip ------------------------------------------------

tag_keys = st.text(min_size=1, max_size=12).filter(lambda k: ":" not in k)
debt_records = st.builds(
    DebtRecord,
    account=st.from_regex(r"[0-9A-Za-zА-Яа-я/\-]{1,30}", fullmatch=True),
    house_id=st.uuids().map(str),
    premises=st.text(max_size=60).map(Premises),
    amount=st.integers(min_value=-(10**13), max_value=10**13).map(lambda k: D(k).scaleb(-2)),
    period=st.none() | st.builds(Period, st.integers(1900, 9999), st.integers(1, 12)),
    service=st.text(max_size=40),
    tags=st.lists(st.tuples(tag_keys, st.text(max_size=20)), max_size=4).map(tuple),
)


@LIGHT
@given(debt_records)
def test_debt_record_round_trip_property(record: DebtRecord) -> None:
    assert loads(dumps(record), DebtRecord) == record


def test_str_enums_are_structured_as_their_enum_not_as_plain_text() -> None:
    # StrEnum subclasses str: the converter's str hook once took them and returned "sbp"
    # as a plain string, so a basket's method reached the gateway without `.value`.
    import enum

    from pes_sdk.models.payments import PaymentMethod

    conv = make_converter()
    for member in PaymentMethod:
        got = conv.structure(member.value, PaymentMethod)
        assert got is member
    with pytest.raises(ValueError, match="not a valid PaymentMethod"):
        conv.structure("bitcoin", PaymentMethod)
    assert issubclass(PaymentMethod, enum.StrEnum)
