"""What runs on a store and what waits in it: ``pes runner status`` and ``/metrics`` read it.

The processes come from their heartbeats (:mod:`pes_sdk_runner.heartbeat`); what waits is
read from the store (payments the acquirer has not settled, deliveries not done) and, where
background work runs on the job engine (``daemon.engine = "dbos"``), from its queues
(:func:`queue_facts`, through :func:`pes_sdk_runner.jobs.queue_status`). Every
process reads the same rows, so every ``/metrics`` target reports the same fleet: these
gauges are aggregated with ``max``, never summed (docs/runner-api.md, "Metrics").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import attrs

from pes_sdk_runner.api.metrics import Fact
from pes_sdk_runner.config import RunnerConfig
from pes_sdk_runner.heartbeat import ROLES, SeenProcess, fleet
from pes_sdk_runner.store import DeliveryStatus, Store

__all__ = ["FleetStatus", "QueueFacts", "metric_facts", "queue_facts", "read_fleet"]


@attrs.frozen
class QueueFacts:
    """The job engine's queues: tasks waiting by queue, the oldest waiting one's age, and
    the tasks that failed for good (they wait for an operator)."""

    depths: Mapping[str, int]
    oldest_waiting: dt.timedelta | None
    failed: int
    #: tasks running by queue (or left running by a dead process, until it is recovered)
    running: Mapping[str, int] = attrs.field(factory=dict)


@attrs.frozen
class FleetStatus:
    """The store's processes and what waits in it, at ``at`` (aware UTC)."""

    at: dt.datetime
    processes: tuple[SeenProcess, ...]  #: alive first, then the recently dead
    waiting_payments: int  #: created or pending within daemon.payment_check_window
    oldest_waiting_payment: dt.datetime | None  #: when the oldest of them was created
    deliveries: Mapping[str, int]  #: open deliveries by status: pending, failed
    queues: QueueFacts | None  #: None: no job engine reports (the scheduler of ``serve``)
    #: why the engine's queues could not be read (the error's type), None when they were
    queues_error: str | None = None

    def alive(self, role: str) -> int:
        """How many processes of ``role`` beat recently."""
        return sum(1 for s in self.processes if s.alive and s.process.role == role)

    def dead(self, role: str) -> int:
        """How many processes of ``role`` stopped beating without stopping cleanly."""
        return sum(1 for s in self.processes if not s.alive and s.process.role == role)


def queue_facts(config: RunnerConfig, now: dt.datetime) -> QueueFacts | None:
    """The job engine's queues (``daemon.engine = "dbos"``), or None with the scheduler of
    ``serve``, which has none. Raises when the engine's database does not answer."""
    if config.daemon.engine != "dbos":
        return None
    # Imported here: the engine's packages load only where the engine is configured.
    from pes_sdk_runner.jobs import queue_status

    q = queue_status(config, now=now)
    oldest = q.oldest_waiting_seconds
    return QueueFacts(
        depths=dict(q.waiting),
        oldest_waiting=None if oldest is None else dt.timedelta(seconds=oldest),
        failed=q.failed,
        running=dict(q.running),
    )


def read_fleet(store: Store, config: RunnerConfig, now: dt.datetime) -> FleetStatus:
    """The fleet of ``store`` at ``now`` (aware): a few small reads (indexed counts)."""
    window = dt.timedelta(seconds=config.daemon.payment_check_window)
    with store.reads_together():
        processes = tuple(fleet(store.processes(), now))
        waiting, oldest = store.waiting_payments(now - window)
        deliveries = {
            str(status): len(store.deliveries(status))
            for status in (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
        }
    queues: QueueFacts | None = None
    error: str | None = None
    try:
        queues = queue_facts(config, now)
    except Exception as exc:  # the rest of the fleet is still worth showing
        error = type(exc).__name__
    return FleetStatus(now, processes, waiting, oldest, deliveries, queues, error)


def metric_facts(status: FleetStatus) -> list[Fact]:
    """The fleet as gauges for :class:`pes_sdk_runner.api.metrics.StoreCollector`."""
    facts: list[Fact] = [
        (
            "pes_fleet_processes",
            "Runner processes whose heartbeat is recent, by role (the same from every process).",
            "role",
            {role: float(status.alive(role)) for role in ROLES},
        ),
        (
            "pes_fleet_processes_dead",
            "Runner processes that stopped beating without a clean stop, by role (rows are"
            " forgotten a day after their last beat).",
            "role",
            {role: float(status.dead(role)) for role in ROLES},
        ),
        (
            "pes_fleet_payments_waiting",
            "Payments created or pending at the acquirer (within daemon.payment_check_window).",
            None,
            {"": float(status.waiting_payments)},
        ),
        (
            "pes_fleet_deliveries_open",
            "Deliveries of payment registries not done, by status (pending, failed).",
            "status",
            {k: float(v) for k, v in status.deliveries.items()},
        ),
    ]
    if status.oldest_waiting_payment is not None:
        age = (status.at - status.oldest_waiting_payment).total_seconds()
        facts.append(
            (
                "pes_fleet_payments_waiting_oldest_seconds",
                "Age of the oldest waiting payment (absent when none waits).",
                None,
                {"": max(age, 0.0)},
            )
        )
    q = status.queues
    if q is not None:
        facts.append(
            (
                "pes_fleet_queue_depth",
                "Tasks waiting in the job engine, by queue.",
                "queue",
                {k: float(v) for k, v in q.depths.items()},
            )
        )
        facts.append(
            (
                "pes_fleet_queue_running",
                "Tasks running in the job engine (or left by a dead process), by queue.",
                "queue",
                {k: float(v) for k, v in q.running.items()},
            )
        )
        facts.append(
            ("pes_fleet_tasks_failed", "Tasks that failed for good.", None, {"": float(q.failed)})
        )
        if q.oldest_waiting is not None:
            facts.append(
                (
                    "pes_fleet_queue_oldest_waiting_seconds",
                    "Age of the oldest waiting task (absent when none waits).",
                    None,
                    {"": q.oldest_waiting.total_seconds()},
                )
            )
    return facts
