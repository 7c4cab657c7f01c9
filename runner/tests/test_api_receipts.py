"""54-ФЗ receipts of the runner's payments: ``[receipts]`` in the configuration, the
client's ``receipt_email`` through ``ClientUseCases.pay`` and ``POST /v1/payments``, and what
the sandbox acquirer receives (over real HTTP on loopback)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from api_harness import ENV, Running, accept, basket, serve
from pes_sdk_runner.config import (
    RunnerConfig,
    RunnerConfigError,
    example_config_path,
    parse_runner_config,
)
from pes_sdk_runner.config.models import ReceiptsConfig
from pes_sdk_runner.usecases import BasketLine, ClientUseCases, Refused, order_id_of
from pes_sdk_sandbox import SandboxGateway

from pes_sdk.models.receipts import ReceiptVat

PHONE = "+73422000000"


def with_receipts(config: RunnerConfig) -> RunnerConfig:
    first = attrs.evolve(config.partners[0], receipt_phone=PHONE, receipt_vat=ReceiptVat.VAT22)
    return attrs.evolve(
        config,
        receipts=ReceiptsConfig(enabled=True, fee_vat=ReceiptVat.VAT22),
        partners=(first, *config.partners[1:]),
    )


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    with serve(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, change=with_receipts) as running:
        yield running


def _pay(r: Running, **more: Any) -> Any:
    assert accept(r, r.inns[0], "Отопление").status == 200
    body = {**basket(r, (0, "1500.50")), **more}
    return r.call("POST", "/v1/payments", body, headers={"Idempotency-Key": str(uuid.uuid4())})


def _at_acquirer(r: Running, order_id: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    gateway = r.gateway
    assert isinstance(gateway, SandboxGateway) and gateway.simulator is not None
    sim = gateway.simulator
    [payment_id] = sim.payments_for(order_id)
    with sim._lock:  # the receipt's positions as the acquirer keeps them
        lines = list(sim._payments[payment_id].lines)
    return sim.receipt_customer(payment_id), lines


def test_the_acquirer_sees_the_email_of_a_basket_paid_through_the_api(running: Running) -> None:
    paid = _pay(running, receipt_email="ivan@example.ru")
    assert paid.status == 200, paid.body
    customer, lines = _at_acquirer(running, paid.json["order_id"])
    assert customer == {"email": "ivan@example.ru"}
    uk = running.config.partners[0]
    agent = lines[0]
    assert (agent["agent_type"], agent["supplier_inn"], agent["supplier_name"]) == (
        "payment_agent",
        uk.inn,
        uk.name,
    )
    assert (agent["supplier_phones"], agent["vat"]) == (PHONE, "vat22")
    assert sum(Decimal(i["amount"]) for i in lines) == Decimal(paid.json["total"])


def test_without_an_email_the_receipt_names_no_contact(running: Running) -> None:
    paid = _pay(running)
    assert paid.status == 200, paid.body
    customer, lines = _at_acquirer(running, paid.json["order_id"])
    assert customer == {} and lines[0]["supplier_name"] == running.config.partners[0].name


@pytest.mark.parametrize("email", ["not-an-address", "ivan@example", "иван@пример.рф", 7])
def test_a_bad_email_is_422_naming_receipt_email(running: Running, email: object) -> None:
    refused = _pay(running, receipt_email=email)
    assert refused.status == 422, refused.body
    assert refused.json["field"] == "receipt_email"
    gateway = running.gateway
    assert isinstance(gateway, SandboxGateway) and gateway.simulator is not None
    assert gateway.simulator.report().payments == 0


def test_the_address_is_not_logged(running: Running, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("DEBUG"):
        assert _pay(running, receipt_email="secret.person@example.ru").status == 200
    assert "secret.person" not in caplog.text


def test_the_use_case_refuses_a_bad_email_before_anything_is_booked(running: Running) -> None:
    uc = running.app.state.api.clients
    assert isinstance(uc, ClientUseCases)
    with pytest.raises(Refused) as caught:
        uc.pay(
            "app:user-1",
            [BasketLine(running.inns[0], "1234567890", Decimal("1.00"), "Отопление")],
            owner="app",
            key="k-1",
            return_url="https://cabinet.example/paid",
            receipt_email="nope",
        )
    assert caught.value.field == "receipt_email"
    assert running.store.payment_app(order_id_of("app", "k-1")) is None  # nothing booked


def test_blank_is_none() -> None:
    assert ClientUseCases.check_receipt_email("  ") is None
    assert ClientUseCases.check_receipt_email(None) is None
    assert ClientUseCases.check_receipt_email(" ivan@example.ru ") == "ivan@example.ru"
    with pytest.raises(Refused) as caught:
        ClientUseCases.check_receipt_email("ivan@@example.ru")
    assert (caught.value.code, caught.value.field) == ("invalid", "receipt_email")


def test_receipts_off_by_default_send_no_contact(tmp_path: Path) -> None:
    with serve(f"sqlite:///{tmp_path / 'api.db'}", tmp_path) as r:
        assert not r.config.receipts.enabled
        paid = _pay(r, receipt_email="ivan@example.ru")
        assert paid.status == 200, paid.body
        customer, lines = _at_acquirer(r, paid.json["order_id"])
        assert customer == {}  # no receipt from the runner: the address goes nowhere
        assert "supplier_name" not in lines[0]


# -- the configuration --------------------------------------------------------------------


def _parse(tmp_path: Path, receipts: str, partner: str = "") -> RunnerConfig:
    text = example_config_path().read_text(encoding="utf-8")
    first = text.index("[[partners]]")
    end = text.index("\n", first) + 1
    text = text[:first] + receipts + "\n" + text[first:end] + partner + text[end:]
    return parse_runner_config(text, base=tmp_path, env=ENV, data=tmp_path)


def test_receipts_section_loads(tmp_path: Path) -> None:
    config = _parse(
        tmp_path,
        '[receipts]\nenabled = true\nfee_vat = "vat20"\n',
        f'receipt_phone = "{PHONE}"\nreceipt_vat = "vat22"\n',
    )
    assert config.receipts == ReceiptsConfig(True, ReceiptVat.VAT20)
    supplier = config.partners[0].supplier
    assert (supplier.inn, supplier.name, supplier.phones, supplier.vat) == (
        config.partners[0].inn,
        config.partners[0].name,
        (PHONE,),
        ReceiptVat.VAT22,
    )
    assert config.partners[1].supplier.phones == ()


@pytest.mark.parametrize(
    ("receipts", "partner", "key"),
    [
        ("[receipts]\nenabled = true\n", "", "receipts.fee_vat"),
        ('[receipts]\nenabled = true\nfee_vat = "18%"\n', "", "receipts.fee_vat"),
        ('[receipts]\nenabled = "yes"\n', "", "receipts.enabled"),
        ("[receipts]\nsuppliers = 1\n", "", "receipts.suppliers"),
        ("", 'receipt_phone = "8 342 200-00-00"\n', "partners[0].receipt_phone"),
        ("", 'receipt_vat = "vat18"\n', "partners[0].receipt_vat"),
    ],
)
def test_receipts_problems_name_the_key(
    tmp_path: Path, receipts: str, partner: str, key: str
) -> None:
    with pytest.raises(RunnerConfigError) as caught:
        _parse(tmp_path, receipts, partner)
    assert key in caught.value.keys, caught.value.problems
