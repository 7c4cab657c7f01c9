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

Reports and rejects are the only names in ``processed/`` and ``rejected/`` that end in
``.report.json`` and ``.rejects.csv``: an uploaded file whose name ends so is placed as
``X.report.1.json`` (:func:`_slot`), so it can neither take a report's name nor be taken
for one. What is not a regular file (a symbolic link, a folder, a FIFO) is never read or
moved: each scan logs it (``ingest.left-alone``) and ``pes runner status`` lists it
(:func:`inbox_strays`).

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
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import attrs

from pes_sdk.errors import Issue, RegistryRefused
from pes_sdk.files import atomic_path, fsync_dir
from pes_sdk.formats.base import (
    PROGRESS_EVERY,
    Policy,
    ReadReport,
    RegistryFormat,
    RegistryReader,
)
from pes_sdk.formats.text import refuse_empty
from pes_sdk.models.debts import DebtRecord
from pes_sdk.models.registry import RegistryHeader, RegistryKind
from pes_sdk.money import ZERO
from pes_sdk.operations import FormatMismatch, Progress
from pes_sdk.period import Period
from pes_sdk.plugins.manager import PluginHost, get_host
from pes_sdk_runner.config.models import PartnerConfig, RunnerConfig
from pes_sdk_runner.crashpoints import crashpoint
from pes_sdk_runner.i18n import tr
from pes_sdk_runner.ingest.addresses import AddressResolution
from pes_sdk_runner.ingest.outcome import PROCESSED, REJECTED, IngestOutcome, Outcome
from pes_sdk_runner.logs import event
from pes_sdk_runner.store.base import Store
from pes_sdk_runner.store.errors import RegistryConflict

