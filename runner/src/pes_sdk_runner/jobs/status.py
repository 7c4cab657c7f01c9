"""The queues' state for ``pes runner status`` and ``/metrics``, read from DBOS's tables.

Read with a connection of its own, without launching an engine: any process (the CLI, a
``serve`` without background work) can ask.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from pes_sdk_runner.jobs.engine import JobsError, system_database

if TYPE_CHECKING:
    from pes_sdk_runner.config.models import RunnerConfig

__all__ = ["FAILED_STATES", "QueueStatus", "queue_status"]

#: Workflow states counted as failed: ended in an error, or recovered too many times.
FAILED_STATES = ("ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")


@attrs.frozen
class QueueStatus:
    """The engine's queues at one moment."""

    #: per queue, the workflows waiting to start (ENQUEUED)
    waiting: Mapping[str, int] = attrs.field(factory=dict)
    #: per queue, the workflows running or left running by a dead process (PENDING)
    running: Mapping[str, int] = attrs.field(factory=dict)
    #: how long the oldest waiting workflow has waited, in seconds (None: none waits)
    oldest_waiting_seconds: float | None = None
    #: workflows that ended in failure and were not retried since (all queues)
    failed: int = 0
    #: False when the engine's system database does not exist yet (never launched)
    available: bool = True

    @property
    def depth(self) -> int:
        """The workflows waiting, all queues."""
        return sum(self.waiting.values())


def queue_status(config: RunnerConfig, *, now: dt.datetime | None = None) -> QueueStatus:
    """The queues' depths, the oldest waiting workflow's age and the failed count.

    ``now`` (aware; default: the current time) is what the age is measured against.
    Raises :class:`~pes_sdk_runner.jobs.engine.JobsError` when the system database
    cannot be read.
    """
    import sqlalchemy as sa

    system = system_database(config)
    if (
        system.url.startswith("sqlite:///")
        and not Path(system.url.removeprefix("sqlite:///")).exists()
    ):
        return QueueStatus(available=False)  # reading would create the file
    table = "workflow_status" if system.schema is None else f'"{system.schema}".workflow_status'
    at = now or dt.datetime.now(dt.UTC)
    engine = sa.create_engine(
        system.url,
        poolclass=sa.pool.NullPool,
        # A status must not hang on an unreachable server.
        connect_args={"connect_timeout": 5} if system.schema is not None else {"timeout": 5},
    )
    try:
        with engine.connect() as conn:
            try:
                rows = conn.execute(
                    sa.text(
                        f"SELECT queue_name, status, count(*), min(created_at) FROM {table}"
                        " WHERE status IN ('ENQUEUED', 'PENDING') AND queue_name IS NOT NULL"
                        " GROUP BY queue_name, status"
                    )
                ).all()
                failed = conn.execute(
                    sa.text(f"SELECT count(*) FROM {table} WHERE status IN :states").bindparams(
                        sa.bindparam("states", expanding=True)
                    ),
                    {"states": list(FAILED_STATES)},
                ).scalar_one()
            except (sa.exc.ProgrammingError, sa.exc.OperationalError):
                # No table yet: the engine was never launched on this store.
                return QueueStatus(available=False)
    except sa.exc.SQLAlchemyError as exc:
        raise JobsError(f"job engine's database: {type(exc).__name__}") from None
    finally:
        engine.dispose()
    waiting: dict[str, int] = {}
    running: dict[str, int] = {}
    oldest_ms: int | None = None
    for queue, state, count, first in rows:
        if state == "ENQUEUED":
            waiting[queue] = int(count)
            if first is not None and (oldest_ms is None or first < oldest_ms):
                oldest_ms = int(first)
        else:
            running[queue] = int(count)
    oldest = None
    if oldest_ms is not None:
        oldest = max((at.timestamp() * 1000 - oldest_ms) / 1000, 0.0)
    return QueueStatus(waiting, running, oldest, int(failed))
