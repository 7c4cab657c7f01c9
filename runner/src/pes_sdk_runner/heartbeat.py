"""Heartbeats (пульс): every runner process's row in the store, renewed every few seconds.

``pes runner serve`` and ``pes runner worker`` each run in a :class:`Heartbeat`: on entering,
the process writes its row (role, host, pid, version, when it started); a thread of its own,
on a store connection of its own (a long transaction of the process must not hold it up),
renews the row's last beat every :data:`BEAT_EVERY` seconds; leaving the block deletes the
row. A process that dies without leaving (SIGKILL, a power cut, a lost host) leaves its row
behind, no longer renewed: it counts as dead once its beat is older than :data:`ALIVE_FOR`,
and the beats of the living delete it :data:`FORGET_AFTER` later. ``pes runner status`` and
``/metrics`` read the rows (:func:`fleet`). A row, not a pid file: processes on several hosts
share one PostgreSQL store.

Nothing decides on heartbeats: the store's keys and locks decide who does what, and the
scheduler's lease (:mod:`pes_sdk_runner.lease`) has its own expiry. They are for people and
monitoring: which processes run, and which died.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from importlib import metadata
from types import TracebackType

import attrs

from pes_sdk_runner.logs import event
from pes_sdk_runner.store import ProcessBeat, SqlStore, open_store

__all__ = [
    "ALIVE_FOR",
    "BEAT_EVERY",
    "FORGET_AFTER",
    "ROLES",
    "Heartbeat",
    "SeenProcess",
    "fleet",
    "runner_version",
]

log = logging.getLogger("pes_sdk_runner.heartbeat")

#: The roles a process runs in: the HTTP API (and, on SQLite, everything), background work.
ROLES = ("serve", "worker")

#: Seconds between two beats of a process.
BEAT_EVERY = 5.0

#: A process whose last beat is older than this is taken for dead (four beats missed: a
#: store busy for a few seconds does not make the living look dead).
ALIVE_FOR = dt.timedelta(seconds=4 * BEAT_EVERY)

#: The row of a dead process is deleted by the beats of the living this long after its
#: last beat: ``pes runner status`` shows a crash for a day, then forgets it.
FORGET_AFTER = dt.timedelta(days=1)

# Forgetting the long dead is one DELETE: done at the first beat and every this many beats.
_FORGET_EVERY = 60

# Seconds a stopping process waits for a beat in progress before leaving its row behind.
_STOP_WAIT = 10.0


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def runner_version() -> str:
    """The installed runner's version (``unknown`` when run from a tree not installed)."""
    try:
        return metadata.version("pes-sdk-runner")
    except metadata.PackageNotFoundError:  # pragma: no cover - the runner is installed
        return "unknown"


class Heartbeat:
    """This process's heartbeat in the store while the ``with`` block runs.

    ``store``: the process's store; the heartbeat opens a connection of its own to the same
    database (``store.url``). ``role``: one of :data:`ROLES`. ``every``: seconds between
    beats; ``clock``: where the time is read (aware UTC; tests move it).

    Entering writes the row at once (so that the process is listed as soon as the block
    runs); a beat that fails (the store away) is logged and tried again at the next one,
    on a new connection: a process keeps serving while its store is away, and shows again
    as alive when the store is back. Leaving stops the beats and deletes the row.
    """

    def __init__(
        self,
        store: SqlStore,
        role: str,
        *,
        every: float = BEAT_EVERY,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"role: {role!r} is not one of {', '.join(ROLES)}")
        if not every > 0:
            raise ValueError(f"every: {every!r} must be a positive number of seconds")
        self.url = store.url
        self.every = every
        self._clock = clock
        started = clock()
        #: this process's row as last written (``beat_at``: the last beat tried)
        self.row = ProcessBeat(
            id=uuid.uuid4().hex,
            role=role,
            host=socket.gethostname(),
            pid=os.getpid(),
            version=runner_version(),
            started_at=started,
            beat_at=started,
        )
        self._store: SqlStore | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._beats = 0
        self._abandoned = False

    @property
    def id(self) -> str:
        """This process's id in the store (random per start)."""
        return self.row.id

    @property
    def role(self) -> str:
        return self.row.role

    def _connection(self) -> SqlStore:
        if self._store is None:
            # Heartbeats need no group commit: one small write every few seconds.
            self._store = open_store(self.url, migrate=False, group_commit=False)
        return self._store

    def _drop_connection(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            try:
                store.close()
            except Exception as exc:  # a broken connection may fail to close: it is gone
                event(log, "heartbeat.close_failed", logging.DEBUG, error=type(exc).__name__)

    def beat(self) -> bool:
        """Write one beat now; False (and logged) when the store did not take it."""
        now = self._clock()
        self.row = attrs.evolve(self.row, beat_at=now)
        try:
            store = self._connection()
            store.beat(self.row)
            if self._beats % _FORGET_EVERY == 0:
                store.forget_processes(now - FORGET_AFTER)
        except Exception as exc:  # the store is away: the next beat tries a new connection
            event(
                log,
                "heartbeat.failed",
                logging.WARNING,
                role=self.row.role,
                process=self.row.id,
                error=type(exc).__name__,
            )
            self._drop_connection()
            return False
        finally:
            self._beats += 1
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.beat()
        if self._abandoned:  # the process stopped without this thread: its connection too
            self._drop_connection()

    def __enter__(self) -> Heartbeat:
        self.beat()
        # A daemon thread: a beat cut short by the interpreter's exit loses nothing.
        self._thread = threading.Thread(
            target=self._run, name=f"pes-runner-heartbeat-{self.row.role}", daemon=True
        )
        self._thread.start()
        event(
            log,
            "heartbeat.started",
            role=self.row.role,
            process=self.row.id,
            pid=self.row.pid,
            every=self.every,
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            # A beat stuck on an unreachable database server (no answer to connect) must
            # not hold the process's stop up: the row is left to age out instead.
            self._thread.join(timeout=_STOP_WAIT)
            if self._thread.is_alive():
                self._abandoned = True
                event(log, "heartbeat.stuck", logging.WARNING, role=self.row.role)
                return
        try:
            self._connection().end_process(self.row.id)
        except Exception as error:  # the store is away: the row ages out instead
            event(
                log,
                "heartbeat.end_failed",
                logging.WARNING,
                role=self.row.role,
                process=self.row.id,
                error=type(error).__name__,
            )
        finally:
            self._drop_connection()
        event(log, "heartbeat.stopped", role=self.row.role, process=self.row.id)


@attrs.frozen
class SeenProcess:
    """A process's row and what it says at ``now``: alive, or dead since its last beat."""

    process: ProcessBeat
    alive: bool
    silent_for: dt.timedelta  #: since its last beat (never negative)


def fleet(
    processes: list[ProcessBeat],
    now: dt.datetime,
    *,
    alive_for: dt.timedelta = ALIVE_FOR,
) -> list[SeenProcess]:
    """The processes of the store at ``now`` (aware): alive ones first, then the dead, each
    by role and start. A beat later than ``now`` (another host's clock ahead) is alive."""
    seen = [
        SeenProcess(p, now - p.beat_at <= alive_for, max(now - p.beat_at, dt.timedelta(0)))
        for p in processes
    ]
    seen.sort(key=lambda s: (not s.alive, s.process.role, s.process.started_at, s.process.id))
    return seen