__all__ = [
    "REPORT_ISSUES",
    "Stray",
    "file_sha256",
    "inbox_files",
    "inbox_strays",
    "ingest_file",
    "report_strays",
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
    missing folder has no files. What is left alone and not an upload in progress is
    listed by :func:`inbox_strays`.
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


@attrs.frozen
class Stray:
    """An entry of an inbox that is not a regular file, so the ingest never touches it."""

    path: Path
    #: What it is: ``symbolic link``, ``folder``, ``FIFO``, ``socket`` or ``device``.
    kind: str


def _kind_of(entry: os.DirEntry[str]) -> str:
    if entry.is_symlink():
        return "symbolic link"
    if entry.is_dir(follow_symlinks=False):
        return "folder"
    mode = entry.stat(follow_symlinks=False).st_mode
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "device"


def inbox_strays(folder: Path) -> list[Stray]:
    """What sits in an inbox that is not a regular file, by name.

    A symbolic link, a folder (other than ``processed/`` and ``rejected/``), a FIFO, a
    socket or a device is left where it is, read never: a link could point anywhere (a
    file of another partner, ``/dev/zero``) and a FIFO blocks its reader. The operator is
    told instead, so that it is not skipped silently for ever. Hidden names and ``*.part``
    files are an uploader's work in progress and are not listed. A missing folder has none.
    """
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    strays: list[Stray] = []
    for e in entries:
        if not _waiting(e.name) or e.is_file(follow_symlinks=False):
            continue
        if e.name in (PROCESSED, REJECTED) and e.is_dir(follow_symlinks=False):
            continue
        try:
            kind = _kind_of(e)
        except FileNotFoundError:
            continue  # taken away since the folder was listed
        strays.append(Stray(Path(e.path), kind))
    return sorted(strays, key=lambda s: s.path.name)


def report_strays(partner_inn: str, folder: Path) -> list[Stray]:
    """:func:`inbox_strays` of one partner's inbox, each logged as ``ingest.left-alone``.

    Logged at WARNING on every scan while it is there: a registry an uploader left as a
    link, or a folder instead of a file, never reaches the store until someone acts.
    """
    strays = inbox_strays(folder)
    for stray in strays:
        event(
            log,
            "ingest.left-alone",
            logging.WARNING,
            partner=partner_inn,
            file=stray.path.name,
            kind=stray.kind,
            message=f"{stray.kind}, not a regular file: not read, not moved",
        )
    return strays


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


def _debts(
    reader: RegistryReader, path: Path, progress: Progress | None = None
) -> Iterator[DebtRecord]:
    count = 0
    for record in reader:
        if not isinstance(record, DebtRecord):
            raise FormatMismatch(f"{path}: the format yields {type(record).__name__}, not debts")
        count += 1
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
        yield record
    if progress is not None:
        progress(count)


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
    progress: Progress | None = None,
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
            msg = tr(
                "the registry is of partner {found}, not {partner}",
                found=header.partner_inn,
                partner=partner.inn,
            )
            return _refuse(path, attrs.evolve(empty, header=header), msg, number=header.number)
        number, period = header.number, header.period
        # Address text resolved through the house directory on the way into the store;
        # the records it finds no single house for go to the rejects (never guessed).
        resolution = AddressResolution(store, staging.with_name(f".{staging.name}.addresses.part"))
        records: Iterator[DebtRecord] = resolution.records(_debts(reader, path, progress))
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
                msg = (
                    tr("the registry's number is not in its file name or header")
                    if number is None
                    else tr("the registry's period is not in its file name or header")
                )
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

    Never a name that ends like a report's or rejects' (``X.report.json`` is placed as
    ``X.report.1.json``): those suffixes are kept for the files this module writes, so an
    upload cannot take a report's name, nor be read back as a report.

    Returns ``(name, resumed)``: ``resumed`` when an earlier run already placed this very
    file there (its report, or the file itself) and crashed before finishing.
    """
    stem, suffix = os.path.splitext(src.name)
    for n in itertools.count():
        name = src.name if n == 0 else f"{stem}.{n}{suffix}"
        if name.endswith((_REPORT_SUFFIX, _REJECTS_SUFFIX)):
            continue
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
    keep_file: bool = True,
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
        # false: the file held personal data (ФИО, phones) its format drops, and is not kept
        "file_kept": keep_file,
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
    *,
    keep_file: bool = True,
) -> IngestOutcome:
    """File the registry, its report and its rejects in ``processed/`` or ``rejected/``.

    ``keep_file`` false (a format whose files carry personal data, which its reader drops):
    the file is deleted once its report is written; the report keeps its sha256.
    """
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
                keep_file,
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
    if not keep_file:
        # The records hold none of its personal data; the file itself is not kept either
        # (its sha256 is in the report, so a resend is still recognised as a duplicate).
        final.unlink(missing_ok=True)
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
    progress: Progress | None = None,
) -> IngestOutcome:
    """Ingest one registry file of ``partner`` and move it out of the inbox.

    The file is read with the partner's format under :attr:`Policy.QUARANTINE`: its good
    records go to :meth:`Store.ingest_debt_registry` under the number and period of its file
    name or header (a format without a period there takes the records' own) and the sha256
    of its bytes. Then ``NAME.report.json`` (and ``NAME.rejects.csv`` for quarantined rows)
    is written in the inbox's ``processed/`` (activated, duplicate, stale) or ``rejected/``
    (refused whole, conflicting) subfolder and the file is moved there, under a new name
    ``STEM.N.SUFFIX`` if its own is taken: nothing is overwritten.

    ``progress``, if given, is called now and then with the number of records read (the
    progress bar of ``pes runner scan``).

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
    read = _read_into_store(store, partner, path, fmt, sha256, staging, received, progress)
    crashpoint("ingest.stored")
    host.registry_loaded(read.report)
    kept = not fmt.capabilities.personal_data
    return _place(partner, path, fmt.name, sha256, read, staging, received, keep_file=kept)


def scan_inboxes(
    store: Store,
    config: RunnerConfig,
    host: PluginHost | None = None,
    *,
    received_at: dt.datetime | None = None,
    min_age: float = 0.0,
    progress: Callable[[Path], AbstractContextManager[Progress | None]] | None = None,
) -> list[IngestOutcome]:
    """One pass over every inbox partner's folder: each waiting file ingested once, by name.

    Safe to call repeatedly and after a crash: files already moved are not seen again, and
    one the store took before the crash comes back ``duplicate`` and is moved. ``min_age``
    leaves files modified in the last so many seconds for the next pass
    (:func:`inbox_files`); what is not a regular file is logged (:func:`report_strays`).
    ``progress`` gives each file's progress callback, in a context around its ingest
    (``pes runner scan`` draws :func:`pes_sdk.cli.common.progress_for`'s bar).
    """
    host = host or get_host()
    outcomes: list[IngestOutcome] = []
    for partner in config.partners:
        folder = partner.source.folder
        if not partner.source.is_inbox or folder is None:
            continue
        report_strays(partner.inn, folder)
        for path in inbox_files(folder, min_age=min_age):
            if not path.is_file():
                continue  # taken away since the folder was listed
            with progress(path) if progress is not None else nullcontext() as bar:
                outcomes.append(
                    ingest_file(store, partner, path, host, received_at=received_at, progress=bar)
                )
    return outcomes
