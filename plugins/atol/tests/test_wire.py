"""The v5 body on the wire and the report back, without HTTP."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pes_sdk_atol import wire
from pes_sdk_atol.samples import COMPANY, NOW, basket

from pes_sdk.models.receipts import (
    TAG_1222_PAYMENT_AGENT,
    AgentType,
    Receipt,
    ReceiptPosition,
    ReceiptVat,
)

MOSCOW = ZoneInfo("Europe/Moscow")
GOLDEN = Path(__file__).parent / "golden" / "sell.json"
AGENT = wire.PayingAgent(operation="Оплата ЖКУ", phones=("+74950000001",))


def sell_body(receipt: Receipt) -> bytes:
    return wire.encode(
        wire.receipt_document(
            receipt,
            external_id="pay-1017-1",
            company=COMPANY,
            timestamp=wire.format_timestamp(NOW, MOSCOW),
            agent=AGENT,
        )
    )


def test_the_sell_body_is_the_golden_one() -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"), parse_float=Decimal)
    assert wire.parse_json(sell_body(basket())) == golden


def test_amounts_are_numbers_with_two_decimals_on_the_wire() -> None:
    raw = sell_body(basket()).decode("utf-8")
    # 10.10, never 10.1 nor "10.10": ATOL takes numbers, the kopecks written out
    assert '"price":10.10,' in raw and '"sum":10.10,' in raw
    assert '"total":2033.67}' in raw and '"payments":[{"type":1,"sum":2033.67}]' in raw


def test_kopecks_add_up_exactly() -> None:
    # 0.1 + 0.2 is not 0.3 in floats; three positions of 0.10, 0.20 and 0.01 ×3
    receipt = Receipt(
        [
            ReceiptPosition("Услуга 1", "0.10", ReceiptVat.NONE),
            ReceiptPosition("Услуга 2", "0.20", ReceiptVat.NONE),
            ReceiptPosition("Услуга 3", "0.01", ReceiptVat.NONE, quantity=3),
        ],
        customer_phone="+79161234567",
    )
    body = wire.parse_json(sell_body(receipt))["receipt"]
    sums = [item["sum"] for item in body["items"]]
    assert sums == [Decimal("0.10"), Decimal("0.20"), Decimal("0.03")]
    assert body["total"] == sum(sums) == Decimal("0.33") == body["payments"][0]["sum"]
    assert body["client"] == {"phone": "+79161234567"}


def test_a_float_or_a_bare_decimal_never_reaches_the_wire() -> None:
    with pytest.raises(TypeError, match="Money"):
        wire.encode({"sum": 10.1})
    with pytest.raises(TypeError, match="Money"):
        wire.encode({"sum": Decimal("10.10")})
    # never rounded on the way out: a third decimal is a bug upstream
    with pytest.raises(ValueError, match="two decimals"):
        wire.encode({"sum": wire.Money("10.105")})


def test_cyrillic_is_written_as_utf8_not_escapes() -> None:
    raw = sell_body(basket())
    assert "Содержание жилья".encode() in raw and b"\\u04" not in raw


def test_every_vat_rate_and_agent_sign_has_its_v5_name() -> None:
    assert set(wire.VAT_TYPES) == set(ReceiptVat)
    assert wire.VAT_TYPES[ReceiptVat.VAT22_122] == "vat122"
    assert wire.VAT_TYPES[ReceiptVat.VAT20_120] == "vat120"
    assert set(wire.AGENT_TYPES) == set(AgentType)
    # tag 1222 value 4 (платёжный агент) is ATOL's paying_agent, not bank_paying_agent (1)
    assert TAG_1222_PAYMENT_AGENT == 4
    assert wire.AGENT_TYPES[AgentType.PAYMENT_AGENT] == "paying_agent"


def test_agent_details_are_left_out_when_not_configured() -> None:
    document = wire.receipt_document(
        basket(), external_id="x", company=COMPANY, timestamp="07.12.2026 10:15:00"
    )
    item = document["receipt"]["items"][0]
    assert item["agent_info"] == {"type": "paying_agent"}
    assert "agent_info" not in document["receipt"]["items"][2]


def test_a_subject_v5_has_no_number_for_is_refused_naming_the_field() -> None:
    receipt = Receipt(
        [ReceiptPosition("Лотерея", "1.00", ReceiptVat.NONE, subject="lottery")],
        customer_phone="+79161234567",
    )
    with pytest.raises(ValueError, match=r"receipt\.items\[0\]\.payment_object"):
        sell_body(receipt)


@pytest.mark.timezone
def test_the_timestamp_is_moscow_time_whatever_the_host() -> None:
    assert wire.format_timestamp(NOW, MOSCOW) == "07.12.2026 10:15:00"
    with pytest.raises(ValueError, match="time zone"):
        wire.format_timestamp(dt.datetime(2026, 12, 7, 10, 15), MOSCOW)


#: the report's payload as ATOL's v5 document shows one (its total a whole number)
PAYLOAD = {
    "total": 1598,
    "fns_site": "www.nalog.gov.ru",
    "fn_number": "1110000100238211",
    "shift_number": 23,
    "receipt_datetime": "12.04.2017 20:16:00",
    "fiscal_receipt_number": 6,
    "fiscal_document_number": 133,
    "ecr_registration_number": "0000111118041361",
    "fiscal_document_attribute": 3449555941,
    "ofd_inn": "7704358518",
    "ofd_receipt_url": "https://consumer.1-ofd.ru/v1?fn=1110000100238211&i=133&fp=3449555941",
}


@pytest.mark.timezone
def test_a_report_payload_becomes_fiscal_attributes() -> None:
    attrs = wire.fiscal_attributes(PAYLOAD, MOSCOW)
    assert (attrs.fn, attrs.fd, attrs.fp, attrs.shift, attrs.receipt_number) == (
        "1110000100238211",
        133,
        3449555941,
        23,
        6,
    )
    assert attrs.total == Decimal("1598.00") and str(attrs.total) == "1598.00"
    assert attrs.registered_at == dt.datetime(2017, 4, 12, 17, 16, tzinfo=dt.UTC)
    assert attrs.check_url == PAYLOAD["ofd_receipt_url"]
    assert attrs.kkt_registration_number == "0000111118041361"


def test_a_payload_without_a_check_page_has_no_check_url() -> None:
    for url in (None, "", "не предоставляется"):
        assert wire.fiscal_attributes({**PAYLOAD, "ofd_receipt_url": url}, MOSCOW).check_url is None


def test_a_payload_missing_a_field_names_it() -> None:
    payload = {k: v for k, v in PAYLOAD.items() if k != "fiscal_document_attribute"}
    with pytest.raises(ValueError, match="fiscal_document_attribute"):
        wire.fiscal_attributes(payload, MOSCOW)
    with pytest.raises(ValueError, match="total"):
        wire.fiscal_attributes({**PAYLOAD, "total": "1598"}, MOSCOW)
