"""Bills of an activated registry written to the data folder (:mod:`pes_sdk_runner.bills`),
on a real store (SQLite file and PostgreSQL), read back as a client would: the text with
pypdf, the QR code from the page's image with zxing-cpp, compared with the registry."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
from decimal import Decimal
from pathlib import Path

import pytest
from pes_sdk_runner.bills import (
    account_of,
    active_registry,
    bill_path,
    file_name,
    make_bills,
    period_folder,
    prune_bills,
    renderer,
)
from pes_sdk_runner.jobs.bills import workflow_id
from pes_sdk_runner.store import House, SqlStore, open_store
from pes_sdk_runner.store.base import DebtRegistryInfo

from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.partners import BankDetails, Partner
from pes_sdk.period import Period
from pes_sdk.premises import Premises
from pes_sdk.qr import decode

pypdf = pytest.importorskip("pypdf")
zxingcpp = pytest.importorskip("zxingcpp")
Image = pytest.importorskip("PIL.Image")

PARTNER = Partner(
    "5904123453",
    "ПАО «Пермская теплосеть»",
    BankDetails(
        "045773603",
        "40702810440000000777",
        "30101810900000000603",
        "Западно-Уральский банк ПАО Сбербанк",
        "г. Пермь",
    ),
    kpp="590401001",
)
OTHER = Partner(
    "7720123457",
    "АО «Водоканал»",
    BankDetails("044525225", "40702810300000009999", "30101810400000000225", "ПАО Сбербанк"),
)
PERIOD = Period(2026, 11)
HOUSE = "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"
AT = dt.datetime(2026, 11, 5, 9, 0, tzinfo=dt.UTC)


def _debt(account: str, amount: str, service: str, house: str | None = HOUSE) -> DebtRecord:
    return DebtRecord(account, house, Premises("кв. 7"), Decimal(amount), PERIOD, service)


RECORDS = [
    _debt("000100", "1500.00", "Отопление"),
    _debt("000100", "320.45", "Горячая вода"),
    _debt("000100", "-20.45", "Пени"),
    _debt("000200", "-300.00", "Отопление"),  # an advance: nothing due, no Sum
    _debt("000300", "99.99", "Отопление", house=None),  # no house: no address
    _debt("А-17/3", "10.00", "Отопление"),  # a Cyrillic account with a slash
]


def _ingest(store: SqlStore, records: list[DebtRecord], number: int = 1) -> DebtRegistryInfo:
    digest = hashlib.sha256(repr((number, records)).encode()).hexdigest()
    store.ingest_debt_registry(
        PARTNER.inn, PERIOD, number, records, sha256=digest, received_at=AT + dt.timedelta(number)
    )
    found = active_registry(store, PARTNER.inn, PERIOD, number)
    assert found is not None
    return found


@pytest.fixture
def ready(store: SqlStore) -> SqlStore:
    store.upsert_partners([PARTNER, OTHER])
    store.upsert_houses([House.from_address(HOUSE, "г. Пермь, ул. Ленина, д. 10")])
    return store


def _qr(path: Path) -> bytes:
    reader = pypdf.PdfReader(path)
    (image,) = reader.pages[0].images
    big = image.image.resize((image.image.width * 6,) * 2, Image.Resampling.NEAREST)
    (found,) = zxingcpp.read_barcodes(big, formats=zxingcpp.BarcodeFormat.QRCode)
    return bytes(found.bytes)


def _text(path: Path) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(path).pages)


def test_one_bill_per_account_matches_the_registry(ready: SqlStore, tmp_path: Path) -> None:
    registry = _ingest(ready, RECORDS)
    done = make_bills(ready, PARTNER, registry, tmp_path)
    assert (done.accounts, done.written, done.finished) == (4, 4, True)
    folder = tmp_path / "bills" / PARTNER.inn / "2026-11"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["000100.pdf", "000200.pdf", "000300.pdf", file_name("А-17/3")]
    )
    due = {"000100": Decimal("1800.00"), "000200": None, "000300": Decimal("99.99")}
    due["А-17/3"] = Decimal("10.00")
    for account, expected in due.items():
        path = bill_path(tmp_path, PARTNER.inn, PERIOD, account)
        details = decode(_qr(path)).details
        assert details.pers_acc == account
        assert details.sum == expected
        assert details.paym_period == "112026"
        assert details.payee_inn == PARTNER.inn
        assert details.kpp == PARTNER.kpp
        assert details.personal_acc == PARTNER.bank.account
        assert details.bic == PARTNER.bank.bik
        assert details.corresp_acc == PARTNER.bank.corr_account
        assert details.bank_name == PARTNER.bank.bank_name
        assert f"Лицевой счёт: {account}" in _text(path)
    text = _text(bill_path(tmp_path, PARTNER.inn, PERIOD, "000100"))
    for shown in ("ПАО «Пермская теплосеть»", "Горячая вода", "320,45 руб.", "-20,45 руб.",
                  "1 800,00 руб.", "Адрес: г. Пермь, ул. Ленина, д. 10"):  # fmt: skip
        assert shown in text
    assert decode(_qr(bill_path(tmp_path, PARTNER.inn, PERIOD, "000100"))).details.payer_address
    assert "Адрес:" not in _text(bill_path(tmp_path, PARTNER.inn, PERIOD, "000300"))


def test_pages_never_split_an_account(ready: SqlStore, tmp_path: Path) -> None:
    # Three services an account and two rows a page: every page boundary falls inside an
    # account, and each bill still has all of its services.
    records = [
        _debt(f"{n:04d}", f"{n}.{s}0", f"Услуга {s}") for n in range(1, 8) for s in range(1, 4)
    ]
    registry = _ingest(ready, records)
    done = make_bills(ready, PARTNER, registry, tmp_path, page_rows=2)
    assert done.accounts == 7
    for n in range(1, 8):
        details = decode(_qr(bill_path(tmp_path, PARTNER.inn, PERIOD, f"{n:04d}"))).details
        assert details.sum == Decimal(f"{n}.10") + Decimal(f"{n}.20") + Decimal(f"{n}.30")


def test_steps_continue_where_the_last_one_stopped(ready: SqlStore, tmp_path: Path) -> None:
    registry = _ingest(ready, [_debt(f"{n:03d}", "1.00", "Вода") for n in range(10)])
    seen: list[int] = []
    after = None
    while True:
        done = make_bills(ready, PARTNER, registry, tmp_path, after=after, max_accounts=3)
        seen.append(done.accounts)
        if done.finished:
            break
        after = done.last
    assert seen == [3, 3, 3, 1]
    assert len(list(period_folder(tmp_path, PARTNER.inn, PERIOD).iterdir())) == 10


def test_an_unchanged_bill_is_not_rewritten(ready: SqlStore, tmp_path: Path) -> None:
    registry = _ingest(ready, RECORDS)
    make_bills(ready, PARTNER, registry, tmp_path)
    path = bill_path(tmp_path, PARTNER.inn, PERIOD, "000100")
    inode = path.stat().st_ino
    again = make_bills(ready, PARTNER, registry, tmp_path)
    assert (again.accounts, again.written) == (4, 0)
    assert path.stat().st_ino == inode  # not replaced by a rename


def test_a_corrected_registry_rewrites_and_prunes(ready: SqlStore, tmp_path: Path) -> None:
    first = _ingest(ready, RECORDS)
    make_bills(ready, PARTNER, first, tmp_path)
    corrected = [r for r in RECORDS if r.account not in ("000300", "А-17/3")]
    corrected = [
        _debt("000100", "1000.00", "Отопление") if r.service == "Отопление" else r
        for r in corrected
        if r.account == "000100"
    ] + [r for r in corrected if r.account != "000100"]
    second = _ingest(ready, corrected, number=2)
    assert active_registry(ready, PARTNER.inn, PERIOD, 1) is None  # superseded
    done = make_bills(ready, PARTNER, second, tmp_path)
    assert (done.accounts, done.written) == (2, 2)
    assert prune_bills(ready, second, tmp_path) == 2
    folder = period_folder(tmp_path, PARTNER.inn, PERIOD)
    assert sorted(p.name for p in folder.iterdir()) == ["000100.pdf", "000200.pdf"]
    details = decode(_qr(folder / "000100.pdf")).details
    assert details.sum == Decimal("1300.00")
    assert "№ 2" in _text(folder / "000100.pdf")


def test_prune_leaves_other_files_and_removes_crash_leftovers(
    ready: SqlStore, tmp_path: Path
) -> None:
    registry = _ingest(ready, RECORDS)
    make_bills(ready, PARTNER, registry, tmp_path)
    folder = period_folder(tmp_path, PARTNER.inn, PERIOD)
    (folder / "README.txt").write_text("operator's note")
    (folder / ".000100.pdf.abc123.part").write_bytes(b"%PDF half")
    assert prune_bills(ready, registry, tmp_path) == 1
    assert (folder / "README.txt").exists()
    assert len(list(folder.glob("*.pdf"))) == 4


def test_file_names_are_safe_and_reversible() -> None:
    for account in ("000123", "А-17/3", "../../etc", ".hidden", "a b", "12\\x", "x.y"):
        name = file_name(account)
        assert "/" not in name and "\\" not in name and " " not in name
        assert not name.startswith(".")
        assert os.path.basename(name) == name
        assert account_of(name) == account
    assert file_name("000123") == "000123.pdf"
    assert file_name("Л-12") == "Л-12.pdf"
    assert account_of("notes.txt") is None


def test_a_run_is_named_by_its_registry() -> None:
    assert workflow_id(PARTNER.inn, "2026-11", 2) == "bills:5904123453:2026-11:2"


def test_the_renderer_is_made_once_per_process() -> None:
    assert renderer() is renderer()


def test_bills_on_a_pdf_reader_round_trip_cyrillic(ready: SqlStore, tmp_path: Path) -> None:
    registry = _ingest(ready, [_debt("Ёж-1", "1.00", "Электроэнергия «день»")])
    make_bills(ready, PARTNER, registry, tmp_path)
    path = bill_path(tmp_path, PARTNER.inn, PERIOD, "Ёж-1")
    assert path.name == "Ёж-1.pdf"
    reader = pypdf.PdfReader(io.BytesIO(path.read_bytes()))
    text = reader.pages[0].extract_text()
    assert "Электроэнергия «день»" in text
    assert "Лицевой счёт: Ёж-1" in text


def test_the_workflow_makes_a_registrys_bills_on_the_engine(tmp_path: Path) -> None:
    # The real job engine in this process on a SQLite store (the embedded default): the
    # workflow started under its registry's id, run to its end, started again under the
    # same id (nothing twice), then a correction's run. The module is imported here
    # because the engine's module list does not name it yet (jobs/registry.py).
    from dbos import DBOS, SetWorkflowID
    from example_inputs import TEPLOSET
    from pes_sdk_runner.jobs import bills as bills_jobs
    from pes_sdk_runner.jobs import launch
    from runner_proc import config_of, write_config

    from pes_sdk.plugins.manager import get_host

    config = config_of(write_config(tmp_path, None))
    assert config.store.sqlite_path is not None
    config.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    partner = config.partner(TEPLOSET)
    assert partner is not None
    store = open_store(config.store.url)
    try:
        store.upsert_partners(p.partner for p in config.partners)
        records = [
            DebtRecord(f"{n:05d}", HOUSE, Premises("кв. 1"), Decimal("10.00"), PERIOD, "Отопление")
            for n in range(bills_jobs.STEP_ACCOUNTS + 5)  # two steps
        ]
        digest = hashlib.sha256(b"first").hexdigest()
        store.ingest_debt_registry(TEPLOSET, PERIOD, 1, records, sha256=digest, received_at=AT)
        engine = launch(config, get_host(), executor_id="bills-test")
        try:
            run_id = bills_jobs.workflow_id(TEPLOSET, str(PERIOD), 1)
            with SetWorkflowID(run_id):
                handle = DBOS.start_workflow(bills_jobs.bills_workflow, TEPLOSET, str(PERIOD), 1)
            done = handle.get_result()
            assert done == {
                "skipped": False,
                "accounts": len(records),
                "written": len(records),
                "removed": 0,
            }
            steps = [s["function_name"] for s in DBOS.list_workflow_steps(run_id)]
            assert steps == ["pes.bills.page", "pes.bills.page", "pes.bills.prune"]
            with SetWorkflowID(run_id):
                again = DBOS.start_workflow(bills_jobs.bills_workflow, TEPLOSET, str(PERIOD), 1)
            assert again.get_result() == done  # the recorded run, not a second one

            corrected = records[:3]
            digest = hashlib.sha256(b"second").hexdigest()
            store.ingest_debt_registry(
                TEPLOSET, PERIOD, 2, corrected, sha256=digest, received_at=AT + dt.timedelta(1)
            )
            with SetWorkflowID(bills_jobs.workflow_id(TEPLOSET, str(PERIOD), 2)):
                fixed = DBOS.start_workflow(bills_jobs.bills_workflow, TEPLOSET, str(PERIOD), 2)
            assert fixed.get_result() == {
                "skipped": False,
                "accounts": 3,
                "written": 3,
                "removed": len(records) - 3,
            }
            # the first registry's run, asked for once more under a new id: superseded
            with SetWorkflowID(run_id + ":late"):
                late = DBOS.start_workflow(bills_jobs.bills_workflow, TEPLOSET, str(PERIOD), 1)
            assert late.get_result()["skipped"] is True
        finally:
            engine.shutdown()
        folder = period_folder(config.service.data, TEPLOSET, PERIOD)
        assert sorted(p.name for p in folder.iterdir()) == ["00000.pdf", "00001.pdf", "00002.pdf"]
        details = decode(_qr(folder / "00001.pdf")).details
        assert (details.pers_acc, details.sum, details.payee_inn) == (
            "00001", Decimal("10.00"), TEPLOSET,
        )  # fmt: skip
    finally:
        store.close()
