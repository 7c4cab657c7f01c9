"""Entry point of the CSV adapter: every dialect found becomes a registry format.

Dialects come from the package's own folder and from each folder in ``PES_DIALECT_PATH``
(see :mod:`pes_sdk_csv.dialect`). A broken dialect file, or a ``PES_DIALECT_PATH`` entry
that is not a folder, is left out alone: it comes back as a
:class:`~pes_sdk.plugins.PluginProblem` naming the file and key, which the host lists in
its warnings (every ``pes`` command prints them), and every other dialect stays a format.
"""

from __future__ import annotations

from collections.abc import Sequence

from pes_sdk.formats import RegistryFormat
from pes_sdk.plugins import PluginProblem, hookimpl
from pes_sdk_csv.dialect import collect_dialects
from pes_sdk_csv.engine import DialectFormat
from pes_sdk_csv.i18n import tr

__all__ = ["pes_registry_formats"]


@hookimpl
def pes_registry_formats() -> Sequence[RegistryFormat | PluginProblem]:
    """One :class:`~pes_sdk_csv.engine.DialectFormat` per good dialect file, and one
    :class:`~pes_sdk.plugins.PluginProblem` per file or folder left out."""
    dialects, problems = collect_dialects()
    left_out = [
        PluginProblem(tr("{problem}; that dialect is left out", problem=str(p))) for p in problems
    ]
    return [*(DialectFormat(d) for d in dialects), *left_out]
