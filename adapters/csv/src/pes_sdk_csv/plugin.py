"""Entry point of the CSV adapter: every dialect found becomes a registry format.

Dialects come from the package's own folder and from each folder in ``PES_DIALECT_PATH``
(see :mod:`pes_sdk_csv.dialect`). A broken dialect file raises
:class:`~pes_sdk.errors.ConfigError` naming the file and key; the plugin host then reports
this plugin as failed with that message (``pes plugins``) instead of guessing.
"""

from __future__ import annotations

from collections.abc import Sequence

from pes_sdk.formats import RegistryFormat
from pes_sdk.plugins import hookimpl
from pes_sdk_csv.dialect import find_dialects
from pes_sdk_csv.engine import DialectFormat

__all__ = ["pes_registry_formats"]


@hookimpl
def pes_registry_formats() -> Sequence[RegistryFormat]:
    """One :class:`~pes_sdk_csv.engine.DialectFormat` per dialect file found."""
    return [DialectFormat(d) for d in find_dialects()]
