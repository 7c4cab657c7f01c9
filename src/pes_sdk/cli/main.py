"""Entry point of the ``pes`` command; each group of commands lives in its own module."""

from __future__ import annotations

import click

from pes_sdk import __version__
from pes_sdk.cli.bank import reconcile, settle
from pes_sdk.cli.common import LANG_OPTION, host_of
from pes_sdk.cli.demo import demo
from pes_sdk.cli.listing import formats, plugins
from pes_sdk.cli.qr import qr
from pes_sdk.cli.registry import convert, validate

__all__ = ["PesGroup", "cli", "main"]

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class PesGroup(click.Group):
    """The ``pes`` group: the built-in commands, then those plugins add (``pes_cli_commands``).

    Plugin commands are looked up only when a name is not built in, so a plugin can add a
    command but never replace one.
    """

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        return {
            name: cmd
            for name, cmd in host_of(ctx).cli_commands().items()
            if name not in self.commands
        }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugin_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._plugin_commands(ctx).get(cmd_name)


@click.group(cls=PesGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="pes")
@LANG_OPTION
def cli() -> None:
    """pes: registries, formats and plugins of pes-sdk.

    \b
    Exit codes:
      0  done; the registry is valid
      1  the registry is not valid, or was refused
      2  usage error: bad options, an unreadable file, an unknown format

    Messages and reports are in English, or in Russian with --lang ru or a Russian locale
    (LANG=ru_RU.UTF-8).

    Plugins come from the entry-point group "pes_sdk". PES_DISABLE_PLUGINS=a,b keeps named
    plugins from loading; PES_TRACE_HOOKS=1 traces every hook call on stderr.
    """


cli.add_command(formats)
cli.add_command(plugins)
cli.add_command(validate)
cli.add_command(convert)
cli.add_command(demo)
cli.add_command(settle)
cli.add_command(reconcile)
cli.add_command(qr)


def main() -> None:
    """Run ``pes`` (the console script)."""
    cli(prog_name="pes")
