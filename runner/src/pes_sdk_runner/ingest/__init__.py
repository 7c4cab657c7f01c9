"""Ingest of partners' debt registries (приём реестров задолженности).

* :func:`scan_inboxes` / :func:`ingest_file`: registry files dropped into inbox folders,
  read under the quarantine policy, streamed into the store, reported on
  (``NAME.report.json``, ``NAME.rejects.csv``) and moved to ``processed/`` or ``rejected/``;
* :func:`poll_sources` / :func:`poll_source`: registries fetched from billing source
  plugins (``soap-billing``, …).

Every one gives an :class:`IngestOutcome`. The store's rule decides: a newer registry for
the same partner and period replaces the older, an older one never overwrites a newer, and
the same registry again is a no-op (by its sha256), so every operation here is safe to
repeat after a crash.
"""

from __future__ import annotations

from pes_sdk_runner.ingest.inbox import (
    REPORT_ISSUES,
    Stray,
    file_sha256,
    inbox_files,
    inbox_strays,
    ingest_file,
    report_strays,
    scan_inboxes,
)
from pes_sdk_runner.ingest.outcome import PROCESSED, REJECTED, IngestOutcome, Outcome
from pes_sdk_runner.ingest.sources import (
    current_period,
    poll_source,
    poll_sources,
    registry_sha256,
)

__all__ = [
    "PROCESSED",
    "REJECTED",
    "REPORT_ISSUES",
    "IngestOutcome",
    "Outcome",
    "Stray",
    "current_period",
    "file_sha256",
    "inbox_files",
    "inbox_strays",
    "ingest_file",
    "poll_source",
    "poll_sources",
    "registry_sha256",
    "report_strays",
    "scan_inboxes",
]
