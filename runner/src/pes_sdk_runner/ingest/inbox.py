"""Registry files dropped into partners' inbox folders (папки входящих реестров).

:func:`ingest_file` reads one file with the partner's format under the quarantine policy,
streams its good records into the store, writes a report beside it and moves it to the
inbox's ``processed/`` or ``rejected/`` subfolder. :func:`scan_inboxes` does that for every
file waiting in every inbox. Both are safe to repeat after a crash at any point:

* the store decides by the registry's number and the file's sha256 in one transaction, so a
  file ingested before the crash comes back ``duplicate`` and changes nothing;
* the report is written (atomically) before the file moves, and a move found half done (a
  report with this file's sha256 and no file, or the file already linked under its final
  name) is finished, keeping the first report;
* a file is moved with ``link`` + ``unlink``, so an existing file is never overwritten and,
  whatever happens, the file exists under at least one name;
* the temporary files a killed write leaves (``.NAME.*.part``) beside the staged rejects
  and the report are removed before those names are written again.

The named crash points (:mod:`pes_sdk_runner.crashpoints`) ``ingest.*`` test all of it with
a real SIGKILL: docs/runner-crash-safety.md.
"""

from __future__ import annotations

import collections
import datetime as dt
import glob
import hashlib
import itertools
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from pes_sdk.errors import Issue, RegistryRefused
from pes_sdk.files import atomic_path, fsync_dir
from pes_sdk.formats.base import Policy, ReadReport, RegistryFormat, RegistryReader
from pes_sdk.formats.text import refuse_empty
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.money import ZERO
from pes_sdk.operations import FormatMismatch
from pes_sdk.period import Period
from pes_sdk.plugins.manager import PluginHost, get_host
from pes_sdk_runner.config.models import PartnerConfig, RunnerConfig
from pes_sdk_runner.crashpoints import crashpoint
from pes_sdk_runner.ingest.addresses import AddressResolution
from pes_sdk_runner.ingest.outcome import PROCESSED, IngestOutcome, Outcome
from pes_sdk_runner.store.base import Store
from pes_sdk_runner.store.errors import RegistryConflict

__all__ = [
    "REPORT_ISSUES",
    "file_sha256",
    "inbox_files",
    "ingest_file",
    "scan_inboxes",
]

log = logging.getLogger("pes_sdk_runner.ingest")

#: How many issues a ``NAME.report.json`` lists (all of them are counted, and every
#: quarantined row is in ``NAME.rejects.csv``).
REPORT_ISSUES = 100

