"""exportForPaymentAggregator: what is owed by address, by ЕЛС, by ИПД."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pes_sdk_gis_zhkh import GisConfigError, GisMessageFailed
from pes_sdk_gis_zhkh.simulator import SimDocument

from pes_sdk.period import Period

HOUSE = "5b1e3c4d-2a6f-4e8b-9c0d-1e2f3a4b5c6d"


def _doc(**kw):
    base = dict(
        house_guid=HOUSE,
        premises="12",
        account="0012345",
        els="12АБ123456",
        payment_document_id="12АБ123456-01-6101",
        executor_inn="5003012349",
        executor_kpp="500301001",
        executor_name="ООО «УК Дом»",
        bik="044525974",
        bank_account="40702810200000005678",
        bank_name="АО «ТБанк»",
        amount_due=Decimal("1272.26"),
        debt=Decimal("-100.00"),
    )
    base.update(kw)
    return SimDocument(**base)


@pytest.fixture
def seeded(sim):
    sim.add_document(_doc())
    sim.add_document(
        _doc(
            premises="12а",
            account="0099999",
            els="34ВГ654321",
            payment_document_id="34ВГ654321-01-6101",
            amount_due=Decimal("10.01"),
            debt=Decimal("0.00"),
        )
    )
    return sim


def test_by_address_premises_match_loosely(client, seeded):
    result = client.lookup_address(HOUSE.upper(), "кв. 12", account="0012345")
    assert len(result.documents) == 1
    doc = result.documents[0]
    assert doc.payment_document_id == "12АБ123456-01-6101"
    assert doc.els == "12АБ123456"
    assert doc.period == Period(2026, 10)
    assert doc.executor_name == "ООО «УК Дом»"
    # kopecks on the wire, two-place Decimal here; a negative debt is an advance
    assert doc.amount_due == Decimal("1272.26")
    assert doc.debt == Decimal("-100.00")
    assert doc.total == Decimal("1172.26")
    payee = doc.payments[0]
    assert (payee.recipient_inn, payee.bik, payee.account) == (
        "5003012349",
        "044525974",
        "40702810200000005678",
    )
    # what ГИС ЖКХ states is owed: the period's charge less the advance
    assert str(result.total_due) == "1172.26"


def test_latin_lookalike_premises_find_the_cyrillic_one(client, seeded):
    result = client.lookup_address(HOUSE, "12a", account="0099999")  # Latin a
    assert [d.account_number for d in result.documents] == ["0099999"]


def test_by_els_and_by_payment_document(client, seeded):
    assert [d.amount_due for d in client.lookup_els("34ВГ654321").documents] == [Decimal("10.01")]
    docs = client.lookup_payment_document("12АБ123456-01-6101").documents
    assert [d.account_number for d in docs] == ["0012345"]


def test_period_and_document_number_are_sent_valid(client, seeded):
    result = client.lookup_address(
        HOUSE, "12", payment_document_number="77", period=Period(2026, 10)
    )
    assert result.documents  # the simulator matched by house + premises, request schema-valid


def test_nothing_found_is_an_empty_result(client, seeded):
    assert client.lookup_els("99ЯЯ000000").documents == ()


def test_address_needs_an_account_or_document_number(client, seeded):
    with pytest.raises(GisConfigError, match="exactly one"):
        client.lookup_address(HOUSE, "12")


def test_unknown_message_is_a_typed_failure(client, sim):
    with pytest.raises(GisMessageFailed) as info:
        client.poll("0b7c5d3e-1111-4222-8333-944455566677")
    assert info.value.code == "INT002012"
