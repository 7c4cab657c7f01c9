"""A small migrator over numbered SQL files (``migrations/0001_name.sql``, …).

Each file is applied in its own transaction together with its row in ``schema_migrations``
(version, name, sha256 of the file, time), so a migration is either wholly applied and
recorded or not at all. Writers are serialised (the write lock on SQLite, an advisory lock
on PostgreSQL), so two runners starting at once apply each file once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from importlib import resources
from typing import Any

import attrs

from pes_sdk_runner.store.dialect import Dialect
from pes_sdk_runner.store.errors import MigrationError, SchemaTooNew

__all__ = ["Migration", "known_migrations", "migrate"]

_NAME = re.compile(r"(\d{4})_(\w+)\.sql")

_BOOTSTRAP = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""


@attrs.frozen
class Migration:
    version: int
    name: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def known_migrations() -> list[Migration]:
    """The migrations shipped with this package, in order (versions 1, 2, … without gaps)."""
    folder = resources.files("pes_sdk_runner.store") / "migrations"
    found = []
    for item in folder.iterdir():
        m = _NAME.fullmatch(item.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), item.read_text("utf-8")))
    found.sort(key=lambda mig: mig.version)
    if [mig.version for mig in found] != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration versions must be 1, 2, … without gaps: {found!r}")
    return found


def _applied(dialect: Dialect, cur: Any) -> dict[int, str]:
    cur.execute("SELECT version, sha256 FROM schema_migrations")
    return {int(v): str(s) for v, s in cur.fetchall()}


def _check(applied: dict[int, str], known: list[Migration]) -> None:
    newest = max(applied, default=0)
    if newest > len(known):
        raise SchemaTooNew(
            f"the database is at schema version {newest}; this runner knows up to "
            f"{len(known)}: upgrade the runner, do not run an older one against it"
        )
    for mig in known:
        if mig.version in applied and applied[mig.version] != mig.sha256:
            raise MigrationError(
                f"migration {mig.version:04d}_{mig.name} was changed after it was applied"
            )


def migrate(dialect: Dialect, conn: Any) -> list[int]:
    """Apply the missing migrations; return the versions applied now (empty: up to date)."""
    known = known_migrations()
    cur = conn.cursor()
    dialect.begin(cur)
    try:  # under the lock: two runners creating the table at once would collide
        dialect.lock_key(cur, "pes_sdk_runner.schema_migrations")
        cur.execute(_BOOTSTRAP)
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    done: list[int] = []
    for mig in known:
        dialect.begin(cur)
        try:
            dialect.lock_key(cur, "pes_sdk_runner.schema_migrations")
            applied = _applied(dialect, cur)  # read under the lock: another runner may be first
            _check(applied, known)
            if mig.version not in applied:
                dialect.run_script(cur, dialect.migration_sql(mig.text))
                cur.execute(
                    dialect.sql(
                        "INSERT INTO schema_migrations (version, name, sha256, applied_at)"
                        " VALUES (?, ?, ?, ?)"
                    ),
                    (mig.version, mig.name, mig.sha256, dt.datetime.now(dt.UTC).isoformat()),
                )
                done.append(mig.version)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
    if not known:  # pragma: no cover - the package ships 0001
        _check(_applied(dialect, cur), known)
    return done


def schema_version(conn: Any) -> int:
    cur = conn.cursor()
    cur.execute(_BOOTSTRAP)
    cur.execute("SELECT MAX(version) FROM schema_migrations")
    row = cur.fetchone()
    return int(row[0]) if row and row[0] is not None else 0
