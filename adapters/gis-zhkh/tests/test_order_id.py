"""OrderID: exactly 32 characters, stable across runs, distinct per paid line."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from pes_sdk_gis_zhkh import PaymentNotice, order_id, to_kopecks

from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod, PaymentRecord

text = st.text(min_size=1, max_size=40)


@settings(max_examples=min(settings.default.max_examples, 2000))
@given(text, text, st.text(max_size=40))
def test_order_id_is_32_hex_and_stable(payment_id, account, service):
    oid = order_id(payment_id, account, service)
    assert len(oid) == 32
    assert all(c in "0123456789abcdef" for c in oid)
    assert oid == order_id(payment_id, account, service)


@settings(max_examples=min(settings.default.max_examples, 2000))
@given(st.tuples(text, text, st.text(max_size=40)), st.tuples(text, text, st.text(max_size=40)))
def test_distinct_lines_get_distinct_order_ids(a, b):
    if a != b:
        assert order_id(*a) != order_id(*b)


def test_fields_do_not_run_into_each_other():
    assert order_id("1", "23") != order_id("12", "3")


def test_known_value_never_changes():
    # A change here would make every earlier report look new to ГИС ЖКХ: never change it.
    # = sha256("op-00001" US "0012345" US "Содержание"), first 32 hex digits
    assert order_id("op-00001", "0012345", "Содержание") == "e269e1d43a0b900bcdaf7a94f6ac8868"


def test_registry_record_and_basket_payment_agree():
    pid = uuid.UUID("9a1c2f3e-4b5d-4e6f-8a7b-0c1d2e3f4a5b")
    paid = dt.datetime(2026, 11, 1, 23, 30, tzinfo=dt.UTC)  # 02:30 on the 2nd in Moscow
    payment = Payment(
        payment_id=pid,
        created_at=paid,
        method=PaymentMethod.SBP,
        lines=[
            PaymentLine(
                partner_inn="5003012349", account="0012345", amount=Decimal("100.10"), service="ХВС"
            ),
            PaymentLine(
                partner_inn="5003012349",
                account="0012345",
                amount=Decimal("5.00"),
                service="Вывоз ТКО",
            ),
        ],
    )
    notices = PaymentNotice.from_payment(payment, {})
    record = PaymentRecord(
        paid_at=paid,
        operation_id=str(pid),
        account="0012345",
        amount=Decimal("100.10"),
        transfer=Decimal("100.10"),
        fee=Decimal("0.00"),
        service="ХВС",
    )
    from_record = PaymentNotice.from_record(record)
    assert notices[0].order_id == from_record.order_id
    assert notices[0].order_id != notices[1].order_id
    assert from_record.order_date == dt.date(2026, 11, 2)
    assert notices[0].amount_kopecks == 10010 == to_kopecks(Decimal("100.10"))
