"""``pes formats`` and ``pes plugins``: what is installed, who provides it, what is broken."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from pes_sdk.cli.common import host_of
from pes_sdk.formats.base import FormatCapabilities

__all__ = ["formats", "plugins", "table"]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as aligned text columns (the last column is not padded)."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [headers, *rows]:
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return lines


def _mode(caps: FormatCapabilities) -> str:
    return "/".join(m for m, on in (("read", caps.read), ("write", caps.write)) if on) or "-"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@click.pass_context
def formats(ctx: click.Context, as_json: bool) -> None:
    """List the registry formats every installed plugin provides.

    Columns: name (what --format, --from and --to take), kind of registry, read/write,
    the plugin that provides it, and its description.
    """
    host = host_of(ctx)
    found = sorted(host.formats().values(), key=lambda f: (str(f.kind), f.name))
    rows = [
        {
            "name": f.name,
            "kind": str(f.kind),
            "mode": _mode(f.capabilities),
            "plugin": host.provider_of("pes_registry_formats", f.name),
            "description": f.description,
        }
        for f in found
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("No registry formats are installed (see `pes plugins`).")
        return
    headers = ("NAME", "KIND", "READ/WRITE", "PLUGIN", "DESCRIPTION")
    for line in table(headers, [tuple(r.values()) for r in rows]):
        click.echo(line)
    _warn_failures(ctx)


def _warn_failures(ctx: click.Context) -> None:
    failures = host_of(ctx).failures
    if failures:
        click.echo(f"pes: warning: {len(failures)} plugin problem(s); see `pes plugins`", err=True)


@click.command()
@click.pass_context
def plugins(ctx: click.Context) -> None:
    """List loaded plugins (distribution, version, hooks), and broken or disabled ones.

    A broken plugin (it fails to import, misnames a hook, or its hook raises) is left out
    and shown here with its error; the rest keep working.
    """
    host = host_of(ctx)
    # Collect what the provider hooks give, so that a plugin whose hook raises or returns
    # something wrong is reported now rather than at the first command that needs it.
    host.formats()
    host.fee_plans()
    loaded = host.plugins()
    click.echo("Loaded plugins:")
    rows = [
        (p.name, p.distribution or "-", p.version or "-", ", ".join(p.hooks) or "-") for p in loaded
    ]
    for line in table(
        ("  NAME", "DISTRIBUTION", "VERSION", "HOOKS"), [("  " + r[0], *r[1:]) for r in rows]
    ):
        click.echo(line)
    if host.failures:
        click.echo("")
        click.echo("Broken plugins (left out):")
        for failure in host.failures:
            dist = f" [{failure.distribution}]" if failure.distribution else ""
            click.echo(f"  {failure.name}{dist}: {failure.error}")
    if host.warnings:
        click.echo("")
        click.echo("Left out by their plugins (the rest of each works):")
        for warning in host.warnings:
            click.echo(f"  {warning.name}: {warning.error}")
    disabled = sorted(host.disabled - host.unknown_disabled)
    if disabled:
        click.echo("")
        click.echo("Disabled by PES_DISABLE_PLUGINS: " + ", ".join(disabled))
    if host.unknown_disabled:
        click.echo("")
        click.echo(
            "PES_DISABLE_PLUGINS names no installed plugin: "
            + ", ".join(sorted(host.unknown_disabled))
        )
