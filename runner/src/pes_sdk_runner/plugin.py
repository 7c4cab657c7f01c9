"""Entry point of the runner as a pes-sdk plugin: the ``pes runner`` command group.

Every ``pes`` command loads every plugin, so this module imports only click and the hook
marker: the store, the ingest, the day close and the HTTP stack (Starlette, uvicorn) are
imported inside the commands that use them.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from pes_sdk.plugins import hookimpl

__all__ = ["pes_cli_commands"]


@hookimpl
def pes_cli_commands() -> Sequence[click.Command]:
    """``pes runner check|status|scan|close-day|serve``."""
    from pes_sdk_runner.cli import runner

    return [runner]
