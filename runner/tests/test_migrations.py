"""Schema migrations: applied once, in order, recorded; a newer schema is refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pes_sdk_runner.store import MigrationError, SchemaTooNew, SqlStore, StoreError, open_store
from pes_sdk_runner.store.migrate import known_migrations


def test_a_fresh_database_is_migrated_and_a_second_migrate_does_nothing(
    store: SqlStore, store_url: str
) -> None:
    known = known_migrations()
    assert store.schema_version() == len(known) >= 1
    assert store.migrate() == []
    again = open_store(store_url)  # another runner starting on the same database
    try:
        assert again.migrate() == []
        assert again.schema_version() == len(known)
    finally:
        again.close()
    conn = store.dialect.connect()
    try:
        rows = conn.execute("SELECT version, name, sha256 FROM schema_migrations").fetchall()
    finally:
        conn.close()
    assert [(v, n, s) for v, n, s in rows] == [(m.version, m.name, m.sha256) for m in known]


def test_the_first_open_applies_every_migration(store_url: str) -> None:
    store = open_store(store_url, migrate=False)
    try:
        assert store.schema_version() == 0
        assert store.migrate() == [m.version for m in known_migrations()]
    finally:
        store.close()


def test_a_database_with_a_newer_schema_is_refused(store: SqlStore, store_url: str) -> None:
    conn = store.dialect.connect()
    try:
        conn.execute(
            store.dialect.sql(
                "INSERT INTO schema_migrations (version, name, sha256, applied_at)"
                " VALUES (?, 'from_the_future', 'x', '2030-01-01')"
            ),
            (len(known_migrations()) + 1,),
        )
    finally:
        conn.close()
    with pytest.raises(SchemaTooNew, match="upgrade the runner"):
        open_store(store_url)


def test_a_changed_applied_migration_is_refused(store: SqlStore, store_url: str) -> None:
    conn = store.dialect.connect()
    try:
        conn.execute("UPDATE schema_migrations SET sha256 = 'edited' WHERE version = 1")
    finally:
        conn.close()
    with pytest.raises(MigrationError, match="changed after it was applied"):
        open_store(store_url)


@pytest.mark.parametrize("group_commit", [False, True])
def test_sqlite_runs_durable(tmp_path: Path, group_commit: bool) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}", group_commit=group_commit)
    try:
        conn = store.dialect.connect()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # FULL syncs every commit itself; with group commit the commit is NORMAL and the
        # store syncs the WAL before the write returns (test_group_commit.py).
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == (1 if group_commit else 2)
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
        conn.close()
        assert (getattr(store, "group_commit", None) is not None) is group_commit
    finally:
        store.close()


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite:///", "file.db"])
def test_an_unknown_url_is_refused(url: str) -> None:
    with pytest.raises(StoreError):
        open_store(url)


def test_migration_blocks_and_tokens_are_chosen_per_dialect(store: SqlStore) -> None:
    text = store.dialect.migration_sql(known_migrations()[0].text)
    assert re.search(r"@[A-Z]+@", text) is None
    other = "postgresql" if store.dialect.name == "sqlite" else "sqlite"
    assert f"@{other}:begin" not in text
    assert "CREATE TRIGGER" in text


def test_0005_keeps_every_debt_and_lets_a_debt_have_no_house(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pes_sdk_runner.store import migrate as migrate_module

    known = known_migrations()
    assert [m.name for m in known][4] == "houses"
    monkeypatch.setattr(migrate_module, "known_migrations", lambda: known[:4])
    old = open_store(store_url)  # a runner of before 0005, with a debt stored
    sql = old.dialect.sql
    conn = old.dialect.connect()
    try:
        conn.execute(
            sql("INSERT INTO partners (inn, name, data, updated_at) VALUES (?, ?, ?, ?)"),
            ("7707083893", "УК", "{}", "2026-01-01T00:00:00+00:00"),
        )
        rid = conn.execute(
            sql(
                "INSERT INTO debt_registries (partner_inn, period, number, received_at, sha256,"
                " record_count, total, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
            ),
            ("7707083893", "2026-01", 1, "2026-01-01T00:00:00+00:00", "x", 1, 100, "active"),
        ).fetchone()[0]
        conn.execute(
            sql(
                "INSERT INTO debts (registry_id, partner_inn, account, service, house_id,"
                " premises, premises_key, amount, period, service_code)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            (rid, "7707083893", "001", "ХВС", "a1b2c3d4-0000-4000-8000-000000000100", "5", "5",
             100, None, "01"),
        )  # fmt: skip
    finally:
        conn.close()
    assert old.schema_version() == 4
    old.close()
    monkeypatch.undo()
    new = open_store(store_url)
    try:
        assert new.schema_version() == len(known)
        (kept,) = new.find_by_account("7707083893", "001")
        assert (kept.house_id, kept.premises, kept.service_code) == (
            "a1b2c3d4-0000-4000-8000-000000000100",
            "5",
            "01",
        )
        conn = new.dialect.connect()
        try:  # the column takes NULL now: a debt found by account only
            conn.execute(
                sql(
                    "INSERT INTO debts (registry_id, partner_inn, account, service, house_id,"
                    " premises, premises_key, amount) VALUES (?, ?, ?, ?, NULL, '', '', 1)"
                ),
                (rid, "7707083893", "002", "ХВС"),
            )
        finally:
            conn.close()
        assert new.debts_without_house() == {"7707083893": 1}
        assert new.houses_by_key("пермь|ленина|10") == []
    finally:
        new.close()
