"""Lazy package exports, so that loading a plugin stays cheap.

Every ``pes`` command loads every installed plugin to learn what it provides. A plugin
package whose ``__init__`` imports its HTTP client, zeep or a server makes every command pay
for them. Give the package a module ``__getattr__`` instead (PEP 562)::

    from typing import TYPE_CHECKING
    from pes_sdk.plugins.lazy import lazy_exports

    if TYPE_CHECKING:  # type checkers see the real names
        from my_plugin.client import MyGateway

    __getattr__ = lazy_exports(__name__, {"MyGateway": "my_plugin.client"})

and import heavy modules inside the factory that needs them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``name`` from ``exports[name]`` on first use."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    return __getattr__
