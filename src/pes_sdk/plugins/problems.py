"""What a plugin returns for a part of it that it had to leave out."""

from __future__ import annotations

import attrs

__all__ = ["PluginProblem"]


@attrs.frozen
class PluginProblem:
    """A part of a plugin it left out, returned among a provider hook's items.

    A provider hook (``pes_registry_formats``, …) may return these beside its items: the
    plugin keeps working without that part, and the host lists each one in
    :attr:`PluginHost.warnings` instead of failing the whole plugin. The CSV adapter
    returns one per broken dialect file, so a typo in one user dialect leaves every other
    format in place. ``message`` names the file and the key where there is one.
    """

    message: str
