"""The plugin interface. Plugin authors need only :data:`hookimpl`.

Write ``@hookimpl`` functions named after the hooks in :mod:`pes_sdk.plugins.hookspecs` and
register the module under the entry-point group ``pes_sdk`` in your ``pyproject.toml``::

    [project.entry-points.pes_sdk]
    myformat = "my_package.plugin"
"""

from pes_sdk.plugins.hookspecs import PROJECT_NAME, hookimpl
from pes_sdk.plugins.manager import (
    PluginFailure,
    PluginHost,
    PluginInfo,
    PluginProblem,
    get_host,
)

__all__ = [
    "PROJECT_NAME",
    "PluginFailure",
    "PluginHost",
    "PluginInfo",
    "PluginProblem",
    "get_host",
    "hookimpl",
]
