"""Notifications: one workflow per batch of message rows (:mod:`pes_sdk_runner.notify`)."""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from typing import Any

from dbos import DBOS

from pes_sdk_runner.jobs.engine import Runtime, runtime
from pes_sdk_runner.notify import Sender, queue_batch

__all__ = ["notify_workflow"]

_senders: dict[int, Sender] = {}
_senders_lock = threading.Lock()


def _sender(rt: Runtime) -> Sender:
    """This process's sender: its channels' connections are reused by every batch, and
    closed when the engine's runtime is gone (a stopped engine drops it)."""
    with _senders_lock:
        sender = _senders.get(id(rt))
        if sender is None:
            sender = _senders[id(rt)] = Sender(rt.config, rt.host)
            weakref.finalize(rt, _forget, id(rt))
        return sender


def _forget(key: int) -> None:
    with _senders_lock:
        sender = _senders.pop(key, None)
    if sender is not None:
        sender.close()


@DBOS.step(name="pes.notify.send")
def _send(ids: list[int], claimer: str) -> dict[str, Any]:
    # Idempotent by the store, not by the engine: a message is claimed once (queued →
    # sending) and a re-run after a crash skips what it finds sent; one it finds sending
    # under its own claim is re-sent only where a repeat cannot reach the person twice
    # (docs/runner-crash-safety.md).
    rt = runtime()
    done = _sender(rt).send_batch(rt.store(), ids, claimer)
    if done.deferred:
        # The quiet hours' messages: a run of their own when they end, not a workflow
        # asleep in a slot of the queue for the night.
        until = done.deferred_until or dt.datetime.now(dt.UTC)
        delay = max((until - dt.datetime.now(dt.UTC)).total_seconds(), 0.0)
        queue_batch(rt.config, f"{claimer}+{until:%Y%m%dT%H%M}", list(done.deferred), delay=delay)
    return {
        "counts": dict(done.counts),
        "deferred": len(done.deferred),
        "until": done.deferred_until.isoformat() if done.deferred_until else None,
    }


@DBOS.workflow(name="pes.notify")
def notify_workflow(ids: list[int]) -> dict[str, Any]:
    """Send the messages ``ids`` (written by :func:`pes_sdk_runner.notify.enqueue_messages`)."""
    claimer = DBOS.workflow_id
    assert claimer is not None  # inside a workflow
    return _send(ids, claimer)
