"""Named crash points: the runner kills itself with SIGKILL where a test tells it to.

The crash-safety tests (``runner/tests/test_crash.py``, ``docs/runner-crash-safety.md``)
run the real ``pes runner`` commands as subprocesses with the environment variable
:data:`ENV_VAR` naming one point, see the process die of SIGKILL there, restart it
without the variable and check that nothing was lost, doubled or left half written.

``PES_RUNNER_CRASH_AT=close.registry-written`` kills the process the first time it passes
that point; ``PES_RUNNER_CRASH_AT=close.file-temp-written@2`` the second time. Without
the variable (in production) :func:`crashpoint` is one dictionary look-up.

The kill is ``os.kill(os.getpid(), signal.SIGKILL)``: no ``finally`` block, ``atexit``
handler, buffered write, rollback or socket close runs. What survives is what a power cut
of the process would leave: the files as the kernel holds them and what the database
committed. (POSIX only: the tests that use it run on Linux and macOS.)
"""

from __future__ import annotations

import os
import signal
import threading
from typing import NamedTuple

__all__ = ["CRASH_POINTS", "ENV_VAR", "CrashPoint", "crashpoint"]

#: The environment variable naming the point to die at: ``NAME`` or ``NAME@N``.
ENV_VAR = "PES_RUNNER_CRASH_AT"


class CrashPoint(NamedTuple):
    """A named point and where it sits, in one line."""

    name: str
    description: str


#: Every point the runner's code passes, in the order of the work.
CRASH_POINTS: tuple[CrashPoint, ...] = (
    CrashPoint(
        "ingest.mid-registry",
        "store: a batch of a debt registry inserted inside the ingest transaction, not committed",
    ),
    CrashPoint(
        "ingest.stored",
        "inbox: the store committed the registry; no report yet, the file still in the inbox",
    ),
    CrashPoint(
        "ingest.report-written",
        "inbox: the report and quarantined rows written in processed/, the file not moved",
    ),
    CrashPoint(
        "ingest.half-moved",
        "inbox: the file linked under its final name and not yet unlinked from the inbox",
    ),
    CrashPoint(
        "payment.paid-before-commit",
        "store.put: a paid state and its ledger credits written, the transaction not committed",
    ),
    CrashPoint(
        "payment.paid-committed",
        "store.put: a paid state and its credits committed, the processor's on_credit not run",
    ),
    CrashPoint(
        "payment.webhook-applied",
        "webhook: the acquirer's news applied and committed, the webhook not yet answered",
    ),
    CrashPoint(
        "close.number-recorded",
        "day close: the registry's gapless number committed, no file written",
    ),
    CrashPoint(
        "close.file-temp-written",
        "day close: a file written under its temporary name, not yet renamed to its final one",
    ),
    CrashPoint(
        "close.transfer-written",
        "day close: the transfer order file in place, the registry file not written",
    ),
    CrashPoint(
        "close.registry-written",
        "day close: the registry file in place, no fee or transfer entry in the ledger",
    ),
    CrashPoint(
        "close.ledger-booked",
        "day close: the fee and transfer entries committed, no delivery opened",
    ),
    CrashPoint(
        "deliver.accepted",
        "delivery: the partner's channel accepted the registry, the store not told",
    ),
    CrashPoint(
        "deliver.recorded",
        "delivery: the attempt recorded as delivered, not yet acknowledged",
    ),
    CrashPoint(
        "notify.sent-not-recorded",
        "notify: the channel accepted a message, the store still has it as sending",
    ),
    CrashPoint(
        "notify.recorded",
        "notify: a message recorded as sent, the batch's next not yet claimed",
    ),
    CrashPoint(
        "campaign.page-written",
        "campaign: a page of the audience written and queued, the step's end not recorded",
    ),
)

_NAMES = frozenset(p.name for p in CRASH_POINTS)
_hits: dict[str, int] = {}
_lock = threading.Lock()


def _target() -> tuple[str, int] | None:
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return None
    name, _, nth = raw.partition("@")
    try:
        n = int(nth) if nth else 1
    except ValueError:
        return None  # a malformed value never fires: the test sees the process live on
    return name, n


def crashpoint(name: str) -> None:
    """Die of SIGKILL here if :data:`ENV_VAR` names this point (and this is its N-th pass).

    ``name`` must be one of :data:`CRASH_POINTS`: a point a test cannot name is a mistake.
    """
    if name not in _NAMES:
        raise ValueError(f"unknown crash point {name!r}")
    target = _target()
    if target is None or target[0] != name:
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        hit = _hits[name]
    if hit == target[1]:
        # Not sys.exit or os._exit: nothing of the process may run after this line.
        os.kill(os.getpid(), signal.SIGKILL)
