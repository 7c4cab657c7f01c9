"""E-receipts on the service's cloud register (:mod:`pes_sdk_runner.receipts`).

Real parts: SQLite and PostgreSQL stores (``store_url``); АТОЛ Онлайн v5 as its loopback
simulator (``pes_sdk_atol.simulator.AtolSimulator``, a real HTTP server) reached by the
real ``atol`` register built from the runner's ``[receipts]`` table; the notifications'
e-mail transport on the sandbox ``outbox`` channel, whose file holds each e-mail handed
over. The e-mail's batch is sent in this process by :class:`Sender`, as the ``notify``
workflow's step does.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import attrs
import booked_payments
import pytest
from atol_receipts import (
    load_receipts_config,
    opened_register,
    receipts_config,
    receipts_table,
    write_receipts_config,
)
from example_inputs import UK_DOM, VODOKANAL
from pes_sdk_atol.simulator import AtolSimulator
from pes_sdk_outbox import read_outbox
from pes_sdk_runner.config.loader import RunnerConfigError, load_runner_config
from pes_sdk_runner.config.models import AdapterSettings, NotifyChannel, RunnerConfig
from pes_sdk_runner.notify import Sender, Template, message_key
from pes_sdk_runner.receipts import (
    build_receipt,
    contact_id,
    forget_contacts,
    issue_receipt,
    issue_refund_receipt,
    keep_contact,
    open_register,
    receipt_source,
    receipt_text,
    registers_receipts,
    sweep,
)
from pes_sdk_runner.store import SqlStore
from pes_sdk_runner.store.notify import MessageStatus
from pes_sdk_runner.store.receipts import FiscalReceipt, ReceiptOperation, ReceiptStatus
from pes_sdk_runner.usecases import ClientUseCases
from runner_proc import ENV

from pes_sdk.fiscal import FiscalAttributes, FiscalRegister
from pes_sdk.gateways.models import GatewayCapabilities, GatewayPayment, PaymentState
from pes_sdk.gateways.processor import PaymentProcessor
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.notifications import MAX_TEXT_LENGTH
from pes_sdk.plugins.manager import get_host
from pes_sdk.premises import Premises

# The e-mail's times are the service's (Yekaterinburg in the example), never the host's.
pytestmark = pytest.mark.timezone

HOUSE = "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"
EMAIL = "ivanova.buyer@mail.example"
#: the e-mail plugin's tests: its SMTP simulator
EMAIL_TESTS = Path(__file__).parents[2] / "plugins" / "email" / "tests"
#: noon in Yekaterinburg, 7 December 2026: outside any quiet hours
NOON = dt.datetime(2026, 12, 7, 7, 0, tzinfo=dt.UTC)


def no_wait(seconds: float) -> None:
    """The notification retries' wait: nothing here is retried, and nothing must sleep."""


@pytest.fixture
def config(tmp_path: Path, store_url: str, atol_simulator: AtolSimulator) -> RunnerConfig:
    return receipts_config(tmp_path, store_url, atol_simulator.endpoint)


@pytest.fixture
def register(config: RunnerConfig) -> Iterator[FiscalRegister]:
    with opened_register(config) as reg:
        yield reg


def line(inn: str, amount: str, fee: str = "0", account: str = "1001") -> PaymentLine:
    return PaymentLine(
        inn,
        account,
        Decimal(amount),
        service="Водоснабжение" if inn == VODOKANAL else "Содержание жилья",
        house_id=HOUSE,
        premises=Premises("кв. 1"),
        client_fee=Decimal(fee),
    )


def booked(store: SqlStore, lines: list[PaymentLine], **kwargs: str) -> uuid.UUID:
    return booked_payments.booked(store, lines, at=NOON, **kwargs)


def settle(store: SqlStore, order_id: uuid.UUID, state: PaymentState) -> None:
    booked_payments.settle(store, order_id, state, at=NOON)


def paid(store: SqlStore, lines: list[PaymentLine], **kwargs: str) -> uuid.UUID:
    return booked_payments.paid(store, lines, at=NOON, **kwargs)


