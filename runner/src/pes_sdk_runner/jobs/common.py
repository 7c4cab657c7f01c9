"""What the stages' workflows share: their results, failures and workflow ids."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from pes_sdk_runner.daemon import PassError
from pes_sdk_runner.jobs.engine import JobsError

__all__ = ["StageFailed", "errors_of", "slot_id"]


class StageFailed(JobsError):
    """A step failed; the message is the daemon's safe description (no personal data).

    The engine records it as the workflow's error: the original exception's text could
    carry a record's values, so it is not what is raised out of a step.
    """


def slot_id(stage: str, interval: float, now: dt.datetime) -> str:
    """The workflow id of ``stage``'s run for the interval ``now`` falls in.

    The same in every process: one run per interval however many processes' ticks try.
    """
    return f"{stage}:{int(now.timestamp() // interval)}"


def errors_of(errors: Sequence[PassError]) -> list[dict[str, Any]]:
    """A stage's errors as its workflow's output (plain values, stored by the engine)."""
    return [
        {"stage": str(e.stage), "partner": e.partner, "subject": e.subject, "message": e.message}
        for e in errors
    ]
