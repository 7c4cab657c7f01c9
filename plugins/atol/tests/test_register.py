"""The register against the loopback simulator of ATOL's API v5: real HTTP, real JSON."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from decimal import Decimal

import pytest
from pes_sdk_atol.client import AtolRegister, ExternalIdConflict
from pes_sdk_atol.samples import BUYER_EMAIL, NOW, UK, basket, no_sleep, settings
from pes_sdk_atol.simulator import PASSWORD, AtolSimulator

from pes_sdk.fiscal import (
    FiscalAttributes,
    FiscalError,
    FiscalRegister,
    FiscalUnavailable,
    ReceiptFailed,
    ReceiptRefused,
)
from pes_sdk.models.receipts import AgentType, Receipt, ReceiptPosition, ReceiptVat, Supplier


def done(register: AtolRegister, uuid: str) -> FiscalAttributes:
    """The report once the simulator has registered the receipt (its first poll waits)."""
    assert register.report(uuid) is None
    attributes = register.report(uuid)
    assert attributes is not None
    return attributes


def sells(simulator: AtolSimulator) -> int:
    return sum(1 for method, path, _ in simulator.calls if path.endswith(("/sell", "/sell_refund")))


def token_calls(simulator: AtolSimulator) -> int:
    return sum(1 for _, path, _ in simulator.calls if path.endswith("/getToken"))


def test_it_is_a_fiscal_register(register: AtolRegister) -> None:
    assert isinstance(register, FiscalRegister)
    assert register.name == "atol"


def test_a_receipt_is_registered_and_its_fiscal_attributes_reported(
    register: AtolRegister, simulator: AtolSimulator
) -> None:
    uuid = register.register(basket(), "pay-1017-1")
    attributes = done(register, uuid)
    assert attributes.total == basket().total == Decimal("2033.67")
    assert attributes.fn == "9999078902004181" and len(attributes.fn) == 16
    assert attributes.fd > 0 and attributes.fp > 0 and attributes.shift == 12
    assert attributes.receipt_number == 1
    assert attributes.registered_at.utcoffset() == dt.timedelta(hours=3)
    assert attributes.check_url is not None and attributes.check_url.startswith("https://")
    document = simulator.documents["pay-1017-1"]
    assert (document.uuid, document.operation) == (uuid, "sell")
    assert register.tokens_issued == 1


def test_the_same_external_id_again_answers_the_same_document(
    register: AtolRegister, simulator: AtolSimulator
) -> None:
    first = register.register(basket(), "pay-1017-2")
    again = register.register(basket(), "pay-1017-2")
    assert again == first
    # the second send reached ATOL, which answered error 33: still one receipt
    assert sells(simulator) == 2 and list(simulator.documents) == ["pay-1017-2"]
    # the repeat read the document's report once, to compare it (it waited): now done
    attributes = register.report(again)
    assert attributes is not None and attributes.total == Decimal("2033.67")


def test_a_sell_whose_answer_was_lost_is_sent_again_without_a_second_receipt(
    simulator: AtolSimulator,
) -> None:
    register = AtolRegister(settings(simulator, timeout=0.5), sleep=no_sleep, now=lambda: NOW)
    simulator.fail_next("lost-answer")
    with pytest.raises(FiscalUnavailable) as lost:
        register.register(basket(), "pay-1017-3")
    assert lost.value.code == "timeout"
    # ATOL took it: the answer alone was lost, and the register did not send it again
    assert sells(simulator) == 1 and "pay-1017-3" in simulator.documents
    simulator.heal()
    uuid = register.register(basket(), "pay-1017-3")
    assert uuid == simulator.documents["pay-1017-3"].uuid
    assert len(simulator.documents) == 1
    register.close()


def test_an_expired_token_is_renewed_and_the_call_made_once_more(
    register: AtolRegister, simulator: AtolSimulator
) -> None:
    register.register(basket(), "pay-1017-4")
    simulator.expire_tokens()
    uuid = register.register(basket(), "pay-1017-5")
    assert register.tokens_issued == 2 and token_calls(simulator) == 2
    # the sell refused for its token (401, error 11) made no document; the repeat did
    assert simulator.documents["pay-1017-5"].uuid == uuid
    assert sells(simulator) == 3


def test_a_token_is_renewed_before_its_24_hours_are_over(simulator: AtolSimulator) -> None:
    now = [1000.0]
    register = AtolRegister(
        settings(simulator), clock=lambda: now[0], sleep=no_sleep, now=lambda: NOW
    )
    register.register(basket(), "pay-1017-6")
    now[0] += 22 * 3600
    register.report(simulator.documents["pay-1017-6"].uuid)
    assert token_calls(simulator) == 1
    now[0] += 2 * 3600  # 24 hours: past the register's 23, so no call is refused first
    register.report(simulator.documents["pay-1017-6"].uuid)
    assert token_calls(simulator) == 2
    assert not any(path.endswith("/report/") for _, path, _ in simulator.calls)
    register.close()


def test_a_refund_is_a_sell_refund(register: AtolRegister, simulator: AtolSimulator) -> None:
    sale = register.register(basket(), "pay-1017-24")
    uuid = register.refund(basket(), "refund-1017-24")
    assert uuid != sale
    assert simulator.documents["refund-1017-24"].operation == "sell_refund"
    assert simulator.calls[-1][1].endswith(f"/{simulator.group_code}/sell_refund")
    assert done(register, uuid).total == Decimal("2033.67")


def test_a_refused_receipt_names_the_field(
    register: AtolRegister, simulator: AtolSimulator
) -> None:
    silent = Supplier(UK.inn, UK.name, (), UK.vat)  # a payment agent's supplier needs a phone
    receipt = Receipt(
        [ReceiptPosition("Содержание жилья", "100.00", UK.vat, AgentType.PAYMENT_AGENT, silent)],
        customer_email=BUYER_EMAIL,
    )
    with pytest.raises(ReceiptRefused) as refused:
        register.register(receipt, "pay-1017-7")
    assert refused.value.code == "32"
    assert refused.value.field == "receipt.items[0].supplier_info.phones"
    assert "receipt.items[0].supplier_info.phones" in str(refused.value)
    assert simulator.documents == {}


def test_a_receipt_without_the_buyers_contact_is_refused(register: AtolRegister) -> None:
    with pytest.raises(ReceiptRefused) as refused:
        register.register(basket(email=None), "pay-1017-8")
    assert refused.value.field == "receipt.client"


def test_a_wrong_password_is_a_fiscal_error_not_a_refused_receipt(
    simulator: AtolSimulator,
) -> None:
    register = AtolRegister(settings(simulator, password="wrong-Pa55"), sleep=no_sleep)
    with pytest.raises(FiscalError) as wrong:
        register.register(basket(), "pay-1017-9")
    assert type(wrong.value) is FiscalError and wrong.value.code == "12"
    assert "wrong-Pa55" not in str(wrong.value)
    assert token_calls(simulator) == 1  # a refusal is not retried
    register.close()


def test_a_stalled_sell_times_out_and_is_not_retried(simulator: AtolSimulator) -> None:
    register = AtolRegister(settings(simulator, timeout=0.5), sleep=no_sleep, now=lambda: NOW)
    simulator.fail_next("stall")
    started = time.monotonic()
    with pytest.raises(FiscalUnavailable) as stalled:
        register.register(basket(), "pay-1017-10")
    assert time.monotonic() - started < 2.0
    assert stalled.value.code == "timeout"
    assert sells(simulator) == 1
    register.close()


def test_a_stalled_token_request_is_made_again(simulator: AtolSimulator) -> None:
    register = AtolRegister(settings(simulator, timeout=0.5), sleep=no_sleep, now=lambda: NOW)
    simulator.fail_next("stall", token=True)
    uuid = register.register(basket(), "pay-1017-22")
    assert token_calls(simulator) == 2 and register.tokens_issued == 1
    assert simulator.documents["pay-1017-22"].uuid == uuid
    register.close()


def test_a_stalled_report_is_read_again(register: AtolRegister, simulator: AtolSimulator) -> None:
    uuid = register.register(basket(), "pay-1017-11")
    slow = AtolRegister(settings(simulator, timeout=0.5), sleep=no_sleep)
    slow.report(uuid)  # the first poll: wait
    simulator.fail_next("stall")
    attributes = slow.report(uuid)
    assert attributes is not None and attributes.total == Decimal("2033.67")
    reports = [path for _, path, _ in simulator.calls if "/report/" in path]
    assert len(reports) == 3
    slow.close()


def test_report_retries_are_bounded(simulator: AtolSimulator, register: AtolRegister) -> None:
    uuid = register.register(basket(), "pay-1017-12")
    simulator.fail_next("http-500", times=5)
    with pytest.raises(FiscalUnavailable) as failing:
        register.report(uuid)
    assert failing.value.code == "500"
    reports = [path for _, path, _ in simulator.calls if "/report/" in path]
    assert len(reports) == 3  # attempts: 3


def test_a_server_error_on_sell_is_not_retried(
    register: AtolRegister, simulator: AtolSimulator
) -> None:
    simulator.fail_next("error-50")
    with pytest.raises(FiscalUnavailable):
        register.register(basket(), "pay-1017-13")
    assert sells(simulator) == 1


def test_a_failed_document_raises_receipt_failed(
    register: AtolRegister, simulator: AtolSimulator
) -> None:
    uuid = register.register(basket(), "pay-1017-14")
    simulator.fail_document("pay-1017-14")
    with pytest.raises(ReceiptFailed) as failed:
        register.report(uuid)
    assert failed.value.code == "1" and "new external_id" in str(failed.value)


def test_an_unknown_uuid_is_a_fiscal_error(register: AtolRegister) -> None:
    with pytest.raises(FiscalError) as unknown:
        register.report("00000000-0000-0000-0000-000000000000")
    assert unknown.value.code == "30" and not isinstance(unknown.value, ReceiptFailed)


def test_a_bad_external_id_is_refused_before_sending(
    register: AtolRegister, simulator: AtolSimulator
) -> None:
    with pytest.raises(ValueError, match="external_id"):
        register.register(basket(), "x" * 129)
    with pytest.raises(ValueError, match="external_id"):
        register.register(basket(), BUYER_EMAIL)
    assert simulator.calls == []


def test_cyrillic_arrives_as_sent(register: AtolRegister, simulator: AtolSimulator) -> None:
    register.register(basket(), "pay-1017-15")
    document = simulator.documents["pay-1017-15"]
    items = document.body["receipt"]["items"]
    assert [item["name"] for item in items] == [p.name for p in basket().positions]
    assert items[0]["supplier_info"]["name"] == "ООО «УК Ромашка»"
    assert "ООО «УК Ромашка»".encode() in document.raw


def test_money_reaches_atol_to_the_kopeck(register: AtolRegister, simulator: AtolSimulator) -> None:
    receipt = Receipt(
        [
            ReceiptPosition("Газ", "0.01", ReceiptVat.VAT20_120, quantity=3),
            ReceiptPosition("Свет", "999999.99", ReceiptVat.VAT22),
        ],
        customer_phone="+79161234567",
    )
    uuid = register.register(receipt, "pay-1017-16")
    body = simulator.documents["pay-1017-16"].body["receipt"]
    assert body["items"][0]["sum"] == Decimal("0.03")
    assert body["total"] == Decimal("1000000.02") == receipt.total
    assert b'"total":1000000.02' in simulator.documents["pay-1017-16"].raw
    assert done(register, uuid).total == Decimal("1000000.02")


def test_no_secret_or_contact_in_logs_errors_or_reprs(
    caplog: pytest.LogCaptureFixture, simulator: AtolSimulator
) -> None:
    caplog.set_level(logging.DEBUG)
    register = AtolRegister(settings(simulator, timeout=0.5), sleep=no_sleep, now=lambda: NOW)
    phone = "+79169998877"
    errors: list[str] = []
    uuid = register.register(basket(), "pay-1017-17")
    register.register(basket(), "pay-1017-17")  # its report read once: waiting
    simulator.expire_tokens()
    assert register.report(uuid) is not None
    register.register(basket(email=None, phone=phone), "pay-1017-18")
    refused = AtolRegister(settings(simulator, password="bad-Secret-1"))
    calls: list[Callable[[], str]] = [
        lambda: register.register(basket(email=None), "pay-1017-19"),
        lambda: refused.register(basket(), "pay-1017-20"),
    ]
    for call in calls:
        with pytest.raises(FiscalError) as caught:
            call()
        errors.append(str(caught.value))
    simulator.fail_next("stall")
    with pytest.raises(FiscalUnavailable) as stalled:
        register.register(basket(), "pay-1017-21")
    errors.append(str(stalled.value))
    simulator.heal()
    refused.close()
    shown = caplog.text + "\n".join(errors) + repr(register) + repr(register.settings)
    assert len(simulator.tokens) == 2 and "atol:" in caplog.text
    for secret in (PASSWORD, "bad-Secret-1", BUYER_EMAIL, phone, *simulator.tokens):
        assert secret not in shown
    register.close()


def test_a_position_v5_cannot_say_is_refused_before_sending(
    register: AtolRegister, simulator: AtolSimulator
) -> None:
    receipt = Receipt(
        [ReceiptPosition("Лотерея", "1.00", ReceiptVat.NONE, subject="lottery")],
        customer_email=BUYER_EMAIL,
    )
    with pytest.raises(ReceiptRefused) as refused:
        register.register(receipt, "pay-1017-23")
    assert refused.value.field == "receipt.items[0].payment_object"
    assert not any(path.endswith("/sell") for _, path, _ in simulator.calls)


def test_the_same_external_id_with_other_content_is_a_conflict_not_the_old_receipt(
    register: AtolRegister, simulator: AtolSimulator
) -> None:
    first = register.register(basket(), "pay-1017-9")
    done(register, first)
    smaller = Receipt(basket().positions[:1], customer_email=BUYER_EMAIL)
    assert smaller.total != basket().total
    # ATOL answers the key with the document it has (error 33), whatever was sent: that
    # document is not this receipt, and must not be taken for it
    with pytest.raises(ExternalIdConflict) as conflict:
        register.register(smaller, "pay-1017-9")
    assert isinstance(conflict.value, ReceiptRefused)
    assert (conflict.value.code, conflict.value.field) == ("33", "external_id")
    assert list(simulator.documents) == ["pay-1017-9"]
    document = simulator.documents["pay-1017-9"]
    assert document.uuid == first and len(document.repeats) == 1
    # the same content again is still the same receipt
    assert register.register(basket(), "pay-1017-9") == first
