"""The cabinet's «Архив квитанций» shows the receipt this runner registered on its cloud
register (docs/receipts.md): registered (done) with its date, total, ФН/ФД/ФП and the
check's link; waiting («чек формируется»); failed («чек не сформирован»).

Real parts: SQLite and PostgreSQL stores; АТОЛ Онлайн v5 as its loopback simulator
(``pes_sdk_atol.simulator.AtolSimulator``), reached by the real ``atol`` register built
from the ``[receipts]`` table test_receipts_fiscal.py uses too (support/atol_receipts.py); the
cabinet's pages over loopback HTTP with a signed-in client.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import booked_payments
import pytest
from api_harness import ACCOUNT, HOUSE, Running
from atol_receipts import opened_register, receipts_config
from cabinet_web import WebClient, serve_cabinet
from pes_sdk_atol.simulator import AtolSimulator
from pes_sdk_runner.cabinet.sessions import client_key
from pes_sdk_runner.config.models import RunnerConfig
from pes_sdk_runner.receipts import issue_receipt, keep_contact
from pes_sdk_runner.store import SqlStore
from pes_sdk_runner.store.receipts import ReceiptStatus

from pes_sdk.fiscal import FiscalRegister
from pes_sdk.models.payments import PaymentLine
from pes_sdk.premises import Premises

# The receipt's date is shown in the service's zone (Yekaterinburg), never the host's.
pytestmark = pytest.mark.timezone

#: noon in Yekaterinburg, 7 December 2026
NOON = dt.datetime(2026, 12, 7, 7, 0, tzinfo=dt.UTC)
EMAIL = "ivanova.buyer@mail.example"


@pytest.fixture
def running(store_url: str, tmp_path: Path) -> Iterator[Running]:
    with serve_cabinet(store_url, tmp_path / "cabinet", receipts=True) as r:
        yield r


@pytest.fixture
def fiscal(
    tmp_path: Path, store_url: str, atol_simulator: AtolSimulator
) -> Iterator[tuple[RunnerConfig, FiscalRegister]]:
    """The runner's configuration with the ATOL register, and the register."""
    config = receipts_config(tmp_path, store_url, atol_simulator.endpoint)
    with opened_register(config) as register:
        yield config, register


def paid(store: SqlStore, inn: str, amount: str, owner: str) -> uuid.UUID:
    """A payment the cabinet ``owner`` made, paid as the acquirer's webhook would say."""
    line = PaymentLine(
        inn,
        ACCOUNT,
        Decimal(amount),
        service="Отопление",
        house_id=HOUSE,
        premises=Premises("кв. 12А"),
    )
    order_id = booked_payments.paid(store, [line], at=NOON, client=owner, owner=owner)
    keep_contact(store, order_id, EMAIL)
    return order_id


def kept(workflow_id: str, ids: list[int]) -> None:
    """The receipt e-mail's batch: not this test's business (test_receipts_fiscal.py sends
    them); kept out of the job engine, whose tables this store does not have."""


def cards(text: str) -> dict[str, str]:
    """Each receipt card's HTML by its payment's order id."""
    found = re.findall(r'<section class="card receipt-card".*?</section>', text, flags=re.S)
    out = {}
    for card in found:
        order = re.search(r"Платёж ([0-9a-f-]{36})", card)
        assert order is not None
        out[order.group(1)] = card
    return out


def test_the_archive_shows_each_payments_fiscal_receipt_as_the_register_has_it(
    running: Running,
    fiscal: tuple[RunnerConfig, FiscalRegister],
    atol_simulator: AtolSimulator,
) -> None:
    r = running
    config, register = fiscal
    c = WebClient(r.base)
    c.login(r)
    owner = client_key(1)  # the first cabinet
    vodokanal, uk_dom = r.inns[1], r.inns[0]

    done = paid(r.store, vodokanal, "1234.56", owner)
    waiting = paid(r.store, vodokanal, "10.00", owner)
    # УК Дом has no receipt phone in the register's configuration: ATOL refuses it
    failed = paid(r.store, uk_dom, "700.00", owner)
    none_yet = paid(r.store, vodokanal, "20.00", owner)
    for order_id in (done, done, waiting, failed):
        issue_receipt(r.store, config, register, order_id, NOON, enqueue=kept)
    statuses = {f.order_id: f.status for f in r.store.fiscal_receipts_of(owner)}
    assert statuses == {
        done: ReceiptStatus.DONE,
        waiting: ReceiptStatus.WAIT,
        failed: ReceiptStatus.FAILED,
    }
    registered = next(f for f in r.store.fiscal_receipts_of(owner) if f.order_id == done)
    attributes = registered.attributes
    assert attributes is not None and attributes.check_url

    page = c.get("/cabinet/receipts")
    assert page.status == 200
    shown = cards(page.text)
    assert set(shown) == {str(done), str(waiting), str(failed), str(none_yet)}

    card = shown[str(done)]
    when = attributes.registered_at.astimezone(r.config.service.time_zone)
    assert f"Кассовый чек</strong> от {when:%d.%m.%Y %H:%M}" in card
    assert "на 1\u00a0234,56\u00a0руб." in card
    assert f"ФН {attributes.fn} · ФД {attributes.fd} · ФП {attributes.fp}" in card
    assert f'href="{attributes.check_url.replace("&", "&amp;")}"' in card
    assert "Проверить чек" in card

    assert "чек формируется" in shown[str(waiting)].lower()
    assert "ФН " not in shown[str(waiting)]
    assert "чек не сформирован" in shown[str(failed)].lower()
    assert "ФН " not in shown[str(failed)]
    # no receipt row yet (the sweep has not reached it): the payment's receipt as before
    assert "Кассовый чек" not in shown[str(none_yet)]

    # the register's answer on the next poll: the waiting one is registered
    issue_receipt(r.store, config, register, waiting, NOON, enqueue=kept)
    shown = cards(c.get("/cabinet/receipts").text)
    assert "чек формируется" not in shown[str(waiting)].lower()
    assert "ФН " in shown[str(waiting)] and "на 10,00\u00a0руб." in shown[str(waiting)]


def test_another_clients_fiscal_receipts_are_not_shown(
    running: Running, fiscal: tuple[RunnerConfig, FiscalRegister]
) -> None:
    r = running
    config, register = fiscal
    mine = WebClient(r.base)
    mine.login(r)
    other = paid(r.store, r.inns[1], "55.00", client_key(999))
    issue_receipt(r.store, config, register, other, NOON, enqueue=kept)
    issue_receipt(r.store, config, register, other, NOON, enqueue=kept)
    page = mine.get("/cabinet/receipts")
    assert page.status == 200
    assert str(other) not in page.text and "ФН " not in page.text
