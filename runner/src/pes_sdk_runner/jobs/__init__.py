"""The runner's background work on DBOS Transact: durable workflows, queues, one tick.

With ``daemon.engine = "dbos"``, what the scheduler thread (:mod:`pes_sdk_runner.daemon`)
does in passes runs as workflows instead, one module per job, any number of processes
taking part (``pes runner worker``; ``serve`` too unless ``--no-daemon``):

* :mod:`.scan` — inbox scans; :mod:`.poll` — billing-source polls;
* :mod:`.payments` — the payment backstop (the acquirer asked about waiting payments);
* :mod:`.closes` — day closes, ``close:<partner>:<day>``, exactly one per partner-day,
  in day order, with the meter readings file;
* :mod:`.deliver` — deliveries with bounded retries;
* :mod:`.tick` — the fleet's one tick that queues the above when due;
* :mod:`.engine` — the set-up (:func:`launch`), :mod:`.status` — :func:`queue_status`.

The decisions (which days are due, where closing starts, which payments to ask about)
are the daemon's, reused; the store stays the decider of every effect. Later background
work registers in :mod:`pes_sdk_runner.jobs.registry` (its text says how).

Importing this package does not import DBOS; :func:`launch` does.
"""

from __future__ import annotations

from pes_sdk_runner.jobs.engine import (
    APP_VERSION,
    EngineNotRunning,
    ExecutorAlive,
    ExecutorTaken,
    JobEngine,
    JobsError,
    SystemDatabase,
    WorkerNeedsPostgres,
    default_executor_id,
    executor_lease,
    launch,
    system_database,
)
from pes_sdk_runner.jobs.status import QueueStatus, queue_status

__all__ = [
    "APP_VERSION",
    "EngineNotRunning",
    "ExecutorAlive",
    "ExecutorTaken",
    "JobEngine",
    "JobsError",
    "QueueStatus",
    "SystemDatabase",
    "WorkerNeedsPostgres",
    "default_executor_id",
    "executor_lease",
    "launch",
    "queue_status",
    "system_database",
]
