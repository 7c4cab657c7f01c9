"""``pes runner demo``: the whole day, and that its summary is what the files and store say.

The day runs for real: SQLite file, inbox files in the partners' formats, the API on
loopback, the sandbox acquirer's pages and signed webhooks, the day close writing files.
"""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner
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
            # The ledger balances: what was credited is withheld or transferred, no more.
            totals = store.ledger_totals(p.inn)
            assert totals.credits == p.paid
            assert totals.owed == ZERO
        # The water supplier gets the day's meter reading (1c-xml-readings), read back.
        with_readings = [p for p in summary.partners if p.readings_file is not None]
        assert [(p.inn, p.readings) for p in with_readings] == [("7720123457", 1)]
        # The УК's transfer order (1c-clientbank) is read back and carries the transfer.
        uk = summary.partners[0]
        assert uk.transfer_file is not None and uk.order_amount == uk.transfer
        credits = store.ledger_entries(kind=LedgerKind.CREDIT)
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
