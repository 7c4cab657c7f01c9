"""Failed e-receipts for an operator: ``pes runner receipts list|resend``, and a key ATOL
already has with other content.

Real parts: SQLite and PostgreSQL stores (``store_url``); АТОЛ Онлайн v5 as its loopback
simulator reached by the real ``atol`` register of the runner's ``[receipts]`` table; the
``pes`` command through click's runner, on the configuration file and store the test's
own code uses.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import booked_payments
import pytest
from atol_receipts import (
    PASSWORD_ENV,
    load_receipts_config,
    opened_register,
    receipts_table,
    write_receipts_config,
)
from click.testing import CliRunner, Result
from example_inputs import UK_DOM, VODOKANAL
from pes_sdk_atol.simulator import PASSWORD, AtolSimulator
from pes_sdk_runner.config.models import RunnerConfig
from pes_sdk_runner.receipts import Resent, build_receipt, issue_receipt, keep_contact, resend
from pes_sdk_runner.receipts import sweep as receipts_sweep
from pes_sdk_runner.store import SqlStore
from pes_sdk_runner.store.receipts import ReceiptStatus
from runner_proc import ENV

from pes_sdk.cli.main import cli
from pes_sdk.fiscal import FiscalRegister
from pes_sdk.models.payments import PaymentLine
from pes_sdk.premises import Premises

# The list's times are the service's (Yekaterinburg in the example), never the host's.
pytestmark = pytest.mark.timezone

HOUSE = "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"
EMAIL = "ivanova.buyer@mail.example"
PHONE_CLIENT = "+79161234567"
#: noon in Yekaterinburg, 7 December 2026
NOON = dt.datetime(2026, 12, 7, 7, 0, tzinfo=dt.UTC)


@pytest.fixture
def config_path(tmp_path: Path, store_url: str, atol_simulator: AtolSimulator) -> Path:
    return write_receipts_config(tmp_path, store_url, receipts_table(atol_simulator.endpoint))


@pytest.fixture
def config(config_path: Path) -> RunnerConfig:
    return load_receipts_config(config_path)


@pytest.fixture
def register(config: RunnerConfig) -> Iterator[FiscalRegister]:
    with opened_register(config) as reg:
        yield reg


def pes(config_path: Path, *args: str) -> Result:
    """``pes runner receipts ARGS`` on the test's configuration, as an operator runs it."""
    env = {**ENV, PASSWORD_ENV: PASSWORD}
    return CliRunner().invoke(
        cli, ["runner", "receipts", *args, "--config", str(config_path)], env=env
    )


def line(inn: str, amount: str) -> PaymentLine:
    return PaymentLine(
        inn,
        "1001",
        Decimal(amount),
        service="Водоснабжение" if inn == VODOKANAL else "Содержание жилья",
        house_id=HOUSE,
        premises=Premises("кв. 1"),
    )


def paid(store: SqlStore, lines: list[PaymentLine], client: str = "app:ivanova") -> uuid.UUID:
    """A payment recorded paid, through the processor as a webhook would."""
    return booked_payments.paid(store, lines, at=NOON, client=client)


