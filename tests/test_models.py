"""Every model builds from valid data, and each validator refuses bad data."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import attrs
import pytest

from pes_sdk.errors import Issue
from pes_sdk.fees import PercentPlan, settle_day
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
from pes_sdk.money import ZERO
from pes_sdk.period import Period
from pes_sdk.premises import Premises, PremisesKind

D = Decimal
INN = "7707083893"
HOUSE = "0C5B2444-70A0-4932-980C-B4DC0D3F02B5"
HOUSE_LOWER = HOUSE.lower()
UTC = dt.UTC
MSK = dt.timezone(dt.timedelta(hours=3), "MSK")


def debt(**kw: Any) -> DebtRecord:
    fields: dict[str, Any] = {
        "account": "000123",
        "house_id": HOUSE,
        "premises": "кв. 12А",
        "amount": D("1272.26"),
    }
    fields.update(kw)
    return DebtRecord(**fields)


def record(**kw: Any) -> PaymentRecord:
    fields: dict[str, Any] = {
        "paid_at": dt.datetime(2026, 3, 15, 10, 0, tzinfo=MSK),
        "operation_id": "op-1",
        "account": "000123",
        "amount": D("100.00"),
        "transfer": D("98.34"),
        "fee": D("1.66"),
    }
    fields.update(kw)
    return PaymentRecord(**fields)


# -- DebtRecord ------------------------------------------------------------------------


def test_debt_record_builds_and_normalises() -> None:
    r = debt(period=Period(2026, 11), service="Электроэнергия", tags={"CLIENTNO": "42"})
    assert r.account == "000123"  # leading zeros kept
    assert r.house_id == HOUSE_LOWER
    assert isinstance(r.premises, Premises)
    assert r.premises.text == "кв. 12А"
    assert r.premises.kind is PremisesKind.APARTMENT
    assert r.amount == D("1272.26")
    assert r.tags == (("CLIENTNO", "42"),)
    assert r.due == D("1272.26")


def test_negative_debt_is_an_advance_with_nothing_due() -> None:
    r = debt(amount=D("-50.00"))
    assert r.amount == D("-50.00")
    assert r.due == ZERO
    assert debt(amount=D("0")).due == ZERO


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("amount", 1272.26, TypeError),
        ("amount", True, TypeError),
        ("amount", D("1.005"), ValueError),
        ("amount", "1272,26", ValueError),  # a comma only where a file is parsed
        ("house_id", "not-a-guid", ValueError),
        ("house_id", "0c5b244470a04932980cb4dc0d3f02b5", ValueError),
        ("account", "", ValueError),
        ("account", "1" * 31, ValueError),
        ("account", "12;3", ValueError),
        ("account", 123, ValueError),
        ("premises", "1" * 256, ValueError),
        ("tags", {"A:B": "1"}, ValueError),
        ("tags", {"": "1"}, ValueError),
    ],
)
def test_debt_record_refuses(field: str, value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        debt(**{field: value})


# -- DebtRegistry ----------------------------------------------------------------------


def test_debt_registry_build_computes_control_totals() -> None:
    recs = [debt(), debt(account="000124", amount=D("-10.00"))]
    reg = DebtRegistry.build(INN, Period(2026, 11), 1, recs)
    assert reg.control == ControlTotals(2, {"amount": D("1262.26")})
    assert reg.total == D("1262.26")
    assert reg.problems() == []


def test_debt_registry_problems_duplicate_account_and_service() -> None:
    recs = [
        debt(service="ХВС"),
        debt(service="ГВС"),  # same account, another service: fine
        debt(account="000999", service="ХВС"),
        debt(service="ХВС", amount=D("1.00")),  # repeats record 1
    ]
    reg = DebtRegistry.build(INN, Period(2026, 11), 1, recs)
    problems = reg.problems()
    assert len(problems) == 1
    assert problems[0].line == 4
    assert problems[0].field == "account"
    assert "record 1" in problems[0].message


def test_debt_registry_problems_control_mismatch() -> None:
    reg = DebtRegistry(
        INN, Period(2026, 11), 1, None, [debt()], ControlTotals(2, {"amount": D("1000.00")})
    )
    problems = reg.problems()
    assert [(p.line, p.field) for p in problems] == [(0, "control"), (0, "control")]
    assert "count is 2" in problems[0].message
    assert "1000.00" in problems[1].message and "1272.26" in problems[1].message
    assert str(problems[0]).startswith("file: control: ")


def test_debt_registry_without_control_has_no_control_problems() -> None:
    assert DebtRegistry(INN, Period(2026, 11), 1, records=[debt()]).problems() == []


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"partner_inn": "7707083894"}, ValueError),
        ({"number": 0}, ValueError),
        ({"period": "2026-11"}, TypeError),
    ],
)
def test_debt_registry_refuses(kw: dict[str, Any], error: type[Exception]) -> None:
    fields: dict[str, Any] = {"partner_inn": INN, "period": Period(2026, 11), "number": 1}
    fields.update(kw)
    with pytest.raises(error):
        DebtRegistry(**fields)


# -- payments --------------------------------------------------------------------------


def test_payment_line_and_payment() -> None:
    line = PaymentLine(INN, "000123", D("100.00"), "ХВС", HOUSE, "12", Period(2026, 2), D("1.00"))
    assert line.house_id == HOUSE_LOWER
    assert line.premises == Premises("12")
    p = Payment(uuid.uuid4(), dt.datetime(2026, 3, 15, tzinfo=MSK), PaymentMethod.CARD, [line])
    assert p.lines == (line,)
    assert p.total == D("101.00")


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"amount": D("0")}, ValueError),
        ({"amount": D("-1.00")}, ValueError),
        ({"amount": 1.0}, TypeError),
        ({"client_fee": D("-0.01")}, ValueError),
        ({"client_fee": 0.5}, TypeError),
        ({"partner_inn": "1234567890"}, ValueError),
        ({"house_id": "x"}, ValueError),
    ],
)
def test_payment_line_refuses(kw: dict[str, Any], error: type[Exception]) -> None:
    fields: dict[str, Any] = {"partner_inn": INN, "account": "1", "amount": D("1.00")}
    fields.update(kw)
    with pytest.raises(error):
        PaymentLine(**fields)


def test_payment_refuses_no_lines_and_naive_time() -> None:
    line = PaymentLine(INN, "1", D("1.00"))
    with pytest.raises(ValueError, match="time zone"):
        Payment(uuid.uuid4(), dt.datetime(2026, 3, 15, 10, 0), PaymentMethod.SBP, [line])
    with pytest.raises(ValueError, match="at least one line"):
        Payment(uuid.uuid4(), dt.datetime(2026, 3, 15, tzinfo=UTC), PaymentMethod.SBP, [])


def test_payment_record() -> None:
    r = record(house_id=HOUSE, premises="кв. 5", tags=[("method_pay", "SBP")])
    assert r.amount == r.transfer + r.fee
    assert r.house_id == HOUSE_LOWER
    assert r.tags == (("method_pay", "SBP"),)


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"transfer": D("98.35")}, ValueError),  # 98.35 + 1.66 != 100.00
        ({"fee": D("0.00")}, ValueError),
        ({"amount": 100.0}, TypeError),
        ({"account": ""}, ValueError),
    ],
)
def test_payment_record_refuses(kw: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        record(**kw)


def test_payment_totals() -> None:
    t = PaymentTotals(3, D("1272.76"), D("17.31"), D("3.81"), D("1251.64"))
    assert t.fee == D("21.12")
    with pytest.raises(ValueError, match="transfer"):
        PaymentTotals(3, D("1272.76"), D("17.31"), D("3.81"), D("1251.65"))


def _registry_parts() -> tuple[list[PaymentRecord], PaymentTotals]:
    """A real partner-day: settle it, then build its records and totals."""
    amounts = [D("1000.00"), D("272.26"), D("0.50")]
    s = settle_day(PercentPlan(), FeeTerms(), dt.date(2026, 3, 15), amounts)
    recs = [
        record(operation_id=f"op-{i}", amount=a, transfer=a - f, fee=f)
        for i, (a, f) in enumerate(zip(amounts, s.line_fees, strict=True))
    ]
    return recs, PaymentTotals(len(recs), s.paid, s.commission, s.vat, s.transfer)


def test_payment_registry_from_a_settled_day() -> None:
    recs, totals = _registry_parts()
    reg = PaymentRegistry(INN, dt.date(2026, 3, 15), 7, recs, totals)
    assert reg.totals.transfer == D("1251.64")
    assert len(reg.records) == 3


@pytest.mark.parametrize(
    ("broken", "match"),
    [
        (lambda recs, t: (recs[:2], t), "count"),
        (lambda recs, t: (recs, attrs.evolve(t, count=2)), "count"),
        (
            lambda recs, t: (
                recs,
                PaymentTotals(3, t.amount + 1, t.commission, t.vat, t.transfer + 1),
            ),
            "amount",
        ),
        (
            lambda recs, t: (
                recs,
                PaymentTotals(3, t.amount, t.commission + 1, t.vat, t.transfer - 1),
            ),
            "transfer",
        ),
    ],
)
def test_payment_registry_refuses_totals_that_disagree(broken: Any, match: str) -> None:
    recs, totals = _registry_parts()
    bad_recs, bad_totals = broken(recs, totals)
    with pytest.raises(ValueError, match=match):
        PaymentRegistry(INN, dt.date(2026, 3, 15), 1, bad_recs, bad_totals)


def test_payment_registry_refuses_bad_header_fields() -> None:
    recs, totals = _registry_parts()
    with pytest.raises(ValueError):
        PaymentRegistry(INN, dt.date(2026, 3, 15), 0, recs, totals)
    with pytest.raises(ValueError):
        PaymentRegistry("7707083894", dt.date(2026, 3, 15), 1, recs, totals)
    with pytest.raises(TypeError):
        PaymentRegistry(INN, "2026-03-15", 1, recs, totals)  # type: ignore[arg-type]


# -- readings --------------------------------------------------------------------------


def test_meter_reading() -> None:
    m = MeterReading(
        "000123", "№ 123-45", 3, [D("12345.678"), D("456.1")], dt.date(2026, 3, 1), HOUSE
    )
    assert m.meter_type is MeterType.ELECTRICITY_DAY
    assert m.values == (D("12345.678"), D("456.1"))  # precision kept, not quantized
    assert m.house_id == HOUSE_LOWER
    photo = Photo("ab" * 32)
    assert MeterReading("1", "M", MeterType.GAS, (1,), dt.date(2026, 3, 1), photo=photo).photo


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"values": (12.5,)}, TypeError),
        ({"values": (True,)}, TypeError),
        ({"values": D("1")}, TypeError),
        ({"values": ()}, ValueError),
        ({"values": (D(1), D(2), D(3), D(4))}, ValueError),
        ({"values": (D("-1"),)}, ValueError),
        ({"values": (D("NaN"),)}, ValueError),
        ({"meter_type": 99}, ValueError),
        ({"meter_number": ""}, ValueError),
        ({"taken_on": "2026-03-01"}, TypeError),
        ({"account": "1;2"}, ValueError),
    ],
)
def test_meter_reading_refuses(kw: dict[str, Any], error: type[Exception]) -> None:
    fields: dict[str, Any] = {
        "account": "1",
        "meter_number": "M-1",
        "meter_type": 2,
        "values": (D("1"),),
        "taken_on": dt.date(2026, 3, 1),
    }
    fields.update(kw)
    with pytest.raises(error):
        MeterReading(**fields)


@pytest.mark.parametrize("bad", ["AB" * 32, "ab" * 31, "zz" * 32, ""])
def test_photo_refuses_a_bad_hash(bad: str) -> None:
    with pytest.raises(ValueError, match="sha256"):
        Photo(bad)


def test_meter_type_codes_follow_the_sber_registry() -> None:
    assert [t.value for t in MeterType] == list(range(1, 14))
    assert MeterType(8) is MeterType.HOT_WATER and MeterType(9) is MeterType.COLD_WATER


# -- partners --------------------------------------------------------------------------

SBER_BIK = "044525225"
SBER_ACCOUNT = "40702810638000000000"  # key checked by hand in test_identifiers.py
SBER_CORR = "30101810400000000225"


def test_partner() -> None:
    bank = BankDetails(SBER_BIK, SBER_ACCOUNT, SBER_CORR, "ПАО Сбербанк")
    p = Partner(INN, "ООО «УК Дом»", bank, "773601001")
    assert p.fee == FeeTerms()
    assert p.kpp == "773601001"
    assert Partner(INN, "ИП", bank).kpp is None


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((SBER_BIK, "40702810438000000000"), "control key"),
        ((SBER_BIK, SBER_ACCOUNT, "30101810400000000226"), "control key"),
        (("04452522", SBER_ACCOUNT), "БИК"),
    ],
)
def test_bank_details_refuse(args: tuple[str, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        BankDetails(*args)


def test_partner_refuses_bad_inn_and_kpp() -> None:
    bank = BankDetails(SBER_BIK, SBER_ACCOUNT)
    with pytest.raises(ValueError):
        Partner("7707083894", "x", bank)
    with pytest.raises(ValueError, match="КПП"):
        Partner(INN, "x", bank, "77360100")


def test_fee_terms_monthly_fee_is_an_amount() -> None:
    assert FeeTerms(monthly_fee=D("100")).monthly_fee == D("100.00")
    with pytest.raises(TypeError):
        FeeTerms(monthly_fee=100.0)  # type: ignore[arg-type]


# -- registry headers, deliveries ------------------------------------------------------


def test_header_control_and_delivery() -> None:
    control = ControlTotals(2, {"amount": D("10.00"), "fee": D("0.14")})
    assert control.mismatches(2, {"amount": D("10.00"), "fee": D("0.14")}) == []
    assert len(control.mismatches(3, {"amount": D("10.01")})) == 3  # count, amount, fee
    h = RegistryHeader(RegistryKind.PAYMENTS, INN, SBER_ACCOUNT, None, 7, dt.date(2026, 3, 15))
    assert h.kind == "payments"
    d = Delivery(INN, RegistryKind.PAYMENTS, 7, "sftp", "/out/reg.txt", dt.datetime.now(UTC))
    assert d.number == 7


def test_issue_text() -> None:
    assert str(Issue(3, "amount", "not an amount")) == "line 3: amount: not an amount"
    assert str(Issue(0, "", "bad encoding")) == "file: bad encoding"


def test_models_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        debt().amount = D("1.00")  # type: ignore[misc]
