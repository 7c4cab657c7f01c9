"""The reader's fast path agrees with the slow path (the models' own constructors).

The fast path builds records without re-running the models' converters; these properties
make sure it never accepts what the model refuses, and builds the very same record when
it accepts. The comparison disables the fast path for real (no fake objects): the reader
then reads every record through the model constructors.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pes_sdk_1c_xml import OneCXmlDebts, OneCXmlPayments, schema
from pes_sdk_1c_xml import reader as reader_module
from pes_sdk_1c_xml._fast import slot_setters

from pes_sdk import identifiers
from pes_sdk.errors import RegistryRefused
from pes_sdk.formats.base import Policy
from pes_sdk.models import DebtRecord, PaymentRecord

NS = "urn:pes-sdk:registry:1"


@settings(max_examples=min(settings.default.max_examples * 5, 2000))
@given(st.text(max_size=32) | st.from_regex(schema.FAST_ACCOUNT, fullmatch=True))
def test_fast_account_rule_is_narrower_than_the_core(text: str) -> None:
    if schema.FAST_ACCOUNT.fullmatch(text):
        assert identifiers.check_personal_account(text) == text


def test_slot_setters_refuse_a_changed_model() -> None:
    assert slot_setters(PaymentRecord, ("paid_at",)) is None
    assert slot_setters(dict, ("a",)) is None
    names = tuple(a.name for a in __import__("attrs").fields(DebtRecord))
    assert slot_setters(DebtRecord, names) is not None


def test_the_fast_path_is_on_for_every_record_kind() -> None:
    # A field added to a model turns the fast path off (slot_setters refuses a layout it
    # does not know), which is safe but silently slow: DebtRecord.address once did, and
    # every debt record took the slow path. A model change must update the reader.
    assert slot_setters(DebtRecord, reader_module._DEBT_FIELDS) is not None
    assert slot_setters(PaymentRecord, reader_module._PAYMENT_FIELDS) is not None


# Attribute values: mostly valid, often slightly wrong, so both paths get exercised.
AMOUNTS = st.sampled_from(
    [
        "10.00",
        "9.86",
        "0.14",
        "-0.00",
        "1.0",
        "1,00",
        "١.٠٠",
        " 1.00",
        "1e2",
        "10.001",
        "999999999999999.99",
        "1_0.00",
    ]
)
TIMES = st.sampled_from(
    [
        "2026-11-27T10:00:00",
        "2026-11-27T10:00:00+03:00",
        "2026-11-27",
        "2026-11-27T10:00:00.5Z",
        "2026-13-27T10:00:00",
        "2026-11-27 10:00:00",
        "20261127T100000",
        "2026-11-27T10:00:00+0300",
    ]
)
ACCOUNTS = st.sampled_from(
    ["000123", "Л/С 7", " 1", "1 ", "a;b", "x" * 31, "12-3", "№5", "\u00a05"]
)
HOUSES = st.sampled_from(
    [
        None,
        "6961b2bd-e4ab-3ef2-30b1-877a121939cd",
        "6961B2BD-E4AB-3EF2-30B1-877A121939CD",
        "6961b2bd",
        "{6961b2bd-e4ab-3ef2-30b1-877a121939cd}",
    ]
)
PREMISES = st.sampled_from([None, "", "12а", "12/1", "x" * 256, "кв. 1, ком. 2"])
PERIODS = st.sampled_from([None, "2026-11", "2026-13", "1899-12", "2026-1"])


def _attrs(values: dict[str, Any]) -> str:
    return " ".join(f'{k}="{v}"' for k, v in values.items() if v is not None)


def _read(path: Path) -> tuple[list[Any], list[tuple[int, str]]]:
    try:
        with OneCXmlPayments().open(path, policy=Policy.QUARANTINE) as r:
            records = list(r)
        return records, [(i.line, i.field) for i in r.report.issues]
    except RegistryRefused as exc:  # control sums: compare the issues only
        return [], [(i.line, i.field) for i in exc.issues if i.field != "control"]


@settings(max_examples=min(settings.default.max_examples, 150), deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "paidAt": TIMES,
                "operationId": st.just("op"),
                "account": ACCOUNTS,
                "amount": AMOUNTS,
                "transfer": AMOUNTS,
                "fee": AMOUNTS,
                "houseId": HOUSES,
                "premises": PREMISES,
                "period": PERIODS,
                "serviceCode": st.sampled_from([None, "", "01", "ХВС-1"]),
                "service": st.sampled_from([None, "ХВС"]),
            }
        ),
        min_size=1,
        max_size=4,
    )
)
def test_fast_and_slow_paths_agree_on_payments(
    tmp_path_factory: Any, monkeypatch_session: Any, rows: list[dict[str, Any]]
) -> None:
    path = tmp_path_factory.mktemp("fp") / "p.xml"
    body = "\n".join(f"<Payment {_attrs(r)}/>" for r in rows)
    path.write_text(
        f'<PaymentRegistry xmlns="{NS}" partnerInn="7707083893" number="1" date="2026-11-27">\n'
        f'{body}\n<Totals count="{len(rows)}" amount="0.00" transfer="0.00" fee="0.00"/>\n'
        "</PaymentRegistry>\n",
        encoding="utf-8",
    )
    fast = _read(path)
    with monkeypatch_session.context() as m:
        m.setattr(reader_module, "slot_setters", lambda cls, names: None)
        slow = _read(path)
    assert fast == slow


@settings(max_examples=min(settings.default.max_examples, 100), deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "account": ACCOUNTS,
                "houseId": HOUSES,
                "premises": PREMISES,
                "amount": AMOUNTS,
                "period": PERIODS,
                "serviceCode": st.sampled_from([None, "", "01", "ГВС-2"]),
                "service": st.sampled_from([None, "ХВС", "ГВС"]),
            }
        ),
        min_size=1,
        max_size=4,
    )
)
def test_fast_and_slow_paths_agree_on_debts(
    tmp_path_factory: Any, monkeypatch_session: Any, rows: list[dict[str, Any]]
) -> None:
    path = tmp_path_factory.mktemp("fd") / "d.xml"
    body = "\n".join(f"<Debt {_attrs(r)}/>" for r in rows)
    path.write_text(
        f'<DebtRegistry xmlns="{NS}" partnerInn="7707083893" number="1" period="2026-11">\n'
        f'{body}\n<Totals count="{len(rows)}" amount="0.00"/>\n</DebtRegistry>\n',
        encoding="utf-8",
    )

    def read() -> tuple[list[Any], list[tuple[int, str]]]:
        try:
            with OneCXmlDebts().open(path, policy=Policy.QUARANTINE) as r:
                records = list(r)
            return records, [(i.line, i.field) for i in r.report.issues]
        except RegistryRefused as exc:
            return [], [(i.line, i.field) for i in exc.issues if i.field != "control"]

    fast = read()
    with monkeypatch_session.context() as m:
        m.setattr(reader_module, "slot_setters", lambda cls, names: None)
        slow = read()
    assert fast == slow


def test_fast_path_builds_the_same_records(tmp_path: Path) -> None:
    """Records that pass the fast path equal the constructor's, field by field and type."""
    rec = PaymentRecord(
        dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC),
        "op",
        "000123",
        __import__("decimal").Decimal("10.00"),
        __import__("decimal").Decimal("9.86"),
        __import__("decimal").Decimal("0.14"),
        "6961B2BD-E4AB-3EF2-30B1-877A121939CD",
        "12а",
    )
    header = __import__("pes_sdk.models", fromlist=["RegistryHeader"]).RegistryHeader(
        "payments", partner_inn="7707083893", number=1, date=dt.date(2026, 11, 27)
    )
    OneCXmlPayments().write(tmp_path / "p.xml", header, [rec])
    (got,) = list(OneCXmlPayments().open(tmp_path / "p.xml"))
    assert got == rec and hash(got) == hash(rec) and repr(got) == repr(rec)
    for name in ("amount", "transfer", "fee"):
        assert getattr(got, name).as_tuple() == getattr(rec, name).as_tuple()


@pytest.fixture(scope="session")
def monkeypatch_session() -> Any:
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()
