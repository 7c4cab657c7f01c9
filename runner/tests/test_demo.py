"""``pes runner demo``: the whole day, and that its summary is what the files and store say.

The day runs for real: SQLite file, inbox files in the partners' formats, the API on
loopback, the sandbox acquirer's pages and signed webhooks, the day close writing files.
"""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

from cabinet_web import WebClient
from click.testing import CliRunner
from pes_sdk_outbox import read_outbox
from pes_sdk_runner.close import DEFAULT_PAYMENTS_FORMAT
from pes_sdk_runner.config import example_config_path, load_runner_config
from pes_sdk_runner.demo import run_demo_day
from pes_sdk_runner.store import open_store
from pes_sdk_runner.store.base import DeliveryStatus, LedgerKind

from pes_sdk.cli.main import cli
from pes_sdk.models.payments import PaymentRecord
from pes_sdk.money import ZERO
from pes_sdk.plugins.manager import get_host

PES = Path(sys.executable).parent / "pes"
ENV = {"PES_CLIENT_TOKENS": "x" * 16, "PES_OPERATOR_TOKENS": "y" * 16}


def test_the_demo_day_agrees_with_its_files_and_its_store(tmp_path: Path) -> None:
    host = get_host()
    printed: list[str] = []
    summary = run_demo_day(tmp_path, host, printed.append)
    text = "\n".join(printed)

    assert summary.consistent, text
    assert summary.ingested == 3
    assert (summary.payments_created, summary.payments_paid, summary.payments_not_paid) == (6, 5, 1)
    assert summary.acquirer_total == summary.credited_total > 0
    assert "every payment on the right account, none lost: yes" in text
    # The clients were told of the new charges and a partner's campaign went out, through
    # the sandbox outbox, each message once; the campaign's statistics were printed.
    assert "targeted 6, sent 6, delivered 0, opened 0, clicked 0, paid 0" in text
    everything = list(read_outbox(tmp_path / "outbox" / "notifications.jsonl"))
    # the autopay step's client is told by SMS: the notice before the charge, then the charge
    autopay = [m for m in everything if "втоплатёж" in str(m["text"])]
    assert [m["kind"] for m in autopay] == ["sms", "sms"]
    assert str(autopay[0]["text"]).endswith("— ООО «УК Дом»") and "спишет" in str(
        autopay[0]["text"]
    )
    assert str(autopay[1]["text"]).startswith("Автоплатёж: списано ")
    assert "3 days later the charge: paid (1 attempt)" in text
    assert "agent sign payment_agent, supplier 5003012349" in text
    sent = [m for m in everything if m not in autopay]
    charges = [m for m in sent if str(m["text"]).startswith("Начислено ")]
    assert len(charges) == 6 + 6 + 5 and all(m["kind"] == "push" for m in sent)
    assert len({m["key"] for m in sent}) == len(sent) == len(charges) + 6
    assert len(summary.autopay_orders) == 2

    config = load_runner_config(example_config_path(), host, env=ENV, data=tmp_path)
    store = open_store(config.store.url)
    try:
        for p in summary.partners:
            partner = config.partner(p.inn)
            assert partner is not None
            assert p.number == 1 and p.registry_file is not None and p.registry_file.is_file()
            # The printed figures are the file's own, read here independently of the demo.
            fmt = host.format(partner.channel.format or DEFAULT_PAYMENTS_FORMAT)
            with fmt.open(p.registry_file) as reader:
                records = [r for r in reader if isinstance(r, PaymentRecord)]
            assert len(records) == p.payments
            assert sum((r.amount for r in records), ZERO) == p.paid
            assert sum((r.fee for r in records), ZERO) == p.commission + p.vat
            assert p.paid == p.commission + p.vat + p.transfer
            # The ledger balances: what was credited is withheld or transferred, no more
            # (but for the autopay step's payments, credited after the day's closes: owed).
            later = sum(
                (
                    e.amount
                    for e in store.ledger_entries(kind=LedgerKind.CREDIT)
                    if e.order_id in summary.autopay_orders and e.partner_inn == p.inn
                ),
                ZERO,
            )
            totals = store.ledger_totals(p.inn)
            assert totals.credits == p.paid + later
            assert totals.owed == later
        # The water supplier gets the day's meter reading (1c-xml-readings), read back.
        with_readings = [p for p in summary.partners if p.readings_file is not None]
        assert [(p.inn, p.readings) for p in with_readings] == [("7720123457", 1)]
        # The УК's transfer order (1c-clientbank) is read back and carries the transfer.
        uk = summary.partners[0]
        assert uk.transfer_file is not None and uk.order_amount == uk.transfer
        credits = [
            e
            for e in store.ledger_entries(kind=LedgerKind.CREDIT)
            if e.order_id not in summary.autopay_orders
        ]
        assert sum((e.amount for e in credits), ZERO) == summary.credited_total
        assert {d.status for d in store.deliveries()} == {DeliveryStatus.ACKNOWLEDGED}
        # The client who gave up is not credited: only five orders reached the ledger.
        assert len({e.order_id for e in credits}) == 5
        # The half-paying client's lines are half of what was due.
        assert any(e.amount != e.amount.quantize(Decimal("1")) for e in credits)
    finally:
        store.close()


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "left-over.txt").write_text("x", encoding="utf-8")
    result = CliRunner().invoke(cli, ["runner", "demo", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not empty" in result.output


def test_installed_pes_runner_demo_exits_0_and_leaves_nothing(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(PES), "runner", "demo"],
        capture_output=True,
        text=True,
        timeout=180,
        env={"PATH": str(PES.parent), "TMPDIR": str(tmp_path), "LANG": "C.UTF-8"},
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "none lost: yes" in done.stdout
    assert list(tmp_path.iterdir()) == []  # the temporary folder was removed


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """The process's stdout lines as they come (None at its end), read in a thread so
    that a test waits for them with a timeout rather than for ever."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_demo_serve_opens_the_cabinet_of_a_demo_client_until_sigterm(tmp_path: Path) -> None:
    """`pes runner demo --serve`: after the day, three lines say where the cabinet is,
    whose phone to type and where its code lands; the code logs in and the payment page
    shows the linked account's services at once; SIGTERM ends it cleanly."""
    folder = tmp_path / "day"
    with open(tmp_path / "stderr.txt", "w", encoding="utf-8") as err:
        proc = subprocess.Popen(
            [str(PES), "runner", "demo", "--serve", "--out", str(folder)],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env={"PATH": str(PES.parent), "LANG": "C.UTF-8"},
        )
    try:
        lines = _lines(proc)
        printed: list[str] = []
        while not (printed and printed[-1].startswith("sms outbox: ")):
            line = lines.get(timeout=180)
            assert line is not None, "\n".join(printed)
            printed.append(line)
        end = printed.index("   every payment on the right account, none lost: yes")
        served = printed[end + 1 :]
        assert [line.split(": ", 1)[0] for line in served] == ["cabinet", "phone", "sms outbox"]
        url, phone, outbox = (line.split(": ", 1)[1] for line in served)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/cabinet/", url)
        assert Path(outbox) == folder.resolve() / "outbox" / "sms.jsonl"

        web = WebClient(url.removesuffix("/cabinet/"))
        form = web.get("/cabinet/login")
        assert web.post("/cabinet/login", {"csrf": form.csrf, "phone": phone}).status == 303
        texts = [m["text"] for m in read_outbox(outbox) if m["to"] == phone]
        code = re.search(r"\d{6}", texts[-1])
        assert code is not None
        form = web.get("/cabinet/login/code")
        done = web.post("/cabinet/login/code", {"csrf": form.csrf, "code": code.group(0)})
        assert done.status == 303, done.text
        # Linked already: the cabinet opens on the first account's payment page.
        home = web.get("/cabinet/")
        assert home.status == 303 and "/cabinet/pay/" in home.location
        page = web.get(home.location)
        assert page.status == 200, page.text
        # Every service at the demo address: those of the two linked accounts (УК, water)
        # ticked and priced, one click from the acquirer; the heat supplier's found there.
        assert len(page.keys()) == 5
        assert len(re.findall(r'name="tick" value="[0-9a-f]{16}"[^>]*checked', page.text)) == 4
        assert "Найдены услуги по вашему адресу" in page.text
        assert "Отметьте услугу галочкой" not in page.text

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert lines.get(timeout=10) is None  # nothing printed after the three lines
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    log = (tmp_path / "stderr.txt").read_text(encoding="utf-8")
    assert "Traceback" not in log
    assert phone not in log  # personal data: never logged in clear