class Mail:
    """The receipt e-mails queued, sent as the ``notify`` workflow sends them, and read
    back from the outbox (its lines name the address and the key, the store the source)."""

    def __init__(self, store: SqlStore, config: RunnerConfig) -> None:
        self.store = store
        self.config = config
        self.batches: list[list[int]] = []

    def enqueue(self, workflow_id: str, ids: list[int]) -> None:
        self.batches.append(ids)

    def send(self) -> None:
        sender = Sender(self.config, get_host(), sleep=no_wait)
        try:
            for ids in self.batches:
                sender.send_batch(self.store, ids, "test", now=lambda: NOON)
        finally:
            sender.close()
        self.batches.clear()

    def outbox(self, order_id: uuid.UUID) -> list[dict[str, object]]:
        return self.outbox_of(receipt_source(order_id))

    def outbox_of(self, source: str) -> list[dict[str, object]]:
        channel = self.config.notifications.channel("outbox")
        assert channel is not None
        path = Path(channel.adapter.settings["path"])
        keys = {message_key(m.source, m.client_id, m.target) for m in self.store.messages(source)}
        found = list(read_outbox(path)) if path.exists() else []
        return [dict(line) for line in found if line["key"] in keys]


# -- a paid payment's receipt -----------------------------------------------------------