class Mails:
    """The e-mails' batches the receipts queue, kept here rather than on the job engine
    (its tables are not made in these tests; the e-mail is test_receipts_fiscal.py's)."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def enqueue(self, workflow_id: str, ids: list[int]) -> None:
        self.batches.append(ids)


def sells(simulator: AtolSimulator) -> int:
    return sum(1 for _, path, _ in simulator.calls if path.endswith("/sell"))


# -- list ---------------------------------------------------------------------------------


def test_list_says_what_failed_and_why_without_a_contact(
    store: SqlStore,
    config: RunnerConfig,
    config_path: Path,
    register: FiscalRegister,
    atol_simulator: AtolSimulator,
) -> None:
    # refused by ATOL: УК Дом's supplier has no phone (error 32 naming the field)
    refused = paid(store, [line(UK_DOM, "700.00")], client=PHONE_CLIENT)
    keep_contact(store, refused, EMAIL)
    issue_receipt(store, config, register, refused, NOON)
    # never sent: no contact at all
    lonely = paid(store, [line(VODOKANAL, "10.00")], client="cabinet:42")
    issue_receipt(store, config, register, lonely, NOON)
    # registered: not in the list
    fine = paid(store, [line(VODOKANAL, "20.00")])
    keep_contact(store, fine, EMAIL)
    issue_receipt(store, config, register, fine, NOON)

    shown = pes(config_path, "list", "--state", "failed")
    assert shown.exit_code == 0, shown.output
    rows = [r.split("\t") for r in shown.output.splitlines()]
    assert sorted(r[0] for r in rows) == sorted([str(refused), str(lonely)])
    by_order = {r[0]: r for r in rows}
    assert "supplier_info.phones" in by_order[str(refused)][4]
    assert by_order[str(lonely)][4] == "no-contact (receipt.client)"
    assert by_order[str(lonely)][3] == "2026-12-07 12:00"  # the service's time zone

    as_json = pes(config_path, "list", "--json")
    assert as_json.exit_code == 0, as_json.output
    views = {v["order_id"]: v for v in json.loads(as_json.output)}
    assert set(views) == {str(refused), str(lonely)}
    assert views[str(refused)]["external_id"] == str(refused)
    assert views[str(refused)]["error_code"] == "32"
    assert views[str(refused)]["client"] == "+7******4567"  # masked as the logs mask it
    assert views[str(lonely)]["client"] == "cabinet:42"
    # no personal data: neither the buyer's address nor the payer's phone
    for text in (shown.output, as_json.output):
        assert EMAIL not in text and PHONE_CLIENT not in text

    # --since: the day they failed is in, the next day is not
    assert len(json.loads(pes(config_path, "list", "--json", "--since", "2026-12-07").output)) == 2
    later = pes(config_path, "list", "--json", "--since", "2026-12-08")
    assert later.exit_code == 0 and json.loads(later.output) == []


# -- resend -------------------------------------------------------------------------------


def test_resend_puts_a_failed_receipt_back_under_its_own_key_and_makes_one_receipt(
    store: SqlStore,
    config: RunnerConfig,
    config_path: Path,
    register: FiscalRegister,
    atol_simulator: AtolSimulator,
) -> None:
    # refused by ATOL (error 32): УК Дом, a payment agent's supplier, has no phone
    order_id = paid(store, [line(UK_DOM, "500.00")])
    keep_contact(store, order_id, EMAIL)
    mails = Mails()
    failed = issue_receipt(store, config, register, order_id, NOON, enqueue=mails.enqueue)
    assert failed is not None and failed.status is ReceiptStatus.FAILED
    assert failed.error_code == "32" and not atol_simulator.documents
    # the next pass leaves a failed receipt alone, and keeps its address for a resend
    receipts_sweep(store, config, register, NOON, enqueue=mails.enqueue)
    assert not atol_simulator.documents and sells(atol_simulator) == 1

    # the cause removed: the operator configures УК Дом's phone
    text = config_path.read_text(encoding="utf-8")
    fixed = 'cutoff = "20:00"\nreceipt_phone = "+74951234567"'
    config_path.write_text(text.replace('cutoff = "20:00"', fixed, 1), encoding="utf-8")
    config = load_receipts_config(config_path)

    done = pes(config_path, "resend", str(order_id))
    assert done.exit_code == 0, done.output
    assert f"{order_id}: to be sent again as {order_id}" in done.output
    row = store.fiscal_receipt(order_id)
    assert row is not None and row.status is ReceiptStatus.WAIT
    assert row.external_id == failed.external_id and row.error_code is None

    # the next passes (two, as two processes would) register it once, under the same key
    with opened_register(config) as fixed_register, opened_register(config) as other:
        for each in (fixed_register, other, fixed_register):
            receipts_sweep(store, config, each, NOON, enqueue=mails.enqueue)
    row = store.fiscal_receipt(order_id)
    assert row is not None and row.status is ReceiptStatus.DONE
    assert list(atol_simulator.documents) == [str(order_id)]
    document = atol_simulator.documents[str(order_id)]
    assert row.uuid == document.uuid and sells(atol_simulator) == 2  # refused, then once
    assert document.body["receipt"]["client"] == {"email": EMAIL}  # the address kept
    assert len(mails.batches) == 1  # the client's e-mail, once

    # a receipt that is not failed is refused, naming it; nothing changes
    again = pes(config_path, "resend", str(order_id))
    assert again.exit_code == 1
    assert f"{order_id}: not failed (done)" in again.output
    assert store.fiscal_receipt(order_id) == row


def test_resend_refuses_an_unknown_receipt_and_a_document_the_register_failed(
    store: SqlStore,
    config: RunnerConfig,
    config_path: Path,
    register: FiscalRegister,
    atol_simulator: AtolSimulator,
) -> None:
    order_id = paid(store, [line(VODOKANAL, "10.00")])
    keep_contact(store, order_id, EMAIL)
    issue_receipt(store, config, register, order_id, NOON)
    atol_simulator.fail_document(str(order_id))  # ATOL's queue timed out: status fail
    failed = issue_receipt(store, config, register, order_id, NOON)
    assert failed is not None and failed.status is ReceiptStatus.FAILED and failed.uuid

    # ATOL keeps that failed document under the key: the same key would answer it again
    held = pes(config_path, "resend", str(order_id))
    assert held.exit_code == 1
    assert str(order_id) in held.output and failed.uuid in held.output
    assert store.fiscal_receipt(order_id) == failed

    unknown = uuid.uuid4()
    missing = pes(config_path, "resend", str(unknown))
    assert missing.exit_code == 1 and f"{unknown}: no such receipt" in missing.output

    assert pes(config_path, "resend", "not-an-order").exit_code == 2
    assert pes(config_path, "resend").exit_code == 2  # neither receipts nor --all-failed
    both = pes(config_path, "resend", str(order_id), "--all-failed")
    assert both.exit_code == 2


def test_resend_all_failed_puts_back_each_it_can_and_says_which_it_cannot(
    store: SqlStore,
    config: RunnerConfig,
    config_path: Path,
    register: FiscalRegister,
    atol_simulator: AtolSimulator,
) -> None:
    lonely = [paid(store, [line(VODOKANAL, f"{n}.00")]) for n in (11, 12)]
    for order_id in lonely:
        issue_receipt(store, config, register, order_id, NOON)
    held = paid(store, [line(VODOKANAL, "13.00")])
    keep_contact(store, held, EMAIL)
    issue_receipt(store, config, register, held, NOON)
    atol_simulator.fail_document(str(held))
    issue_receipt(store, config, register, held, NOON)

    done = pes(config_path, "resend", "--all-failed")
    assert done.exit_code == 1  # one could not be resent
    assert f"{held}: the register took it" in done.output
    statuses = {o: store.fiscal_receipt(o) for o in [*lonely, held]}
    assert [statuses[o].status for o in lonely] == [ReceiptStatus.WAIT] * 2  # type: ignore[union-attr]
    assert statuses[held].status is ReceiptStatus.FAILED  # type: ignore[union-attr]
    # run again: nothing failed is left that it can resend
    assert "to be sent again" not in pes(config_path, "resend", "--all-failed").output


def test_resend_twice_finds_it_waiting_and_a_refund_is_named_by_its_number(
    store: SqlStore, config: RunnerConfig, config_path: Path, register: FiscalRegister
) -> None:
    order_id = paid(store, [line(VODOKANAL, "10.00")])
    failed = issue_receipt(store, config, register, order_id, NOON)  # no contact: failed
    assert resend(store, order_id, NOON) == (Resent.RESENT, failed)  # the row as found
    outcome, row = resend(store, order_id, NOON)
    assert outcome is Resent.NOT_FAILED and row is not None and row.status is ReceiptStatus.WAIT
    # ORDER_ID:N names its n-th refund's receipt: this payment has none
    assert resend(store, order_id, NOON, 1) == (Resent.UNKNOWN, None)
    refund = pes(config_path, "resend", f"{order_id}:1")
    assert refund.exit_code == 1 and f"{order_id}:1: no such receipt" in refund.output


# -- a key ATOL has with other content ----------------------------------------------------


def paid_with_its_key_taken(
    store: SqlStore, config: RunnerConfig, register: FiscalRegister
) -> tuple[uuid.UUID, str]:
    """A payment of 500.00, and the register's document of another payment's receipt (7.00)
    sent earlier under its key (its external_id)."""
    order_id = paid(store, [line(VODOKANAL, "500.00")])
    keep_contact(store, order_id, EMAIL)
    other = paid(store, [line(VODOKANAL, "7.00")])
    entry = store.get(other)
    assert entry is not None
    earlier = build_receipt(config, store.partners(), entry.payment, email=EMAIL)
    return order_id, register.register(earlier, str(order_id))


def test_a_key_atol_registered_with_another_total_fails_the_receipt_for_an_operator(
    store: SqlStore,
    config: RunnerConfig,
    register: FiscalRegister,
    atol_simulator: AtolSimulator,
) -> None:
    # the key reached ATOL before with another receipt (a restored database, another
    # installation on the same group), and ATOL registered it
    order_id, document = paid_with_its_key_taken(store, config, register)
    register.report(document)
    assert register.report(document) is not None

    row = issue_receipt(store, config, register, order_id, NOON, enqueue=Mails().enqueue)
    assert row is not None and row.status is ReceiptStatus.FAILED
    assert (row.error_code, row.error_field) == ("33", "external_id")
    assert row.attributes is None and row.uuid is None
    assert len(atol_simulator.documents) == 1  # nothing more was registered


def test_a_report_of_another_total_under_the_key_is_not_stored_as_this_receipt(
    store: SqlStore,
    config: RunnerConfig,
    register: FiscalRegister,
    atol_simulator: AtolSimulator,
) -> None:
    # taken, not registered yet: not comparable
    order_id, _ = paid_with_its_key_taken(store, config, register)

    # ATOL answers the key with that document (error 33); registered by the report read
    # next, its total is the other payment's
    row = issue_receipt(store, config, register, order_id, NOON, enqueue=Mails().enqueue)
    assert row is not None and row.status is ReceiptStatus.FAILED
    assert (row.error_code, row.error_field) == ("total-differs", "receipt.total")
    assert row.attributes is None and row.uuid == atol_simulator.documents[str(order_id)].uuid
    assert not store.fiscal_receipts_to_mail()  # no e-mail of another payment's receipt
    # the register holds that document under the key: resending it is refused
    assert resend(store, order_id, NOON)[0] is Resent.HELD
