"""The bookkeeping every reader shares: bad rows, the policy, control totals, rejects file.

A format's reader feeds each rejected row to a :class:`RejectSink` and calls
:meth:`RejectSink.finish` at the end of the file; the sink decides whether the registry
stands, writes rejected rows with their reasons (nothing is lost), and builds the report.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from pes_sdk.errors import Issue, RegistryRefused
from pes_sdk.files import atomic_path
from pes_sdk.formats.base import Policy, ReadReport
from pes_sdk.formats.spreadsheet import escape_formula
from pes_sdk.i18n import join, tr, tr_n, translate
from pes_sdk.models.registry import ControlTotals, RegistryHeader

__all__ = ["DEFAULT_ISSUE_LIMIT", "RejectSink", "default_rejects_path"]

#: How many issues a report keeps in memory; all of them still go to the rejects file.
DEFAULT_ISSUE_LIMIT = 1000


def default_rejects_path(source: Path) -> Path:
    return source.with_name(source.name + ".rejects.csv")


class RejectSink:
    """Collects the problems of one read and applies the policy at the end."""

    def __init__(
        self,
        source: Path | None,
        policy: Policy,
        rejects_path: Path | None = None,
        *,
        issue_limit: int = DEFAULT_ISSUE_LIMIT,
    ) -> None:
        self.source = source
        self.policy = Policy(policy)
        self.rejects_path = rejects_path or (
            default_rejects_path(source) if source is not None else None
        )
        self.issue_limit = issue_limit
        self.issues: list[Issue] = []
        self.issue_count = 0
        self.rejected = 0
        self._atomic: contextlib.ExitStack | None = None
        self._file: IO[str] | None = None
        self._writer: Any = None  # csv's writer type is private

    def _note(self, issue: Issue) -> None:
        self.issue_count += 1
        if len(self.issues) < self.issue_limit:
            self.issues.append(issue)

    def reject(self, line: int, raw: str, issues: Sequence[Issue]) -> None:
        """A row is refused for ``issues``; under quarantine it is kept in the rejects file."""
        self.rejected += 1
        for issue in issues:
            self._note(issue)
        if self.policy is Policy.QUARANTINE and self.rejects_path is not None:
            writer = self._rejects_writer()
            for issue in issues:
                message = translate(issue.message)
                writer.writerow([line, issue.field, escape_formula(message), escape_formula(raw)])

    def _rejects_writer(self) -> Any:
        if self._writer is None:
            assert self.rejects_path is not None
            self._atomic = contextlib.ExitStack()
            tmp = self._atomic.enter_context(atomic_path(self.rejects_path))
            # utf-8 with BOM: the file is for people, who open it in Excel.
            self._file = self._atomic.enter_context(
                open(tmp, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115 (the stack closes it)
            )
            self._writer = csv.writer(self._file, delimiter=";", lineterminator="\r\n")
            # The header and the reasons are in the language messages are shown in
            # (pes_sdk.i18n): the file is read by the partner's accountant.
            header = [tr("line"), tr("field"), tr("message"), tr("raw")]
            self._writer.writerow([translate(h) for h in header])
        return self._writer

    def refuse(self, message: str, *, line: int = 0, field: str = "") -> RegistryRefused:
        """The registry cannot be read at all (encoding, structure): refuse it whole now."""
        self._note(Issue(line, field, message))
        self.abort()
        return RegistryRefused(
            message if not line else tr("line {line}: {message}", line=line, message=message),
            path=self.source,
            issues=self.issues,
            issue_count=self.issue_count,
        )

    def abort(self) -> None:
        """Drop the rejects file being written (the registry is refused anyway)."""
        if self._atomic is not None:
            atomic, self._atomic = self._atomic, None
            with contextlib.suppress(_Abort), atomic:
                raise _Abort

    def finish(
        self,
        header: RegistryHeader,
        records: int,
        sums: dict[str, Decimal],
        control: ControlTotals | None,
        *,
        good_total: Decimal,
        unverifiable: Sequence[str] = (),
    ) -> tuple[ReadReport, RegistryRefused | None]:
        """Close the read: check control totals and policy, and build the report.

        ``records`` and ``sums`` cover every data row the file holds (good and bad), as the
        sender's control totals do. ``unverifiable`` names the sums that could not be
        computed because some row's value was unreadable; ``good_total`` sums the amounts
        of the records kept. Returns the report and, when the
        registry is refused, the error to raise.
        """
        refused = None
        if control is not None:
            problems = control.mismatches(records, sums)
            for name in unverifiable:
                if name in control.sums:
                    problems.append(
                        tr("control sum of {name} cannot be checked: a value is bad", name=name)
                    )
            if problems:
                for p in problems:
                    self._note(Issue(0, "control", p))
                refused = tr(
                    "control totals do not match: {problems}", problems=join("; ", problems)
                )
        if refused is None and self.policy is Policy.STRICT and self.issue_count:
            refused = tr_n(
                "{n} problem found; policy strict refuses the registry",
                "{n} problems found; policy strict refuses the registry",
                self.issue_count,
            )
        kept_rejects = None
        if refused is not None:
            self.abort()
        elif self._atomic is not None:
            self._file = None
            atomic, self._atomic = self._atomic, None
            atomic.close()
            kept_rejects = self.rejects_path
        good = records - self.rejected
        report = ReadReport(
            path=self.source,
            header=header,
            records=good,
            total=good_total,
            rejected=self.rejected,
            issues=tuple(self.issues),
            issue_count=self.issue_count,
            refused=refused,
            rejects_path=kept_rejects,
        )
        error = None
        if refused is not None:
            error = RegistryRefused(
                refused, path=self.source, issues=self.issues, issue_count=self.issue_count
            )
        return report, error

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.abort()


class _Abort(Exception):
    """Raised inside the atomic write of the rejects file to make it roll back."""
