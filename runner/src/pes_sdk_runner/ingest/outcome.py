"""What became of one debt registry handed to the ingest: :class:`IngestOutcome`."""

from __future__ import annotations

import enum
from decimal import Decimal
from pathlib import Path

import attrs

from pes_sdk.money import ZERO
from pes_sdk.period import Period

__all__ = ["PROCESSED", "REJECTED", "IngestOutcome", "Outcome"]

#: The inbox subfolder for registries that were read (activated, duplicate or stale).
PROCESSED = "processed"
#: The inbox subfolder for registries refused whole or in conflict with one received before.
REJECTED = "rejected"


class Outcome(enum.StrEnum):
    """The outcome of ingesting one registry (итог приёма реестра)."""

    ACTIVATED = "activated"  #: now the partner's registry for its period
    DUPLICATE = "duplicate"  #: the same number and content was received before: nothing changed
    STALE = "stale"  #: a newer registry for the period is active: kept for the record only
    REFUSED = "refused"  #: refused whole (control totals, encoding, no number, another partner)
    CONFLICT = "conflict"  #: the same number was received before with other content
    FAILED = "failed"  #: a billing source could not deliver the registry (nothing ingested)

    @property
    def folder(self) -> str:
        """The inbox subfolder a file with this outcome is moved to."""
        return PROCESSED if self in _READ else REJECTED


_READ = frozenset({Outcome.ACTIVATED, Outcome.DUPLICATE, Outcome.STALE})


@attrs.frozen
class IngestOutcome:
    """One registry's ingest: the partner, the file, the outcome and where things went.

    ``records`` counts the good records read, ``rejected`` the rows put in quarantine,
    ``total`` sums the good records' amounts. ``file`` is the inbox file as found (``None``
    for a registry polled from a billing source); ``moved_to`` is where it is now;
    ``report`` is the ``NAME.report.json`` beside it and ``rejects`` the quarantined rows
    (``NAME.rejects.csv``) when there were any. ``message`` says why a registry was
    refused, conflicted or failed.
    """

    partner: str
    outcome: Outcome
    file: Path | None = None
    registry_number: int | None = None
    period: Period | None = None
    records: int = 0
    rejected: int = 0
    issue_count: int = 0
    total: Decimal = ZERO
    sha256: str = ""
    moved_to: Path | None = None
    report: Path | None = None
    rejects: Path | None = None
    registry_id: int | None = None
    message: str | None = None

    @property
    def ingested(self) -> bool:
        """True when the store holds the registry (activated, duplicate or stale)."""
        return self.outcome in _READ
