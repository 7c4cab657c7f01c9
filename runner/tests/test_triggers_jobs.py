"""The triggers on the job engine: two ``pes runner worker`` processes on a scratch
PostgreSQL schema (``pg_url``), their tick every second and the triggers' stage every two.

A registry dropped in a partner's inbox is ingested by the scan's workflow, which queues
its new charges; a payment confirmed in this process (the processor's credit path, as the
API's webhook runs it) is found by the triggers' stage. Each client has each message once
in the sandbox outbox, whichever worker ran what and however many stages ran since.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from example_inputs import HOUSE, PERIOD, UK_DOM, debt, write_sber_debts
from pes_sdk_runner.notify import close_queue_clients, message_key
from pes_sdk_runner.store import Acceptance, SqlStore, open_store
from pes_sdk_runner.store.triggers import record_payment_client
from pes_sdk_runner.triggers import charges_source, paid_source
from runner_proc import (
    config_of,
    outbox_lines,
    wait_started,
    worker,
    write_config,
)

from pes_sdk.gateways.models import GatewayPayment, PaymentState
from pes_sdk.gateways.processor import PaymentEntry, PaymentProcessor
from pes_sdk.models.payments import Payment, PaymentLine, PaymentMethod
from pes_sdk.premises import Premises

PATIENCE = 120.0


@pytest.fixture(autouse=True)
def _clients() -> Iterator[None]:
    yield
    close_queue_clients()


def _sent(store: SqlStore, source: str, count: int, *procs: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + PATIENCE
    while len([m for m in store.messages(source) if m.status == "sent"]) < count:
        for p in procs:
            assert p.poll() is None, f"a worker ended ({p.returncode})"
        assert time.monotonic() < deadline, f"{source}: fewer than {count} sent"
        time.sleep(0.3)


def _confirm(store: SqlStore, client: str, amount: str) -> uuid.UUID:
    line = PaymentLine(
        UK_DOM, "1001", Decimal(amount), service="Отопление", house_id=HOUSE,
        premises=Premises("кв. 12А"), period=PERIOD,
    )  # fmt: skip
    payment = Payment(uuid.uuid4(), dt.datetime.now(dt.UTC), PaymentMethod.CARD, [line])
    store.record_payment_app(payment.payment_id, "app-1")
    record_payment_client(store, payment.payment_id, client)
    gid = f"gw-{payment.payment_id.hex}"
    entry = PaymentEntry(
        payment, uuid.uuid4().hex, state=PaymentState.PENDING, gateway_payment_id=gid,
        line_refunded=(Decimal(0),),
    )  # fmt: skip
    store.add(entry)
    # The processor with no gateway: apply() is what a verified webhook calls; it asks
    # the acquirer nothing.
    processor = PaymentProcessor(object(), store=store)  # type: ignore[arg-type]
    snapshot = GatewayPayment(
        "sandbox", gid, payment.payment_id, PaymentState.SUCCEEDED, payment.total,
        paid_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    done = processor.apply(snapshot)
    assert done.move.credited
    return payment.payment_id


def test_two_workers_tell_new_charges_and_a_payment_once_each(tmp_path: Path, pg_url: str) -> None:
    path = write_config(
        tmp_path,
        pg_url,
        {"tick = 10 ": "tick = 1 "},
        daemon="scan_interval = 2\nfile_min_age = 0",
    )
    config = config_of(path)
    store = open_store(config.store.url)
    try:
        store.upsert_partners(p.partner for p in config.partners)
        clients = ["app:a", "app:b", "app:c"]
        for n, (client, account) in enumerate(zip(clients, ("1001", "1002", "1003"), strict=True)):
            store.record_acceptance(
                Acceptance(client, UK_DOM, account, "Отопление", HOUSE, "кв. 12А")
            )
            store.set_contact(client, phone=f"+7916000{n:04d}")
        store.set_opt_out("app:c", "charges", True)
        with worker(path, tmp_path, "w1") as w1, worker(path, tmp_path, "w2") as w2:
            wait_started(tmp_path, "w1", w1, PATIENCE)
            wait_started(tmp_path, "w2", w2, PATIENCE)
            inbox = next(p for p in config.partners if p.inn == UK_DOM).source.folder
            assert inbox is not None
            records = [debt("1001", "1234.56"), debt("1002", "10.00"), debt("1003", "5.00")]
            write_sber_debts(inbox, 1, records)
            source = charges_source(UK_DOM, PERIOD)
            _sent(store, source, 2, w1, w2)
            order = _confirm(store, "app:b", "10.00")
            _sent(store, paid_source(order), 1, w1, w2)
            # More ticks and stages, in both workers: nothing more.
            time.sleep(6)
            lines = outbox_lines(config)
        texts = Counter(str(line["text"]) for line in lines)
        assert texts == {
            "Начислено 1 234,56 руб. за октябрь 2026 — ООО «УК Дом»": 1,
            "Начислено 10,00 руб. за октябрь 2026 — ООО «УК Дом»": 1,
            "Платёж на 10,00 руб. зачислен: ООО «УК Дом»": 1,
        }
        keys = {str(line["key"]) for line in lines}
        charged = {m.client_id for m in store.messages(source) if m.status == "sent"}
        assert charged == {"app:a", "app:b"}  # app:c opted out
        assert all(
            message_key(m.source, m.client_id, m.target) in keys
            for m in store.messages(source)
            if m.status == "sent"
        )
    finally:
        store.close()
