"""The job engine's set-up: DBOS Transact from the runner's configuration.

One engine per process (DBOS is a process-wide singleton). :func:`launch` configures it
from the runner's configuration, registers the runner's queues and the fleet's tick
schedule, and starts it; :meth:`JobEngine.shutdown` stops it. While it runs, the stages'
workflows (:mod:`pes_sdk_runner.jobs`) find the store, the configuration and the gateway in
:func:`runtime`.

**The system database** (DBOS's own tables: workflows, their steps' outputs, queues,
schedules) lives beside the store (:func:`system_database`): on a SQLite store a SQLite
file next to it (``runner.db`` → ``runner.db.jobs``); on a PostgreSQL store the same
database, in a schema of its own (``pes_jobs``, or ``<schema>_jobs`` when the store's URL
sets a ``search_path``: each scratch schema of the tests has its own engine).

**Who recovers what.** Each process runs under an executor id, stable across its restarts
(``--id`` of ``pes runner worker`` and ``serve``; by default the host's name and the role,
and a PostgreSQL ``serve``'s port): at launch a process takes back the workflows its
previous life left unfinished, from their last completed step. Every process of one fleet
must run the same code: the application version (:data:`APP_VERSION`) is fixed, not hashed
from the source, so that ``serve`` and the workers take each other's queued work.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import attrs

from pes_sdk.errors import PesError
from pes_sdk_runner.config.models import StoreKind
from pes_sdk_runner.i18n import tr
from pes_sdk_runner.logs import event

if TYPE_CHECKING:
    from pes_sdk.gateways.processor import Applied, PaymentProcessor
    from pes_sdk.plugins.manager import PluginHost
    from pes_sdk_runner.config.models import RunnerConfig
    from pes_sdk_runner.daemon import Daemon, DaemonMetrics
    from pes_sdk_runner.lease import SchedulerLease
    from pes_sdk_runner.store import SqlStore

__all__ = [
    "APP_NAME",
    "APP_VERSION",
    "EngineNotRunning",
    "ExecutorAlive",
    "ExecutorTaken",
    "JobEngine",
    "JobsError",
    "Runtime",
    "SystemDatabase",
    "WorkerNeedsPostgres",
    "default_executor_id",
    "executor_lease",
    "launch",
    "runtime",
    "system_database",
]

log = logging.getLogger("pes_sdk_runner.jobs")

#: The DBOS application name of every runner process (queues and schedules are its own).
APP_NAME = "pes-runner"
#: The application version every process of a fleet runs under. Raised when a workflow's
#: steps change in a way a half-run workflow of the old code could not be finished by.
APP_VERSION = "pes-runner-jobs-1"


class JobsError(PesError):
    """The job engine could not be set up or used."""


class EngineNotRunning(JobsError):
    """A workflow ran in a process whose engine was not launched by :func:`launch`."""


class ExecutorTaken(JobsError):
    """Another live process runs under this executor id (it holds the store's lease)."""

    def __init__(self, executor: str, holder: str, until: dt.datetime) -> None:
        self.executor = executor
        self.holder = holder
        self.until = until
        super().__init__(f"another process runs as {executor}: {holder}")


class ExecutorAlive(JobsError):
    """``take_over`` named executors whose processes still renew their leases."""

    def __init__(self, executors: Sequence[str]) -> None:
        self.executors = tuple(executors)
        super().__init__(f"--take-over {', '.join(executors)}: that process still runs")


def executor_lease(executor_id: str) -> str:
    """The store's lease an engine holds while it runs under ``executor_id``."""
    return f"jobs:{executor_id}"


class WorkerNeedsPostgres(JobsError):
    """``pes runner worker`` on a SQLite store: one ``serve`` does everything there."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        #: the message, said in the command's language (:func:`pes_sdk.i18n.translate`)
        self.message = tr(
            "store {path}: `pes runner worker` needs a PostgreSQL store. On a SQLite store"
            " one `pes runner serve` does all the background work itself; for several"
            ' processes move the store to PostgreSQL (store.url = "postgresql://…")',
            path=path,
        )
        super().__init__(self.message)


@attrs.frozen
class SystemDatabase:
    """Where the engine keeps its tables: a SQLAlchemy URL and, on PostgreSQL, a schema."""

    url: str
    schema: str | None = None


def _search_path(url: str) -> str | None:
    """The first schema of a ``search_path`` the URL's ``options`` set, if any."""
    for option in parse_qs(urlsplit(url).query).get("options", []):
        for word in unquote(option).split():
            if word.startswith("-csearch_path="):
                first = word.removeprefix("-csearch_path=").split(",")[0].strip()
                return first or None
    return None


def system_database(config: RunnerConfig) -> SystemDatabase:
    """The engine's system database for the configured store (see the module's text)."""
    store = config.store
    if store.kind is StoreKind.SQLITE:
        path = store.sqlite_path
        assert path is not None  # a SQLite store has a file
        return SystemDatabase(f"sqlite:///{path}.jobs")
    # psycopg 3 through SQLAlchemy: the store's URL names the database; its options (a
    # search_path) do not matter, the engine's tables are schema-qualified.
    url = store.url
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url.removeprefix(prefix)
            break
    if "connect_timeout" not in parse_qs(urlsplit(url).query):
        # The store's own default, stated rather than left to DBOS's (10 s today): the
        # engine's connections to a server that never answers must not hang either. A
        # connect_timeout in the store's URL is kept, and DBOS reads it from here.
        from pes_sdk_runner.store.dialect import CONNECT_TIMEOUT

        url += f"{'&' if urlsplit(url).query else '?'}connect_timeout={CONNECT_TIMEOUT}"
    schema = _search_path(store.url)
    return SystemDatabase(url, f"{schema}_jobs" if schema else "pes_jobs")


def default_executor_id(role: str) -> str:
    """This host's executor id for ``role``: stable across restarts, unlike a pid."""
    return f"{socket.gethostname()}-{role}"


class Runtime:
    """What the stages' workflows need in this process: the store, the configuration, …

    Each thread of the engine gets a store (connection) and a :class:`Daemon` of its own:
    closes of several partners run side by side, and the daemon's stage code is not
    thread-safe. ``check_payment`` asks the acquirer about one payment (None: this process
    has no gateway, the backstop is skipped here).
    """

    def __init__(
        self,
        config: RunnerConfig,
        host: PluginHost,
        *,
        check_payment: Callable[[uuid.UUID], Applied] | None = None,
        open_store: Callable[[], SqlStore] | None = None,
        executor_id: str = "",
        metrics: DaemonMetrics | None = None,
        processor: PaymentProcessor | None = None,
    ) -> None:
        self.config = config
        #: this process's payment processor (its book in the store): autopay charges go
        #: through it; None: this process cannot charge (autopay's steps refuse)
        self.processor = processor
        #: where the stages count what they do (``/metrics``), if this process exports any
        self.metrics = metrics
        #: this process's executor id (its own PENDING work is never "recovered" by itself)
        self.executor_id = executor_id
        self.host = host
        self.check_payment = check_payment
        #: set when the engine stops: a stage in progress finishes its file, day or
        #: delivery and leaves the rest to the next tick
        self.stop = threading.Event()
        self._open_store = open_store or self._default_store
        self._local = threading.local()
        self._lock = threading.Lock()
        self._stores: list[SqlStore] = []

    def _default_store(self) -> SqlStore:
        from pes_sdk_runner.store import open_store

        return open_store(
            self.config.store.url, migrate=False, group_commit=self.config.store.group_commit
        )

    def store(self) -> SqlStore:
        """This thread's store."""
        store: SqlStore | None = getattr(self._local, "store", None)
        if store is None:
            store = self._open_store()
            self._local.store = store
            with self._lock:
                self._stores.append(store)
        return store

    def daemon(self) -> Daemon:
        """A :class:`Daemon` on this thread's store: its stage code and decisions, reused."""
        from pes_sdk_runner.daemon import Daemon

        daemon: Daemon | None = getattr(self._local, "daemon", None)
        if daemon is None:
            daemon = Daemon(
                self.store(),
                self.config,
                self.host,
                check_payment=self.check_payment,
                metrics=self.metrics,
            )
            daemon._stop = self.stop  # a stage in progress ends early when the engine stops
            self._local.daemon = daemon
        return daemon

    def close(self) -> None:
        """Close every thread's store."""
        with self._lock:
            stores, self._stores = self._stores, []
        for store in stores:
            try:
                store.close()
            except Exception as exc:  # closing the others matters more
                event(log, "jobs.store_close_failed", logging.WARNING, error=type(exc).__name__)


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """This process's :class:`Runtime` (raises :class:`EngineNotRunning` outside one)."""
    if _runtime is None:
        raise EngineNotRunning(
            "a runner workflow ran in a process that did not launch the job engine"
        )
    return _runtime


@attrs.define
class JobEngine:
    """The launched engine of this process; :meth:`shutdown` stops it."""

    runtime: Runtime
    executor_id: str
    system: SystemDatabase
    #: the store's lease on ``executor_id`` (:func:`executor_lease`), given up at shutdown
    lease: SchedulerLease | None = None
    _stopped: bool = False

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop taking work, let the workflows in progress end their step, and stop.

        A workflow cut short here is finished by this executor's next launch (or by
        another process recovering it): each of its steps is idempotent.
        """
        global _runtime
        if self._stopped:
            return
        self._stopped = True
        from dbos import DBOS

        self.runtime.stop.set()
        try:
            DBOS.destroy(workflow_completion_timeout_sec=max(int(timeout), 0))
        finally:
            self.runtime.close()
            _runtime = None
            if self.lease is not None:
                self.lease.release()
            event(log, "jobs.stopped", executor=self.executor_id)

    def __enter__(self) -> JobEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _dbos_config(config: RunnerConfig, system: SystemDatabase, executor_id: str) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "name": APP_NAME,
        "system_database_url": system.url,
        "application_version": APP_VERSION,
        "executor_id": executor_id,
        # The engine's own log lines are few; the runner's events are the JSON lines.
        "log_level": "WARNING",
        # Picks up a schedule created by another process within seconds, not half a minute.
        "scheduler_polling_interval_sec": 5.0,
        # Threads for workflows and steps: the closes' concurrency plus the serial stages.
        "max_executor_threads": config.daemon.close_concurrency + 8,
        # Connections to the system database: DBOS's default of 20 per process would take a
        # fleet past a PostgreSQL's max_connections (100 by default) at five processes.
        "sys_db_pool_size": config.daemon.close_concurrency + 4,
    }
    if system.schema is not None:
        settings["dbos_system_schema"] = system.schema
    return settings


def launch(
    config: RunnerConfig,
    host: PluginHost,
    *,
    executor_id: str,
    check_payment: Callable[[uuid.UUID], Applied] | None = None,
    open_store: Callable[[], SqlStore] | None = None,
    take_over: Sequence[str] = (),
    on_lost: Callable[[], object] | None = None,
    metrics: DaemonMetrics | None = None,
    processor: PaymentProcessor | None = None,
) -> JobEngine:
    """Configure and start this process's engine: queues, the tick, recovery of its work.

    Holds the store's lease :func:`executor_lease` while it runs: one process per executor
    id (two under one id would each take the other's running work back at their start);
    :class:`ExecutorTaken` names the live holder. ``on_lost`` is called if the lease is
    lost (the store was unreachable for longer than ``daemon.lease_ttl``, and another
    process took the id): the engine is stopped first. ``metrics``: where the stages count
    what they do (the ``pes_daemon_*`` series of ``/metrics``); ``processor``: the
    process's payment processor, through which autopay charges.

    Recovers the workflows this ``executor_id`` left unfinished (a restart after a crash),
    and those of each executor in ``take_over``: processes gone for good
    (:class:`ExecutorAlive` while one still renews its lease). Raises :class:`JobsError`
    when the system database cannot be reached or set up, or when an engine already runs
    in this process.
    """
    global _runtime
    from dbos import DBOS, DBOSConfig

    from pes_sdk_runner.jobs import registry

    if _runtime is not None:
        raise JobsError("the job engine already runs in this process")
    system = system_database(config)
    stopping: list[JobEngine] = []

    def lost() -> None:
        for engine in stopping:
            engine.shutdown()
        if on_lost is not None:
            on_lost()

    lease = _take_lease(config, executor_id, take_over, lost)
    rt = Runtime(
        config,
        host,
        check_payment=check_payment,
        open_store=open_store,
        executor_id=executor_id,
        metrics=metrics,
        processor=processor,
    )
    _runtime = rt
    try:
        if system.schema is None:
            _wal(system.url)
        registry.load()  # every workflow registered before the engine starts
        DBOS(config=DBOSConfig(**_dbos_config(config, system, executor_id)))  # type: ignore[typeddict-item]
        DBOS.launch()
        registry.declare(config)
        if take_over:
            taken = DBOS._recover_pending_workflows(list(take_over))
            event(log, "jobs.taken_over", executors=list(take_over), workflows=len(taken))
    except Exception as exc:
        _runtime = None
        rt.close()
        lease.release()
        try:
            DBOS.destroy()
        except Exception:  # the launch's own error is the one to tell
            log.debug("jobs: destroy after a failed launch failed", exc_info=True)
        if isinstance(exc, PesError):
            raise
        raise JobsError(f"job engine ({_masked(system.url)}): {type(exc).__name__}: {exc}") from exc
    event(
        log,
        "jobs.started",
        executor=executor_id,
        system=_masked(system.url),
        schema=system.schema,
        tick=config.daemon.tick,
    )
    engine = JobEngine(rt, executor_id, system, lease)
    stopping.append(engine)
    return engine


def _wal(url: str) -> None:
    """Switch the engine's SQLite file to WAL (it stays so in the file).

    DBOS opens it in SQLite's default rollback journal; in WAL a step costs about half
    (docs/decisions/0001-job-engine.md), and readers (``queue_status``) do not wait.
    """
    import sqlite3

    path = url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
        db.execute("PRAGMA journal_mode=WAL")


def _take_lease(
    config: RunnerConfig,
    executor_id: str,
    take_over: Sequence[str],
    on_lost: Callable[[], object],
) -> SchedulerLease:
    """The lease on ``executor_id``, after checking ``take_over`` names no live process."""
    from pes_sdk_runner.lease import LeaseHeld, SchedulerLease, holder_alive

    try:
        lease = SchedulerLease(
            config.store.url,
            config.daemon.lease_ttl,
            group_commit=config.store.group_commit,
            name=executor_lease(executor_id),
            on_lost=on_lost,
        )
        lease.acquire()
    except LeaseHeld as exc:
        raise ExecutorTaken(executor_id, exc.lease.owner, exc.lease.expires_at) from None
    except (PesError, OSError) as exc:
        raise JobsError(f"store {config.store.display_url}: {exc}") from exc
    if take_over:
        from pes_sdk_runner.store import open_store

        now = dt.datetime.now(dt.UTC)
        store = open_store(config.store.url, migrate=False)
        try:
            alive = [i for i in take_over if holder_alive(store.lease(executor_lease(i)), now)]
        finally:
            store.close()
        if alive:
            lease.release()
            raise ExecutorAlive(alive)
    return lease


def _masked(url: str) -> str:
    from pes_sdk_runner.config.models import mask_url

    return mask_url(url)


def iso(moment: dt.datetime) -> str:
    """``moment`` as a workflow's argument: ISO 8601 with its offset (aware)."""
    if moment.tzinfo is None:
        raise ValueError("a workflow's time must carry a time zone")
    return moment.isoformat()


def parse_iso(text: str) -> dt.datetime:
    """The aware time :func:`iso` wrote."""
    return dt.datetime.fromisoformat(text)
