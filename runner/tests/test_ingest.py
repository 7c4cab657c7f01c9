"""Ingest of debt registries: inbox files through real formats into a real SQLite store."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from example_inputs import write_sber_debts
from pes_sdk_runner.config.models import (
    AdapterSettings,
    ChannelConfig,
    GatewayConfig,
    HttpConfig,
    PartnerConfig,
    RunnerConfig,
    ServiceConfig,
    SourceConfig,
    StoreConfig,
)
from pes_sdk_runner.ingest import (
    IngestOutcome,
    Outcome,
    inbox_files,
    inbox_strays,
    ingest_file,
    poll_sources,
    registry_sha256,
    scan_inboxes,
)
from pes_sdk_runner.ingest import inbox as inbox_module
from pes_sdk_runner.store import SqlStore, open_store
from runner_data import HOUSE, INN_A, INN_B, partner

from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.partners_file import ServiceDetails
from pes_sdk.period import Period
from pes_sdk.plugins.manager import get_host
from pes_sdk.premises import Premises

PERIOD = Period(2026, 10)
ACCOUNT = "40702810938000000001"  # the partners' р/с in runner_data, used by sber file names
DAY = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC)


def debt(account: str, amount: str, service: str = "Отопление") -> DebtRecord:
    return DebtRecord(account, HOUSE, Premises("кв. 12А"), Decimal(amount), PERIOD, service)


GOOD = [debt("1001", "1500.00"), debt("1002", "230.45", "ХВС"), debt("1003", "-10.00")]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    s = open_store(f"sqlite:///{tmp_path / 'runner.db'}")
    s.upsert_partners([partner(INN_A, "ООО «УК Прикамье»"), partner(INN_B, "ПАО «Пермэнергосбыт»")])
    yield s
    s.close()


def partner_config(inn: str, source: SourceConfig, fmt: str | None) -> PartnerConfig:
    return PartnerConfig(
        partner=partner(inn, f"Партнёр {inn}"),
        source=source,
        channel=ChannelConfig("outbox", folder=Path("/nonexistent/outbox"), format="sber-payments"),
        cutoff=dt.time(20, 0),
        format=fmt,
    )


def runner_config(tmp_path: Path, *partners: PartnerConfig) -> RunnerConfig:
    bank = partner(INN_B, "service").bank  # any valid bank details will do
    return RunnerConfig(
        service=ServiceConfig(
            ServiceDetails("ООО «Платежи»", "7701012342", bank, "770101001"),
            ZoneInfo("Asia/Yekaterinburg"),
            tmp_path,
        ),
        store=StoreConfig(f"sqlite:///{tmp_path / 'runner.db'}"),
        gateway=GatewayConfig(),
        http=HttpConfig(frozenset(), frozenset()),
        partners=partners,
    )


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox" / "uk"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def sber(inbox: Path) -> PartnerConfig:
    return partner_config(INN_A, SourceConfig("inbox", folder=inbox), "sber-debts")


def write_sber(
    folder: Path, number: int, records: Sequence[DebtRecord] = GOOD, inn: str = INN_A
) -> Path:
    return write_sber_debts(folder, number, records, inn=inn, account=ACCOUNT, period=PERIOD)


def with_a_bad_row(path: Path) -> Path:
    """Put a row with a broken house GUID on line 2 (the footer counts what was sent)."""
    lines = path.read_bytes().split(b"\r\n")
    assert lines[3] == b"=3;1720,45"
    bad = "1009;not-a-guid;кв. 5;12,00;102026;Отопление".encode("cp1251")
    path.write_bytes(b"\r\n".join([lines[0], bad, *lines[1:3], b"=4;1732,45", *lines[4:]]))
    return path


def report_of(outcome: IngestOutcome) -> dict[str, object]:
    assert outcome.report is not None
    data = json.loads(outcome.report.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def balances(store: SqlStore, account: str) -> list[Decimal]:
    return [s.debt for s in store.find_by_account(INN_A, account)]


def test_a_good_file_is_stored_reported_and_moved_to_processed(
    store: SqlStore, sber: PartnerConfig, inbox: Path
) -> None:
    path = write_sber(inbox, 1)
    out = ingest_file(store, sber, path)

    assert out.outcome is Outcome.ACTIVATED
    assert (out.registry_number, out.period, out.records, out.rejected) == (1, PERIOD, 3, 0)
    assert out.total == Decimal("1720.45")
    assert out.moved_to == inbox / "processed" / path.name
    assert out.moved_to.is_file() and not path.exists()
    assert out.rejects is None
    assert balances(store, "1002") == [Decimal("230.45")]
    [info] = store.debt_registries(INN_A)
    assert (info.number, info.count, info.total, info.active) == (1, 3, Decimal("1720.45"), True)
    assert info.sha256 == out.sha256

    report = report_of(out)
    assert report["outcome"] == "activated"
    assert report["records"] == 3 and report["total"] == "1720.45"
    assert report["registry"] == {"number": 1, "period": "2026-10", "id": info.id}
    assert report["source"] == path.name and report["folder"] == "processed"
    assert out.report == inbox / "processed" / f"{path.name}.report.json"
    # the inbox holds nothing more to read
    assert inbox_files(inbox) == []


def test_bad_rows_are_quarantined_and_the_rest_is_stored(
    store: SqlStore, sber: PartnerConfig, inbox: Path
) -> None:
    path = with_a_bad_row(write_sber(inbox, 1))

    out = ingest_file(store, sber, path)

    assert out.outcome is Outcome.ACTIVATED
    assert (out.records, out.rejected) == (3, 1)
    assert out.moved_to == inbox / "processed" / path.name
    assert out.rejects == inbox / "processed" / f"{path.name}.rejects.csv"
    assert "1009" in out.rejects.read_text(encoding="utf-8")
    report = report_of(out)
    assert report["rejected"] == 1 and report["rejects"] == out.rejects.name
    assert report["issues"] and report["issues"][0]["line"] == 2  # type: ignore[index]
    assert balances(store, "1009") == []
    assert balances(store, "1001") == [Decimal("1500.00")]
    # no staged rejects left behind in the inbox
    assert sorted(p.name for p in inbox.iterdir()) == ["processed"]


def test_a_tampered_footer_refuses_the_file_whole(
    store: SqlStore, sber: PartnerConfig, inbox: Path
) -> None:
    path = write_sber(inbox, 1)
    text = path.read_bytes().replace(b"=3;1720,45", b"=3;1720,46")
    assert text != path.read_bytes()
    path.write_bytes(text)

    out = ingest_file(store, sber, path)

    assert out.outcome is Outcome.REFUSED
    assert out.moved_to == inbox / "rejected" / path.name and out.moved_to.is_file()
    assert out.message and "control" in out.message
    assert store.debt_registries(INN_A) == []
    assert balances(store, "1001") == []
    report = report_of(out)
    assert report["outcome"] == "refused" and report["folder"] == "rejected"
    assert report["rejects"] is None
    assert not (inbox / "rejected" / f"{path.name}.rejects.csv").exists()


def test_a_file_of_another_partner_is_refused(
    store: SqlStore, sber: PartnerConfig, inbox: Path
) -> None:
    path = write_sber(inbox, 1, inn=INN_B)
    out = ingest_file(store, sber, path)
    assert out.outcome is Outcome.REFUSED and "7736050003" in (out.message or "")
    assert out.moved_to == inbox / "rejected" / path.name
    assert store.debt_registries(INN_A) == store.debt_registries(INN_B) == []


def test_a_newer_registry_replaces_the_older(
    store: SqlStore, sber: PartnerConfig, inbox: Path
) -> None:
    ingest_file(store, sber, write_sber(inbox, 1))
    out = ingest_file(store, sber, write_sber(inbox, 2, [debt("1001", "99.00")]))

    assert out.outcome is Outcome.ACTIVATED
    assert balances(store, "1001") == [Decimal("99.00")]
    assert balances(store, "1002") == []
    assert [(r.number, r.active) for r in store.debt_registries(INN_A)] == [(2, True), (1, False)]


def test_an_older_registry_never_overwrites_a_newer(
    store: SqlStore, sber: PartnerConfig, inbox: Path
) -> None:
    ingest_file(store, sber, write_sber(inbox, 2, [debt("1001", "99.00")]))
    older = write_sber(inbox, 1)
    out = ingest_file(store, sber, older)

    assert out.outcome is Outcome.STALE
    assert out.moved_to == inbox / "processed" / older.name
    assert report_of(out)["outcome"] == "stale"
    assert balances(store, "1001") == [Decimal("99.00")]
    assert [(r.number, r.active) for r in store.debt_registries(INN_A)] == [(2, True), (1, False)]


def test_the_same_file_twice_is_a_duplicate_and_both_are_kept(
    store: SqlStore, sber: PartnerConfig, inbox: Path
) -> None:
    path = write_sber(inbox, 1)
    content = path.read_bytes()
    first = ingest_file(store, sber, path)
    path.write_bytes(content)  # the partner sends it again under the same name
    second = ingest_file(store, sber, path)

    assert (first.outcome, second.outcome) == (Outcome.ACTIVATED, Outcome.DUPLICATE)
    assert second.records == 3  # read through for the report
    stem = path.name.removesuffix(".txt")
    assert second.moved_to == inbox / "processed" / f"{stem}.1.txt"
    assert first.moved_to is not None and first.moved_to.read_bytes() == content
    assert second.moved_to.read_bytes() == content
    assert report_of(first)["outcome"] == "activated"  # the first report is not overwritten
    assert report_of(second)["outcome"] == "duplicate"
    assert len(store.debt_registries(INN_A)) == 1


def test_a_conflicting_registry_goes_to_rejected(
    store: SqlStore, sber: PartnerConfig, inbox: Path
) -> None:
    ingest_file(store, sber, write_sber(inbox, 1))
    path = write_sber(inbox, 1, [debt("1001", "1.00")])
    out = ingest_file(store, sber, path)
    assert out.outcome is Outcome.CONFLICT
    assert out.moved_to == inbox / "rejected" / path.name and out.moved_to.is_file()
    assert report_of(out)["outcome"] == "conflict"
    assert balances(store, "1001") == [Decimal("1500.00")]


def test_a_name_clash_in_processed_gets_a_suffix(
    store: SqlStore, sber: PartnerConfig, inbox: Path
) -> None:
    path = write_sber(inbox, 1)
    processed = inbox / "processed"
    processed.mkdir()
    stem = path.name.removesuffix(".txt")
    (processed / path.name).write_text("someone else's file")
    (processed / f"{stem}.1.txt.report.json").write_text("{}")  # a report alone holds a name

    out = ingest_file(store, sber, path)

    assert out.moved_to == processed / f"{stem}.2.txt"
    assert (processed / path.name).read_text() == "someone else's file"
    assert (processed / f"{stem}.1.txt.report.json").read_text() == "{}"


def test_scan_skips_subfolders_hidden_and_partial_files(
    tmp_path: Path, store: SqlStore, sber: PartnerConfig, inbox: Path
) -> None:
    (inbox / "processed").mkdir()
    done = write_sber(inbox / "processed", 1)
    write_sber(inbox, 2)
    (inbox / ".upload.txt").write_bytes(done.read_bytes())
    (inbox / "5902_x_003_1026.txt.part").write_bytes(done.read_bytes())
    (inbox / "link.txt").symlink_to(done)
    config = runner_config(tmp_path, sber)

    outs = scan_inboxes(store, config)

    assert [(o.registry_number, o.outcome) for o in outs] == [(2, Outcome.ACTIVATED)]
    assert [r.number for r in store.debt_registries(INN_A)] == [2]
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == [
        ".upload.txt",
        "5902_x_003_1026.txt.part",
        "link.txt",
    ]
    assert scan_inboxes(store, config) == []  # a second pass finds nothing new


def test_scan_reads_every_inbox_in_name_order(tmp_path: Path, store: SqlStore) -> None:
    a_box, b_box = tmp_path / "a", tmp_path / "b"
    a_box.mkdir()
    b_box.mkdir()
    a = partner_config(INN_A, SourceConfig("inbox", folder=a_box), "sber-debts")
    b = partner_config(INN_B, SourceConfig("inbox", folder=b_box), "sber-debts")
    write_sber(a_box, 2, [debt("1001", "2.00")])
    write_sber(a_box, 1)
    write_sber(b_box, 5, inn=INN_B)

    outs = scan_inboxes(store, runner_config(tmp_path, a, b))

    assert [(o.partner, o.registry_number, o.outcome) for o in outs] == [
        (INN_A, 1, Outcome.ACTIVATED),
        (INN_A, 2, Outcome.ACTIVATED),
        (INN_B, 5, Outcome.ACTIVATED),
    ]
    assert balances(store, "1001") == [Decimal("2.00")]


def test_a_crash_between_commit_and_move_ingests_once_on_rescan(
    tmp_path: Path,
    store: SqlStore,
    sber: PartnerConfig,
    inbox: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = with_a_bad_row(write_sber(inbox, 1))
    real_move = inbox_module._move
    calls: list[Path] = []

    def crash_once(src: Path, dst: Path) -> None:
        calls.append(dst)
        if len(calls) == 1:
            raise OSError("killed")
        real_move(src, dst)

    monkeypatch.setattr(inbox_module, "_move", crash_once)
    config = runner_config(tmp_path, sber)
    with pytest.raises(OSError, match="killed"):
        scan_inboxes(store, config)
    assert path.exists()  # still waiting in the inbox
    assert len(store.debt_registries(INN_A)) == 1  # but committed

    [out] = scan_inboxes(store, config)

    assert out.outcome is Outcome.DUPLICATE
    assert calls == [inbox / "processed" / path.name] * 2  # the same name: the move resumed
    assert not path.exists()
    processed = inbox / "processed"
    assert sorted(p.name for p in processed.iterdir()) == sorted(
        [path.name, f"{path.name}.report.json", f"{path.name}.rejects.csv"]
    )
    assert report_of(out)["outcome"] == "activated"  # the first run's report stands
    [info] = store.debt_registries(INN_A)
    assert info.count == 3
    assert [p.name for p in inbox.iterdir()] == ["processed"]
    assert scan_inboxes(store, config) == []


def test_a_crash_after_the_link_finishes_the_move(
    store: SqlStore, sber: PartnerConfig, inbox: Path
) -> None:
    path = write_sber(inbox, 1)
    ingest_file(store, sber, path)
    moved = inbox / "processed" / path.name
    path.hardlink_to(moved)  # both names, as after a crash between link and unlink

    out = ingest_file(store, sber, path)

    assert out.outcome is Outcome.DUPLICATE and out.moved_to == moved
    assert not path.exists() and moved.is_file()
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == sorted(
        [path.name, f"{path.name}.report.json"]
    )


def test_pes_debts_takes_the_period_from_its_records_and_needs_a_number(
    store: SqlStore, inbox: Path
) -> None:
    cfg = partner_config(INN_A, SourceConfig("inbox", folder=inbox), "pes-debts")
    path = inbox / "debts.csv"
    fmt = get_host().format("pes-debts")
    fmt.write(path, RegistryHeader(kind=RegistryKind.DEBTS), GOOD)

    out = ingest_file(store, cfg, path)

    assert out.outcome is Outcome.REFUSED
    assert out.period == PERIOD and out.registry_number is None
    assert "number" in (out.message or "")
    assert out.moved_to == inbox / "rejected" / "debts.csv"
    assert store.debt_registries(INN_A) == []


# -- billing sources ----------------------------------------------------------------------


def test_a_soap_billing_source_is_polled_and_ingested(tmp_path: Path, store: SqlStore) -> None:
    # The SOAP adapter is an optional plugin: the runner reaches it only through the host.
    soap = pytest.importorskip("pes_sdk_soap_billing")

    with soap.ReferenceServer() as server:
        published = server.store.publish_debts(INN_B, PERIOD, GOOD)
        source = SourceConfig(
            "soap-billing", adapter=AdapterSettings({"url": server.url, "timeout": "5"})
        )
        config = runner_config(tmp_path, partner_config(INN_B, source, None))

        [first] = poll_sources(store, config, period=PERIOD)
        [again] = poll_sources(store, config, period=PERIOD)
        server.store.publish_debts(INN_B, PERIOD, [debt("1001", "7.00")])
        [newer] = poll_sources(store, config, period=PERIOD)
        [missing] = poll_sources(store, config, period=Period(2026, 9))

    assert first.outcome is Outcome.ACTIVATED
    assert (first.registry_number, first.records, first.total) == (
        published.number,
        3,
        Decimal("1720.45"),
    )
    assert first.file is None and first.moved_to is None
    assert again.outcome is Outcome.DUPLICATE and again.sha256 == first.sha256
    assert newer.outcome is Outcome.ACTIVATED and newer.registry_number == published.number + 1
    assert [s.debt for s in store.find_by_account(INN_B, "1001")] == [Decimal("7.00")]
    assert missing.outcome is Outcome.FAILED and missing.message
    assert [r.number for r in store.debt_registries(INN_B)] == [2, 1]


def test_poll_skips_inbox_partners_and_reports_a_missing_source(
    tmp_path: Path, store: SqlStore, sber: PartnerConfig
) -> None:
    ghost = partner_config(INN_B, SourceConfig("no-such-billing"), None)
    [out] = poll_sources(store, runner_config(tmp_path, sber, ghost), period=PERIOD)
    assert out.partner == INN_B and out.outcome is Outcome.FAILED
    assert "no-such-billing" in (out.message or "")


def test_the_canonical_sha256_follows_the_content() -> None:
    from pes_sdk.models.debts import DebtRegistry

    a = DebtRegistry(INN_A, PERIOD, 1, records=tuple(GOOD))
    same = DebtRegistry(INN_A, PERIOD, 1, created_at=DAY, records=tuple(GOOD))
    other = DebtRegistry(INN_A, PERIOD, 1, records=(GOOD[0], GOOD[1], debt("1003", "-10.01")))
    assert registry_sha256(a) == registry_sha256(same)
    assert registry_sha256(a) != registry_sha256(other)


def test_an_empty_file_is_refused_and_wipes_nothing(
    store: SqlStore, sber: PartnerConfig, inbox: Path
) -> None:
    ingest_file(store, sber, write_sber(inbox, 1))
    empty = inbox / write_sber(inbox, 2).name
    empty.write_bytes(b"")  # an upload that has not started writing yet

    out = ingest_file(store, sber, empty)

    assert out.outcome is Outcome.REFUSED and out.message == "the file is empty"
    assert out.moved_to == inbox / "rejected" / empty.name
    assert balances(store, "1001") == [Decimal("1500.00")]
    assert [r.number for r in store.debt_registries(INN_A)] == [1]


@pytest.mark.parametrize(("encoding", "named"), [("utf-8", "UTF-8"), ("cp866", "cp866")])
def test_a_registry_in_another_encoding_is_refused_and_the_active_one_stays(
    store: SqlStore, sber: PartnerConfig, inbox: Path, encoding: str, named: str
) -> None:
    # Issue 11: a sber-debts (cp1251) registry saved as UTF-8 or cp866 was read as mojibake
    # ("кв. 12А" as "РєРІ. 12Рђ"), activated as № 2 and replaced the partner's good № 1:
    # look-ups by address found nothing, look-ups by account served garbled services.
    ingest_file(store, sber, write_sber(inbox, 1))
    newer = [debt("1001", "99.00", "Содержание жилья"), debt("1004", "12.00", "Взнос на капремонт")]
    path = write_sber(inbox, 2, newer)
    path.write_bytes(path.read_bytes().decode("cp1251").encode(encoding))

    out = ingest_file(store, sber, path)

    assert out.outcome is Outcome.REFUSED
    assert out.message is not None and f"most likely {named}" in out.message
    assert f"line 1 reads 'кв. 12А' in {named}" in out.message
    assert out.moved_to == inbox / "rejected" / path.name
    assert [(r.number, r.active) for r in store.debt_registries(INN_A)] == [(1, True)]
    assert balances(store, "1001") == [Decimal("1500.00")]
    at_address = store.find_services(HOUSE, "кв. 12А")
    assert sorted((s.account, s.service) for s in at_address) == [
        ("1001", "Отопление"),
        ("1002", "ХВС"),
        ("1003", "Отопление"),
    ]
    issues = report_of(out)["issues"]
    assert isinstance(issues, list) and len(issues) == 1
    assert issues[0]["line"] == 1 and issues[0]["field"] == "encoding"
    assert f"most likely {named}" in issues[0]["message"]


def test_files_still_being_written_wait_for_min_age(
    tmp_path: Path, store: SqlStore, sber: PartnerConfig, inbox: Path
) -> None:
    old, fresh = write_sber(inbox, 1), write_sber(inbox, 2)
    os.utime(old, (1_000_000.0, 1_000_000.0))
    os.utime(fresh, (1_000_050.0, 1_000_050.0))

    assert inbox_files(inbox, min_age=30, now=1_000_060.0) == [old]
    assert inbox_files(inbox, min_age=30, now=1_000_080.0) == [old, fresh]
    # files modified "now" are younger than a day: nothing is read
    os.utime(old)
    os.utime(fresh)
    assert scan_inboxes(store, runner_config(tmp_path, sber), min_age=86400) == []
    assert fresh.exists() and old.exists()


# -- what an inbox holds besides registries ---------------------------------------------------


def test_links_fifos_and_folders_are_reported_and_left_in_place(
    tmp_path: Path, store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = tmp_path / "inbox" / "uk"
    inbox.mkdir(parents=True)
    elsewhere = write_sber(tmp_path, 1)
    (inbox / "linked.txt").symlink_to(elsewhere)
    os.mkfifo(inbox / "pipe.txt")
    (inbox / "march").mkdir()
    (inbox / "processed").mkdir()  # the runner's own: not reported
    (inbox / ".upload.txt.tmp").write_text("in progress")  # an uploader's: not reported
    config = runner_config(
        tmp_path, partner_config(INN_A, SourceConfig("inbox", inbox), "sber-debts")
    )
    caplog.set_level("WARNING", logger="pes_sdk_runner.ingest")

    assert scan_inboxes(store, config) == []

    events = [json.loads(r.getMessage()) for r in caplog.records]
    assert [(e["event"], e["partner"], e["file"], e["kind"]) for e in events] == [
        ("ingest.left-alone", INN_A, "linked.txt", "symbolic link"),
        ("ingest.left-alone", INN_A, "march", "folder"),
        ("ingest.left-alone", INN_A, "pipe.txt", "FIFO"),
    ]
    assert all(r.levelname == "WARNING" for r in caplog.records)
    # Nothing was read (the FIFO would have blocked the scan), nothing moved.
    assert (inbox / "linked.txt").is_symlink() and (inbox / "pipe.txt").exists()
    assert (inbox / "march").is_dir()
    assert store.debt_registries(INN_A) == []
    assert [(s.path.name, s.kind) for s in inbox_strays(inbox)] == [
        ("linked.txt", "symbolic link"),
        ("march", "folder"),
        ("pipe.txt", "FIFO"),
    ]


def test_an_upload_named_like_a_report_never_takes_a_reports_name(
    tmp_path: Path, store: SqlStore
) -> None:
    inbox = tmp_path / "inbox" / "uk"
    inbox.mkdir(parents=True)
    config = runner_config(
        tmp_path, partner_config(INN_A, SourceConfig("inbox", inbox), "sber-debts")
    )
    upload = b'{"outcome": "activated"}\n'
    (inbox / "debts.txt.report.json").write_bytes(upload)
    (inbox / "debts.rejects.csv").write_bytes(b"not;a;registry\n")

    first = scan_inboxes(store, config)
    # Then the registry whose report that name would be.
    (inbox / "debts.txt").write_bytes(b"not a registry either\n")
    second = scan_inboxes(store, config)

    assert [o.outcome for o in first + second] == [Outcome.REFUSED] * 3
    rejected = inbox / "rejected"
    # Each upload under a name no report or rejects file can have, its bytes unchanged.
    assert (rejected / "debts.txt.report.1.json").read_bytes() == upload
    assert (rejected / "debts.rejects.1.csv").read_bytes() == b"not;a;registry\n"
    # debts.txt keeps its own name, and its report is where an operator looks for it.
    assert second[0].moved_to == rejected / "debts.txt"
    assert second[0].report == rejected / "debts.txt.report.json"
    # Every *.report.json in the folder is a report, of the file its name says.
    for report in rejected.glob("*.report.json"):
        data = json.loads(report.read_text(encoding="utf-8"))
        assert report.name == data["file"] + ".report.json"
        assert (rejected / data["file"]).is_file()
    assert not any(p.name.endswith(".rejects.csv") for p in rejected.iterdir())
