"""Debt records that give their house as address text, resolved at ingest.

A registry that writes the address instead of the house GUID ("г. Пермь, ул. Ленина,
д. 10, кв. 5") has each such record resolved through the house directory
(:class:`~pes_sdk_runner.houses.HouseResolver`) on its way into the store:

* one house found: the record is stored with its GUID (and, when the record has no
  premises of its own, the premises the address text ends with);
* none, or more than one: the record is quarantined, never guessed: kept out of the
  store and written to the rejects file with the reason and the candidates;
* a record with neither a GUID nor an address is stored with no house: found by its
  account only.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import attrs

from pes_sdk.errors import Issue
from pes_sdk.files import atomic_path
from pes_sdk.formats.base import ReadReport
from pes_sdk.formats.quarantine import DEFAULT_ISSUE_LIMIT
from pes_sdk.formats.spreadsheet import escape_formula
from pes_sdk.i18n import join, translate, verbatim
from pes_sdk.models.debts import DebtRecord
from pes_sdk.money import ZERO
from pes_sdk.premises import Premises
from pes_sdk_runner.houses import HouseResolver, Resolution
from pes_sdk_runner.i18n import tr, tr_n
from pes_sdk_runner.store.base import Store

__all__ = ["AddressResolution", "unresolved_message"]


def unresolved_message(record: DebtRecord, position: int, r: Resolution) -> str:
    """The rejects file's message for a record whose address found no single house."""
    text = tr(
        "record {position}, account {account}: address {address!r}: {reason}",
        position=position,
        account=record.account,
        address=record.address,
        reason=r.reason,
    )
    if not r.candidates:
        return text
    shown: list[str] = [
        verbatim("{guid} ({address})", guid=c.guid, address=c.address) for c in r.candidates[:10]
    ]
    if len(r.candidates) > 10:
        shown.append(tr_n("and {n} more", "and {n} more", len(r.candidates) - 10))
    return join(": ", [text, join("; ", shown)])


class AddressResolution:
    """Resolves the address text of a registry's records as they stream into the store.

    :meth:`records` wraps the reader's records; the quarantined ones are written to
    ``spill`` (a temporary file) as they come, so memory stays bounded. After the read,
    :meth:`merge` folds them into the reader's report and rejects file.
    """

    def __init__(self, store: Store, spill: Path) -> None:
        self.store = store
        self.spill = spill
        self.quarantined = 0
        self.quarantined_total = ZERO
        self.issues: list[Issue] = []
        self._resolver: HouseResolver | None = None
        self._file: IO[str] | None = None
        self._writer: Any = None

    def records(self, records: Iterator[DebtRecord]) -> Iterator[DebtRecord]:
        """The records to store: resolved, or without a house; the others quarantined."""
        for position, rec in enumerate(records, start=1):
            if rec.house_id is not None or not rec.address:
                yield rec
                continue
            if self._resolver is None:
                self._resolver = HouseResolver(self.store)
            r = self._resolver.resolve(rec.address)
            if r.house is None:
                self._quarantine(rec, position, r)
                continue
            premises = rec.premises
            if not premises.text and r.address.premises:
                premises = Premises(r.address.premises)
            # every value was checked: the record's by its reader, the GUID at the import
            yield DebtRecord.from_checked(
                rec.account,
                r.house.guid,
                premises,
                rec.amount,
                rec.period,
                rec.service,
                rec.tags,
                rec.service_code,
                rec.address,
            )
        self.close()

    def _quarantine(self, rec: DebtRecord, position: int, r: Resolution) -> None:
        self.quarantined += 1
        self.quarantined_total += rec.amount
        message = unresolved_message(rec, position, r)
        if len(self.issues) < DEFAULT_ISSUE_LIMIT:
            self.issues.append(Issue(0, "address", message))
        if self._writer is None:
            self._file = open(self.spill, "w", encoding="utf-8", newline="")  # noqa: SIM115
            self._writer = csv.writer(self._file, delimiter=";", lineterminator="\r\n")
        raw = f"{rec.account};{rec.address};{rec.premises.text};{rec.amount}"
        # In the language messages are shown in, as the reader writes its own rows.
        self._writer.writerow(
            [0, "address", escape_formula(translate(message)), escape_formula(raw)]
        )

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def discard(self) -> None:
        """Forget the quarantined rows (the registry was refused whole)."""
        self.close()
        self.spill.unlink(missing_ok=True)

    def merge(self, report: ReadReport, rejects: Path) -> ReadReport:
        """``report`` with the quarantined records moved from the good ones to the rejected,
        and the rejects file at ``rejects`` holding the reader's rows and these."""
        self.close()
        if not self.quarantined:
            return report
        mine = report.rejects_path is not None and rejects.exists()
        with atomic_path(rejects) as tmp, open(tmp, "w", encoding="utf-8-sig", newline="") as out:
            if mine:
                # the reader's rows first, as it wrote them (its header included)
                with open(rejects, encoding="utf-8-sig", newline="") as before:
                    out.writelines(before)
            else:
                header = [tr("line"), tr("field"), tr("message"), tr("raw")]
                csv.writer(out, delimiter=";", lineterminator="\r\n").writerow(
                    [translate(h) for h in header]
                )
            with open(self.spill, encoding="utf-8", newline="") as spilled:
                out.writelines(spilled)
        self.spill.unlink(missing_ok=True)
        room = max(0, DEFAULT_ISSUE_LIMIT - len(report.issues))
        return attrs.evolve(
            report,
            records=report.records - self.quarantined,
            total=report.total - self.quarantined_total,
            rejected=report.rejected + self.quarantined,
            issues=(*report.issues, *self.issues[:room]),
            issue_count=report.issue_count + self.quarantined,
            rejects_path=rejects,
        )
