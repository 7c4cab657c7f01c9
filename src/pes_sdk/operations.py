"""High-level operations on registry files: validate one, convert one format into another.

These are the functions the ``pes`` command line is a thin shell over; partner developers
call them too::

    from pes_sdk.operations import convert, validate

    report = validate("debts.csv", "pes-debts")
    if not report.valid:
        for issue in report.issues:
            print(issue)  # line 12: amount: not an amount: '12,345'

    read, written = convert("debts.csv", "out/", "pes-debts", "sber-debts")

Formats are looked up by name in a :class:`~pes_sdk.plugins.PluginHost` (the process-wide
one unless you pass your own), and every read, valid or not, fires the host's
``pes_registry_loaded`` event.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs

from pes_sdk.errors import FormatError, PesError, PluginError, RegistryRefused
from pes_sdk.files import atomic_path
from pes_sdk.formats.base import (
    PROGRESS_EVERY,
    Policy,
    ReadReport,
    Record,
    RegistryFormat,
    RegistryReader,
    WriteReport,
)
from pes_sdk.formats.quarantine import default_rejects_path
from pes_sdk.formats.text import refuse_empty
from pes_sdk.i18n import tr
from pes_sdk.models.registry import RegistryHeader
from pes_sdk.money import ZERO
from pes_sdk.plugins.manager import PluginHost, get_host

__all__ = [
    "PROGRESS_EVERY",
    "FormatMismatch",
    "Progress",
    "UnreadableInput",
    "convert",
    "resolve_format",
    "validate",
]

#: A progress callback: called with the number of records read so far.
Progress = Callable[[int], None]


class UnreadableInput(FormatError):
    """The input cannot be opened at all (missing, a folder, no permission).

    Unlike :class:`~pes_sdk.errors.RegistryRefused`, this says nothing about the data: the
    command line treats it as a usage error.
    """


class FormatMismatch(PesError):
    """The formats asked for cannot do the job (a read-only target, another kind of registry)."""


def resolve_format(fmt: RegistryFormat | str, host: PluginHost | None = None) -> RegistryFormat:
    """A format object from its name (looked up in ``host``) or the object itself."""
    if isinstance(fmt, RegistryFormat):
        return fmt
    return (host or get_host()).format(fmt)


def _check_readable(path: Path) -> None:
    # Checked up front so that "no such file" is a usage error, not a refused registry.
    if not path.exists():
        raise UnreadableInput(tr("no such file"), path=path)
    if path.is_dir():
        raise UnreadableInput(tr("is a folder, not a file"), path=path)
    if not os.access(path, os.R_OK):
        raise UnreadableInput(tr("permission denied"), path=path)


def _refused_report(
    fmt: RegistryFormat, path: Path, exc: RegistryRefused, partial: ReadReport | None
) -> ReadReport:
    """The report of a refused read, whatever the reader managed to say about it."""
    if partial is None:
        return ReadReport(
            path=path,
            header=RegistryHeader(kind=fmt.kind),
            records=0,
            total=ZERO,
            issues=exc.issues,
            issue_count=exc.issue_count,
            refused=exc.message,
        )
    issues, issue_count = partial.issues, partial.issue_count
    if not issues and exc.issues:
        issues, issue_count = exc.issues, max(issue_count, exc.issue_count)
    # A refused registry keeps no rejects file: nothing of it stands.
    return attrs.evolve(
        partial,
        refused=partial.refused or exc.message,
        issues=issues,
        issue_count=issue_count,
        rejects_path=None,
    )


def validate(
    path: Path | str,
    fmt: RegistryFormat | str,
    policy: Policy | str = Policy.STRICT,
    *,
    rejects_path: Path | None = None,
    host: PluginHost | None = None,
    progress: Progress | None = None,
) -> ReadReport:
    """Read ``path`` in format ``fmt`` to its end and report what was found.

    Bad data never raises: a registry the reader refuses (and an empty file, in any
    format: :func:`~pes_sdk.formats.text.refuse_empty`) comes back as a report with
    ``refused`` set (and ``valid`` false). Under :attr:`Policy.QUARANTINE` the rejected rows
    go to ``rejects_path`` (default ``FILE.rejects.csv`` beside the file), named in the
    report's ``rejects_path`` when there were any.

    Raises :class:`UnreadableInput` when the file cannot be opened,
    :class:`~pes_sdk.errors.UnknownFormat` for a name no plugin provides, and
    :class:`FormatMismatch` for a format that cannot read.
    """
    host = host or get_host()
    f = resolve_format(fmt, host)
    if not f.capabilities.read:
        raise FormatMismatch(tr("format {name!r} cannot read", name=f.name))
    src = Path(path)
    _check_readable(src)
    report = _read_all(f, src, Policy(policy), rejects_path, progress)
    host.registry_loaded(report)
    return report


def _read_all(
    f: RegistryFormat,
    src: Path,
    policy: Policy,
    rejects_path: Path | None,
    progress: Progress | None,
) -> ReadReport:
    partial: ReadReport | None = None
    try:
        refuse_empty(src)  # whatever the format: the runner's inbox applies the same rule
        reader = f.open(src, policy=policy, rejects_path=rejects_path)
    except RegistryRefused as exc:
        return _refused_report(f, src, exc, None)
    except OSError as exc:
        raise UnreadableInput(exc.strerror or str(exc), path=src) from exc
    with reader:
        count = 0
        try:
            if isinstance(reader, RegistryReader):
                # The reader may check without building records (a format's fast path).
                report = reader.drain(progress)
            else:
                for _ in reader:
                    count += 1
                    if progress is not None and count % PROGRESS_EVERY == 0:
                        progress(count)
                if progress is not None:
                    progress(count)
                report = reader.report
        except RegistryRefused as exc:
            partial = _report_of(reader)
            return _refused_report(f, src, exc, partial)
    return report


def _report_of(reader: object) -> ReadReport | None:
    # A reader that breaks its contract (no report after refusing) must not hide the refusal.
    try:
        report = reader.report  # type: ignore[attr-defined]
    except Exception:
        return None
    return report if isinstance(report, ReadReport) else None


class _Feed:
    """The records of a reader as the writer pulls them, remembering a refusal.

    The reader raises :class:`RegistryRefused` only at the end of the file, after the writer
    has written every provisional record to its temporary file: the error must leave the
    writer (which then drops that file), and :func:`convert` must still know it was a
    refusal even if a writer wraps errors in its own.
    """

    def __init__(self, reader: Iterator[Record], progress: Progress | None) -> None:
        self._reader = reader
        self._progress = progress
        self.count = 0
        self.refused: RegistryRefused | None = None
        self.finished = False

    def __iter__(self) -> Iterator[Record]:
        try:
            for record in self._reader:
                self.count += 1
                if self._progress is not None and self.count % PROGRESS_EVERY == 0:
                    self._progress(self.count)
                yield record
        except RegistryRefused as exc:
            self.refused = exc
            raise
        self.finished = True
        if self._progress is not None:
            self._progress(self.count)


def convert(
    src: Path | str,
    dst: Path | str,
    from_fmt: RegistryFormat | str,
    to_fmt: RegistryFormat | str,
    policy: Policy | str = Policy.STRICT,
    *,
    rejects_path: Path | None = None,
    host: PluginHost | None = None,
    progress: Progress | None = None,
) -> tuple[ReadReport, WriteReport]:
    """Stream the registry in ``src`` (format ``from_fmt``) into ``dst`` (format ``to_fmt``).

    ``dst`` may be an existing folder: the file is then named by the target format's
    :meth:`~pes_sdk.formats.RegistryFormat.filename` for the registry's header.

    The output appears only when the whole input has been read and stands: records are
    written as they are read, into a temporary file beside ``dst`` that becomes ``dst`` at
    the end; if the reader refuses the registry (strict policy, control totals, encoding),
    :class:`~pes_sdk.errors.RegistryRefused` is raised and neither ``dst`` nor a temporary
    file is left behind (an existing ``dst`` is left as it was). Under
    :attr:`Policy.QUARANTINE` only the good records are written, and the rejected ones go to
    the rejects file.

    Raises :class:`UnreadableInput`, :class:`~pes_sdk.errors.UnknownFormat` and
    :class:`FormatMismatch` as :func:`validate` does, and whatever the target format raises
    for a record it cannot hold (a :class:`~pes_sdk.errors.FormatError`).
    """
    host = host or get_host()
    source = resolve_format(from_fmt, host)
    target = resolve_format(to_fmt, host)
    if not source.capabilities.read:
        raise FormatMismatch(tr("format {name!r} cannot read", name=source.name))
    if not target.capabilities.write:
        raise FormatMismatch(tr("format {name!r} cannot write", name=target.name))
    if source.kind != target.kind:
        raise FormatMismatch(
            tr(
                "format {source!r} holds {source_kind} and {target!r} holds "
                "{target_kind}: a registry converts only to a format of its own kind",
                source=source.name,
                source_kind=str(source.kind),
                target=target.name,
                target_kind=str(target.kind),
            )
        )
    src_path, dst_path = Path(src), Path(dst)
    _check_readable(src_path)
    policy = Policy(policy)
    if policy is Policy.QUARANTINE and rejects_path is None:
        rejects_path = default_rejects_path(src_path)

    try:
        refuse_empty(src_path)
        reader = source.open(src_path, policy=policy, rejects_path=rejects_path)
    except RegistryRefused as exc:
        host.registry_loaded(_refused_report(source, src_path, exc, None))
        raise
    except OSError as exc:
        raise UnreadableInput(exc.strerror or str(exc), path=src_path) from exc

    with reader:
        dst_path = _target_path(dst_path, target, reader.header)
        if dst_path.exists() and dst_path.resolve() == src_path.resolve():
            raise FormatMismatch(
                tr("{path}: the output would overwrite the input", path=str(dst_path))
            )
        feed = _Feed(reader, progress)
        try:
            # Our own atomic write around the format's: whatever the writer does with its
            # argument, nothing reaches dst_path unless the read stood to its end.
            with atomic_path(dst_path) as tmp:
                written = target.write(tmp, reader.header, feed)
                if not feed.finished:
                    _drain(feed, target)
        except BaseException as exc:
            if feed.refused is not None:
                host.registry_loaded(
                    _refused_report(source, src_path, feed.refused, _report_of(reader))
                )
                if exc is feed.refused:
                    raise
                raise feed.refused from exc
            raise
        read = reader.report
    host.registry_loaded(read)
    return read, attrs.evolve(written, path=dst_path)


def _drain(feed: _Feed, target: RegistryFormat) -> None:
    # The writer returned before the reader reached its end, so the control totals and
    # policy were never checked: finish the read, and refuse a writer that dropped records.
    left = sum(1 for _ in feed)
    if left:
        raise PluginError(
            tr(
                "format {name!r} stopped writing with {left} record(s) not written",
                name=target.name,
                left=left,
            )
        )


def _target_path(dst: Path, target: RegistryFormat, header: RegistryHeader) -> Path:
    if not dst.is_dir():
        return dst
    name = target.filename(header)
    if name is None:
        raise FormatMismatch(
            tr(
                "{path} is a folder, and format {name!r} cannot name the file from this "
                "registry's header: give the output file name",
                path=str(dst),
                name=target.name,
            )
        )
    return dst / name
