"""What every command of ``pes`` shares: the plugin host, error exits and the progress bar."""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from pes_sdk.i18n import LANGUAGES, language_from_environment, set_language, tr, tr_n, translate
from pes_sdk.operations import Progress
from pes_sdk.plugins import PluginHost, get_host

__all__ = [
    "DATE",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_USAGE",
    "ISO_DATE",
    "LANG_OPTION",
    "PROGRESS_MIN_BYTES",
    "DayType",
    "fail",
    "host_of",
    "print_plugin_warnings",
    "progress_for",
]

EXIT_OK = 0
#: The data is bad: a registry is not valid, or was refused.
EXIT_INVALID = 1
#: The command could not run: bad options, an unreadable file, an unknown format.
EXIT_USAGE = 2

#: Files smaller than this get no progress bar: they are read before one would be useful.
PROGRESS_MIN_BYTES = 1 << 20


def host_of(ctx: click.Context) -> PluginHost:
    """The plugin host of this invocation: the one a caller passed as ``obj``, or the default.

    Tests and embedding programs pass their own host (``cli.main(obj=host)``); the ``pes``
    command uses the process-wide one, loaded from entry points on first use.
    """
    host = ctx.find_object(PluginHost)
    host = host if host is not None else get_host()
    root = ctx.find_root()
    if not root.meta.get("pes.warnings"):
        # Once per invocation, after the command (whatever way it ends): by then the
        # plugins' hooks the command needed have run and said what they left out.
        root.meta["pes.warnings"] = True
        root.call_on_close(lambda: print_plugin_warnings(host))
    return host


def print_plugin_warnings(host: PluginHost) -> None:
    """One ``pes: warning:`` line on stderr per part a plugin left out, and per name in
    ``PES_DISABLE_PLUGINS`` that no installed plugin has."""
    for warning in host.warnings:
        text = tr("pes: warning: {name}: {error}", name=warning.name, error=warning.error)
        click.echo(translate(text), err=True)
    for name in sorted(host.unknown_disabled):
        text = tr(
            "pes: warning: PES_DISABLE_PLUGINS names {name!r}, which no installed plugin has",
            name=name,
        )
        click.echo(translate(text), err=True)


def fail(message: str, code: int) -> NoReturn:
    """Print ``message`` on stderr (no traceback) and end the command with ``code``."""
    click.echo(f"pes: error: {translate(message)}", err=True)
    raise click.exceptions.Exit(code)


def _choose_language(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    # The root group always chooses (from the environment when --lang is absent), so that
    # one process running several commands (tests, embedding programs) starts each afresh;
    # a subcommand's --lang then overrides the root's.
    if value is not None:
        set_language(value)
    elif ctx.parent is None:
        set_language(language_from_environment())


#: ``--lang en|ru``: the language of messages and reports (:mod:`pes_sdk.i18n`). Without it,
#: ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES`` and ``LANG`` decide, as for any gettext program;
#: English when none names a language the kit has.
LANG_OPTION = click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default=None,
    expose_value=False,
    is_eager=True,
    callback=_choose_language,
    help="Language of messages and reports: en or ru "
    "(default: from LANGUAGE, LC_ALL, LC_MESSAGES, LANG; else en).",
)


def _count_lines(path: Path) -> int:
    # Counting newlines in 1 MiB blocks costs a small fraction of parsing the same bytes,
    # and gives the bar a true length instead of a guess.
    lines = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            lines += block.count(b"\n")
    return max(lines, 1)


@contextlib.contextmanager
def progress_for(path: Path, label: str) -> Iterator[Progress | None]:
    """A progress callback drawing a bar on stderr, or None when no bar is wanted.

    There is a bar only when stderr is a terminal and the file is large: output that goes to
    a file or a pipe stays free of control characters.
    """
    try:
        big = path.is_file() and path.stat().st_size >= PROGRESS_MIN_BYTES
    except OSError:
        big = False
    if not big or not sys.stderr.isatty():
        yield None
        return
    length = _count_lines(path)
    with click.progressbar(
        length=length, label=label, file=sys.stderr, show_pos=True, show_eta=True
    ) as bar:
        done = 0

        def update(records: int) -> None:
            nonlocal done
            target = min(records, length)
            if target > done:
                bar.update(target - done)
                done = target

        yield update


# Not calendar.month_name: that follows the process's locale.
# Translators: a month as in "{value} is not a date: {name} {year} has {n} days", where
# Russian says "в феврале 2026 года 28 дней": the prepositional case, in lower case.
_MONTHS = (
    tr("January"), tr("February"), tr("March"), tr("April"), tr("May"), tr("June"),
    tr("July"), tr("August"), tr("September"), tr("October"), tr("November"), tr("December"),
)  # fmt: skip


class DayType(click.ParamType):  # type: ignore[type-arg]
    """A calendar day written ``YYYY-MM-DD`` (and ``DD.MM.YYYY`` with ``russian=True``),
    refused in the words a person uses: "2026-13-01 is not a date: month 13"."""

    name = "date"

    def __init__(self, *, russian: bool = False) -> None:
        self.russian = russian

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "YYYY-MM-DD|DD.MM.YYYY" if self.russian else "YYYY-MM-DD"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> dt.date:
        if isinstance(value, dt.date):
            return value
        text = str(value).strip()
        if self.russian and text.count(".") == 2:
            day_, month_, year_ = text.split(".")
            text = f"{year_}-{month_}-{day_}"
        parts = text.split("-")
        widths = [len(x) for x in parts]
        # pes settle always took unpadded days and months (5.1.2026); the runner never did
        loose = self.russian and len(parts) == 3 and widths[0] == 4 and max(widths[1:]) <= 2
        if (widths != [4, 2, 2] and not loose) or min(widths) == 0 or not text.isascii():
            forms = tr("YYYY-MM-DD or DD.MM.YYYY") if self.russian else "YYYY-MM-DD"
            self._refuse(
                tr(
                    "{value} is not a date: write it as {forms}, e.g. 2026-11-27",
                    value=value,
                    forms=forms,
                ),
                param,
                ctx,
            )
        if not all(x.isdigit() for x in parts):
            self._refuse(tr("{value} is not a date: it takes digits only", value=value), param, ctx)
        year, month, day = (int(x) for x in parts)
        if year < 1:
            self._refuse(tr("{value} is not a date: year 0", value=value), param, ctx)
        if not 1 <= month <= 12:
            self._refuse(
                tr("{value} is not a date: month {month}", value=value, month=month), param, ctx
            )
        if day < 1:
            self._refuse(tr("{value} is not a date: day 0", value=value), param, ctx)
        last = calendar.monthrange(year, month)[1]
        if day > last:
            text = tr_n(
                "{value} is not a date: {name} {year} has {n} day",
                "{value} is not a date: {name} {year} has {n} days",
                last,
                value=value,
                name=_MONTHS[month - 1],
                year=year,
            )
            self._refuse(text, param, ctx)
        return dt.date(year, month, day)

    def _refuse(
        self, message: str, param: click.Parameter | None, ctx: click.Context | None
    ) -> NoReturn:
        # click formats the text into its own with str.format, which would make a Message
        # plain English: it is said in the language shown before click sees it.
        self.fail(translate(message), param, ctx)


#: ``YYYY-MM-DD`` only (the runner's ``--date``).
ISO_DATE = DayType()
#: ``YYYY-MM-DD`` or ``DD.MM.YYYY``, as a Russian accountant writes it (``pes settle``).
DATE = DayType(russian=True)