_CHUNK = 1 << 20
_REPORT_SUFFIX = ".report.json"
_REJECTS_SUFFIX = ".rejects.csv"


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in 1 MiB chunks (bounded memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _waiting(name: str) -> bool:
    # Hidden names are ours (rejects being staged) or an uploader's temporary files, and
    # ``.part`` is the temporary suffix of atomic writers: neither is a registry yet.
    return not name.startswith(".") and not name.endswith(".part")


def inbox_files(folder: Path, *, min_age: float = 0.0, now: float | None = None) -> list[Path]:
    """The registry files waiting in an inbox, by name.

    Only regular files directly in ``folder``: subfolders (``processed/``, ``rejected/``),
    symbolic links, hidden files and ``*.part`` files are left alone, and so are files
    modified less than ``min_age`` seconds before ``now`` (default: the current time), for
    uploaders that write under the final name instead of renaming a finished upload. A
    missing folder has no files.
    """
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    found = [e for e in entries if _waiting(e.name) and e.is_file(follow_symlinks=False)]
    if min_age > 0:
        limit = (time.time() if now is None else now) - min_age
        found = [e for e in found if e.stat(follow_symlinks=False).st_mtime <= limit]
    return sorted((Path(e.path) for e in found), key=lambda p: p.name)


# -- reading ----------------------------------------------------------------------------------


@attrs.frozen
class _Read:
    """What reading a file into the store came to, before the file is placed."""

    outcome: Outcome
    report: ReadReport
    number: int | None = None
    period: Period | None = None
    registry_id: int | None = None
    message: str | None = None


def _debts(reader: RegistryReader, path: Path) -> Iterator[DebtRecord]:
    for record in reader:
        if not isinstance(record, DebtRecord):
            raise FormatMismatch(f"{path}: the format yields {type(record).__name__}, not debts")
        yield record


def _report_of(reader: RegistryReader) -> ReadReport | None:
    # A reader that broke off may have no report to give; the refusal must still be told.
    try:
        report = reader.report
    except Exception:
        return None
    return report if isinstance(report, ReadReport) else None


def _refused(
    path: Path, header: RegistryHeader, exc: RegistryRefused, partial: ReadReport | None
) -> ReadReport:
    base = partial or ReadReport(path=path, header=header, records=0, total=ZERO)
    issues, count = base.issues, base.issue_count
    if not issues and exc.issues:
        issues, count = exc.issues, max(count, exc.issue_count)
    return attrs.evolve(base, refused=base.refused or exc.message, issues=issues, issue_count=count)


def _refuse(path: Path, report: ReadReport, message: str, **facts: Any) -> _Read:
    issue = Issue(0, "", message)
    report = attrs.evolve(
        report,
        refused=message,
        issues=(issue, *report.issues),
        issue_count=report.issue_count + 1,
    )
    return _Read(Outcome.REFUSED, report, message=message, **facts)


def _read_into_store(
    store: Store,
    partner: PartnerConfig,
    path: Path,
    fmt: RegistryFormat,
    sha256: str,
    staging: Path,
    received_at: dt.datetime | None,
) -> _Read:
    empty = ReadReport(path=path, header=RegistryHeader(kind=fmt.kind), records=0, total=ZERO)
    try:
        # What an uploader leaves before it writes: never a registry, whatever the format
        # (the rule `pes validate` applies too), and read as one it would wipe the debts.
        refuse_empty(path)
        # A text format refuses a file not plausibly in its encoding as it is read (in
        # the store's transaction, rolled back): the partner's active registry stays.
        reader = fmt.open(path, policy=Policy.QUARANTINE, rejects_path=staging)
    except RegistryRefused as exc:
        return _Read(Outcome.REFUSED, _refused(path, empty.header, exc, None), message=exc.message)
    with reader:
        header = reader.header
        if header.partner_inn is not None and header.partner_inn != partner.inn:
            # Never read one partner's debts into another's accounts.
            msg = f"the registry is of partner {header.partner_inn}, not {partner.inn}"
            return _refuse(path, attrs.evolve(empty, header=header), msg, number=header.number)
        number, period = header.number, header.period
        # Address text resolved through the house directory on the way into the store;
        # the records it finds no single house for go to the rejects (never guessed).
        resolution = AddressResolution(store, staging.with_name(f".{staging.name}.addresses.part"))
        records: Iterator[DebtRecord] = resolution.records(_debts(reader, path))
        try:
            if period is None:
                # A format without the period in its name or header: the records carry it.
                first = next(records, None)
                if first is not None:
                    period = first.period
                    records = itertools.chain([first], records)
            if number is None or period is None:
                collections.deque(records, maxlen=0)
                resolution.discard()
                missing = "number" if number is None else "period"
                msg = f"the registry's {missing} is not in its file name or header"
                return _refuse(path, reader.report, msg, number=number, period=period)
            try:
                result = store.ingest_debt_registry(
                    partner.inn, period, number, records, sha256=sha256, received_at=received_at
                )
            except RegistryConflict as exc:
                collections.deque(records, maxlen=0)
                report = resolution.merge(reader.report, staging)
                return _Read(Outcome.CONFLICT, report, number, period, message=str(exc))
            # A duplicate was not read by the store: read it through for the report.
            collections.deque(records, maxlen=0)
            return _Read(
                Outcome(result.outcome.value),
                resolution.merge(reader.report, staging),
                number,
                period,
                registry_id=result.registry.id,
            )
        except RegistryRefused as exc:
            # Raised at the end of the file, inside the store's transaction: rolled back.
            resolution.discard()
            report = _refused(path, header, exc, _report_of(reader))
            return _Read(Outcome.REFUSED, report, number, period, message=exc.message)


# -- placing ----------------------------------------------------------------------------------


def _report_sha(report: Path) -> str | None:
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("sha256") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _slot(folder: Path, src: Path, sha256: str) -> tuple[str, bool]:
    """A name in ``folder`` for ``src``: its own, else with ``.1``, ``.2``… before the suffix.

    Returns ``(name, resumed)``: ``resumed`` when an earlier run already placed this very
    file there (its report, or the file itself) and crashed before finishing.
    """
    stem, suffix = os.path.splitext(src.name)
    for n in itertools.count():
        name = src.name if n == 0 else f"{stem}.{n}{suffix}"
        final = folder / name
        report = folder / (name + _REPORT_SUFFIX)
        if final.exists():
            if os.path.samefile(src, final):
                return name, True
            continue
        if report.exists():
            if _report_sha(report) == sha256:
                return name, True
            continue
        if (folder / (name + _REJECTS_SUFFIX)).exists():
            continue
        return name, False
    raise AssertionError("unreachable")  # pragma: no cover - itertools.count never ends


def _drop_temporaries(final: Path) -> None:
    """Remove the temporary files a killed run left on its way to ``final``.

    ``atomic_path`` writes ``.NAME.<random>.part`` beside ``NAME``; a process killed before
    the rename leaves it behind. Hidden, it is never taken for a registry, but nothing
    else would ever remove it, and the crash tests found one per crash in the inbox (the
    reader's staged rejects). Only this run writes these names: one scanner per inbox.
    """
    for leftover in final.parent.glob(f".{glob.escape(final.name)}.*.part"):
        leftover.unlink(missing_ok=True)


def _move(src: Path, dst: Path) -> None:
    """Give ``src`` the name ``dst`` without overwriting anything there (then drop ``src``).

    ``link`` refuses an existing ``dst`` (``rename`` would replace it); between the two
    steps the file has both names, never none.
    """
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError:
        # A file system without hard links: check, then rename (no one else moves here).
        if dst.exists():
            raise FileExistsError(dst) from None
        os.rename(src, dst)
        return
    crashpoint("ingest.half-moved")
    os.unlink(src)


def _report_json(
    partner: PartnerConfig,
    src: Path,
    name: str,
    folder: str,
    fmt: str,
    sha256: str,
    read: _Read,
    rejects: str | None,
    received_at: dt.datetime,
) -> bytes:
    report = read.report
    control = report.header.control
    doc = {
        "partner_inn": partner.inn,
        "source": src.name,
        "file": name,
        "folder": folder,
        "format": fmt,
        "sha256": sha256,
        "received_at": received_at.isoformat(),
        "outcome": str(read.outcome),
        "message": read.message,
        "registry": {
            "number": read.number,
            "period": str(read.period) if read.period is not None else None,
            "id": read.registry_id,
        },
        "records": report.records,
        "total": str(report.total),
        "rejected": report.rejected,
        "control": (
            {"count": control.count, "sums": {k: str(v) for k, v in control.sums.items()}}
            if control is not None
            else None
        ),
        "refused": report.refused,
        "issue_count": report.issue_count,
        "issues": [
            {"line": i.line, "field": i.field, "message": i.message}
            for i in report.issues[:REPORT_ISSUES]
        ],
        "rejects": rejects,
    }
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _place(
    partner: PartnerConfig,
    src: Path,
    fmt: str,
    sha256: str,
    read: _Read,
    staging: Path,
    received_at: dt.datetime,
) -> IngestOutcome:
    inbox = src.parent
    sub = read.outcome.folder
    folder = inbox / sub
    if not folder.is_dir():
        folder.mkdir(exist_ok=True)
        fsync_dir(inbox)
    # Quarantined rows stand only with a registry that was read: nothing of a refused one does.
    keep_rejects = sub == PROCESSED and read.report.rejected > 0 and staging.exists()
    while True:
        name, resumed = _slot(folder, src, sha256)
        final = folder / name
        report_path = folder / (name + _REPORT_SUFFIX)
        rejects_path = folder / (name + _REJECTS_SUFFIX)
        if not report_path.exists():
            # First the report, then the rejects, then the file: a crash in between leaves
            # the file in the inbox and a report the next run recognises by its sha256.
            body = _report_json(
                partner,
                src,
                name,
                sub,
                fmt,
                sha256,
                read,
                rejects_path.name if keep_rejects else None,
                received_at,
            )
            _drop_temporaries(report_path)
            with atomic_path(report_path) as tmp:
                tmp.write_bytes(body)
        if keep_rejects and staging.exists() and not rejects_path.exists():
            os.replace(staging, rejects_path)
        staging.unlink(missing_ok=True)
        crashpoint("ingest.report-written")
        if final.exists() and os.path.samefile(src, final):
            os.unlink(src)  # the link was made before the crash: finish the move
        else:
            try:
                _move(src, final)
            except FileExistsError:
                if resumed:
                    raise
                continue  # another name appeared meanwhile: take the next free one
        break
    fsync_dir(folder)
    fsync_dir(inbox)
    report = read.report
    outcome = IngestOutcome(
        partner=partner.inn,
        outcome=read.outcome,
        file=src,
        registry_number=read.number,
        period=read.period,
        records=report.records,
        rejected=report.rejected,
        issue_count=report.issue_count,
        total=report.total,
        sha256=sha256,
        moved_to=final,
        report=report_path,
        rejects=rejects_path if rejects_path.exists() else None,
        registry_id=read.registry_id,
        message=read.message,
    )
    log.info(
        "registry ingested",
        extra={
            "partner": partner.inn,
            "file": src.name,
            "outcome": str(read.outcome),
            "number": read.number,
            "records": report.records,
            "rejected": report.rejected,
            "moved_to": f"{sub}/{name}",
            "resumed": resumed,
        },
    )
    return outcome


# -- the operations ---------------------------------------------------------------------------


def ingest_file(
    store: Store,
    partner: PartnerConfig,
    path: Path | str,
    host: PluginHost | None = None,
    *,
    received_at: dt.datetime | None = None,
) -> IngestOutcome:
    """Ingest one registry file of ``partner`` and move it out of the inbox.

    The file is read with the partner's format under :attr:`Policy.QUARANTINE`: its good
    records go to :meth:`Store.ingest_debt_registry` under the number and period of its file
    name or header (a format without a period there takes the records' own) and the sha256
    of its bytes. Then ``NAME.report.json`` (and ``NAME.rejects.csv`` for quarantined rows)
    is written in the inbox's ``processed/`` (activated, duplicate, stale) or ``rejected/``
    (refused whole, conflicting) subfolder and the file is moved there, under a new name
    ``STEM.N.SUFFIX`` if its own is taken: nothing is overwritten.

    Raises only for what is not the file's fault (the store's database, the file system, a
    format that is not a debts format); the file then stays in the inbox for the next run.
    """
    path = Path(path)
    host = host or get_host()
    if partner.format is None:
        raise FormatMismatch(f"partner {partner.inn} has no registry format for its inbox")
    fmt = host.format(partner.format)
    if fmt.kind is not RegistryKind.DEBTS or not fmt.capabilities.read:
        raise FormatMismatch(f"format {fmt.name!r} does not read debt registries")
    received = received_at or dt.datetime.now(dt.UTC)
    sha256 = file_sha256(path)
    staging = path.with_name(f".{path.name}{_REJECTS_SUFFIX}")
    _drop_temporaries(staging)
    read = _read_into_store(store, partner, path, fmt, sha256, staging, received)
    crashpoint("ingest.stored")
    host.registry_loaded(read.report)
    return _place(partner, path, fmt.name, sha256, read, staging, received)


def scan_inboxes(
    store: Store,
    config: RunnerConfig,
    host: PluginHost | None = None,
    *,
    received_at: dt.datetime | None = None,
    min_age: float = 0.0,
) -> list[IngestOutcome]:
    """One pass over every inbox partner's folder: each waiting file ingested once, by name.

    Safe to call repeatedly and after a crash: files already moved are not seen again, and
    one the store took before the crash comes back ``duplicate`` and is moved. ``min_age``
    leaves files modified in the last so many seconds for the next pass
    (:func:`inbox_files`).
    """
    host = host or get_host()
    outcomes: list[IngestOutcome] = []
    for partner in config.partners:
        folder = partner.source.folder
        if not partner.source.is_inbox or folder is None:
            continue
        for path in inbox_files(folder, min_age=min_age):
            if not path.is_file():
                continue  # taken away since the folder was listed
            outcomes.append(ingest_file(store, partner, path, host, received_at=received_at))
    return outcomes
