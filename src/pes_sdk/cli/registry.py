"""``pes validate`` and ``pes convert``: the registry file commands."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pes_sdk.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    LANG_OPTION,
    fail,
    host_of,
    progress_for,
)
from pes_sdk.errors import PesError, RegistryRefused, UnknownFormat
from pes_sdk.formats.base import Policy, ReadReport
from pes_sdk.i18n import tr, tr_n, translate
from pes_sdk.operations import FormatMismatch, UnreadableInput
from pes_sdk.operations import convert as convert_registry
from pes_sdk.operations import validate as validate_registry

__all__ = ["convert", "render_report", "report_json", "validate"]

_POLICY = click.Choice([p.value for p in Policy])
_POLICY_HELP = (
    "strict: any bad row refuses the whole registry (default). quarantine: good rows are "
    "kept and bad rows go to a rejects file with their reasons."
)
# The errors that mean "the command could not run" rather than "the data is bad".
_USAGE_ERRORS = (UnknownFormat, UnreadableInput, FormatMismatch)


def report_json(report: ReadReport) -> dict[str, object]:
    """The ``--json`` object of ``pes validate`` (a stable shape: scripts parse it)."""
    return {
        "valid": report.valid,
        "kind": str(report.header.kind),
        "records": report.records,
        "total": str(report.total),
        "errors": [{"line": i.line, "field": i.field, "message": i.message} for i in report.issues],
    }


def render_report(report: ReadReport, *, max_errors: int | None = None) -> list[str]:
    """A report as lines for people: verdict, counts, total, errors, rejects file.

    In the language messages are shown in (:mod:`pes_sdk.i18n`).
    """
    lines = []
    if report.refused is not None:
        lines.append(translate(tr("  refused:  {reason}", reason=report.refused)))
    lines.append(
        translate(
            tr(
                "  records:  {good} good, {rejected} rejected",
                good=report.records,
                rejected=report.rejected,
            )
        )
    )
    lines.append(translate(tr("  total:    {total}", total=report.total)))
    if report.issue_count:
        lines.append(translate(tr("errors ({count}):", count=report.issue_count)))
        shown = report.issues if max_errors is None else report.issues[:max_errors]
        lines.extend(f"  {issue}" for issue in shown)
        lines.extend(_more(report.issue_count, len(shown)))
    if report.rejects_path is not None:
        lines.append(
            translate(
                tr("rejects:  {path} (bad rows with their reasons)", path=report.rejects_path)
            )
        )
    return lines


def _more(count: int, shown: int) -> list[str]:
    if count <= shown:
        return []
    return [translate(tr_n("  … and {n} more", "  … and {n} more", count - shown))]


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "-f",
    "fmt",
    required=True,
    metavar="NAME",
    help="Format of FILE (see `pes formats`).",
)
@click.option(
    "--policy", type=_POLICY, default=Policy.STRICT.value, show_default=True, help=_POLICY_HELP
)
@click.option(
    "--rejects",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Where quarantine writes the rejected rows (default: FILE.rejects.csv).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object: valid, kind, records, total, errors.",
)
@click.option(
    "--max-errors",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="How many errors the text output lists.",
)
@LANG_OPTION
@click.pass_context
def validate(
    ctx: click.Context,
    file: Path,
    fmt: str,
    policy: str,
    rejects: Path | None,
    as_json: bool,
    max_errors: int,
) -> None:
    """Read FILE to its end and check every row, the control totals and the policy.

    Exits 0 when the registry is valid, 1 when it is not, 2 when it cannot be checked
    (an unreadable file, an unknown format). Errors are listed as `line N: field: message`;
    problems of the file as a whole (encoding, control totals) as `file: ...`.
    """
    host = host_of(ctx)
    try:
        with progress_for(file, f"validating {file.name}") as progress:
            report = validate_registry(
                file, fmt, Policy(policy), rejects_path=rejects, host=host, progress=progress
            )
    except _USAGE_ERRORS as exc:
        fail(str(exc), EXIT_USAGE)
    except PesError as exc:
        fail(str(exc), EXIT_INVALID)
    if as_json:
        click.echo(json.dumps(report_json(report), ensure_ascii=False))
    else:
        verdict = tr("valid") if report.valid else tr("NOT VALID")
        click.echo(
            translate(
                tr(
                    "{file}: {verdict} ({format}, {kind}, policy {policy})",
                    file=file,
                    verdict=verdict,
                    format=fmt,
                    kind=report.header.kind,
                    policy=policy,
                )
            )
        )
        for line in render_report(report, max_errors=max_errors):
            click.echo(line)
        if policy == Policy.QUARANTINE and report.rejects_path is None:
            if report.refused:
                click.echo(translate(tr("rejects:  none written (the registry was refused)")))
            else:
                click.echo(translate(tr("rejects:  none written (no row was rejected)")))
    ctx.exit(EXIT_OK if report.valid else EXIT_INVALID)


@click.command()
@click.argument("src", metavar="IN", type=click.Path(path_type=Path))
@click.argument("dst", metavar="OUT", type=click.Path(path_type=Path))
@click.option("--from", "from_fmt", required=True, metavar="NAME", help="Format of IN.")
@click.option("--to", "to_fmt", required=True, metavar="NAME", help="Format of OUT.")
@click.option(
    "--policy", type=_POLICY, default=Policy.STRICT.value, show_default=True, help=_POLICY_HELP
)
@click.option(
    "--rejects",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Where quarantine writes the rejected rows (default: IN.rejects.csv).",
)
@click.option(
    "--max-errors",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="How many errors the text output lists.",
)
@LANG_OPTION
@click.pass_context
def convert(
    ctx: click.Context,
    src: Path,
    dst: Path,
    from_fmt: str,
    to_fmt: str,
    policy: str,
    rejects: Path | None,
    max_errors: int,
) -> None:
    """Convert the registry IN into OUT, streaming, record by record.

    OUT may be an existing folder: the file is then named by the target format's convention
    (for `sber-debts`, ИНН_РС_НОМЕР_ММГГ.txt). OUT appears only when IN was read to its end
    and stands: under the strict policy an invalid IN is refused (exit 1) and no OUT, not
    even a partial one, is left behind.
    """
    host = host_of(ctx)
    try:
        with progress_for(src, f"converting {src.name}") as progress:
            read, written = convert_registry(
                src,
                dst,
                from_fmt,
                to_fmt,
                Policy(policy),
                rejects_path=rejects,
                host=host,
                progress=progress,
            )
    except _USAGE_ERRORS as exc:
        fail(str(exc), EXIT_USAGE)
    except RegistryRefused as exc:
        click.echo(f"pes: error: {exc}", err=True)
        shown = exc.issues[:max_errors]
        for issue in shown:
            click.echo(f"  {issue}", err=True)
        for line in _more(exc.issue_count, len(shown)):
            click.echo(line, err=True)
        click.echo(translate(tr("pes: nothing written to {path}", path=dst)), err=True)
        ctx.exit(EXIT_INVALID)
    except PesError as exc:
        fail(str(exc), EXIT_INVALID)
    click.echo(f"{src} ({from_fmt}) -> {written.path} ({to_fmt})")
    click.echo(
        translate(
            tr(
                "  written:  {records} records, total {total}",
                records=written.records,
                total=written.total,
            )
        )
    )
    for line in render_report(read, max_errors=max_errors):
        click.echo(line)
