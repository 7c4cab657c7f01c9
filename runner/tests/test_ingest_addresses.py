"""Debt records with the address as text: resolved at ingest through the house directory.

Both databases (the ``store`` fixture); the inbox path of the real ingest, with a minimal
address-text format (support/address_format.py) built on the core's quarantine.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from address_format import AddressFormatPlugin
from pes_sdk_runner.config.models import ChannelConfig, PartnerConfig, SourceConfig
from pes_sdk_runner.houses import import_gar
from pes_sdk_runner.ingest import Outcome, ingest_file
from pes_sdk_runner.store import SqlStore
from runner_data import INN_A, PARTNERS

from pes_sdk.i18n import collect_untranslated, translate, using_language
from pes_sdk.plugins.manager import PluginHost

GAR = Path(__file__).parent / "data" / "gar" / "59"
G_LENINA_10 = "a1b2c3d4-0000-4000-8000-000000000100"
G_LENINA_10K2 = "a1b2c3d4-0000-4000-8000-000000000101"
G_PER_LENINA_10 = "a1b2c3d4-0000-4000-8000-000000000102"
G_KAMSKAYA_5 = "a1b2c3d4-0000-4000-8000-000000000103"
DAY = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC)

ROWS = [
    "1001;г. Пермь, ул. Ленина, д. 10, корп. 2, кв. 5;;1500.00",  # found; premises from text
    "1002;Пермь,Ленина,10,7;;230.45",  # ул. Ленина 10 or пер. Ленина 10: quarantined
    "1003;г. Пермь, ул. Ленина, д. 99;кв. 1;10.00",  # no such house: quarantined
    "1004;;;99.00",  # no address at all: stored, found by account only
    "1005;Кондратово, Камская, 5;кв. 3;x",  # a bad amount: the reader's own reject
    "1006;Пермский край, д Кондратово, ул Камская, д. 5;кв. 3;42.00",  # found
]


@pytest.fixture
def host() -> PluginHost:
    h = PluginHost()
    h.register(AddressFormatPlugin(), name="test-address-format")
    return h


@pytest.fixture
def uk(tmp_path: Path) -> PartnerConfig:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return PartnerConfig(
        partner=PARTNERS[0],
        source=SourceConfig("inbox", folder=folder),
        channel=ChannelConfig("outbox", folder=tmp_path / "out", format="sber-payments"),
        cutoff=dt.time(20, 0),
        format="test-address-debts",
    )


@pytest.fixture
def directory(store: SqlStore) -> SqlStore:
    store.upsert_partners(PARTNERS)
    import_gar(store, GAR)
    return store


def _file(partner: PartnerConfig, rows: list[str], number: int = 1) -> Path:
    assert partner.source.folder is not None
    path = partner.source.folder / f"addr_{number}_2026-10.txt"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_addresses_resolve_to_houses_and_the_unresolved_are_quarantined_with_candidates(
    directory: SqlStore, uk: PartnerConfig, host: PluginHost
) -> None:
    out = ingest_file(directory, uk, _file(uk, ROWS), host, received_at=DAY)
    assert out.outcome is Outcome.ACTIVATED
    assert (out.records, out.rejected) == (3, 3)
    assert out.total == Decimal("1641.00")

    (found,) = directory.find_services(G_LENINA_10K2, "кв. 5")
    assert (found.account, found.premises, found.debt) == ("1001", "кв 5", Decimal("1500.00"))
    (kamskaya,) = directory.find_services(G_KAMSKAYA_5, "3")
    assert kamskaya.account == "1006"
    (no_house,) = directory.find_by_account(INN_A, "1004")
    assert no_house.house_id is None
    assert directory.find_by_account(INN_A, "1002") == []  # never guessed
    assert directory.find_by_account(INN_A, "1003") == []
    assert directory.debts_without_house() == {INN_A: 1}

    assert out.rejects is not None
    with open(out.rejects, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    assert rows[0] == ["line", "field", "message", "raw"]
    by_field = {r[1]: r for r in rows[1:] if r[1] != "address"}
    assert by_field["amount"][0] == "5"  # the reader's reject, kept with its line
    unresolved = [r for r in rows[1:] if r[1] == "address"]
    assert len(unresolved) == 2
    ambiguous, unknown = unresolved
    assert "account 1002" in ambiguous[2] and "2 houses" in ambiguous[2]
    assert G_LENINA_10 in ambiguous[2] and G_PER_LENINA_10 in ambiguous[2]
    assert "account 1003" in unknown[2] and "no house" in unknown[2]
    assert unknown[3] == "1003;г. Пермь, ул. Ленина, д. 99;кв. 1;10.00"

    assert out.report is not None
    report = json.loads(out.report.read_text(encoding="utf-8"))
    assert (report["records"], report["rejected"]) == (3, 3)
    assert report["total"] == "1641.00"
    assert sum(1 for i in report["issues"] if i["field"] == "address") == 2
    # nothing of the work is left in the inbox
    assert uk.source.folder is not None
    assert [p.name for p in uk.source.folder.iterdir()] == ["processed"]


def test_the_same_file_again_is_a_duplicate_with_the_same_report(
    directory: SqlStore, uk: PartnerConfig, host: PluginHost
) -> None:
    first = ingest_file(directory, uk, _file(uk, ROWS), host, received_at=DAY)
    again = ingest_file(directory, uk, _file(uk, ROWS), host, received_at=DAY)
    assert again.outcome is Outcome.DUPLICATE
    assert (again.records, again.rejected, again.total) == (
        first.records,
        first.rejected,
        first.total,
    )


def test_without_a_directory_every_address_is_quarantined_and_the_rest_stands(
    store: SqlStore, uk: PartnerConfig, host: PluginHost
) -> None:
    store.upsert_partners(PARTNERS)
    out = ingest_file(store, uk, _file(uk, ROWS), host, received_at=DAY)
    assert out.outcome is Outcome.ACTIVATED
    assert (out.records, out.rejected) == (1, 5)
    assert [s.account for s in store.find_by_account(INN_A, "1004")] == ["1004"]


def test_a_refused_registry_leaves_no_quarantine_behind(
    directory: SqlStore, uk: PartnerConfig, host: PluginHost
) -> None:
    assert uk.source.folder is not None
    path = uk.source.folder / "addr_no_number.txt"
    path.write_text("\n".join(ROWS) + "\n", encoding="utf-8")
    out = ingest_file(directory, uk, path, host, received_at=DAY)
    assert out.outcome is Outcome.REFUSED
    assert directory.find_by_account(INN_A, "1004") == []
    leftovers = [p.name for p in uk.source.folder.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_the_rejects_say_why_an_address_was_not_found_in_russian(
    directory: SqlStore, uk: PartnerConfig, host: PluginHost
) -> None:
    # With the reader's own reject (its header) and without (the header the merge writes).
    without_bad_amount = [r for r in ROWS if not r.endswith(";x")]
    for number, rows in ((1, ROWS), (2, without_bad_amount)):
        with using_language("ru"), collect_untranslated() as missed:
            out = ingest_file(directory, uk, _file(uk, rows, number), host, received_at=DAY)
        # support/address_format.py's own reject is a test format's, in English only
        assert set(missed) <= {"not an amount: 'x'"}, missed
        assert out.rejects is not None
        with open(out.rejects, encoding="utf-8-sig", newline="") as fh:
            found = list(csv.reader(fh, delimiter=";"))
        assert found[0] == ["строка", "поле", "причина", "исходная строка"], number
        ambiguous, unknown = [r for r in found[1:] if r[1] == "address"]
        assert ambiguous[2].startswith(
            "запись 2, лицевой счёт 1002: адрес 'Пермь,Ленина,10,7': "
            "этот адрес у 2 домов справочника: "
        )
        assert G_LENINA_10 in ambiguous[2] and G_PER_LENINA_10 in ambiguous[2]
        assert unknown[2] == (
            "запись 3, лицевой счёт 1003: адрес 'г. Пермь, ул. Ленина, д. 99': "
            "в справочнике нет дома с таким адресом"
        )


def test_a_refusal_is_said_in_russian(
    directory: SqlStore, uk: PartnerConfig, host: PluginHost
) -> None:
    assert uk.source.folder is not None
    path = uk.source.folder / "addr_no_number.txt"
    path.write_text("\n".join(ROWS) + "\n", encoding="utf-8")
    out = ingest_file(directory, uk, path, host, received_at=DAY)
    assert out.outcome is Outcome.REFUSED and out.message is not None
    assert out.message == "the registry's number is not in its file name or header"
    assert translate(out.message, "ru") == "номера реестра нет ни в имени файла, ни в заголовке"
