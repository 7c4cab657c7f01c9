"""Entry point of the ``pes`` command (commands are added in their own modules)."""

from __future__ import annotations

import click


@click.group()
def cli() -> None:
    """pes: registries, formats and plugins of pes-sdk."""


def main() -> None:
    cli()
