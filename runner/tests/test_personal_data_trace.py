"""A client's ФИО in a partner's registry is read and dropped: the runner keeps it nowhere.

Partners' real layouts carry the payer's name (ФИО) beside the account (issue 12); the
service must not hold personal data it does not need. This follows names from a partner's
file through ingest, the store, a payment, the day close and its delivery, and looks for
them in every byte the runner leaves: the database file (and its WAL), every file under
the data folder (processed/, rejected/, reports, rejects, outbox) and every log line.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from decimal import Decimal
from pathlib import Path

import pytest
from example_inputs import UK_DOM, UK_DOM_ACCOUNT, book, local, paid_entry
from pes_sdk_runner.close import close_day
from pes_sdk_runner.config import example_config_path, parse_runner_config
from pes_sdk_runner.ingest.inbox import ingest_file
from pes_sdk_runner.logs import ROOT, JsonFormatter
from pes_sdk_runner.store import open_store
from runner_proc import ENV

from pes_sdk.models.payments import PaymentLine
from pes_sdk.plugins.manager import PluginHost

# Days, cut-offs and capture times must not depend on the host's zone: make test runs
# these again under two more TZ values.
pytestmark = pytest.mark.timezone

H1 = "0a1b2c3d-4e5f-4071-8a9b-0c1d2e3f4a5b"
NAMES = ["Иванов Иван Иванович", "Петрова Анна Викторовна", "Сидоров Пётр"]
# Each name, its surname alone, in the encodings a file or a database may hold it in.
NEEDLES = [
    needle.encode(codec)
    for name in NAMES
    for needle in (name, name.split()[0])
    for codec in ("utf-8", "cp1251", "utf-16-le")
]
DAY = dt.date(2026, 11, 26)


def _registry() -> str:
    rows = [
        f"25АБ123456;{NAMES[0]};{H1},12а;11.2026;000123;1272.26;Электроснабжение",
        f"25АБ123456;{NAMES[0]};{H1},12а;11.2026;000123;350.00;Вывоз ТКО",
        f"25ВГ654321;{NAMES[1]};{H1},кв. 5;11.2026;0045;-150.40;Электроснабжение",
        f";{NAMES[2]};not-a-guid,7;11.2026;0078;0.00;Отопление",  # bad: into the rejects
    ]
    return "\n".join([*rows, "=4;1471.86", ""])


def test_a_name_in_a_registry_is_nowhere_after_ingest_payment_and_close(
    tmp_path: Path,
) -> None:
    host = PluginHost()
    text = example_config_path().read_text(encoding="utf-8")
    # УК Дом sends the Sberbank-style layout with ФИО and "GUID,кв" (sber-els-guid).
    text, n = re.subn(r'(?m)^format = "sber-debts"', 'format = "sber-els-guid"', text, count=1)
    assert n == 1
    data = tmp_path / "data"
    config = parse_runner_config(text, host=host, env=ENV, data=data, base=tmp_path)
    uk = config.partner(UK_DOM)
    assert uk is not None and uk.source.folder is not None and uk.format == "sber-els-guid"
    assert host.format("sber-els-guid").capabilities.personal_data

    logs = io.StringIO()
    handler = logging.StreamHandler(logs)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(ROOT)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    db = tmp_path / "runner.db"
    store = open_store(f"sqlite:///{db}")
    try:
        store.upsert_partners(p.partner for p in config.partners)
        uk.source.folder.mkdir(parents=True, exist_ok=True)
        upload = uk.source.folder / f"{UK_DOM}_{UK_DOM_ACCOUNT}_001_1126.txt"
        upload.write_bytes(_registry().encode("utf-8"))
        outcome = ingest_file(
            store, uk, upload, host, received_at=local(config, DAY - dt.timedelta(days=3), 9)
        )
        assert outcome.outcome.value == "activated", outcome
        assert outcome.records == 3 and outcome.rejected == 1

        services = store.find_by_account(UK_DOM, "000123")
        assert {s.service for s in services} == {"Электроснабжение", "Вывоз ТКО"}
        line = PaymentLine(
            UK_DOM, "000123", Decimal("1272.26"), service="Электроснабжение", house_id=H1,
            premises=services[0].premises, period=services[0].period,
        )  # fmt: skip
        book(store, paid_entry(local(config, DAY, 11), [line]))
        closed = close_day(
            store, config, host, uk, DAY, now=dt.datetime(2026, 12, 5, tzinfo=dt.UTC)
        )
        assert closed.registry_path is not None and closed.registry_path.is_file()
    finally:
        store.close()
        logger.removeHandler(handler)
        logger.setLevel(old_level)

    # The upload itself is not kept: its report says so and keeps its sha256.
    assert not upload.exists()
    assert outcome.report is not None and '"file_kept": false' in outcome.report.read_text()
    assert outcome.rejects is not None and outcome.rejects.is_file()  # the bad row is kept

    places = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert db in places and any(p.suffix == ".txt" for p in places)  # we really look
    places[Path("<logs>")] = logs.getvalue().encode("utf-8")
    assert b"registry ingested" in places[Path("<logs>")]
    found = [
        (str(p), n.decode(errors="replace")) for p, b in places.items() for n in NEEDLES if n in b
    ]
    assert found == []


@pytest.mark.parametrize("name", ["sber-ls-fio-sum", "sber-ls-fio-address", "gorod-debts"])
def test_every_built_in_layout_with_a_name_column_says_so(name: str) -> None:
    assert PluginHost().format(name).capabilities.personal_data
    assert not PluginHost().format("sber-debts").capabilities.personal_data