def test_a_paid_payment_gets_one_receipt_its_fiscal_attributes_and_the_email(
    store: SqlStore,
    config: RunnerConfig,
    register: FiscalRegister,
    atol_simulator: AtolSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    order_id = booked(store, [line(VODOKANAL, "1234.56", fee="12.35")])
    keep_contact(store, order_id, EMAIL)
    mail = Mail(store, config)
    # not paid yet: nothing is sent
    assert issue_receipt(store, config, register, order_id, NOON, enqueue=mail.enqueue) is None
    settle(store, order_id, PaymentState.SUCCEEDED)

    first = issue_receipt(store, config, register, order_id, NOON, enqueue=mail.enqueue)
    assert first is not None
    # the register took it; its report waits for the first poll, as ATOL's queue does
    assert first.status is ReceiptStatus.WAIT and first.uuid is not None
    assert first.external_id == str(order_id) and first.client_id == "app:ivanova"
    row = issue_receipt(store, config, register, order_id, NOON, enqueue=mail.enqueue)
    assert row is not None and row.status is ReceiptStatus.DONE
    # the step run again: the same receipt, no second document, no second e-mail
    again = issue_receipt(store, config, register, order_id, NOON, enqueue=mail.enqueue)
    assert again == row
    assert list(atol_simulator.documents) == [str(order_id)]
    document = atol_simulator.documents[str(order_id)]
    assert document.operation == "sell"

    # what the register got: the buyer's e-mail (tag 1008), the payment agent's position
    # naming its supplier with the supplier's VAT, the fee as the service's own position
    body = document.body["receipt"]
    assert body["client"] == {"email": EMAIL}
    water, fee = body["items"]
    assert water["agent_info"]["type"] == "paying_agent"
    assert water["supplier_info"] == {
        "name": "АО «Водоканал»",
        "inn": VODOKANAL,
        "phones": ["+74957654321"],
    }
    assert water["vat"] == {"type": "vat20"} and str(water["sum"]) == "1234.56"
    assert "agent_info" not in fee and fee["vat"] == {"type": "vat22"}
    assert str(fee["sum"]) == "12.35" and str(body["total"]) == "1246.91"

    # what is stored: the report's fiscal attributes, to the kopeck
    payload = document.payload
    assert payload is not None
    a = row.attributes
    assert a is not None
    assert (a.fn, a.fd, a.fp) == (
        payload["fn_number"],
        payload["fiscal_document_number"],
        payload["fiscal_document_attribute"],
    )
    assert (a.shift, a.receipt_number) == (12, payload["fiscal_receipt_number"])
    assert a.total == Decimal("1246.91") and row.total == Decimal("1246.91")
    assert a.check_url == payload["ofd_receipt_url"]
    assert a.kkt_registration_number == payload["ecr_registration_number"]
    assert a.registered_at.utcoffset() == dt.timedelta(0)
    assert store.fiscal_receipts_of("app:ivanova") == [row]

    # the client's e-mail: one, to the address given, with the fiscal attributes in Russian
    assert len(mail.batches) == 1
    mail.send()
    (sent,) = mail.outbox(order_id)
    assert sent["to"] == EMAIL and sent["title"] == "Кассовый чек"
    text = str(sent["text"])
    when = a.registered_at.astimezone(config.service.time_zone).strftime("%d.%m.%Y %H:%M")
    assert text.splitlines() == [
        "Кассовый чек (приход) ООО «Энергосбыт-Платежи», ИНН 7701012342",
        f"Платёж {order_id}",
        "",
        "Водоснабжение: 1 234,56 руб. (поставщик АО «Водоканал», ИНН 7720123457)",
        "Вознаграждение платёжного агента: 12,35 руб.",
        "",
        "Итого: 1 246,91 руб.",
        f"Приход {when}, смена 12, чек {a.receipt_number}",
        f"ФН {a.fn}, ФД {a.fd}, ФП {a.fp}",
        f"РН ККТ {a.kkt_registration_number}",
        f"Чек на сайте ОФД: {a.check_url}",
        "Проверить чек можно по ФН, ФД и ФП на сайте ФНС nalog.gov.ru",
    ]
    # the contact was this e-mail's only: once it is sent, it is deleted
    assert forget_contacts(store, NOON) == 1
    assert contact_id(order_id) not in store.contacts_of([contact_id(order_id)])
    assert forget_contacts(store, NOON) == 0
    # the buyer's address reached the register and the e-mail, never a log
    assert "receipt.done" in caplog.text and EMAIL not in caplog.text


def test_a_lost_answer_is_sent_again_with_the_same_key_and_makes_one_receipt(
    store: SqlStore, config: RunnerConfig, register: FiscalRegister, atol_simulator: AtolSimulator
) -> None:
    order_id = paid(store, [line(VODOKANAL, "500.00")])
    keep_contact(store, order_id, EMAIL)
    atol_simulator.fail_next("lost-answer")  # ATOL takes the receipt; its answer never comes
    lost = issue_receipt(store, config, register, order_id, NOON)
    atol_simulator.heal()
    assert lost is not None and lost.status is ReceiptStatus.WAIT
    assert lost.uuid is None and lost.error_code == "timeout" and lost.attempts == 1
    assert list(atol_simulator.documents) == [str(order_id)]  # it was registered all the same

    mail = Mail(store, config)
    for _ in range(3):
        row = issue_receipt(store, config, register, order_id, NOON, enqueue=mail.enqueue)
    assert row is not None and row.status is ReceiptStatus.DONE
    assert row.uuid == atol_simulator.documents[str(order_id)].uuid
    sells = [c for c in atol_simulator.calls if c[1].endswith("/sell")]
    assert len(sells) == 2  # the repeat, answered with the document ATOL had (error 33)
    assert len(atol_simulator.documents) == 1 and len(mail.batches) == 1


def test_the_step_run_on_two_connections_at_once_makes_one_receipt_and_one_email(
    store: SqlStore,
    config: RunnerConfig,
    atol_simulator: AtolSimulator,
    open_more: Callable[[], SqlStore],
) -> None:
    order_id = paid(store, [line(VODOKANAL, "99.90")])
    keep_contact(store, order_id, EMAIL)
    atol_simulator.polls_before_done = 0
    stores = [open_more(), open_more()]
    registers = [open_register(config, get_host()) for _ in stores]
    mails = [Mail(s, config) for s in stores]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            start.wait()
            for _ in range(2):
                issue_receipt(
                    stores[n], config, registers[n], order_id, NOON, enqueue=mails[n].enqueue
                )
        except BaseException as exc:  # the test reads it below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for r in registers:
        r.close()
    assert not errors
    row = store.fiscal_receipt(order_id)
    assert row is not None and row.status is ReceiptStatus.DONE
    assert len(atol_simulator.documents) == 1
    # each run may queue the batch; its rows are keyed by the source: one e-mail
    messages = store.messages(receipt_source(order_id))
    assert len(messages) == 1 and messages[0].transport == "email"
    for m in mails:
        m.send()
    assert len(mails[0].outbox(order_id)) == 1


def test_the_receipt_email_goes_out_through_the_email_channel_over_smtp(
    store: SqlStore,
    config: RunnerConfig,
    register: FiscalRegister,
    atol_simulator: AtolSimulator,
    tmp_path: Path,
) -> None:
    # The e-mail plugin's own test server: a real SMTP server (aiosmtpd) on loopback, with
    # STARTTLS and AUTH as a mail provider has them.
    sys.path.insert(0, str(EMAIL_TESTS))
    try:
        from smtp_simulator import SmtpSimulator
    finally:
        sys.path.remove(str(EMAIL_TESTS))
    with SmtpSimulator(tmp_path) as smtp:
        channel = NotifyChannel("mail", "email", AdapterSettings(dict(smtp.settings)))
        notifications = attrs.evolve(
            config.notifications,
            channels=(*config.notifications.channels, channel),
            via={**config.notifications.via, "email": "mail"},
        )
        mailing = attrs.evolve(config, notifications=notifications)
        order_id = paid(store, [line(VODOKANAL, "2500.00")])
        keep_contact(store, order_id, EMAIL)
        mail = Mail(store, mailing)
        for _ in range(3):
            issue_receipt(store, mailing, register, order_id, NOON, enqueue=mail.enqueue)
        mail.send()
        mail.send()  # nothing more: the row is sent
        assert len(smtp.messages) == 1
        message = smtp.parsed()
        assert message["To"] == EMAIL and message["Subject"] == "Кассовый чек"
        body = message.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        row = store.fiscal_receipt(order_id)
        assert row is not None and row.attributes is not None
        a = row.attributes
        assert f"ФН {a.fn}, ФД {a.fd}, ФП {a.fp}" in text
        assert f"Чек на сайте ОФД: {a.check_url}" in text
        assert "Итого: 2 500,00 руб." in text
        (sent,) = store.messages(receipt_source(order_id))
        assert sent.status is MessageStatus.SENT and sent.channel == "mail"


def test_a_long_basket_names_its_first_positions_within_the_channels_limit(
    config: RunnerConfig,
) -> None:
    lines = [line(VODOKANAL, "10.00", account=f"{1000 + n}") for n in range(40)]
    payment = Payment(uuid.uuid4(), NOON, PaymentMethod.CARD, lines)
    receipt = build_receipt(config, [], payment)
    attributes = FiscalAttributes(
        "9999078902004181", 101, 3826346404, 12, 7, NOON, Decimal("400.00"),
        check_url="https://ofd.example.ru/rec?id=$amount",
    )  # fmt: skip
    row = FiscalReceipt(
        payment.payment_id, 0, ReceiptOperation.SELL, str(payment.payment_id), "atol",
        None, ReceiptStatus.DONE, Decimal("400.00"), NOON, NOON, attributes=attributes,
    )  # fmt: skip
    title, text = receipt_text(config, receipt, row)
    rendered = Template(text, title=title).render("email", EMAIL, "key", {"amount": "1"})
    assert len(rendered.text) <= MAX_TEXT_LENGTH
    shown = [ln for ln in rendered.text.splitlines() if ln.startswith("Водоснабжение: ")]
    assert 0 < len(shown) < 40
    assert f"…и ещё позиций: {40 - len(shown)}" in rendered.text
    assert "Итого: 400,00 руб." in rendered.text
    # a dollar sign in a URL or a name is text, not a template's field
    assert "Чек на сайте ОФД: https://ofd.example.ru/rec?id=$amount" in rendered.text


# -- what fails, and why ----------------------------------------------------------------


def test_a_refused_receipt_is_stored_failed_with_the_field_and_no_email(
    store: SqlStore, config: RunnerConfig, register: FiscalRegister, atol_simulator: AtolSimulator
) -> None:
    # УК Дом has no receipt phone: ATOL refuses a payment agent's supplier without one
    order_id = paid(store, [line(UK_DOM, "700.00")])
    keep_contact(store, order_id, EMAIL)
    mail = Mail(store, config)
    row = issue_receipt(store, config, register, order_id, NOON, enqueue=mail.enqueue)
    assert row is not None and row.status is ReceiptStatus.FAILED
    assert row.error_field is not None and "supplier_info.phones" in row.error_field
    assert row.attributes is None and row.uuid is None and not atol_simulator.documents
    # a failed receipt is the operator's: the step leaves it as it is
    assert issue_receipt(store, config, register, order_id, NOON, enqueue=mail.enqueue) == row
    assert store.fiscal_receipts_by_status(ReceiptStatus.FAILED) == [row]
    assert not mail.batches and not store.messages(receipt_source(order_id))
    # its address waits for an operator's resend, CONTACT_DAYS at most
    assert forget_contacts(store, NOON) == 0
    assert forget_contacts(store, NOON + dt.timedelta(days=8)) == 1


def test_a_receipt_the_register_could_not_register_is_failed_with_its_code(
    store: SqlStore, config: RunnerConfig, register: FiscalRegister, atol_simulator: AtolSimulator
) -> None:
    order_id = paid(store, [line(VODOKANAL, "10.00")])
    keep_contact(store, order_id, EMAIL)
    issue_receipt(store, config, register, order_id, NOON)
    atol_simulator.fail_document(str(order_id))  # ATOL's queue timed out: status fail
    row = issue_receipt(store, config, register, order_id, NOON)
    assert row is not None and row.status is ReceiptStatus.FAILED
    assert row.uuid == atol_simulator.documents[str(order_id)].uuid and row.attributes is None


def test_without_any_contact_the_receipt_is_failed_no_contact_before_anything_is_sent(
    store: SqlStore, config: RunnerConfig, register: FiscalRegister, atol_simulator: AtolSimulator
) -> None:
    order_id = paid(store, [line(VODOKANAL, "10.00")])
    row = issue_receipt(store, config, register, order_id, NOON)
    assert row is not None and row.status is ReceiptStatus.FAILED
    assert (row.error_code, row.error_field) == ("no-contact", "receipt.client")
    assert not atol_simulator.calls


def test_without_an_address_given_the_clients_own_contact_is_the_receipts(
    store: SqlStore, config: RunnerConfig, register: FiscalRegister, atol_simulator: AtolSimulator
) -> None:
    by_email = paid(store, [line(VODOKANAL, "10.00")], client="app:petrov")
    store.set_contact("app:petrov", email="petrov@mail.example", phone="+79160000001")
    by_phone = paid(store, [line(VODOKANAL, "20.00")], client="app:sidorov")
    store.set_contact("app:sidorov", phone="+79160000002")
    mail = Mail(store, config)
    for order_id in (by_email, by_phone, by_email, by_phone):
        issue_receipt(store, config, register, order_id, NOON, enqueue=mail.enqueue)
    clients = {k: d.body["receipt"]["client"] for k, d in atol_simulator.documents.items()}
    assert clients == {
        str(by_email): {"email": "petrov@mail.example"},
        str(by_phone): {"phone": "+79160000002"},
    }
    mail.send()
    assert [m["to"] for m in mail.outbox(by_email)] == ["petrov@mail.example"]
    # a phone only: the receipt is registered, no e-mail is sent
    row = store.fiscal_receipt(by_phone)
    assert row is not None and row.status is ReceiptStatus.DONE and row.mailed_at is not None
    assert not store.messages(receipt_source(by_phone))
    # the client's own contact stays; the copy made for the e-mail goes once it is sent
    assert forget_contacts(store, NOON) == 1
    assert store.contacts_of(["app:petrov"])["app:petrov"].email == "petrov@mail.example"


# -- refunds ----------------------------------------------------------------------------


def refunded(store: SqlStore, order_id: uuid.UUID, amount: str) -> None:
    """A refund of ``amount`` applied as the acquirer tells it (its count goes up by one)."""
    entry = store.get(order_id)
    assert entry is not None
    processor = PaymentProcessor(object(), store=store)  # type: ignore[arg-type]  # no calls out
    total = entry.refunded + Decimal(amount)
    state = (
        PaymentState.REFUNDED if total == entry.payment.total else PaymentState.PARTIALLY_REFUNDED
    )
    snapshot = GatewayPayment(
        "sandbox",
        f"gw-{order_id.hex}",
        order_id,
        state,
        entry.payment.total,
        refunded=total,
        paid_at=NOON,
    )
    processor.apply(snapshot)


def test_a_refund_registers_a_sell_refund_of_the_part_given_back_under_its_own_key(
    store: SqlStore, config: RunnerConfig, register: FiscalRegister, atol_simulator: AtolSimulator
) -> None:
    order_id = paid(store, [line(VODOKANAL, "1000.00", fee="10.00")])
    keep_contact(store, order_id, EMAIL)
    mail = Mail(store, config)
    for _ in range(2):
        issue_receipt(store, config, register, order_id, NOON, enqueue=mail.enqueue)
    parts = {0: Decimal("1005.00")}  # the whole service and half the fee
    # not refunded yet: nothing is registered
    assert issue_refund_receipt(store, config, register, order_id, 1, parts, NOON) is None
    refunded(store, order_id, "1005.00")
    first = issue_refund_receipt(
        store, config, register, order_id, 1, parts, NOON, enqueue=mail.enqueue
    )
    assert first is not None and first.status is ReceiptStatus.WAIT
    swept = sweep(store, config, register, NOON, enqueue=mail.enqueue)  # the sweep finishes it
    assert dict(swept.statuses) == {"done": 1}
    row = store.fiscal_receipt(order_id, 1)
    assert row is not None and row.status is ReceiptStatus.DONE
    assert row.operation is ReceiptOperation.SELL_REFUND and row.total == Decimal("1005.00")
    assert row.external_id == f"refund:{order_id}:1"
    document = atol_simulator.documents[f"refund:{order_id}:1"]
    assert document.operation == "sell_refund"
    water, fee = document.body["receipt"]["items"]
    assert water["agent_info"]["type"] == "paying_agent" and str(water["sum"]) == "1000.00"
    assert "agent_info" not in fee and str(fee["sum"]) == "5.00"
    assert document.body["receipt"]["client"] == {"email": EMAIL}
    # the sale's receipt is untouched, and each has its own e-mail
    sale = store.fiscal_receipt(order_id)
    assert sale is not None and sale.operation is ReceiptOperation.SELL
    assert len(atol_simulator.documents) == 2
    mail.send()
    (sent,) = mail.outbox_of(receipt_source(order_id, 1))
    assert str(sent["text"]).startswith("Кассовый чек (возврат прихода)")
    assert "Итого: 1 005,00 руб." in str(sent["text"])


# -- the sweep ----------------------------------------------------------------------------


def test_the_sweep_gives_each_paid_payment_its_receipt_and_forgets_unpaid_ones_contacts(
    store: SqlStore, config: RunnerConfig, register: FiscalRegister, atol_simulator: AtolSimulator
) -> None:
    first = paid(store, [line(VODOKANAL, "100.00")])
    second = paid(store, [line(VODOKANAL, "200.00", account="1002")])
    declined = booked(store, [line(VODOKANAL, "300.00")])
    waiting = booked(store, [line(VODOKANAL, "400.00")])
    for order_id in (first, second, declined, waiting):
        keep_contact(store, order_id, EMAIL)
    settle(store, declined, PaymentState.FAILED)
    mail = Mail(store, config)
    swept = sweep(store, config, register, NOON, enqueue=mail.enqueue)
    assert dict(swept.statuses) == {"wait": 2}
    assert swept.forgotten == 1  # the declined payment's: it will never be paid
    swept = sweep(store, config, register, NOON, enqueue=mail.enqueue)
    assert dict(swept.statuses) == {"done": 2}
    assert set(atol_simulator.documents) == {str(first), str(second)}
    mail.send()
    swept = sweep(store, config, register, NOON, enqueue=mail.enqueue)
    assert dict(swept.statuses) == {} and swept.forgotten == 2  # both e-mails sent
    # the payment still waiting keeps its contact, until CONTACT_DAYS have passed
    assert set(store.receipt_contacts("receipt:")) == {contact_id(waiting)}
    assert forget_contacts(store, NOON + dt.timedelta(days=8)) == 1
    for order_id in (first, second):
        (sent,) = mail.outbox(order_id)
        assert sent["to"] == EMAIL
        assert [m.status for m in store.messages(receipt_source(order_id))] == [MessageStatus.SENT]


def test_a_payment_paid_before_the_window_gets_no_receipt_from_the_sweep(
    store: SqlStore, config: RunnerConfig, register: FiscalRegister, atol_simulator: AtolSimulator
) -> None:
    order_id = paid(store, [line(VODOKANAL, "100.00")])
    keep_contact(store, order_id, EMAIL)
    swept = sweep(store, config, register, NOON + dt.timedelta(days=4))
    assert dict(swept.statuses) == {} and not atol_simulator.documents
    assert store.fiscal_receipt(order_id) is None


# -- paying ----------------------------------------------------------------------------


def test_paying_keeps_the_receipt_address_only_where_the_runner_registers_receipts(
    store: SqlStore, config: RunnerConfig
) -> None:
    for fiscalises in (False, True):
        # The use case reads the processor's gateway for its capabilities only, and every
        # acquirer simulator of the kit fiscalises: a stand-in says which kind it is.
        capabilities = GatewayCapabilities(methods=frozenset(PaymentMethod), receipts=fiscalises)
        processor = SimpleNamespace(gateway=SimpleNamespace(capabilities=capabilities))
        cases = ClientUseCases(store, config, get_host(), processor)  # type: ignore[arg-type]
        order_id = uuid.uuid4()
        cases.keep_receipt_contact(order_id, EMAIL)
        kept = store.contacts_of([contact_id(order_id)])
        assert (contact_id(order_id) in kept) is not fiscalises
        if not fiscalises:
            assert kept[contact_id(order_id)].email == EMAIL


# -- configuration --------------------------------------------------------------------------


def test_the_register_is_used_only_for_a_gateway_that_does_not_fiscalise(
    config: RunnerConfig,
) -> None:
    assert registers_receipts(
        config, GatewayCapabilities(methods=frozenset(PaymentMethod), receipts=False)
    )
    assert not registers_receipts(
        config, GatewayCapabilities(methods=frozenset(PaymentMethod), receipts=True)
    )


def test_an_unknown_register_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = write_receipts_config(
        tmp_path, None, receipts_table("http://127.0.0.1:9", register="kassa")
    )
    with pytest.raises(RunnerConfigError) as info:
        load_receipts_config(path)
    assert info.value.keys == ("receipts.register",)
    assert "kassa" in str(info.value) and "atol" in str(info.value)


def test_a_wrong_register_setting_is_named_at_load(tmp_path: Path) -> None:
    table = receipts_table("http://127.0.0.1:9").replace('"osn"', '"simplified"')
    with pytest.raises(RunnerConfigError) as info:
        load_receipts_config(write_receipts_config(tmp_path, None, table))
    assert info.value.keys == ("receipts.settings",)
    assert "sno" in str(info.value)
    # the password comes from the environment: its absence is named, never a value
    with pytest.raises(RunnerConfigError) as info:
        load_runner_config(
            write_receipts_config(tmp_path, None, receipts_table("http://127.0.0.1:9")), env=ENV
        )
    assert "receipts.secrets_env.password" in info.value.keys


def test_a_register_needs_receipts_enabled(tmp_path: Path) -> None:
    table = receipts_table("http://127.0.0.1:9").replace("enabled = true", "enabled = false")
    with pytest.raises(RunnerConfigError) as info:
        load_receipts_config(write_receipts_config(tmp_path, None, table))
    assert info.value.keys == ("receipts.register",)
