"""Every store test runs on both databases: a fresh SQLite file, and a fresh PostgreSQL schema.

PostgreSQL is the server at ``PES_TEST_POSTGRES_URL`` (default: the local one on 5432 with
trust auth, database ``test``). Its tests skip, with the reason, only when nothing listens
there, and never when ``CI`` is set: in CI the service runs, so its absence is a failure.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import pytest
from pes_sdk_runner.store import SqlStore, open_store

if TYPE_CHECKING:
    from pes_sdk_atol.simulator import AtolSimulator
    from private_postgres import PrivateCluster

# Test modules are imported with --import-mode=importlib: the shared test data module in
# support/ is put on the path explicitly.
SUPPORT = Path(__file__).parent / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))

PG_URL = os.environ.get("PES_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

StoreFactory = Callable[[], SqlStore]


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 2):
            return True
    except OSError:
        return False


def _fresh_schema(base: str = PG_URL) -> Iterator[str]:
    """A fresh PostgreSQL schema's URL on the server at ``base``, dropped afterwards with
    the job engine's schema beside it (``<schema>_jobs``), or a skip (a failure under CI)
    when no server listens."""
    if not _listening(base):
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but no PostgreSQL listens at {base}")
        pytest.skip(f"no PostgreSQL listens at {base}")
    import psycopg

    schema = f"t_{uuid.uuid4().hex}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
            conn.execute(f"DROP SCHEMA IF EXISTS {schema}_jobs CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty database of each kind (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'runner.db'}"
        return
    yield from _fresh_schema()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema's URL, for tests on PostgreSQL only (the fleet's)."""
    yield from _fresh_schema()


@pytest.fixture(scope="session")
def private_pg() -> Iterator[PrivateCluster]:
    """A PostgreSQL cluster of the session's own, running (support/private_postgres.py):
    for tests that stop or restart the server, which the shared one must never be. Skips
    only when the server's programs are not installed; stopped and deleted at the end."""
    from private_postgres import PrivateCluster, binaries

    found = binaries()
    if found is None:
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
    cluster = PrivateCluster(found)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def private_pg_url(private_pg: PrivateCluster) -> Iterator[str]:
    """A fresh schema's URL on :func:`private_pg` (the server running at the start)."""
    yield from _fresh_schema(private_pg.url)


@pytest.fixture
def open_more(store_url: str) -> Iterator[StoreFactory]:
    """Opens further stores on the same database (another connection each)."""
    opened: list[SqlStore] = []

    def make() -> SqlStore:
        store = open_store(store_url)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(open_more: StoreFactory) -> SqlStore:
    return open_more()


@pytest.fixture
def atol_simulator() -> Iterator[AtolSimulator]:
    """АТОЛ Онлайн v5 as its loopback simulator (a real HTTP server), stopped afterwards: the
    cloud register of the receipt tests (their ``[receipts]`` table: support/atol_receipts.py)."""
    from pes_sdk_atol.simulator import AtolSimulator

    with AtolSimulator() as simulator:
        yield simulator


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium under Playwright (support/browser.py), one per test module; a
    skip, or under ``CI`` a failure, where there is none."""
    from browser import launched

    with launched() as chromium:
        yield chromium
