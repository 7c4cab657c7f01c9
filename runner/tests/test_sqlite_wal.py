"""A new SQLite file opened by several runners at once: the switch to WAL waits its turn.

SQLite refuses a journal-mode switch at once ("database is locked", without waiting out the
busy timeout) while another connection holds the file; runners starting together on a new
file, one of them migrating it, met that (CI, test_cabinet.py's 0007 test).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from pes_sdk_runner.store.dialect import SqliteDialect


def test_a_connection_opened_while_another_holds_a_new_file_waits_then_is_in_wal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "new.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # a migration's transaction on the new file
    holder.execute("CREATE TABLE t (x INTEGER)")
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        conn = SqliteDialect(f"sqlite:///{path}").connect()
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            conn.close()
    finally:
        release.join()
        holder.close()


def test_a_file_already_in_wal_is_not_switched_again(tmp_path: Path) -> None:
    dialect = SqliteDialect(f"sqlite:///{tmp_path / 'wal.db'}")
    dialect.connect().close()
    holder = dialect.connect()
    holder.execute("BEGIN IMMEDIATE")  # holds the write lock the whole time
    try:
        conn = dialect.connect()  # no switch asked: opens at once
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
